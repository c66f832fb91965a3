"""Consistency checks over whole processes, read from the database.

Each check returns the problems it found (an empty list when all is well), so a
test can assert on it and show every problem at once. They hold for any process at
any moment, whatever happened to the programs that worked on it.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Action, ActionPlan, AuditEvent, Gate, Process, RiskAssessment, StepInstance, Survey, Task

# Entities whose status the engine changes, by the name their audit events carry.
TRACKED = {"process": Process, "step": StepInstance, "task": Task, "gate": Gate, "plan": ActionPlan,
           "action": Action, "survey": Survey}


def steps_closed_with_unmet_gate(session: Session, process_ids: Collection[int]) -> list[str]:
    """Closed steps whose newest row of some gate is not approved."""
    problems = []
    for step in session.scalars(select(StepInstance).where(
            StepInstance.process_id.in_(process_ids), StepInstance.status == "closed")):
        newest: dict[str, str] = {}
        for gate in session.scalars(select(Gate).where(Gate.step_id == step.id).order_by(Gate.iteration)):
            newest[gate.key] = gate.status
        if any(status != "approved" for status in newest.values()):
            problems.append(f"process {step.process_id} step {step.step_no} closed with gates {newest}")
    return problems


def actions_under_way_without_assessment(session: Session, process_ids: Collection[int]) -> list[str]:
    """Actions in progress without an approved risk assessment of their current revision."""
    problems = []
    for action in session.scalars(select(Action).where(
            Action.process_id.in_(process_ids), Action.status == "in_progress")):
        gate = session.scalars(select(Gate).where(Gate.action_id == action.id)
                               .order_by(Gate.id.desc())).first()
        revisions = set(session.scalars(select(RiskAssessment.action_revision).where(
            RiskAssessment.gate_id == gate.id))) if gate is not None else set()
        if gate is None or gate.status != "approved" or action.revision not in revisions:
            problems.append(f"action {action.id} in progress without an approved assessment")
    return problems


def status_moves(session: Session, process_ids: Collection[int]) -> dict[tuple[str, int], list[AuditEvent]]:
    """The audit events that change a tracked entity's status, per (entity, id), oldest first."""
    moves: dict[tuple[str, int], list[AuditEvent]] = {}
    for event in session.scalars(select(AuditEvent).where(
            AuditEvent.process_id.in_(process_ids), AuditEvent.entity.in_(TRACKED))
            .order_by(AuditEvent.id)):
        if event.from_state != event.to_state and event.action != "phase":
            moves.setdefault((event.entity, event.entity_id), []).append(event)
    return moves


def chain_problem(chain: list[AuditEvent], before: str | None, after: str | None) -> str | None:
    """Why ``chain`` does not lead from status ``before`` to ``after`` link by link (None if it does)."""
    states = [chain[0].from_state] + [e.to_state for e in chain] if chain else [before]
    broken = [(a.id, a.to_state, b.id, b.from_state) for a, b in zip(chain, chain[1:], strict=False)
              if a.to_state != b.from_state]
    if broken or states[0] != before or states[-1] != after:
        return f"{before} -> {after} but events say {states} (broken links {broken})"
    return None


def audit_chain_problems(session: Session, process_ids: Collection[int]) -> list[str]:
    """Tracked entities whose status history is not a chain of audit events from creation.

    Every entity has a creation event from no status; each later event starts in the
    status the previous one ended in; the last one ends in the current status.
    """
    moves = status_moves(session, process_ids)
    problems = []
    for name, model in TRACKED.items():
        column = model.id if model is Process else model.process_id
        for entity_id, status in session.execute(select(model.id, model.status).where(
                column.in_(process_ids))):
            problem = chain_problem(moves.pop((name, entity_id), []), None, status)
            if problem:
                problems.append(f"{name} {entity_id}: {problem}")
    problems += [f"{name} {entity_id}: events for an entity that does not exist"
                 for name, entity_id in moves]
    return problems


def consistency_problems(session: Session, process_ids: Collection[int]) -> list[str]:
    """Every check above, for the given processes."""
    return (steps_closed_with_unmet_gate(session, process_ids)
            + actions_under_way_without_assessment(session, process_ids)
            + audit_chain_problems(session, process_ids))
