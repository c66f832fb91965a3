"""A running process, its step instances, human tasks and gates."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Process(Base):
    """One organisation's run of the method, pinned to a definition version."""

    __tablename__ = "process"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition_key: Mapped[str] = mapped_column(String(60))
    definition_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), index=True)
    current_step_no: Mapped[int | None]
    cycle: Mapped[int] = mapped_column(default=1)
    previous_process_id: Mapped[int | None] = mapped_column(ForeignKey("process.id"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    steps: Mapped[list[StepInstance]] = relationship(
        back_populates="process", order_by="StepInstance.step_no"
    )
    __mapper_args__ = {"version_id_col": version}


class StepInstance(Base):
    """One of the nine steps of a process."""

    __tablename__ = "step_instance"
    __table_args__ = (UniqueConstraint("process_id", "step_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    step_no: Mapped[int]
    key: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), index=True)
    phase: Mapped[str | None] = mapped_column(String(20))
    iteration: Mapped[int] = mapped_column(default=1)
    queued_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    process: Mapped[Process] = relationship(back_populates="steps")
    __mapper_args__ = {"version_id_col": version}


class Task(Base):
    """A human task: an activity of a step assigned to a role."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_open_due", "status", "due_date"),
        Index("ix_task_step_activity", "step_id", "activity_key", "iteration"),
        Index("ix_task_step_status", "step_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("step_instance.id"))
    activity_key: Mapped[str] = mapped_column(String(60))
    phase: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="task")
    role: Mapped[str] = mapped_column(String(40))
    iteration: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    due_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    data: Mapped[dict | None]
    reopen_reason: Mapped[str | None] = mapped_column(Text)
    last_reminder_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0)
    # A meeting's invite: SEQUENCE of its ICS, bumped when the invite is sent again changed.
    invite_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    # Bumped whenever who may act on the task changes; e-mail links carry it.
    route_version: Mapped[int] = mapped_column(default=1)
    version: Mapped[int] = mapped_column(default=1)

    candidates: Mapped[list[TaskCandidate]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )
    __mapper_args__ = {"version_id_col": version}


class TaskCandidate(Base):
    """A person who may claim a task, and through what they hold its role."""

    __tablename__ = "task_candidate"

    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, index=True)
    via: Mapped[str] = mapped_column(String(20), default="direct")


class Gate(Base):
    """A condition a step or an action must meet before it moves on."""

    __tablename__ = "gate"
    __table_args__ = (Index("ix_gate_step_key", "step_id", "key", "iteration"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("process.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("step_instance.id"))
    action_id: Mapped[int | None] = mapped_column(ForeignKey("action.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("action_plan.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(30))
    iteration: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), index=True)
    requirements: Mapped[dict]
    decision: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    opened_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
