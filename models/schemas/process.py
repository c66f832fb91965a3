"""Schemas of processes, steps, role assignments, delegations and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from models.schemas.common import Id, InModel, OutModel, text


class RoleHolderIn(InModel):
    """A role for a person or a body (give exactly one), optionally for one unit."""

    role: text(40)
    person_id: Id | None = None
    body_id: Id | None = None
    unit_id: Id | None = None


class ProcessStart(InModel):
    """Start a process of the method with its role roster."""

    name: text(200)
    roster: list[RoleHolderIn] = Field(max_length=5000)


class CancelIn(InModel):
    """Why a process is stopped."""

    reason: text(2000)


class GateBrief(OutModel):
    """A gate in a list: what it is and where it stands."""

    id: int
    key: str
    kind: str
    title: str
    status: str
    decider: str | None
    iteration: int
    opened_at: datetime | None
    version: int


class StepOut(OutModel):
    """One of the nine steps of a process."""

    id: int
    process_id: int
    step_no: int
    key: str
    title: str
    part: str
    status: str
    phase: str | None
    iteration: int
    queued_at: datetime | None
    opened_at: datetime | None
    closed_at: datetime | None
    version: int
    open_tasks: int
    gates: list[GateBrief]


class ProcessOut(OutModel):
    """A run of the method."""

    id: int
    organisation_id: int
    name: str
    status: str
    current_step_no: int | None
    cycle: int
    definition_key: str
    definition_version: int
    started_at: datetime
    completed_at: datetime | None
    version: int


class ProcessState(ProcessOut):
    """A process with its steps and the viewer's roles in it."""

    my_roles: list[str]
    steps: list[StepOut]


class ActivityOut(OutModel):
    """An activity of a step as the definition describes it."""

    key: str
    phase: str
    role: str
    kind: str
    title: str
    due_days: int


class RoleAssignmentOut(OutModel):
    """A role held in a process."""

    id: int
    process_id: int
    role: str
    person_id: int | None
    person_name: str | None
    body_id: int | None
    body_name: str | None
    unit_id: int | None
    valid_from: datetime
    valid_to: datetime | None
    active: bool


class DelegationIn(InModel):
    """Hand a role to someone for a period."""

    role: text(40)
    to_person_id: Id
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: text(2000, required=False) | None = None
    from_person_id: Id | None = None


class DelegationOut(OutModel):
    """A delegation of a role."""

    id: int
    process_id: int
    role: str
    from_person_id: int
    to_person_id: int
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    revoked_at: datetime | None
    in_force: bool


class AuditEventOut(OutModel):
    """One recorded change."""

    id: int
    at: datetime
    process_id: int | None
    actor_id: int | None
    actor_name: str | None
    actor_label: str
    entity: str
    entity_id: int
    action: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any] | None

