"""Database engine and sessions. Callers own transactions: nothing here commits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import Settings, get_settings


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    """Create an engine with the options each backend needs.

    PostgreSQL: every checkout is pinged first (``pool_pre_ping``), so connections
    a restarted or cut server left behind are replaced without restarting the app;
    new connections and free pool slots are waited for a bounded time
    (``db_connect_timeout_seconds``, ``db_pool_timeout_seconds``), and TCP
    keepalives notice a peer that vanished without a word. SQLite: writers wait
    ``sqlite_busy_timeout_seconds`` for another writer's lock. The API answers
    all of these failures with 503 and Retry-After (``api/problems.py``).
    """
    settings = settings or get_settings()
    if url.startswith("sqlite"):
        if ":///" in url and not url.endswith(":memory:"):
            from pathlib import Path

            Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        busy = settings.sqlite_busy_timeout_seconds
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # pysqlite's own transaction control is kept on purpose: reads outside a
            # write see the newest rows and writers wait on the busy timeout instead of
            # failing on a stale snapshot. It begins a transaction only at the first
            # write, so a SAVEPOINT before any write must be preceded by one (see
            # flows/batch.py: lock_for_batch).
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            cur.close()

        return engine
    connect_args: dict[str, int] = {}
    if url.startswith("postgresql"):
        query = make_url(url).query
        defaults = {"connect_timeout": settings.db_connect_timeout_seconds, "keepalives": 1,
                    "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}
        connect_args = {k: v for k, v in defaults.items() if k not in query}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         pool_timeout=settings.db_pool_timeout_seconds, connect_args=connect_args)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().resolved_database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """The process-wide session factory."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
