"""Gates: opening them, deciding them, and recording consultations as their evidence."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from flows.engine.core import Context, check_version, create, transition
from flows.engine.notify import people, process_payload, send, send_to_role, step_payload
from flows.engine.queries import current_gates, get, step_spec
from flows.engine.roster import require_role
from flows.errors import IllegalTransition, InvalidData
from models import Body, Consultation, Gate, Process, StepInstance
from roles.resolve import resolve


def _gate_payload(ctx: Context, process: Process, gate: Gate) -> dict:
    from flows.engine.queries import definition_of

    if gate.step_id is not None:
        step = get(ctx.session, StepInstance, gate.step_id)
        title = step_spec(process, step).gate(gate.key).title
        base = step_payload(ctx, process, step)
    else:
        specs = definition_of(process).action_gates + definition_of(process).plan_gates
        title = next(g.title for g in specs if g.key == gate.key)
        base = {**process_payload(ctx, process), "step_number": None, "step_title": None}
    return {**base, "gate_id": gate.id, "gate_title": title.model_dump()}


def waiting_role(gate: Gate) -> str:
    """The role that must act on an open gate."""
    return gate.requirements.get("decider") or "processledare"


def open_gate(ctx: Context, process: Process, gate: Gate) -> None:
    """Make a pending gate wait for its decision and tell who must act."""
    gate.opened_at = ctx.now
    transition(ctx, gate, "gate", "open", organisation_id=process.organisation_id,
               process_id=process.id)
    send_to_role(ctx, "gate_waiting", process, waiting_role(gate), _gate_payload(ctx, process, gate))


def open_gates_before(ctx: Context, process: Process, step: StepInstance, position: str,
                      gates: dict[str, Gate] | None = None) -> None:
    """Open the pending gates that guard ``position`` of ``step`` (its current gates, read unless given)."""
    spec = step_spec(process, step)
    gates = current_gates(ctx.session, step) if gates is None else gates
    for key, gate in gates.items():
        if spec.gate(key).before == position and gate.status == "pending":
            open_gate(ctx, process, gate)


def _settle(ctx: Context, process: Process, gate: Gate, to_state: str, *, decision: str,
            reason: str | None, evidence: dict | None) -> None:
    gate.decision = decision
    gate.reason = reason
    gate.evidence = evidence
    gate.decided_by_id = ctx.actor.person_id
    gate.decided_at = ctx.now
    transition(ctx, gate, "gate", to_state, organisation_id=process.organisation_id,
               process_id=process.id, action=decision,
               data={"reason": reason} if reason else None)
    # The processledare told and the decider named: one read of the people.
    told = resolve(ctx.role_data(process.id), "processledare", ctx.now)
    found = {p.id: p for p in people(ctx, [*told, ctx.actor.person_id])}
    decider = found.get(ctx.actor.person_id) if ctx.actor.person_id is not None else None
    payload = {**_gate_payload(ctx, process, gate), "decision": to_state, "reason": reason,
               "decided_by_name": decider.name if decider else None}
    send(ctx, "gate_decided", [found[i] for i in sorted(told) if i in found], payload,
         process_id=process.id)


def decide_gate(ctx: Context, gate_id: int, decision: str, *, reason: str | None = None,
                evidence: dict | None = None, expected_version: int | None = None) -> Gate:
    """Approve or reject an open gate; only its decider role (or a delegate) may."""
    gate = get(ctx.session, Gate, gate_id, lock=True)
    check_version(gate, expected_version, "gate")
    process = get(ctx.session, Process, gate.process_id)
    step = get(ctx.session, StepInstance, gate.step_id) if gate.step_id is not None else None
    if decision not in ("approve", "reject"):
        raise InvalidData("decision must be approve or reject", errors={"decision": "invalid"})
    if gate.kind == "consultation":
        raise IllegalTransition("a consultation gate passes when the consultation is recorded",
                                entity="gate", from_state=gate.status, to_state=decision)
    if gate.status != "open":
        raise IllegalTransition(f"gate {gate.key} is {gate.status}", entity="gate",
                                from_state=gate.status, to_state=decision)
    require_role(ctx, process, (gate.requirements["decider"],))
    reason = (reason or "").strip() or None
    if decision == "reject" and not reason:
        raise InvalidData("a rejection needs a reason", errors={"reason": "required"})
    if gate.action_id is not None:
        from flows.engine.actions import after_risk_decision, require_assessment, require_decidable

        require_decidable(ctx, gate)
        if decision == "approve":
            require_assessment(ctx, gate)
        _settle(ctx, process, gate, "approved" if decision == "approve" else "rejected",
                decision=decision, reason=reason, evidence=evidence)
        after_risk_decision(ctx, process, gate)
        return gate
    _settle(ctx, process, gate, "approved" if decision == "approve" else "rejected",
            decision=decision, reason=reason, evidence=evidence)
    from flows.engine.steps import advance, reopen

    if decision == "approve":
        advance(ctx, process, step)
    elif gate.kind == "order":
        cancel_process(ctx, process, reason or "")
    else:
        reopen(ctx, process, step, gate, reason or "")
    return gate


def _plan_consultation_errors(ctx: Context, process: Process, body_id: int | None,
                              opinions: str | None) -> dict[str, str]:
    """A plan's consultation names the samverkan body consulted and records the unions' views."""
    errors: dict[str, str] = {}
    if body_id is None:
        errors["body_id"] = "required"
    else:
        body = ctx.session.get(Body, body_id)
        if body is None or body.organisation_id != process.organisation_id:
            errors["body_id"] = "not_found"
    if not isinstance(opinions, str) or not opinions.strip():
        errors["opinions"] = "unions_views"
    return errors


def record_consultation(ctx: Context, gate_id: int, *, subject: str, held_on: date,
                        participants: list[str], outcome: str, opinions: str = "",
                        body_id: int | None = None) -> Consultation:
    """Record a samverkan consultation; it passes the consultation gate it answers.

    Consultation has no veto: the record is what the gate waits for, whatever the unions said.
    Before a plan is adopted the record must name the samverkan body (``body_id``) and hold
    the unions' views (``opinions``; "no objections" is a view, an empty field is not).
    """
    gate = get(ctx.session, Gate, gate_id, lock=True)
    process = get(ctx.session, Process, gate.process_id)
    require_role(ctx, process, ("processledare", "processagare"))
    if gate.kind != "consultation":
        raise IllegalTransition("this gate is not a consultation", entity="gate",
                                from_state=gate.status, to_state="approved")
    if gate.status != "open":
        raise IllegalTransition(f"gate {gate.key} is {gate.status}", entity="gate",
                                from_state=gate.status, to_state="approved")
    errors = {}
    if not subject or not subject.strip():
        errors["subject"] = "required"
    if not outcome or not outcome.strip():
        errors["outcome"] = "required"
    if not participants or not all(isinstance(p, str) and p.strip() for p in participants):
        errors["participants"] = "required"
    if held_on > ctx.now.date():
        errors["held_on"] = "in_future"
    if gate.plan_id is not None:
        errors |= _plan_consultation_errors(ctx, process, body_id, opinions)
    if errors:
        raise InvalidData("the consultation record is incomplete", errors=errors)
    consultation = Consultation(process_id=process.id, gate_id=gate.id, plan_id=gate.plan_id,
                                body_id=body_id, subject=subject.strip(), held_on=held_on,
                                participants=[p.strip() for p in participants],
                                opinions=(opinions or "").strip(), outcome=outcome.strip(),
                                recorded_by_id=ctx.actor.person_id, recorded_at=ctx.now)
    create(ctx, consultation, "consultation", "recorded", organisation_id=process.organisation_id,
           process_id=process.id, action="recorded", data={"gate_id": gate.id})
    _settle(ctx, process, gate, "approved", decision="recorded", reason=None,
            evidence={"consultation_id": consultation.id})
    if gate.step_id is not None:
        from flows.engine.steps import advance

        advance(ctx, process, get(ctx.session, StepInstance, gate.step_id))
    return consultation


def cancel_process(ctx: Context, process: Process, reason: str) -> None:
    """Stop a process: its live tasks and gates are cancelled, the process too."""
    from models import Task

    for task in ctx.session.scalars(select(Task).where(
            Task.process_id == process.id, Task.status.in_(("pending", "open", "claimed")))):
        transition(ctx, task, "task", "cancelled", organisation_id=process.organisation_id,
                   process_id=process.id)
    for gate in ctx.session.scalars(select(Gate).where(
            Gate.process_id == process.id, Gate.status.in_(("pending", "open")))):
        transition(ctx, gate, "gate", "cancelled", organisation_id=process.organisation_id,
                   process_id=process.id)
    process.completed_at = ctx.now
    transition(ctx, process, "process", "cancelled", organisation_id=process.organisation_id,
               process_id=process.id, data={"reason": reason})
