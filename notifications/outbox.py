"""Writing notifications into the outbox, inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import OutboxMessage, OutboxStatus, Person, utcnow

# Kinds that a recipient who chose the daily digest receives bundled.
DIGESTIBLE_KINDS = frozenset({"task_assigned"})

KINDS = frozenset(
    {
        "task_assigned",
        "task_reminder",
        "task_overdue",
        "escalation",
        "gate_waiting",
        "gate_decided",
        "step_opened",
        "process_completed",
        "meeting_invite",
        "digest",
    }
)


def make_message_id(domain: str = "chefoskop.local") -> str:
    """A globally unique, stable Message-ID for one outbox row."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: Person,
    payload: dict[str, Any],
    process_id: int | None = None,
    task_id: int | None = None,
    dedupe_key: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add one notification row; returns None when ``dedupe_key`` was already queued."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    if dedupe_key is not None:
        exists = session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if exists is not None:
            return None
    held = recipient.digest and kind in DIGESTIBLE_KINDS
    row = OutboxMessage(
        organisation_id=recipient.organisation_id,
        process_id=process_id,
        task_id=task_id,
        kind=kind,
        recipient_id=recipient.id,
        recipient_email=recipient.email,
        locale=recipient.locale or "sv",
        payload={"recipient_name": recipient.name, **payload},
        message_id=make_message_id(),
        dedupe_key=dedupe_key,
        status=OutboxStatus.HELD if held else OutboxStatus.PENDING,
        next_attempt_at=now or utcnow(),
        created_at=now or utcnow(),
    )
    session.add(row)
    return row
