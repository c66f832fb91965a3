"""The gate page: requirements with evidence, the decision with its consequences, consultations."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, visible_gate
from api.deps import EngineCtx, PathId, SessionDep
from api.messages import problem_text, reason_text
from api.pages import gate_facts
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import days_between, gate_people, names
from api.present import gate_title
from chefoskop import clock
from flows import engine
from flows.errors import EngineError, InvalidData
from models import Body, StepInstance
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)
CONSULTATION_FIELDS = ("subject", "held_on", "body_id", "participants", "opinions", "outcome")
MAX_TEXT = 10000


def _version(form: dict[str, str]) -> int | None:
    value = form.get("version", "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _page(request: Request, db: Session, principal, gate_id: int, *, status: int = 200,
          values: dict | None = None, errors: dict | None = None, error: str | None = None) -> Response:
    lang = page_locale(request)
    viewer = principal.viewer
    gate, process, facts = visible_gate(db, viewer, gate_id)
    step = db.get(StepInstance, gate.step_id) if gate.step_id else None
    decider = (gate.requirements or {}).get("decider")
    is_open = gate.status == "open"
    on_approve, on_reject = gate_facts.consequences(db, process, gate, lang)
    role, holders = gate_people(db, process, gate, clock.now())
    bodies = list(db.scalars(select(Body).where(Body.organisation_id == process.organisation_id)
                             .order_by(Body.name)))
    return render_page(
        request, "gate.html", status=status, gate=gate, process=process, step=step,
        title=gate_title(process, gate, step, lang), waiting_role=role, holders=holders,
        waited_days=days_between(gate.opened_at, gate.decided_at or clock.now()),
        requirements=gate_facts.requirements(db, process, gate, lang),
        consultations=gate_facts.consultation_entries(db, gate, lang),
        history=gate_facts.history(db, gate), decided_by=names(db, [gate.decided_by_id]),
        on_approve=on_approve, on_reject=on_reject, bodies=bodies,
        may_decide=is_open and gate.kind != "consultation" and perm.can_decide_gate(viewer, facts, decider),
        may_record=is_open and gate.kind == "consultation" and perm.can_record_consultation(viewer, facts),
        values=values or {}, errors=errors or {}, error=error, today=clock.now().date().isoformat(),
        done=request.query_params.get("done"))


@router.get("/gates/{gate_id}")
def gate_page(gate_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """One gate: what it asks, the evidence, and the decision for its decider."""
    return _page(request, db, principal, gate_id)


def _refused(request: Request, db: Session, principal, gate_id: int, exc: EngineError,
             values: dict) -> Response:
    lang = page_locale(request)
    if isinstance(exc, InvalidData):
        errors = {k: reason_text(lang, str(v)) for k, v in (exc.params.get("errors") or {}).items()}
        return _page(request, db, principal, gate_id, status=422, values=values, errors=errors,
                     error=problem_text(lang, "invalid_data")[1])
    return _page(request, db, principal, gate_id, status=exc.status, values=values,
                 error=" ".join(problem_text(lang, exc.code)))


@router.post("/gates/{gate_id}/decide")
def decide(gate_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
           ctx: EngineCtx, form: FormDep) -> Response:
    """Approve, or reject with a reason; the engine reopens work or opens the next step."""
    gate, _, facts = visible_gate(db, principal.viewer, gate_id)
    if gate.kind != "consultation":
        require(perm.can_decide_gate(principal.viewer, facts, (gate.requirements or {}).get("decider")))
    decision = form.get("decision", "")
    reason = form.get("reason", "")[:MAX_TEXT]
    try:
        engine.decide_gate(ctx, gate.id, decision, reason=reason, expected_version=_version(form))
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        return _refused(request, db, principal, gate_id, exc, {"reason": reason, "decision": decision})
    return see_other(f"/gates/{gate_id}?done={'approved' if decision == 'approve' else 'rejected'}")


def _consultation_input(db: Session, org_id: int, form: dict[str, str]) -> tuple[dict, dict]:
    """The consultation form as engine arguments, and the errors the engine cannot name."""
    errors: dict[str, str] = {}
    held_on = None
    try:
        held_on = date.fromisoformat(form.get("held_on", "").strip())
    except ValueError:
        errors["held_on"] = "required" if not form.get("held_on", "").strip() else "not_a_date"
    body_id = None
    raw_body = form.get("body_id", "").strip()
    if raw_body:
        body = db.get(Body, int(raw_body)) if raw_body.isdigit() and len(raw_body) < 10 else None
        if body is None or body.organisation_id != org_id:
            errors["body_id"] = "not_found"
        else:
            body_id = body.id
    participants = [line.strip()[:200] for line in form.get("participants", "").splitlines() if line.strip()]
    if errors:  # name the engine's required fields too, so every problem shows at once
        absent = {"subject": not form.get("subject", "").strip(), "participants": not participants,
                  "outcome": not form.get("outcome", "").strip()}
        errors.update({k: "required" for k, gone in absent.items() if gone and k not in errors})
    args = {"subject": form.get("subject", "")[:300], "held_on": held_on or date.min,
            "participants": participants, "outcome": form.get("outcome", "")[:MAX_TEXT],
            "opinions": form.get("opinions", "")[:MAX_TEXT], "body_id": body_id}
    return args, errors


@router.post("/gates/{gate_id}/consultation")
def record_consultation(gate_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                        ctx: EngineCtx, form: FormDep) -> Response:
    """Record the samverkan consultation this gate waits for; it passes the gate."""
    gate, process, facts = visible_gate(db, principal.viewer, gate_id)
    require(perm.can_record_consultation(principal.viewer, facts))
    values = {k: form.get(k, "")[:MAX_TEXT] for k in CONSULTATION_FIELDS}
    args, errors = _consultation_input(db, process.organisation_id, form)
    try:
        if errors:
            raise InvalidData("the consultation record is incomplete", errors=errors)
        engine.record_consultation(ctx, gate.id, **args)
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        return _refused(request, db, principal, gate_id, exc, values)
    return see_other(f"/gates/{gate_id}?done=recorded")
