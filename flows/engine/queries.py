"""Loading engine objects by id, refusing missing ones with NotFound."""

from __future__ import annotations

from collections import defaultdict
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.definition import ProcessDefinition, StepSpec, load_definition
from flows.errors import NotFound
from flows.rules import GateView
from models import Gate, Organisation, Process, StepInstance, Task

T = TypeVar("T")


def get(session: Session, model: type[T], obj_id: int, *, lock: bool = False) -> T:
    """The ``model`` row with ``obj_id``; NotFound when there is none."""
    stmt = select(model).where(model.id == obj_id)  # type: ignore[attr-defined]
    if lock and session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    obj = session.scalar(stmt)
    if obj is None:
        raise NotFound(f"{model.__name__} {obj_id} not found", entity=model.__name__, id=obj_id)
    return obj


def definition_of(process: Process) -> ProcessDefinition:
    """The definition version ``process`` is pinned to."""
    return load_definition(process.definition_key, process.definition_version)


def step_spec(process: Process, step: StepInstance) -> StepSpec:
    """The definition of one step instance."""
    return definition_of(process).step(step.step_no)


def organisation_of(session: Session, process: Process) -> Organisation:
    """The organisation running ``process``."""
    return get(session, Organisation, process.organisation_id)


def current_gates(session: Session, step: StepInstance) -> dict[str, Gate]:
    """The newest row of each gate of ``step``, by key."""
    rows = session.scalars(
        select(Gate).where(Gate.step_id == step.id).order_by(Gate.iteration)
    ).all()
    return {g.key: g for g in rows}


def gate_views(session: Session, process: Process, step: StepInstance) -> list[GateView]:
    """The step's current gates as the pure rules see them."""
    spec = step_spec(process, step)
    gates = current_gates(session, step)
    return [GateView(g.key, spec.gate(g.key).before, g.status) for g in gates.values()]


def latest_tasks(session: Session, step: StepInstance, activity_keys: list[str]) -> dict[str, list[Task]]:
    """For each activity, its tasks in the newest iteration that has any."""
    rows = session.scalars(
        select(Task).where(Task.step_id == step.id, Task.activity_key.in_(activity_keys))
    ).all()
    by_activity: dict[str, list[Task]] = defaultdict(list)
    for t in rows:
        by_activity[t.activity_key].append(t)
    result: dict[str, list[Task]] = {}
    for key in activity_keys:
        tasks = by_activity.get(key, [])
        newest = max((t.iteration for t in tasks), default=None)
        result[key] = [t for t in tasks if t.iteration == newest]
    return result


def queued_step_ids(session: Session, step_no: int | None = None) -> list[int]:
    """Ids of steps queued for their flow, oldest first (optionally of one number)."""
    stmt = select(StepInstance.id).where(StepInstance.status == "queued")
    if step_no is not None:
        stmt = stmt.where(StepInstance.step_no == step_no)
    return list(session.scalars(stmt.order_by(StepInstance.queued_at, StepInstance.id)))


def count(session: Session, model: type, *criteria) -> int:
    """Number of ``model`` rows matching ``criteria``."""
    return session.scalar(select(func.count()).select_from(model).where(*criteria)) or 0
