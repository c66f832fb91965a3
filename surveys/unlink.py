"""Keeping the database's own traces from lining responses up with people.

A database keeps more than its columns. PostgreSQL stamps every row version with
the id of the transaction that wrote it (``xmin``) and keeps rows in the order they
were written (``ctid``); SQLite keeps a ``rowid`` in the order of insertion. Saving
an answer writes the response row and nothing else (``surveys.respond``), and the
invitations learn who answered only at close, all at once
(``surveys.distribution``), so no row that names a person ever shares a
transaction with a response. What remains is order: a response first saved just
after someone signed in sits next to it in transaction ids and in the table.

- ``shuffle_open_responses`` (the sweep, in a transaction of its own, PostgreSQL
  only): rewrites every response of an open mapping in place, in random order, so
  they all carry one transaction id that wrote nothing else and their physical
  order is shuffled. Responses saved since the last sweep keep their own until the
  next one.
- ``seal_responses`` (once a close is committed, before aggregation, in a
  transaction of its own): deletes and re-inserts a closed mapping's responses in
  random order: new transaction id, new ``ctid`` / ``rowid`` order, nothing else
  written with them.

Neither changes a value; neither reads an invitation.
"""

from __future__ import annotations

import random

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.orm import Session

from models import Response, Survey

_TABLE = Response.__table__
_shuffle = random.SystemRandom().shuffle


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def shuffle_open_responses(session: Session) -> int:
    """Rewrite every response of an open survey in place, in random order; how many."""
    if not _postgresql(session):
        return 0  # SQLite has no transaction stamps; its rowid order changes only at sealing
    # Locked in id order first, so two sweeps at once cannot deadlock; written in random order.
    ids = list(session.scalars(select(Response.id).join(Survey, Survey.id == Response.survey_id)
                               .where(Survey.status == "open").order_by(Response.id)
                               .with_for_update(of=_TABLE)))
    _shuffle(ids)
    if ids:
        session.execute(update(_TABLE).where(_TABLE.c.id == bindparam("rid"))
                        .values(status=_TABLE.c.status), [{"rid": i} for i in ids])
    return len(ids)


def seal_responses(session: Session, survey_id: int) -> int:
    """Delete and re-insert a closed survey's responses in random order; how many.

    Values are unchanged. Run it in a transaction that writes nothing else.
    """
    if _postgresql(session):  # one sealing at a time: the second then reads the first's rows
        session.execute(select(Survey.id).where(Survey.id == survey_id).with_for_update())
    else:  # SQLite: take the write lock before reading, so the rows read are the newest
        session.execute(text("UPDATE survey SET id = id WHERE 1 = 0"))
    if session.scalar(select(Survey.status).where(Survey.id == survey_id)) != "closed":
        return 0
    rows = [dict(r) for r in session.execute(select(_TABLE).where(_TABLE.c.survey_id == survey_id))
            .mappings()]
    if not rows:
        return 0
    _shuffle(rows)
    session.execute(delete(_TABLE).where(_TABLE.c.survey_id == survey_id))
    session.execute(insert(_TABLE), rows)
    return len(rows)
