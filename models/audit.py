"""The append-only audit trail: one event for every state change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow


class AuditEvent(Base):
    """Who changed what, when, from which state to which."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_process_at", "process_id", "at"),
        Index("ix_audit_entity", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    actor_label: Mapped[str] = mapped_column(String(60), default="system")
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(40), index=True)
    from_state: Mapped[str | None] = mapped_column(String(30))
    to_state: Mapped[str | None] = mapped_column(String(30))
    data: Mapped[dict | None]


class AuditIsAppendOnly(Exception):
    """Raised when code tries to change or delete an audit event."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx, _instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditIsAppendOnly("audit events can only be added")
