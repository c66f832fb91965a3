"""Schemas of action plans, actions and risk assessments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from models.schemas.common import Id, InModel, OutModel, Version, text
from models.schemas.process import GateBrief

Grade = Annotated[int, Field(ge=1, le=5)]  # 1 (low) to 5 (high)


class PlanIn(InModel):
    """A new action plan at level A, B or C.

    B and C plans name their unit, and the owner must hold the level's role for that unit.
    """

    level: Literal["A", "B", "C"]
    owner_id: Id
    title: text(300)
    unit_id: Id | None = None


class VersionIn(InModel):
    """The version the client saw."""

    expected_version: Version | None = None


class ActionIn(InModel):
    """The content of an action."""

    development_area: text(300)
    goal: text(10000)
    description: text(10000)
    responsible_id: Id
    start_date: date
    end_date: date
    expected_effect: text(10000, required=False) = ""
    cost_estimate: float | None = Field(default=None, ge=0, le=1e12)
    follow_up_date: date | None = None


class ActionChange(ActionIn):
    """New content for an action, at the version the client saw."""

    expected_version: Version


class ActionOut(OutModel):
    """An action of a plan."""

    id: int
    plan_id: int
    process_id: int
    development_area: str
    goal: str
    expected_effect: str
    description: str
    responsible_id: int
    start_date: date
    end_date: date
    cost_estimate: float | None
    follow_up_date: date | None
    status: str
    result: str | None
    revision: int
    version: int
    gate: GateBrief | None


class PlanOut(OutModel):
    """An action plan."""

    id: int
    process_id: int
    level: str
    unit_id: int | None
    owner_id: int
    title: str
    status: str
    created_at: datetime
    adopted_at: datetime | None
    version: int
    gate: GateBrief | None


class PlanDetail(PlanOut):
    """A plan with its actions."""

    actions: list[ActionOut]


class RiskItem(InModel):
    """One risk to health and safety, how likely and how serious it is, and the measure against it."""

    risk: text(1000)
    likelihood: Grade
    consequence: Grade
    measure: text(2000)


def _at_least_one(items: list) -> list:
    if not items:
        raise PydanticCustomError("required", "give at least one")
    return items


class RiskAssessmentIn(InModel):
    """A written risk assessment made with a safety representative.

    At least one risk, each complete; ``safety_representative`` names one of the participants
    and, when the process has skyddsombud, one of them.
    """

    risks: Annotated[list[RiskItem], Field(max_length=200), AfterValidator(_at_least_one)]
    participants: Annotated[list[text(200)], Field(max_length=200), AfterValidator(_at_least_one)]
    safety_representative: text(200)
    conclusion: text(10000)


class FinishIn(InModel):
    """What came of an action, or that it was dropped."""

    result: text(10000)
    dropped: bool = False
