"""Schemas of tasks, gates and the consultations recorded as their evidence."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from models.schemas.common import Id, InModel, JsonObject, OutModel, Version, text
from models.schemas.process import ActivityOut, StepOut


class TaskOut(OutModel):
    """A human task."""

    id: int
    process_id: int
    process_name: str
    step_id: int
    step_no: int
    activity_key: str
    title: str
    phase: str
    kind: str
    role: str
    iteration: int
    status: str
    assignee_id: int | None
    holder_id: int | None
    due_date: date | None
    created_at: datetime
    completed_at: datetime | None
    reopen_reason: str | None
    version: int
    route_version: int


class FormFieldOut(OutModel):
    """One field of a task's form."""

    key: str
    type: str
    required: bool
    label: str


class TaskDetail(TaskOut):
    """A task with its form, the data entered and what the viewer may do."""

    fields: list[FormFieldOut]
    data: dict[str, Any] | None
    candidate_ids: list[int]
    may_claim: bool
    may_complete: bool
    may_reassign: bool


class StepDetail(StepOut):
    """A step with its activities and tasks."""

    activities: list[ActivityOut]
    tasks: list[TaskOut]


class ClaimIn(InModel):
    """Claim or give back a task, optionally at the version the client saw."""

    expected_version: Version | None = None


class CompleteIn(InModel):
    """The form's data, at the version the client saw."""

    data: JsonObject = Field(default_factory=dict)
    expected_version: Version


class ReassignIn(InModel):
    """Hand the task to someone else."""

    to_person_id: Id
    expected_version: Version


class ConsultationIn(InModel):
    """A samverkan consultation as it was held."""

    subject: text(300)
    held_on: date
    participants: list[text(200)] = Field(min_length=1, max_length=200)
    outcome: text(10000)
    opinions: text(10000, required=False) = ""
    body_id: Id | None = None


class ConsultationOut(OutModel):
    """A recorded consultation."""

    id: int
    process_id: int
    gate_id: int | None
    plan_id: int | None
    body_id: int | None
    subject: str
    held_on: date
    participants: list[str]
    opinions: str
    outcome: str
    recorded_by_id: int | None
    recorded_at: datetime


class RiskAssessmentOut(OutModel):
    """A recorded risk assessment of an action's content."""

    id: int
    process_id: int
    action_id: int
    gate_id: int | None
    action_revision: int
    risks: list[dict[str, Any]]
    participants: list[str]
    safety_representative: str
    conclusion: str
    recorded_by_id: int | None
    recorded_at: datetime


class GateOut(OutModel):
    """A gate with its requirements, its evidence and whether the viewer may decide it."""

    id: int
    process_id: int
    step_id: int | None
    step_no: int | None
    plan_id: int | None
    action_id: int | None
    key: str
    kind: str
    title: str
    iteration: int
    status: str
    decider: str | None
    requirements: dict[str, Any]
    decision: str | None
    reason: str | None
    evidence: dict[str, Any] | None
    decided_by_id: int | None
    opened_at: datetime | None
    decided_at: datetime | None
    version: int
    consultations: list[ConsultationOut]
    risk_assessments: list[RiskAssessmentOut]
    may_decide: bool
    may_record_consultation: bool


class DecideIn(InModel):
    """Approve or reject a gate; a rejection needs a reason."""

    decision: Literal["approve", "reject"]
    reason: text(5000, required=False) | None = None
    evidence: JsonObject | None = None
    expected_version: Version
