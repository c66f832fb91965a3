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
from api.pages.plans import newest_gate, org_people, refusal
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import names
from flows import engine, rules
from flows.engine.actions import CLOSED_ACTION_STATES
from flows.engine.core import check_version
from flows.errors import EngineError, InvalidData
from models import ActionPlan, Process, RiskAssessment
from plans.content import label
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RISK_FIELDS = ("participants", "safety_representative", "conclusion",
               *(f"{name}_{i}" for i in range(forms.RISK_ROWS)
                 for name in ("risk", "likelihood", "consequence", "measure")))


# The ways an action ends, and what the finish form's button says (status done or dropped).
ENDINGS = ("done", "dropped")
UNDER_WAY = ("approved", "in_progress")


def _endings(status: str) -> list[str]:
    """The ends the action may reach from ``status`` (the engine's transition rules)."""
    return [e for e in ENDINGS if e in rules.TRANSITIONS["action"].get(status, frozenset())]


def _page(request: Request, db: Session, principal, action_id: int, *, status: int = 200,
          values: dict | None = None, errors: dict | None = None, error: str | None = None,
          form_name: str | None = None) -> Response:
    lang = page_locale(request)
    viewer = principal.viewer
    action, process, facts = visible_action(db, viewer, action_id)
    plan = db.get(ActionPlan, action.plan_id)
    gate = newest_gate(db, action_id=action.id)
    assessments = list(db.scalars(select(RiskAssessment).where(RiskAssessment.action_id == action.id)
                                  .order_by(RiskAssessment.id)))
    may_work = perm.can_work_on_action(viewer, facts, plan.owner_id, action.responsible_id)
    may_change = may_work and action.status not in CLOSED_ACTION_STATES
    areas = [a.title for a in engine.plan_areas(db, plan.id)]
    if action.development_area not in areas:
        areas.insert(0, action.development_area)
    change_values = values if form_name == "change" else forms.action_values(action)
    return render_page(
        request, "plan_action.html", status=status, title=action.goal, action=action, plan=plan,
        process=process, gate=gate, assessments=assessments,
        responsible=names(db, [action.responsible_id]).get(action.responsible_id, ""),
        plan_label=lambda c: label(lang, c), rows=range(forms.RISK_ROWS), grades=range(1, 6),
        may_assess=may_work and action.status in ("planned", "risk_pending"),
        may_start=may_work and action.status == "approved", values=values or {},
        errors={k: reason_text(lang, v) for k, v in (errors or {}).items()}, error=error,
        done=request.query_params.get("done"), form_name=form_name, may_change=may_change,
        under_way=action.status in UNDER_WAY, change_values=change_values, area_titles=areas,
        people=org_people(db, process.organisation_id) if may_change else [],
        endings=_endings(action.status) if may_work else [])


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
             rename=lambda k: k, form_name: str | None = None) -> Response:
    db.rollback()
    ctx.queued.clear()
    errors, error = refusal(page_locale(request), exc)
    return _page(request, db, principal, action_id, status=exc.status, values=values,
                 errors={rename(k): v for k, v in errors.items()}, error=error, form_name=form_name)


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


@router.post("/actions/{action_id}/change")
def change(action_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
           form: FormDep) -> Response:
    """Change the action's content. Anything but the follow-up date makes a new version that needs
    a new risk assessment: an action under way goes back to wait for it."""
    action = _workable(db, principal, action_id)
    before = (action.status, action.revision)
    values = {k: form.get(k, "")[:forms.MAX_TEXT] for k in forms.ACTION_FIELDS}
    process = db.get(Process, action.process_id)
    people = {p.id for p in org_people(db, process.organisation_id)}
    try:
        fields, errors = forms.action_input(form, people)
        if errors:
            raise InvalidData("the action has errors", errors=errors)
        engine.change_action(ctx, action.id, fields, expected_version=forms.an_id(form, "version"))
    except EngineError as exc:
        return _refused(request, db, principal, action_id, ctx, exc, values, form_name="change")
    if action.revision != before[1]:
        done = "reassess" if before[0] in UNDER_WAY else "changed_reassess"
    else:
        done = "changed"
    return see_other(f"/actions/{action_id}?done={done}")


@router.post("/actions/{action_id}/finish")
def finish(action_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
           form: FormDep) -> Response:
    """Mark the action done with what came of it, or drop it saying why."""
    action = _workable(db, principal, action_id)
    values = {"result": form.get("result", "")[:forms.MAX_TEXT]}
    ending = form.get("ending", "")
    try:
        check_version(action, forms.an_id(form, "version"), "action")
        if ending not in ENDINGS:
            raise InvalidData("choose how the action ends", errors={"result": "not_allowed"})
        engine.finish_action(ctx, action.id, result=forms.text(form, "result"), dropped=ending == "dropped")
    except EngineError as exc:
        return _refused(request, db, principal, action_id, ctx, exc, values, form_name="finish")
    return see_other(f"/actions/{action_id}?done={ending}")
