"""The daily digest: one mail per person who chose it, bundling their held notifications."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop.settings import get_settings
from models import Organisation, OutboxMessage, OutboxStatus, Person, utcnow
from notifications.outbox import enqueue

log = logging.getLogger(__name__)

_ITEM_KEYS = ("task_id", "task_route_version", "task_title", "process_name", "step_number",
              "step_title", "due_date")


def digest_item(payload: dict[str, Any]) -> dict[str, Any]:
    """The part of a held notification's payload that a digest lists."""
    return {key: payload.get(key) for key in _ITEM_KEYS}


def _held_by_recipient(session: Session) -> dict[int, list[OutboxMessage]]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.HELD)
        .order_by(OutboxMessage.recipient_id, OutboxMessage.created_at, OutboxMessage.id)
    )
    grouped: dict[int, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        if row.recipient_id is None:
            log.warning("held outbox row %s has no recipient; left as it is", row.id)
            continue
        grouped[row.recipient_id].append(row)
    return grouped


def build_digests(session: Session, now: datetime | None = None) -> int:
    """Queue one digest per recipient with HELD rows (once per local day); the caller commits."""
    now = now or utcnow()
    local_day = now.astimezone(ZoneInfo(get_settings().timezone)).date().isoformat()
    created = 0
    for recipient_id, rows in _held_by_recipient(session).items():
        person = session.get(Person, recipient_id)
        if person is None:
            continue
        organisation = session.get(Organisation, person.organisation_id)
        payload = {
            "organisation_name": organisation.name if organisation else "",
            "items": [digest_item(row.payload) for row in rows],
        }
        digest = enqueue(
            session,
            kind="digest",
            recipient=person,
            payload=payload,
            dedupe_key=f"digest:{recipient_id}:{local_day}",
            now=now,
        )
        if digest is None:
            continue  # today's digest has gone already; these wait for tomorrow's
        for row in rows:
            row.status = OutboxStatus.DIGESTED
        created += 1
    session.flush()
    return created
