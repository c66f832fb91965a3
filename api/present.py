"""Turning rows into the API's schemas, with titles from the definition in the reader's language."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.engine.queries import current_gates, definition_of, step_spec
from flows.rules import OPEN_TASK_STATES
from models import (
    Action,
    ActionPlan,
    AuditEvent,
    Body,
    Delegation,
    Gate,
    Person,
    Process,
    RoleAssignment,
    StepInstance,
    Task,
)
from models.schemas.plans import ActionOut, PlanOut
from models.schemas.process import (
    ActivityOut,
    AuditEventOut,
    DelegationOut,
    GateBrief,
    ProcessOut,
    ProcessState,
    RoleAssignmentOut,
    StepOut,
)
from models.schemas.work import FormFieldOut, StepDetail, TaskOut


def gate_title(process: Process, gate: Gate, step: StepInstance | None, locale: str) -> str:
    """The gate's title from the definition its process is pinned to."""
    if step is not None:
        return step_spec(process, step).gate(gate.key).title.get(locale)
    definition = definition_of(process)
    spec = next((g for g in definition.action_gates + definition.plan_gates if g.key == gate.key), None)
    return spec.title.get(locale) if spec else gate.key


def gate_brief(db: Session, process: Process, gate: Gate | None, locale: str) -> GateBrief | None:
    """A short view of a gate."""
    if gate is None:
        return None
    step = db.get(StepInstance, gate.step_id) if gate.step_id else None
    return GateBrief(id=gate.id, key=gate.key, kind=gate.kind, status=gate.status,
                     title=gate_title(process, gate, step, locale),
                     decider=(gate.requirements or {}).get("decider"), iteration=gate.iteration,
                     opened_at=gate.opened_at, version=gate.version)


def _open_task_counts(db: Session, process_id: int) -> dict[int, int]:
    rows = db.execute(select(Task.step_id, func.count()).where(
        Task.process_id == process_id, Task.status.in_(OPEN_TASK_STATES)).group_by(Task.step_id))
    return {step_id: n for step_id, n in rows}


def step_out(db: Session, process: Process, step: StepInstance, locale: str,
             open_counts: dict[int, int] | None = None) -> StepOut:
    """A step with its current gates and number of open tasks."""
    spec = step_spec(process, step)
    counts = open_counts if open_counts is not None else _open_task_counts(db, process.id)
    gates = [gate_brief(db, process, g, locale) for g in current_gates(db, step).values()]
    return StepOut(id=step.id, process_id=process.id, step_no=step.step_no, key=step.key,
                   title=spec.title.get(locale), part=spec.part, status=step.status,
                   phase=step.phase, iteration=step.iteration, queued_at=step.queued_at,
                   opened_at=step.opened_at, closed_at=step.closed_at, version=step.version,
                   open_tasks=counts.get(step.id, 0), gates=gates)


def process_steps(db: Session, process: Process, locale: str) -> list[StepOut]:
    """Every step of a process, in order."""
    counts = _open_task_counts(db, process.id)
    steps = db.scalars(select(StepInstance).where(StepInstance.process_id == process.id)
                       .order_by(StepInstance.step_no))
    return [step_out(db, process, s, locale, counts) for s in steps]


def process_state(db: Session, process: Process, roles: Iterable[str], locale: str) -> ProcessState:
    """A process with its steps and the viewer's roles."""
    base = ProcessOut.model_validate(process).model_dump()
    return ProcessState(**base, my_roles=sorted(roles), steps=process_steps(db, process, locale))


def task_out(db: Session, task: Task, locale: str) -> TaskOut:
    """A task with its title in ``locale``."""
    process = db.get(Process, task.process_id)
    step = db.get(StepInstance, task.step_id)
    activity = step_spec(process, step).activity(task.activity_key)
    return TaskOut(id=task.id, process_id=process.id, process_name=process.name, step_id=step.id,
                   step_no=step.step_no, activity_key=task.activity_key,
                   title=activity.title.get(locale), phase=task.phase, kind=task.kind,
                   role=task.role, iteration=task.iteration, status=task.status,
                   assignee_id=task.assignee_id, holder_id=task.holder_id, due_date=task.due_date,
                   created_at=task.created_at, completed_at=task.completed_at,
                   reopen_reason=task.reopen_reason, version=task.version,
                   route_version=task.route_version)


