"""Processes and steps: start, open, advance through phases and gates, reopen, close."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from flows import rules
from flows.definition import ActivitySpec, ProcessDefinition, load_definition
from flows.engine.core import Context, create, create_all, record, transition
from flows.engine.notify import send_to_role, step_payload
from flows.engine.queries import current_gates, gate_views, get, latest_task_states, step_spec
from flows.engine.tasks import create_tasks, open_pending
from flows.errors import InvalidData, UnknownRole
from models import Gate, Organisation, Process, StepInstance, Task
from roles.catalogue import is_known_role


@dataclass(frozen=True)
class RoleSpec:
    """One entry of a process's role roster."""

    role: str
    person_id: int | None = None
    body_id: int | None = None
    unit_id: int | None = None


def required_roles(definition: ProcessDefinition) -> set[str]:
    """Roles that must be filled before a process can start."""
    roles = {a.role for s in definition.steps for a in s.activities}
    roles |= {g.decider for s in definition.steps for g in s.gates if g.decider}
    roles |= {g.decider for g in definition.action_gates if g.decider}
    return roles


def start_process(ctx: Context, organisation_id: int, name: str, roster: list[RoleSpec], *,
                  definition_key: str = "chefoskopet", version: int | None = None) -> Process:
    """Start a process pinned to a definition version; step 1 is queued for its flow."""
    from flows.engine.roster import add_assignment

    get(ctx.session, Organisation, organisation_id)
    definition = load_definition(definition_key, version)
    if not name or not name.strip():
        raise InvalidData("the process needs a name", errors={"name": "required"})
    for entry in roster:
        if not is_known_role(entry.role):
            raise UnknownRole(f"unknown role {entry.role}", role=entry.role)
    missing = sorted(required_roles(definition) - {e.role for e in roster})
    if missing:
        raise InvalidData("roles without holders", errors={"roster": "missing:" + ",".join(missing)})
    process = Process(organisation_id=organisation_id, name=name.strip(), status="running",
                      definition_key=definition.key, definition_version=definition.version,
                      current_step_no=1, started_by_id=ctx.actor.person_id, started_at=ctx.now)
    ctx.session.add(process)
    ctx.session.flush()  # the audit event names the process it belongs to
    create(ctx, process, "process", "running", organisation_id=organisation_id,
           process_id=process.id, action="started",
           data={"definition": f"{definition.key}@{definition.version}"})
    for entry in roster:
        add_assignment(ctx, process, entry)
    steps = [StepInstance(process_id=process.id, step_no=spec.number, key=spec.key, status="pending")
             for spec in definition.steps]
    create_all(ctx, steps, "step", "pending", organisation_id=organisation_id, process_id=process.id)
    queue_step(ctx, process, next(s for s in steps if s.step_no == 1))
    return process


def process_step(ctx: Context, process: Process, number: int) -> StepInstance:
    """The step instance numbered ``number`` of ``process``."""
    return ctx.session.scalars(
        select(StepInstance).where(StepInstance.process_id == process.id,
                                   StepInstance.step_no == number)
    ).one()


def queue_step(ctx: Context, process: Process, step: StepInstance) -> None:
    """Mark a step ready for its flow; the caller dispatches ``ctx.queued`` after commit."""
    step.queued_at = ctx.now
    transition(ctx, step, "step", "queued", organisation_id=process.organisation_id,
               process_id=process.id)
    ctx.queued.append((step.step_no, step.id))


def open_step(ctx: Context, step_id: int) -> StepInstance:
    """Open a queued step: create its gates, then enter its first phase."""
    step = get(ctx.session, StepInstance, step_id, lock=True)
    process = get(ctx.session, Process, step.process_id)
    spec = step_spec(process, step)
    step.opened_at = ctx.now
    step.phase = rules.POSITIONS[0]
    transition(ctx, step, "step", "open", organisation_id=process.organisation_id,
               process_id=process.id)
    _new_gates(ctx, process, step, [
        _gate(process, step, g.key, g.kind, step.iteration,
              {"decider": g.decider, "before": g.before, "reopens": list(g.reopens)})
        for g in spec.gates])
    send_to_role(ctx, "step_opened", process, "processledare", step_payload(ctx, process, step))
    advance(ctx, process, step)
    return step


def _gate(process: Process, step: StepInstance, key: str, kind: str, iteration: int,
          requirements: dict) -> Gate:
    return Gate(process_id=process.id, step_id=step.id, key=key, kind=kind, iteration=iteration,
                status="pending", requirements=requirements)


