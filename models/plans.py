"""Action plans (handlingsplaner) and their actions."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ActionPlan(Base):
    """A plan at level A (overall), B (unit) or C (workplace), owned by a manager."""

    __tablename__ = "action_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    level: Mapped[str] = mapped_column(String(1))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    adopted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Action(Base):
    """One action of a plan; it may start only after an approved risk assessment."""

    __tablename__ = "action"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plan.id"), index=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    development_area: Mapped[str] = mapped_column(String(300))
    goal: Mapped[str] = mapped_column(Text)
    expected_effect: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text)
    responsible_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    start_date: Mapped[date]
    end_date: Mapped[date]
    cost_estimate: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    follow_up_date: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(30))
    result: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
