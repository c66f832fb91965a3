"""Schemas of development areas, plan changes and history, follow-up meetings, evaluation and cycles."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from models.schemas.common import Id, InModel, OutModel, Version, text

Answer = Literal["yes", "partly", "no", "not_yet"]


class AreaIn(InModel):
    """A prioritised development area and where it goes: level A/B/C, receiving unit and/or owner."""

    title: text(300)
    level: Literal["A", "B", "C"]
    goal: text(10000, required=False) = ""
    unit_id: Id | None = None
    owner_id: Id | None = None
    priority: int = Field(default=1, ge=1, le=1000)


class AreasIn(InModel):
    """Dela värld's prioritised areas, recorded together (all or nothing)."""

    areas: list[AreaIn] = Field(min_length=1, max_length=200)


class AreaChange(AreaIn):
    """New content for an area, at the version the client saw."""

    expected_version: Version | None = None


class WithdrawIn(InModel):
    """Why an area is withdrawn."""

    reason: text(2000)


class AreaOut(OutModel):
    """A development area."""

    id: int
    process_id: int
    title: str
    goal: str
    level: str
    unit_id: int | None
    owner_id: int | None
    priority: int
    status: str
    created_at: datetime
    version: int


class AreaList(OutModel):
    """The process's areas and the suggestions from step 7's answer."""

    areas: list[AreaOut]
    suggestions: list[str]


class PlanChange(InModel):
    """A new title or owner for a plan."""

    title: text(300) | None = None
    owner_id: Id | None = None
    expected_version: Version | None = None


class HistoryOut(OutModel):
    """One audited change of a plan or of something in it."""

    at: datetime
    entity: str
    entity_id: int
    action: str
    from_state: str | None
    to_state: str | None
    actor_name: str | None
    actor_label: str
    data: dict[str, Any] | None


class ScheduleIn(InModel):
    """The date (and who, where) of the plan's next follow-up meeting."""

    on: date
    participant_ids: list[Id] | None = Field(default=None, max_length=200)
    location: text(200, required=False) | None = None


class ReviewIn(InModel):
    """One action reviewed on the five questions."""

    action_id: Id
    carried_out: Answer
    intended_effect: Answer
    served_goals: Answer
    learned: text(10000)
    other_effects: text(10000, required=False) = ""
    carried_out_note: text(10000, required=False) = ""
    effect_note: text(10000, required=False) = ""
    goals_note: text(10000, required=False) = ""


class FollowUpIn(InModel):
    """A held follow-up meeting with its reviews and the next follow-up date."""

    held_on: date
    participants: list[text(200)] = Field(min_length=1, max_length=200)
    reviews: list[ReviewIn] = Field(default_factory=list, max_length=500)
    next_follow_up_on: date
    notes: text(10000, required=False) = ""


class ReviewOut(OutModel):
    """An action's review at a meeting."""

    id: int
    action_id: int
    action_revision: int
    carried_out: str
    carried_out_note: str
    intended_effect: str
    effect_note: str
    served_goals: str
    goals_note: str
    learned: str
    other_effects: str
    recorded_at: datetime


class MeetingOut(OutModel):
    """A follow-up meeting of a plan, with the reviews recorded at it."""

    id: int
    plan_id: int
    status: str
    scheduled_on: date
    held_on: date | None
    location: str | None
    participant_ids: list[int]
    participants: list[str]
    notes: str
    next_follow_up_on: date | None
    recorded_at: datetime | None
    version: int
    reviews: list[ReviewOut] = []


class EvaluationIn(InModel):
    """The evaluation of the process that ends step 9."""

    what_worked: text(10000)
    what_to_change: text(10000)
    before_after: text(10000, required=False) = ""
    next_cycle: text(10000, required=False) = ""


class EvaluationOut(OutModel):
    """A recorded evaluation of the process."""

    id: int
    process_id: int
    what_worked: str
    what_to_change: str
    before_after: str
    next_cycle: str
    recorded_by_id: int | None
    recorded_at: datetime


class CycleIn(InModel):
    """A name for the next cycle (the old name if none)."""

    name: text(300) | None = None
