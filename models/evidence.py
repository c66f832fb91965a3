"""Evidence that gates require: samverkan consultations and risk assessments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Consultation(Base):
    """A recorded samverkan consultation (MBL / samverkansavtal) before a decision."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gate.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("action_plan.id"), index=True)
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))
    subject: Mapped[str] = mapped_column(String(300))
    held_on: Mapped[date]
    participants: Mapped[list]
    opinions: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class RiskAssessment(Base):
    """A written risk assessment of a change, made with a safety representative."""

    __tablename__ = "risk_assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    gate_id: Mapped[int | None] = mapped_column(ForeignKey("gate.id"), index=True)
    action_revision: Mapped[int]
    risks: Mapped[list]
    participants: Mapped[list]
    safety_representative: Mapped[str] = mapped_column(String(200))
    conclusion: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
