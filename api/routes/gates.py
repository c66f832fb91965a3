"""Gates: their requirements and evidence, decisions, and consultations recorded as evidence."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import require, visible_gate, visible_process
from api.deps import EngineCtx, LocaleDep, PathId, SessionDep, ViewerDep
from api.present import gate_title
from api.problems import invalid
from api.routing import api_router
from flows import engine
from models import Body, Consultation, Gate, Process, RiskAssessment, StepInstance
from models.schemas.work import ConsultationIn, ConsultationOut, DecideIn, GateOut, RiskAssessmentOut
from roles import permissions as perm
from roles.permissions import ProcessFacts, Viewer

router = api_router("gates")
GateStatus = Literal["pending", "open", "approved", "rejected", "cancelled"]


def gate_out(db: Session, viewer: Viewer, facts: ProcessFacts, process: Process, gate: Gate,
             locale: str) -> GateOut:
    """A gate with its evidence and what the viewer may do with it."""
    step = db.get(StepInstance, gate.step_id) if gate.step_id else None
    decider = (gate.requirements or {}).get("decider")
    consultations = db.scalars(select(Consultation).where(Consultation.gate_id == gate.id)
                               .order_by(Consultation.id))
    assessments = db.scalars(select(RiskAssessment).where(RiskAssessment.gate_id == gate.id)
                             .order_by(RiskAssessment.id))
    is_open = gate.status == "open"
    return GateOut(
        id=gate.id, process_id=gate.process_id, step_id=gate.step_id,
        step_no=step.step_no if step else None, plan_id=gate.plan_id, action_id=gate.action_id,
        key=gate.key, kind=gate.kind, title=gate_title(process, gate, step, locale),
        iteration=gate.iteration, status=gate.status, decider=decider,
        requirements=gate.requirements or {}, decision=gate.decision, reason=gate.reason,
        evidence=gate.evidence, decided_by_id=gate.decided_by_id, opened_at=gate.opened_at,
        decided_at=gate.decided_at, version=gate.version,
        consultations=[ConsultationOut.model_validate(c) for c in consultations],
        risk_assessments=[RiskAssessmentOut.model_validate(r) for r in assessments],
        may_decide=is_open and gate.kind != "consultation"
        and perm.can_decide_gate(viewer, facts, decider),
        may_record_consultation=is_open and gate.kind == "consultation"
        and perm.can_record_consultation(viewer, facts))


@router.get("/processes/{process_id}/gates", response_model=list[GateOut])
def list_gates(process_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep,
               status: GateStatus | None = None) -> list[GateOut]:
    """Every gate of a process (steps, plans and actions), oldest first."""
    process, facts = visible_process(db, viewer, process_id)
    stmt = select(Gate).where(Gate.process_id == process.id)
    if status:
        stmt = stmt.where(Gate.status == status)
    return [gate_out(db, viewer, facts, process, g, locale) for g in db.scalars(stmt.order_by(Gate.id))]


@router.get("/gates/{gate_id}", response_model=GateOut)
def get_gate(gate_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> GateOut:
    """One gate with its requirements and evidence."""
    gate, process, facts = visible_gate(db, viewer, gate_id)
    return gate_out(db, viewer, facts, process, gate, locale)


@router.post("/gates/{gate_id}/decide", response_model=GateOut)
def decide(gate_id: PathId, body: DecideIn, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx,
           locale: LocaleDep) -> GateOut:
    """Approve or reject a gate (its decider: the processägare, or a delegate in force)."""
    gate, process, facts = visible_gate(db, viewer, gate_id)
    decider = (gate.requirements or {}).get("decider")
    if gate.kind != "consultation":
        require(perm.can_decide_gate(viewer, facts, decider))
    engine.decide_gate(ctx, gate.id, body.decision, reason=body.reason, evidence=body.evidence,
                       expected_version=body.expected_version)
    return gate_out(db, viewer, facts, process, gate, locale)


@router.post("/gates/{gate_id}/consultations", response_model=ConsultationOut, status_code=201)
def record_consultation(gate_id: PathId, body: ConsultationIn, db: SessionDep, viewer: ViewerDep,
                        ctx: EngineCtx) -> Consultation:
    """Record the samverkan consultation a consultation gate waits for; it passes the gate."""
    gate, process, facts = visible_gate(db, viewer, gate_id)
    require(perm.can_record_consultation(viewer, facts))
    if body.body_id is not None:
        found = db.get(Body, body.body_id)
        if found is None or found.organisation_id != process.organisation_id:
            raise invalid("body_id", "not_found")
    return engine.record_consultation(
        ctx, gate.id, subject=body.subject, held_on=body.held_on,
        participants=list(body.participants), outcome=body.outcome, opinions=body.opinions,
        body_id=body.body_id)
