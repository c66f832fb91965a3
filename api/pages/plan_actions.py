"""The action page: its content and gate, the risk-assessment form, and starting the action."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, visible_action
from api.deps import EngineCtx, PathId, SessionDep
from api.messages import reason_text
from api.pages import plan_forms as forms
from api.pages.plans import newest_gate, refusal
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import names
from flows import engine
from flows.errors import EngineError, InvalidData
from models import ActionPlan, RiskAssessment
from plans.content import label
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RISK_FIELDS = ("participants", "safety_representative", "conclusion",
               *(f"{name}_{i}" for i in range(forms.RISK_ROWS)
                 for name in ("risk", "likelihood", "consequence", "measure")))


def _page(request: Request, db: Session, principal, action_id: int, *, status: int = 200,
          values: dict | None = None, errors: dict | None = None, error: str | None = None) -> Response:
    lang = page_locale(request)
    viewer = principal.viewer
    action, process, facts = visible_action(db, viewer, action_id)
    plan = db.get(ActionPlan, action.plan_id)
    gate = newest_gate(db, action_id=action.id)
    assessments = list(db.scalars(select(RiskAssessment).where(RiskAssessment.action_id == action.id)
                                  .order_by(RiskAssessment.id)))
    may_work = perm.can_work_on_action(viewer, facts, plan.owner_id, action.responsible_id)
    return render_page(
        request, "plan_action.html", status=status, title=action.goal, action=action, plan=plan,
        process=process, gate=gate, assessments=assessments,
        responsible=names(db, [action.responsible_id]).get(action.responsible_id, ""),
        plan_label=lambda c: label(lang, c), rows=range(forms.RISK_ROWS), grades=range(1, 6),
        may_assess=may_work and action.status in ("planned", "risk_pending"),
        may_start=may_work and action.status == "approved", values=values or {},
        errors={k: reason_text(lang, v) for k, v in (errors or {}).items()}, error=error,
        done=request.query_params.get("done"))


@router.get("/actions/{action_id}")
def action_page(action_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """One action with its risk-assessment gate."""
    return _page(request, db, principal, action_id)


def _workable(db: Session, principal, action_id: int):
    action, process, facts = visible_action(db, principal.viewer, action_id)
    plan = db.get(ActionPlan, action.plan_id)
    require(perm.can_work_on_action(principal.viewer, facts, plan.owner_id, action.responsible_id))
    return action


def _refused(request, db, principal, action_id, ctx, exc: EngineError, values: dict,
             rename=lambda k: k) -> Response:
    db.rollback()
    ctx.queued.clear()
    errors, error = refusal(page_locale(request), exc)
    return _page(request, db, principal, action_id, status=exc.status, values=values,
                 errors={rename(k): v for k, v in errors.items()}, error=error)


@router.post("/actions/{action_id}/risk-assessment")
def record_risk_assessment(action_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                           ctx: EngineCtx, form: FormDep) -> Response:
    """Record the written risk assessment (with a safety representative); the gate waits for approval."""
    action = _workable(db, principal, action_id)
    values = {k: form.get(k, "")[:forms.MAX_TEXT] for k in RISK_FIELDS}
    args, errors, rows = forms.risk_input(form)
    try:
        if errors:
            raise InvalidData("the risk assessment has errors", errors=errors)
        engine.record_risk_assessment(ctx, action.id, **args)
    except EngineError as exc:
        return _refused(request, db, principal, action_id, ctx, exc, values,
                        rename=lambda k: forms.risk_field(k, rows))
    return see_other(f"/actions/{action_id}?done=assessed")


@router.post("/actions/{action_id}/start")
def start(action_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
          form: FormDep) -> Response:
    """Start the action: only with an approved risk assessment of its current content."""
    action = _workable(db, principal, action_id)
    try:
        engine.start_action(ctx, action.id, expected_version=forms.an_id(form, "version"))
    except EngineError as exc:
        return _refused(request, db, principal, action_id, ctx, exc, {})
    return see_other(f"/actions/{action_id}?done=started")
