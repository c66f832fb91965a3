"""Who holds which role in a process, and delegations of a role for a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class RoleAssignment(Base):
    """A role in a process held by a person or by a body, optionally for one unit."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        CheckConstraint(
            "(person_id IS NULL) <> (body_id IS NULL)", name="person_xor_body"
        ),
        Index("ix_role_assignment_process_role", "process_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"))
    role: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]


class Delegation(Base):
    """A role handed from one person to another for a period (e.g. while away)."""

    __tablename__ = "delegation"
    __table_args__ = (Index("ix_delegation_process_role", "process_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"))
    role: Mapped[str] = mapped_column(String(40))
    from_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    to_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    revoked_at: Mapped[datetime | None]
    # active -> revoked (ended early) or expired (its period is over and tasks went back)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
