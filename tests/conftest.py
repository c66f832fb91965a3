"""Shared fixtures: a migrated database per test run (SQLite, or PostgreSQL when given).

Set CHEFOSKOP_TEST_DATABASE_URL to a PostgreSQL URL (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test) to run against PostgreSQL:
a fresh database is created from it for the run and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("CHEFOSKOP_ENVIRONMENT", "test")
os.environ.setdefault("CHEFOSKOP_FLOW_MODE", "direct")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from hypothesis import settings as hypothesis_settings  # noqa: E402

import models  # noqa: E402
from chefoskop.db import make_engine  # noqa: E402
from chefoskop.migrate import upgrade  # noqa: E402

# Property tests judge behaviour, never speed: no per-example deadline (a loaded CI machine
# would otherwise fail a correct example for being slow).
hypothesis_settings.register_profile("chefoskop", deadline=None)
hypothesis_settings.load_profile("chefoskop")


def _create_postgres_database(base_url: str) -> str:
    url = make_url(base_url)
    name = f"chefoskop_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(base_url: str, test_url: str) -> None:
    name = make_url(test_url).database
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a freshly migrated database for this test run (per xdist worker)."""
    base = os.environ.get("CHEFOSKOP_TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        url = _create_postgres_database(base)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    if base and base.startswith("postgresql"):
        _drop_postgres_database(base, url)


@pytest.fixture(scope="session")
def db_engine(database_url: str) -> Iterator[Engine]:
    """The engine of the test database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = list(reversed(models.Base.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # The audit trail's triggers refuse DELETE; the owner lifts them for the reset.
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for table in tables:
                conn.execute(table.delete())
            for _name, sql in triggers:
                conn.execute(text(sql))


@pytest.fixture
def session_factory(db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[sessionmaker[Session]]:
    """A session factory on the test database; every table is emptied after the test.

    The application's own ``get_engine``/``get_sessionmaker`` point at the same database.
    """
    from chefoskop import db
    from chefoskop.settings import get_settings

    factory = sessionmaker(bind=db_engine, expire_on_commit=False)
    monkeypatch.setenv("CHEFOSKOP_DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    monkeypatch.setattr(db, "get_engine", lambda: db_engine)
    monkeypatch.setattr(db, "get_sessionmaker", lambda: factory)
    try:
        yield factory
    finally:
        _empty_tables(db_engine)
        get_settings.cache_clear()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on the test database (the test decides when to commit)."""
    with session_factory() as s:
        yield s


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the figures the reliability, load and race tests recorded (``record_property``),
    so every run shows them, with or without xdist workers."""
    rows = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") == "call":
                rows += [(report.nodeid, key, value) for key, value in report.user_properties]
    if rows:
        terminalreporter.section("figures")
        for nodeid, key, value in sorted(rows):
            terminalreporter.write_line(f"{nodeid.split('::')[-1]}  {key}: {value}")
