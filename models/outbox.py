"""The transactional outbox: notifications written with the change that caused them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class OutboxStatus(StrEnum):
    """Delivery states of an outbox row."""

    PENDING = "pending"
    HELD = "held"  # waiting for the recipient's daily digest
    SENT = "sent"
    FAILED = "failed"  # refused permanently for this recipient
    DEAD = "dead"  # gave up after the last attempt; an admin may retry
    DIGESTED = "digested"  # delivered inside a digest message


class OutboxMessage(Base):
    """One notification to one recipient."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    kind: Mapped[str] = mapped_column(String(40))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    recipient_email: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    payload: Mapped[dict]
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    locked_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
