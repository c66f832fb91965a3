"""Processes and steps: start, open, advance through phases and gates, reopen, close."""

from __future__ import annotations

from dataclasses import dataclass

from flows import rules
from flows.definition import ActivitySpec, ProcessDefinition, load_definition
from flows.engine.core import Context, record, transition
from flows.engine.notify import send_to_role, step_payload
from flows.engine.queries import current_gates, gate_views, get, latest_tasks, step_spec
from flows.engine.tasks import create_tasks, open_pending
from flows.errors import InvalidData, UnknownRole
from models import Gate, Organisation, Process, StepInstance
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
    ctx.session.flush()
    record(ctx, organisation_id=organisation_id, process_id=process.id, entity="process",
           entity_id=process.id, action="started", from_state=None, to_state="running",
           data={"definition": f"{definition.key}@{definition.version}"})
    for entry in roster:
        add_assignment(ctx, process, entry)
    for spec in definition.steps:
        step = StepInstance(process_id=process.id, step_no=spec.number, key=spec.key,
                            status="pending")
        ctx.session.add(step)
        ctx.session.flush()
        record(ctx, organisation_id=organisation_id, process_id=process.id, entity="step",
               entity_id=step.id, action="created", from_state=None, to_state="pending")
    queue_step(ctx, process, process_step(ctx, process, 1))
    return process


def process_step(ctx: Context, process: Process, number: int) -> StepInstance:
    """The step instance numbered ``number`` of ``process``."""
    from sqlalchemy import select

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
    for gate_spec in spec.gates:
        _new_gate(ctx, process, step, gate_spec.key, gate_spec.kind, step.iteration,
                  {"decider": gate_spec.decider, "before": gate_spec.before,
                   "reopens": list(gate_spec.reopens)})
    send_to_role(ctx, "step_opened", process, "processledare", step_payload(ctx, process, step))
    advance(ctx, process, step)
    return step


def _new_gate(ctx: Context, process: Process, step: StepInstance, key: str, kind: str,
              iteration: int, requirements: dict) -> Gate:
    gate = Gate(process_id=process.id, step_id=step.id, key=key, kind=kind, iteration=iteration,
                status="pending", requirements=requirements)
    ctx.session.add(gate)
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="gate",
           entity_id=gate.id, action="created", from_state=None, to_state="pending",
           data={"key": key, "iteration": iteration})
    return gate


def activity_of(process: Process, step: StepInstance, key: str) -> ActivitySpec:
    """The definition of activity ``key`` in ``step``."""
    return step_spec(process, step).activity(key)


def advance(ctx: Context, process: Process, step: StepInstance) -> None:
    """Move the step on as far as its gates and finished work allow."""
    from flows.engine.gates import open_gates_before

    while step.status == "open":
        position = step.phase or rules.POSITIONS[0]
        if rules.unmet_gates(gate_views(ctx.session, process, step), position):
            open_gates_before(ctx, process, step, position)
            return
        if position == "close":
            close_step(ctx, process, step)
            return
        if not _phase_done(ctx, process, step, position):
            return
        _set_phase(ctx, process, step, rules.next_position(position))


def _phase_done(ctx: Context, process: Process, step: StepInstance, phase: str) -> bool:
    """Create or open the phase's tasks as needed; True when all of them are complete."""
    activities = step_spec(process, step).activities_in(phase)
    latest = latest_tasks(ctx.session, step, [a.key for a in activities])
    for activity in activities:
        tasks = latest[activity.key]
        if not tasks:
            latest[activity.key] = create_tasks(ctx, process, step, activity,
                                                iteration=step.iteration, status="open")
        for task in tasks:
            if task.status == "pending":
                open_pending(ctx, process, task, activity)
    return rules.phase_complete({k: [t.status for t in v] for k, v in latest.items()})


def _set_phase(ctx: Context, process: Process, step: StepInstance, phase: str | None) -> None:
    previous, step.phase = step.phase, phase
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="step",
           entity_id=step.id, action="phase", from_state=previous, to_state=phase)


def close_step(ctx: Context, process: Process, step: StepInstance) -> None:
    """Close a step whose close gates hold; queue the next one or complete the process."""
    rules.require_gates(gate_views(ctx.session, process, step), "close")
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
    for key in gate_spec.reopens:
        create_tasks(ctx, process, step, spec.activity(key), iteration=step.iteration,
                     status="pending", reason=reason)
    positions = {g.key: g.before for g in spec.gates}
    for key in rules.gates_to_renew(positions, back_to):
        old = current_gates(ctx.session, step)[key]
        if old.status in ("pending", "open"):
            transition(ctx, old, "gate", "cancelled", organisation_id=process.organisation_id,
                       process_id=process.id, action="superseded")
        _new_gate(ctx, process, step, key, old.kind, step.iteration, old.requirements)
    _set_phase(ctx, process, step, back_to)
    advance(ctx, process, step)