def form_fields(db: Session, task: Task, locale: str) -> list[FormFieldOut]:
    """The fields of the task's form, labelled in ``locale``."""
    process = db.get(Process, task.process_id)
    step = db.get(StepInstance, task.step_id)
    activity = step_spec(process, step).activity(task.activity_key)
    return [FormFieldOut(key=f.key, type=f.type, required=f.required, label=f.label.get(locale))
            for f in activity.fields]


def step_detail(db: Session, process: Process, step: StepInstance, locale: str) -> StepDetail:
    """A step with its activities and every task."""
    spec = step_spec(process, step)
    activities = [ActivityOut(key=a.key, phase=a.phase, role=a.role, kind=a.kind,
                              title=a.title.get(locale), due_days=a.due_days) for a in spec.activities]
    tasks = db.scalars(select(Task).where(Task.step_id == step.id).order_by(Task.id))
    return StepDetail(**step_out(db, process, step, locale).model_dump(), activities=activities,
                      tasks=[task_out(db, t, locale) for t in tasks])


def _names(db: Session, model: type, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.execute(select(model.id, model.name).where(model.id.in_(wanted))).all())


def assignments_out(db: Session, rows: list[RoleAssignment], now: datetime) -> list[RoleAssignmentOut]:
    """Role assignments with the names of their holders."""
    people = _names(db, Person, (r.person_id for r in rows))
    bodies = _names(db, Body, (r.body_id for r in rows))
    return [RoleAssignmentOut(
        id=r.id, process_id=r.process_id, role=r.role, person_id=r.person_id,
        person_name=people.get(r.person_id), body_id=r.body_id, body_name=bodies.get(r.body_id),
        unit_id=r.unit_id, valid_from=r.valid_from, valid_to=r.valid_to,
        active=r.valid_from <= now and (r.valid_to is None or now < r.valid_to)) for r in rows]


def delegation_out(row: Delegation, now: datetime) -> DelegationOut:
    """A delegation and whether it is in force now."""
    in_force = row.revoked_at is None and row.starts_at <= now < row.ends_at
    return DelegationOut(id=row.id, process_id=row.process_id, role=row.role,
                         from_person_id=row.from_person_id, to_person_id=row.to_person_id,
                         starts_at=row.starts_at, ends_at=row.ends_at, reason=row.reason,
                         revoked_at=row.revoked_at, in_force=in_force)


def audit_out(db: Session, events: list[AuditEvent]) -> list[AuditEventOut]:
    """Audit events with the names of their actors."""
    people = _names(db, Person, (e.actor_id for e in events))
    return [AuditEventOut(id=e.id, at=e.at, process_id=e.process_id, actor_id=e.actor_id,
                          actor_name=people.get(e.actor_id), actor_label=e.actor_label,
                          entity=e.entity, entity_id=e.entity_id, action=e.action,
                          from_state=e.from_state, to_state=e.to_state, data=e.data)
            for e in events]


def _newest_gate(db: Session, **criteria: int) -> Gate | None:
    stmt = select(Gate).filter_by(**criteria).order_by(Gate.id.desc()).limit(1)
    return db.scalar(stmt)


def plan_out(db: Session, process: Process, plan: ActionPlan, locale: str) -> PlanOut:
    """A plan with its consultation gate."""
    gate = gate_brief(db, process, _newest_gate(db, plan_id=plan.id), locale)
    return PlanOut(**{k: getattr(plan, k) for k in PlanOut.model_fields if k != "gate"}, gate=gate)


def action_out(db: Session, process: Process, action: Action, locale: str) -> ActionOut:
    """An action with its newest risk-assessment gate."""
    gate = gate_brief(db, process, _newest_gate(db, action_id=action.id), locale)
    return ActionOut(**{k: getattr(action, k) for k in ActionOut.model_fields if k != "gate"},
                     gate=gate)