def _new_gates(ctx: Context, process: Process, step: StepInstance, gates: list[Gate]) -> None:
    create_all(ctx, gates, "gate", "pending", organisation_id=process.organisation_id,
               process_id=process.id, data=lambda g: {"key": g.key, "iteration": g.iteration})


def activity_of(process: Process, step: StepInstance, key: str) -> ActivitySpec:
    """The definition of activity ``key`` in ``step``."""
    return step_spec(process, step).activity(key)


def advance(ctx: Context, process: Process, step: StepInstance) -> None:
    """Move the step on as far as its gates and finished work allow."""
    from flows.engine.gates import open_gates_before

    # Read once: within this loop gates change only through these objects.
    gates = current_gates(ctx.session, step)
    while step.status == "open":
        position = step.phase or rules.POSITIONS[0]
        if rules.unmet_gates(gate_views(ctx.session, process, step, gates), position):
            open_gates_before(ctx, process, step, position, gates)
            return
        if position == "close":
            close_step(ctx, process, step, gates)
            return
        if not _phase_done(ctx, process, step, position):
            return
        _set_phase(ctx, process, step, rules.next_position(position))


def _phase_done(ctx: Context, process: Process, step: StepInstance, phase: str) -> bool:
    """Create or open the phase's tasks as needed; True when all of them are complete."""
    activities = step_spec(process, step).activities_in(phase)
    latest = latest_task_states(ctx.session, step, [a.key for a in activities])
    missing = [a for a in activities if a.key not in latest]
    if missing:
        created = create_tasks(ctx, process, step, missing, iteration=step.iteration, status="open")
        for key, tasks in created.items():
            latest[key] = (step.iteration, {t.status for t in tasks})
    for activity in activities:
        iteration, statuses = latest[activity.key]
        if "pending" in statuses:
            for task in _pending_tasks(ctx, step, activity.key, iteration):
                open_pending(ctx, process, task, activity)
            latest[activity.key] = (iteration, (statuses - {"pending"}) | {"open"})
    return rules.phase_complete({key: statuses for key, (_, statuses) in latest.items()})


def _pending_tasks(ctx: Context, step: StepInstance, activity_key: str, iteration: int) -> list[Task]:
    return list(ctx.session.scalars(select(Task).where(
        Task.step_id == step.id, Task.activity_key == activity_key, Task.iteration == iteration,
        Task.status == "pending").order_by(Task.id)))


def _set_phase(ctx: Context, process: Process, step: StepInstance, phase: str | None) -> None:
    previous, step.phase = step.phase, phase
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="step",
           entity_id=step.id, action="phase", from_state=previous, to_state=phase)


def close_step(ctx: Context, process: Process, step: StepInstance,
               gates: dict[str, Gate] | None = None) -> None:
    """Close a step whose close gates hold; queue the next one or complete the process."""
    rules.require_gates(gate_views(ctx.session, process, step, gates), "close")
    step.closed_at = ctx.now
    transition(ctx, step, "step", "closed", organisation_id=process.organisation_id,
               process_id=process.id)
    definition = load_definition(process.definition_key, process.definition_version)
    if step.step_no < definition.last_step_no:
        nxt = process_step(ctx, process, step.step_no + 1)
        process.current_step_no = nxt.step_no
        queue_step(ctx, process, nxt)
        return
    process.completed_at = ctx.now
    transition(ctx, process, "process", "completed", organisation_id=process.organisation_id,
               process_id=process.id)
    payload = step_payload(ctx, process, step)
    for role in ("bestallare", "processagare", "processledare"):
        send_to_role(ctx, "process_completed", process, role, payload)


def reopen(ctx: Context, process: Process, step: StepInstance, gate: Gate, reason: str) -> None:
    """After a rejection: reopen the work the gate names and take the step back."""
    spec = step_spec(process, step)
    gate_spec = spec.gate(gate.key)
    phases = [spec.activity(k).phase for k in gate_spec.reopens]
    back_to = rules.reopen_position(phases)
    step.iteration += 1
    create_tasks(ctx, process, step, [spec.activity(key) for key in gate_spec.reopens],
                 iteration=step.iteration, status="pending", reason=reason)
    positions = {g.key: g.before for g in spec.gates}
    current = current_gates(ctx.session, step)
    renewed = []
    for key in rules.gates_to_renew(positions, back_to):
        old = current[key]
        if old.status in ("pending", "open"):
            transition(ctx, old, "gate", "cancelled", organisation_id=process.organisation_id,
                       process_id=process.id, action="superseded")
        renewed.append(_gate(process, step, key, old.kind, step.iteration, old.requirements))
    _new_gates(ctx, process, step, renewed)
    _set_phase(ctx, process, step, back_to)
    advance(ctx, process, step)
