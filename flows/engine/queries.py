"""Loading engine objects by id, refusing missing ones with NotFound."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.util import identity_key

from flows.definition import ProcessDefinition, StepSpec, load_definition
from flows.engine.core import Context
from flows.errors import NotFound
from flows.rules import GateView
from models import Gate, Organisation, Person, Process, StepInstance, Task

T = TypeVar("T")


def get(session: Session, model: type[T], obj_id: int, *, lock: bool = False) -> T:
    """The ``model`` row with ``obj_id``; NotFound when there is none.

    A row already in the session comes from its identity map without a query.
    ``lock`` takes the row lock on PostgreSQL (``SELECT ... FOR UPDATE``, always
    sent, and the row as locked replaces what the session held), so two deciders
    of one row queue up; SQLite has one writer anyway.
    """
    if lock and _locks_rows(session):
        obj = session.scalar(select(model).where(model.id == obj_id)  # type: ignore[attr-defined]
                             .with_for_update().execution_options(populate_existing=True))
    else:
        obj = session.get(model, obj_id)
    if obj is None:
        raise NotFound(f"{model.__name__} {obj_id} not found", entity=model.__name__, id=obj_id)
    return obj


def _in_session(session: Session, model: type[T], obj_id: int) -> T | None:
    obj = session.identity_map.get(identity_key(model, obj_id))
    return obj if obj is not None and not inspect(obj).expired else None


# Built once: building a statement costs more Python than its cached compilation.
_LOAD_TASK = (
    select(Task, Process, StepInstance, Organisation)
    .join(Process, Process.id == Task.process_id)
    .join(Organisation, Organisation.id == Process.organisation_id)
    .join(StepInstance, StepInstance.id == Task.step_id)
    .where(Task.id == bindparam("task_id"))
    .options(joinedload(Task.candidates))
)


def load_task(ctx: Context, task_id: int) -> tuple[Task, Process, StepInstance]:
    """A task with its candidates, process (and organisation) and step: one query, or none
    when the session already holds them; NotFound when there is no such task."""
    session = ctx.session
    task = _in_session(session, Task, task_id)
    if task is not None:
        return task, get(session, Process, task.process_id), get(session, StepInstance, task.step_id)
    row = session.execute(_LOAD_TASK, {"task_id": task_id}).unique().first()
    if row is None:
        raise NotFound(f"Task {task_id} not found", entity="Task", id=task_id)
    task, process, step, organisation = row
    ctx.keep(organisation)
    return task, process, step


def _locks_rows(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def people_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Person]:
    """Person rows by id (``None`` ids ignored): those in the session as they are, the rest in one query."""
    found: dict[int, Person] = {}
    missing = []
    for person_id in set(ids):
        if person_id is None:
            continue
        person = _in_session(session, Person, person_id)
        if person is not None:
            found[person_id] = person
        else:
            missing.append(person_id)
    if missing:
        found.update((p.id, p) for p in session.scalars(select(Person).where(Person.id.in_(missing))))
    return found


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


def gate_views(session: Session, process: Process, step: StepInstance,
               gates: dict[str, Gate] | None = None) -> list[GateView]:
    """The step's current gates (read unless given) as the pure rules see them."""
    spec = step_spec(process, step)
    gates = current_gates(session, step) if gates is None else gates
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


def latest_task_states(session: Session, step: StepInstance,
                       activity_keys: list[str]) -> dict[str, tuple[int, set[str]]]:
    """For each activity that has tasks: its newest iteration and the statuses of its tasks there.

    Reads distinct (activity, iteration, status) triples, not the tasks themselves.
    """
    rows = session.execute(
        select(Task.activity_key, Task.iteration, Task.status).distinct()
        .where(Task.step_id == step.id, Task.activity_key.in_(activity_keys))
    ).all()
    result: dict[str, tuple[int, set[str]]] = {}
    for key, iteration, status in rows:
        newest, statuses = result.get(key, (iteration, set()))
        if iteration > newest:
            newest, statuses = iteration, set()
        if iteration == newest:
            statuses.add(status)
        result[key] = (newest, statuses)
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
