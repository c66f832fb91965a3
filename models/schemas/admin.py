"""Schemas of the admin's tools: the outbox and the structure import."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.schemas.common import Id, InModel, OutModel


class OutboxOut(OutModel):
    """A notification that failed or could not be delivered."""

    id: int
    created_at: datetime
    process_id: int | None
    task_id: int | None
    kind: str
    recipient_id: int | None
    recipient_email: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


class RetryIn(InModel):
    """Rows to send again; all failed and dead rows of the organisation when left out."""

    ids: list[Id] | None = Field(default=None, max_length=1000)


class RetryOut(OutModel):
    """How many rows were put back in the queue."""

    retried: int


class ImportReport(OutModel):
    """What an import did (or, with dry_run, would do)."""

    dry_run: bool
    units_created: int
    units_updated: int
    people_created: int
    people_updated: int
    roles_assigned: int
