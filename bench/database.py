"""Benchmark databases: a migrated SQLite file per repetition, or one PostgreSQL database per run."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

import models
from chefoskop.db import make_engine
from chefoskop.migrate import upgrade


def server_url() -> str | None:
    """The PostgreSQL server named by CHEFOSKOP_DATABASE_URL, if any."""
    url = os.environ.get("CHEFOSKOP_DATABASE_URL")
    return url if url and url.startswith("postgresql") else None


class BenchDatabase:
    """A database the benchmarks own; ``fresh()`` gives an empty, migrated one each time."""

    def __init__(self) -> None:
        self.base = server_url()
        self.tmp = Path(tempfile.mkdtemp(prefix="chefoskop-bench-"))
        self._engines: list[Engine] = []
        self._count = 0
        if self.base:
            self.url = self._create_postgres()
        else:
            self.url = f"sqlite:///{self.tmp / 'template.db'}"
        engine = make_engine(self.url)
        self.schema = build_schema(engine)
        engine.dispose()

    @property
    def kind(self) -> str:
        """'postgresql' or 'sqlite'."""
        return "postgresql" if self.base else "sqlite"

    def _create_postgres(self) -> str:
        url = make_url(self.base)
        self.pg_name = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.pg_name}"'))
        admin.dispose()
        return url.set(database=self.pg_name).render_as_string(hide_password=False)

    def fresh(self) -> Engine:
        """An engine on an empty migrated database (previous engines of this run are disposed)."""
        self.dispose_engines()
        self._count += 1
        if self.base:
            engine = make_engine(self.url)
            _truncate(engine)
        else:
            path = self.tmp / f"rep{self._count}.db"
            shutil.copyfile(self.tmp / "template.db", path)
            engine = make_engine(f"sqlite:///{path}")
        self._engines.append(engine)
        return engine

    def fresh_url(self) -> str:
        """Like ``fresh`` but as a URL, for code that builds its own engine from settings."""
        engine = self.fresh()
        return engine.url.render_as_string(hide_password=False)

    def dispose_engines(self) -> None:
        """Close every engine handed out so far and remove old SQLite files."""
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        for old in self.tmp.glob("rep*.db*"):
            old.unlink(missing_ok=True)

    def close(self) -> None:
        """Drop the PostgreSQL database, remove the SQLite files."""
        self.dispose_engines()
        if self.base:
            admin = create_engine(make_url(self.base), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)'))
            admin.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def build_schema(engine: Engine) -> str:
    """Migrate; when the working tree's models are ahead of the migrations, use the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    upgrade(engine)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    if not drift:
        return "migrations"
    models.Base.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    models.Base.metadata.create_all(engine)
    return f"models (migrations differ from the models in {len(drift)} places)"


def _truncate(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
