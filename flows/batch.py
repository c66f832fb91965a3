"""Batch writers (step flows, the sweep): one transaction per batch, one savepoint per item.

A batch first calls ``lock_for_batch``; each item's writes then go inside
``item_scope``, so a conflict or an error undoes that item only and the batch
goes on. On PostgreSQL row locks and version columns decide races between
concurrent writers. On SQLite the lock takes the database's write lock up
front, so a concurrent batch waits (busy timeout) and then reads fresh rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session


def is_sqlite(session: Session) -> bool:
    """Whether ``session`` talks to SQLite."""
    return session.get_bind().dialect.name == "sqlite"


def lock_for_batch(session: Session) -> None:
    """On SQLite take the write lock and begin the real transaction; elsewhere nothing."""
    if is_sqlite(session):
        # A write that matches no row: pysqlite emits BEGIN before it, SQLite takes
        # the write lock, and reads that follow see the newest committed rows.
        session.execute(text("UPDATE task SET id = id WHERE 1 = 0"))


@contextmanager
def item_scope(session: Session) -> Iterator[None]:
    """A savepoint around one item's writes: an exception undoes that item only."""
    # pysqlite (legacy transaction control) only BEGINs before DML; a SAVEPOINT
    # outside a transaction would commit on RELEASE. The lock begins it first.
    lock_for_batch(session)
    with session.begin_nested():
        yield
