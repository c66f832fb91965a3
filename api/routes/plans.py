"""Action plans, their actions and the risk assessments that must precede each change."""

from __future__ import annotations

from sqlalchemy import select

from api.access import require, visible_action, visible_plan, visible_process
from api.deps import EngineCtx, LocaleDep, PathId, SessionDep, ViewerDep
from api.present import action_out, plan_out
from api.routing import api_router
from flows import engine
from models import Action, ActionPlan, RiskAssessment
from models.schemas.plans import (
    ActionChange,
    ActionIn,
    ActionOut,
    FinishIn,
    PlanDetail,
    PlanIn,
    PlanOut,
    RiskAssessmentIn,
    VersionIn,
)
from models.schemas.work import RiskAssessmentOut
from roles import permissions as perm

router = api_router("plans")


def _fields(body: ActionIn) -> engine.ActionFields:
    values = body.model_dump(exclude={"expected_version"})
    return engine.ActionFields(**{k: v.strip() if isinstance(v, str) else v for k, v in values.items()})


def plan_detail(db, process, plan: ActionPlan, locale: str) -> PlanDetail:
    """A plan with its actions."""
    actions = db.scalars(select(Action).where(Action.plan_id == plan.id).order_by(Action.id))
    return PlanDetail(**plan_out(db, process, plan, locale).model_dump(),
                      actions=[action_out(db, process, a, locale) for a in actions])


@router.get("/processes/{process_id}/plans", response_model=list[PlanOut])
def list_plans(process_id: PathId, db: SessionDep, viewer: ViewerDep,
               locale: LocaleDep) -> list[PlanOut]:
    """The action plans of a process."""
    process, _ = visible_process(db, viewer, process_id)
    plans = db.scalars(select(ActionPlan).where(ActionPlan.process_id == process.id)
                       .order_by(ActionPlan.level, ActionPlan.id))
    return [plan_out(db, process, p, locale) for p in plans]


@router.post("/processes/{process_id}/plans", response_model=PlanDetail, status_code=201)
def create_plan(process_id: PathId, body: PlanIn, db: SessionDep, viewer: ViewerDep,
                ctx: EngineCtx, locale: LocaleDep) -> PlanDetail:
    """Make an action plan (from step 8); its owner must hold the role with that level's mandate."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_manage_plan(viewer, facts, body.owner_id))
    plan = engine.create_plan(ctx, process.id, level=body.level, owner_id=body.owner_id,
                              title=body.title, unit_id=body.unit_id)
    return plan_detail(db, process, plan, locale)


@router.get("/plans/{plan_id}", response_model=PlanDetail)
def get_plan(plan_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> PlanDetail:
    """One plan with its actions and their gates."""
    plan, process, _ = visible_plan(db, viewer, plan_id)
    return plan_detail(db, process, plan, locale)


@router.post("/plans/{plan_id}/adopt", response_model=PlanDetail)
def adopt_plan(plan_id: PathId, body: VersionIn, db: SessionDep, viewer: ViewerDep,
               ctx: EngineCtx, locale: LocaleDep) -> PlanDetail:
    """Adopt a plan (its owner or the processägare), once samverkan has been consulted."""
    plan, process, facts = visible_plan(db, viewer, plan_id)
    require(perm.can_adopt_plan(viewer, facts, plan.owner_id))
    engine.adopt_plan(ctx, plan.id, expected_version=body.expected_version)
    return plan_detail(db, process, plan, locale)


@router.post("/plans/{plan_id}/actions", response_model=ActionOut, status_code=201)
def add_action(plan_id: PathId, body: ActionIn, db: SessionDep, viewer: ViewerDep,
               ctx: EngineCtx, locale: LocaleDep) -> ActionOut:
    """Add an action; it waits for a risk assessment before it may start."""
    plan, process, facts = visible_plan(db, viewer, plan_id)
    require(perm.can_manage_plan(viewer, facts, plan.owner_id))
    action = engine.add_action(ctx, plan.id, _fields(body))
    return action_out(db, process, action, locale)


@router.get("/actions/{action_id}", response_model=ActionOut)
def get_action(action_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> ActionOut:
    """One action with its risk-assessment gate."""
    action, process, _ = visible_action(db, viewer, action_id)
    return action_out(db, process, action, locale)


def _workable(db, viewer, action_id: int):
    action, process, facts = visible_action(db, viewer, action_id)
    plan = db.get(ActionPlan, action.plan_id)
    require(perm.can_work_on_action(viewer, facts, plan.owner_id, action.responsible_id))
    return action, process


@router.put("/actions/{action_id}", response_model=ActionOut)
def change_action(action_id: PathId, body: ActionChange, db: SessionDep, viewer: ViewerDep,
                  ctx: EngineCtx, locale: LocaleDep) -> ActionOut:
    """Change an action's content; it then needs a new risk assessment."""
    action, process = _workable(db, viewer, action_id)
    engine.change_action(ctx, action.id, _fields(body), expected_version=body.expected_version)
    return action_out(db, process, action, locale)


@router.get("/actions/{action_id}/risk-assessments", response_model=list[RiskAssessmentOut])
def list_risk_assessments(action_id: PathId, db: SessionDep, viewer: ViewerDep) -> list[RiskAssessment]:
    """Every risk assessment recorded for the action, oldest first."""
    action, _, _ = visible_action(db, viewer, action_id)
    return list(db.scalars(select(RiskAssessment).where(RiskAssessment.action_id == action.id)
                           .order_by(RiskAssessment.id)))


@router.post("/actions/{action_id}/risk-assessments", response_model=RiskAssessmentOut,
             status_code=201)
def record_risk_assessment(action_id: PathId, body: RiskAssessmentIn, db: SessionDep,
                           viewer: ViewerDep, ctx: EngineCtx) -> RiskAssessment:
    """Record the written risk assessment of the action's current content (whoever works on the
    action, or a skyddsombud of the process)."""
    action, _, facts = visible_action(db, viewer, action_id)
    plan = db.get(ActionPlan, action.plan_id)
    require(perm.can_record_risk_assessment(viewer, facts, plan.owner_id, action.responsible_id))
    return engine.record_risk_assessment(
        ctx, action.id, risks=[r.model_dump() for r in body.risks],
        participants=list(body.participants), safety_representative=body.safety_representative,
        conclusion=body.conclusion)


@router.post("/actions/{action_id}/start", response_model=ActionOut)
def start_action(action_id: PathId, body: VersionIn, db: SessionDep, viewer: ViewerDep,
                 ctx: EngineCtx, locale: LocaleDep) -> ActionOut:
    """Start an action: only with an approved risk assessment of its current content."""
    action, process = _workable(db, viewer, action_id)
    engine.start_action(ctx, action.id, expected_version=body.expected_version)
    return action_out(db, process, action, locale)


@router.post("/actions/{action_id}/finish", response_model=ActionOut)
def finish_action(action_id: PathId, body: FinishIn, db: SessionDep, viewer: ViewerDep,
                  ctx: EngineCtx, locale: LocaleDep) -> ActionOut:
    """Mark an action done with what came of it, or drop it."""
    action, process = _workable(db, viewer, action_id)
    engine.finish_action(ctx, action.id, result=body.result, dropped=body.dropped)
    return action_out(db, process, action, locale)
