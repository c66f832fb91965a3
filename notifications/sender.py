"""Delivering outbox rows over SMTP, after the transaction that wrote them has committed.

A batch is leased with one conditional UPDATE (so two senders never hold the same
row), the lease is committed, and only then does any SMTP traffic start; each
outcome is written in its own short transaction right after the server answered.
One SMTP connection serves every message of a run and is reopened when it drops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import Settings, get_settings
from models import OutboxMessage, OutboxStatus, utcnow
from notifications.mime import build_message
from notifications.render import RenderError, render
from notifications.smtp import (
    PermanentFailure,
    SmtpConnection,
    TemporaryFailure,
    Unreachable,
)

log = logging.getLogger(__name__)

OUTBOX = OutboxMessage.__table__
MAX_BACKOFF = timedelta(hours=6)
MIN_LEASE_SECONDS = 300.0
_CLAIMED_COLUMNS = ("id", "kind", "locale", "payload", "recipient_email", "recipient_id",
                    "message_id", "attempts")


@dataclass
class DeliveryReport:
    """How a delivery run went: rows sent, refused for good, to retry, and given up."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        """Rows that got an outcome in this run."""
        return self.sent + self.failed + self.retried + self.dead

    def add(self, other: DeliveryReport) -> None:
        """Add another report's counts to this one."""
        self.sent += other.sent
        self.failed += other.failed
        self.retried += other.retried
        self.dead += other.dead


@dataclass(frozen=True)
class ClaimedRow:
    """An outbox row leased by this sender, detached from any session."""

    id: int
    kind: str
    locale: str
    payload: dict[str, Any]
    recipient_email: str
    recipient_id: int | None
    message_id: str
    attempts: int


# --- the database side ------------------------------------------------------------------


def _due(now: datetime) -> Any:
    return and_(
        OUTBOX.c.status == OutboxStatus.PENDING,
        OUTBOX.c.next_attempt_at <= now,
        or_(OUTBOX.c.locked_until.is_(None), OUTBOX.c.locked_until < now),
    )


def claim_batch(
    session_factory: sessionmaker[Session], *, now: datetime, limit: int, lease_seconds: float
) -> list[ClaimedRow]:
    """Lease up to ``limit`` due rows for this sender and commit the lease."""
    # A CTE, not "id IN (subquery)": PostgreSQL may re-run an IN subquery and then
    # lease more than ``limit`` rows. SKIP LOCKED lets parallel senders pass each other.
    candidates = (
        select(OUTBOX.c.id)
        .where(_due(now))
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
    )
    stmt = (
        update(OUTBOX)
        .where(OUTBOX.c.id == candidates.c.id, _due(now))
        .values(locked_until=now + timedelta(seconds=lease_seconds))
        .returning(*(OUTBOX.c[name] for name in _CLAIMED_COLUMNS))
    )
    with session_factory() as session, session.begin():
        rows = [ClaimedRow(**dict(row._mapping)) for row in session.execute(stmt)]
    return sorted(rows, key=lambda row: row.id)


def _write_outcomes(
    session_factory: sessionmaker[Session], outcomes: list[tuple[int, dict[str, Any]]]
) -> None:
    with session_factory() as session, session.begin():
        for row_id, values in outcomes:
            session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == row_id, OUTBOX.c.status == OutboxStatus.PENDING)
                .values(locked_until=None, **values)
            )


def retry_dead(
    session: Session, ids: list[int] | None = None, *, now: datetime | None = None
) -> int:
    """Put DEAD and FAILED rows back to PENDING with attempts reset; the caller commits."""
    stmt = (
        update(OUTBOX)
        .where(OUTBOX.c.status.in_([OutboxStatus.DEAD, OutboxStatus.FAILED]))
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=now or utcnow(),
            locked_until=None,
            last_error=None,
        )
    )
    if ids is not None:
        stmt = stmt.where(OUTBOX.c.id.in_(list(ids)))
    return session.execute(stmt).rowcount or 0


# --- outcomes --------------------------------------------------------------------------


