"""Dela värld's development areas, follow-up meetings with their action reviews, the process evaluation."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class DevelopmentArea(Base):
    """A prioritised development area from Dela värld, assigned to a level and a receiving unit or owner."""

    __tablename__ = "development_area"
    __table_args__ = (Index("ix_development_area_process_level", "process_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"))
    title: Mapped[str] = mapped_column(String(300))
    goal: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(1))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    priority: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class FollowUpMeeting(Base):
    """A follow-up meeting on one plan: scheduled (with an invite), then held, setting the next date."""

    __tablename__ = "follow_up_meeting"
    __table_args__ = (Index("ix_follow_up_meeting_status_on", "status", "scheduled_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plan.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    scheduled_on: Mapped[date]
    held_on: Mapped[date | None]
    location: Mapped[str | None] = mapped_column(String(200))
    participant_ids: Mapped[list] = mapped_column(default=list)
    participants: Mapped[list] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    next_follow_up_on: Mapped[date | None]
    invite_sequence: Mapped[int] = mapped_column(default=0)
    last_reminder_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ActionReview(Base):
    """One action reviewed at a follow-up meeting on the method's five questions."""

    __tablename__ = "action_review"
    __table_args__ = (UniqueConstraint("meeting_id", "action_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("follow_up_meeting.id"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id"), index=True)
    action_revision: Mapped[int]
    carried_out: Mapped[str] = mapped_column(String(10))
    carried_out_note: Mapped[str] = mapped_column(Text, default="")
    intended_effect: Mapped[str] = mapped_column(String(10))
    effect_note: Mapped[str] = mapped_column(Text, default="")
    served_goals: Mapped[str] = mapped_column(String(10))
    goals_note: Mapped[str] = mapped_column(Text, default="")
    learned: Mapped[str] = mapped_column(Text)
    other_effects: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessEvaluation(Base):
    """The evaluation of the process itself that ends step 9."""

    __tablename__ = "process_evaluation"

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    what_worked: Mapped[str] = mapped_column(Text)
    what_to_change: Mapped[str] = mapped_column(Text)
    before_after: Mapped[str] = mapped_column(Text, default="")
    next_cycle: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