class _Outcomes:
    """Turns each row's result into column values and counts it in the report."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.report = DeliveryReport()

    def sent(self, row: ClaimedRow) -> dict[str, Any]:
        """Accepted by the server."""
        self.report.sent += 1
        return {"status": OutboxStatus.SENT, "sent_at": self.clock(),
                "attempts": row.attempts + 1, "last_error": None}

    def failed(self, row: ClaimedRow, reason: str) -> dict[str, Any]:
        """Refused for good for this recipient."""
        self.report.failed += 1
        log.warning("outbox %s refused for %s: %s", row.id, row.recipient_email, reason)
        return {"status": OutboxStatus.FAILED, "attempts": row.attempts + 1,
                "last_error": reason[:2000]}

    def dead(self, row: ClaimedRow, reason: str) -> dict[str, Any]:
        """Given up on (a template error, or the last attempt)."""
        self.report.dead += 1
        return {"status": OutboxStatus.DEAD, "last_error": reason[:2000]}

    def retry(self, row: ClaimedRow, reason: str) -> dict[str, Any]:
        """A temporary failure: back off, or give up after the last attempt."""
        attempts = row.attempts + 1
        if attempts >= self.settings.send_max_attempts:
            log.error("outbox %s gave up after %s attempts: %s", row.id, attempts, reason)
            values = self.dead(row, reason)
            return {**values, "attempts": attempts}
        self.report.retried += 1
        exponent = min(attempts - 1, 20)  # 2**20 times any sane backoff is past the cap
        delay = timedelta(seconds=self.settings.send_backoff_seconds * 2**exponent)
        return {"attempts": attempts, "last_error": reason[:2000],
                "next_attempt_at": self.clock() + min(delay, MAX_BACKOFF)}


def _prepare(row: ClaimedRow, settings: Settings, now: datetime) -> Message:
    mail = render(row.kind, row.locale, row.payload, base_url=settings.base_url,
                  recipient_id=row.recipient_id, now=now,
                  secret_key=settings.secret_key.get_secret_value())
    return build_message(mail, recipient_email=row.recipient_email,
                         recipient_name=row.payload.get("recipient_name"),
                         message_id=row.message_id, locale=row.locale, settings=settings, now=now)


# --- delivery runs ---------------------------------------------------------------------


def _lease_seconds(settings: Settings) -> float:
    # Long enough for a slow batch; a sender that crashes holds its rows this long.
    return max(MIN_LEASE_SECONDS, settings.smtp_timeout_seconds * 4 + settings.send_batch_size)


async def _deliver_one(
    mailer: SmtpConnection, row: ClaimedRow, outcomes: _Outcomes, settings: Settings
) -> dict[str, Any]:
    try:
        message = _prepare(row, settings, outcomes.clock())
    except (RenderError, ValueError) as exc:
        log.error("outbox %s (%s) cannot be rendered: %s", row.id, row.kind, exc)
        return outcomes.dead(row, f"template error: {exc}")
    try:
        await mailer.send(message, row.recipient_email)
    except PermanentFailure as exc:
        return outcomes.failed(row, str(exc))
    except TemporaryFailure as exc:
        return outcomes.retry(row, str(exc))
    return outcomes.sent(row)


async def _run_batch(
    mailer: SmtpConnection,
    session_factory: sessionmaker[Session],
    settings: Settings,
    now: datetime | None,
    limit: int,
) -> tuple[DeliveryReport, int]:
    """Claim one batch and deliver it; returns the report and how many rows were claimed."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    lease = _lease_seconds(settings)
    rows = await asyncio.to_thread(
        claim_batch, session_factory, now=clock(), limit=limit, lease_seconds=lease
    )
    deadline = time.monotonic() + lease * 0.8
    outcomes = _Outcomes(settings, clock)
    for index, row in enumerate(rows):
        if time.monotonic() > deadline:  # never send on a lease that may have run out
            released: list[tuple[int, dict[str, Any]]] = [(r.id, {}) for r in rows[index:]]
            await asyncio.to_thread(_write_outcomes, session_factory, released)
            break
        try:
            values = await _deliver_one(mailer, row, outcomes, settings)
        except Unreachable as exc:
            log.warning("SMTP server unreachable, %s rows wait for a retry: %s",
                        len(rows) - index, exc)
            rest = [(r.id, outcomes.retry(r, str(exc))) for r in rows[index:]]
            await asyncio.to_thread(_write_outcomes, session_factory, rest)
            break
        await asyncio.to_thread(_write_outcomes, session_factory, [(row.id, values)])
    return outcomes.report, len(rows)


async def deliver_due(
    session_factory: sessionmaker[Session],
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    limit: int | None = None,
) -> DeliveryReport:
    """Deliver one batch of due outbox rows over one SMTP connection."""
    settings = settings or get_settings()
    mailer = SmtpConnection(settings)
    try:
        report, _ = await _run_batch(
            mailer, session_factory, settings, now, limit or settings.send_batch_size
        )
    finally:
        await mailer.close()
    return report


async def deliver_all(
    session_factory: sessionmaker[Session],
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    max_batches: int = 100_000,
) -> DeliveryReport:
    """Deliver batch after batch, reusing one connection, until nothing is due."""
    settings = settings or get_settings()
    total = DeliveryReport()
    mailer = SmtpConnection(settings)
    try:
        for _ in range(max_batches):
            report, claimed = await _run_batch(
                mailer, session_factory, settings, now, settings.send_batch_size
            )
            total.add(report)
            if claimed == 0:
                break
    finally:
        await mailer.close()
    return total


def deliver_due_sync(
    session_factory: sessionmaker[Session],
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
    limit: int | None = None,
) -> DeliveryReport:
    """``deliver_due`` for callers without an event loop (CLI, flow tasks)."""
    return asyncio.run(deliver_due(session_factory, settings, now=now, limit=limit))


def deliver_all_sync(
    session_factory: sessionmaker[Session],
    settings: Settings | None = None,
    *,
    now: datetime | None = None,
) -> DeliveryReport:
    """``deliver_all`` for callers without an event loop."""
    return asyncio.run(deliver_all(session_factory, settings, now=now))
