"""Steps 7-9 over the API: development areas, plan changes and history, follow-up, evaluation, cycles."""

from __future__ import annotations

from sqlalchemy import select

from api.access import require, visible_plan, visible_process
from api.deps import EngineCtx, LocaleDep, PathId, SessionDep, ViewerDep
from api.present import plan_out
from api.problems import not_found
from api.routing import api_router
from flows import engine
from models import DevelopmentArea, ProcessEvaluation
from models.schemas.followup import (
    AreaChange,
    AreaIn,
    AreaList,
    AreaOut,
    AreasIn,
    CycleIn,
    EvaluationIn,
    EvaluationOut,
    FollowUpIn,
    HistoryOut,
    MeetingOut,
    PlanChange,
    ReviewOut,
    ScheduleIn,
    WithdrawIn,
)
from models.schemas.plans import PlanOut
from models.schemas.process import ProcessOut
from roles import permissions as perm

router = api_router("follow-up")


def area_fields(body: AreaIn) -> engine.AreaFields:
    """The engine's fields of an area from a request body."""
    return engine.AreaFields(title=body.title.strip(), level=body.level, goal=(body.goal or "").strip(),
                             unit_id=body.unit_id, owner_id=body.owner_id, priority=body.priority)


def _visible_area(db, viewer, area_id: int):
    area = db.get(DevelopmentArea, area_id)
    if area is None:
        raise not_found()
    process, facts = visible_process(db, viewer, area.process_id)
    return area, process, facts


@router.get("/processes/{process_id}/development-areas", response_model=AreaList)
def list_areas(process_id: PathId, db: SessionDep, viewer: ViewerDep) -> AreaList:
    """Every development area of the process (withdrawn ones too) and step 7's suggestions."""
    process, _ = visible_process(db, viewer, process_id)
    rows = db.scalars(select(DevelopmentArea).where(DevelopmentArea.process_id == process.id)
                      .order_by(DevelopmentArea.level, DevelopmentArea.priority, DevelopmentArea.id))
    return AreaList(areas=[AreaOut.model_validate(a) for a in rows],
                    suggestions=engine.suggested_areas(db, process.id))


@router.post("/processes/{process_id}/development-areas", response_model=list[AreaOut], status_code=201)
def record_areas(process_id: PathId, body: AreasIn, db: SessionDep, viewer: ViewerDep,
                 ctx: EngineCtx) -> list[DevelopmentArea]:
    """Record Dela värld's prioritised areas (step 7), each with its level and receiver."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_manage_process(viewer, facts))
    return engine.record_development_areas(ctx, process.id, [area_fields(a) for a in body.areas])


@router.put("/development-areas/{area_id}", response_model=AreaOut)
def change_area(area_id: PathId, body: AreaChange, db: SessionDep, viewer: ViewerDep,
                ctx: EngineCtx) -> DevelopmentArea:
    """Change an area's text, level or receiver."""
    area, _, facts = _visible_area(db, viewer, area_id)
    require(perm.can_manage_process(viewer, facts))
    return engine.change_development_area(ctx, area.id, area_fields(body),
                                          expected_version=body.expected_version)


@router.post("/development-areas/{area_id}/withdraw", response_model=AreaOut)
def withdraw_area(area_id: PathId, body: WithdrawIn, db: SessionDep, viewer: ViewerDep,
                  ctx: EngineCtx) -> DevelopmentArea:
    """Withdraw an area (it stays in the history)."""
    area, _, facts = _visible_area(db, viewer, area_id)
    require(perm.can_manage_process(viewer, facts))
    return engine.withdraw_development_area(ctx, area.id, reason=body.reason)


@router.patch("/plans/{plan_id}", response_model=PlanOut)
def update_plan(plan_id: PathId, body: PlanChange, db: SessionDep, viewer: ViewerDep,
                ctx: EngineCtx, locale: LocaleDep) -> PlanOut:
    """Change a plan's title or owner (the new owner needs the level's mandate)."""
    plan, process, facts = visible_plan(db, viewer, plan_id)
    require(perm.can_manage_plan(viewer, facts, plan.owner_id))
    engine.update_plan(ctx, plan.id, title=body.title, owner_id=body.owner_id,
                       expected_version=body.expected_version)
    return plan_out(db, process, plan, locale)


@router.get("/plans/{plan_id}/history", response_model=list[HistoryOut])
def plan_history(plan_id: PathId, db: SessionDep, viewer: ViewerDep) -> list[HistoryOut]:
    """Every audited change of the plan, its actions, gates, evidence and follow-ups, oldest first."""
    plan, _, _ = visible_plan(db, viewer, plan_id)
    return [HistoryOut.model_validate(e) for e in engine.plan_history(db, plan.id)]


def meeting_out(meeting, reviews) -> MeetingOut:
    """A meeting with its reviews."""
    fields = {k: getattr(meeting, k) for k in MeetingOut.model_fields if k != "reviews"}
    return MeetingOut(**fields, reviews=[ReviewOut.model_validate(r) for r in reviews])


@router.get("/plans/{plan_id}/follow-ups", response_model=list[MeetingOut])
def list_follow_ups(plan_id: PathId, db: SessionDep, viewer: ViewerDep) -> list[MeetingOut]:
    """The plan's follow-up meetings, oldest first, with their reviews."""
    plan, _, _ = visible_plan(db, viewer, plan_id)
    return [meeting_out(m, r) for m, r in engine.plan_follow_ups(db, plan.id)]


@router.post("/plans/{plan_id}/follow-ups", response_model=MeetingOut, status_code=201)
def schedule_follow_up(plan_id: PathId, body: ScheduleIn, db: SessionDep, viewer: ViewerDep,
                       ctx: EngineCtx) -> MeetingOut:
    """Schedule (or move) the plan's next follow-up meeting; the invite goes out."""
    plan, _, facts = visible_plan(db, viewer, plan_id)
    require(perm.can_manage_plan(viewer, facts, plan.owner_id))
    meeting = engine.schedule_follow_up(ctx, plan.id, on=body.on, participant_ids=body.participant_ids,
                                        location=body.location)
    return meeting_out(meeting, [])


@router.post("/plans/{plan_id}/follow-ups/record", response_model=MeetingOut, status_code=201)
def record_follow_up(plan_id: PathId, body: FollowUpIn, db: SessionDep, viewer: ViewerDep,
                     ctx: EngineCtx) -> MeetingOut:
    """Record a held meeting with each action's five-question review; it schedules the next one."""
    plan, _, facts = visible_plan(db, viewer, plan_id)
    require(perm.can_manage_plan(viewer, facts, plan.owner_id))
    reviews = [engine.ReviewFields(**r.model_dump()) for r in body.reviews]
    meeting = engine.record_follow_up(ctx, plan.id, held_on=body.held_on,
                                      participants=[p.strip() for p in body.participants],
                                      reviews=reviews, next_follow_up_on=body.next_follow_up_on,
                                      notes=body.notes)
    found = dict(engine.plan_follow_ups(db, plan.id))
    return meeting_out(meeting, found.get(meeting, []))


@router.get("/processes/{process_id}/evaluations", response_model=list[EvaluationOut])
def list_evaluations(process_id: PathId, db: SessionDep, viewer: ViewerDep) -> list[ProcessEvaluation]:
    """The recorded evaluations of the process."""
    process, _ = visible_process(db, viewer, process_id)
    return list(db.scalars(select(ProcessEvaluation).where(ProcessEvaluation.process_id == process.id)
                           .order_by(ProcessEvaluation.id)))


@router.post("/processes/{process_id}/evaluations", response_model=EvaluationOut, status_code=201)
def evaluate(process_id: PathId, body: EvaluationIn, db: SessionDep, viewer: ViewerDep,
             ctx: EngineCtx) -> ProcessEvaluation:
    """Record the evaluation that ends step 9 (every adopted plan followed up first)."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_evaluate_process(viewer, facts))
    return engine.evaluate_process(ctx, process.id, what_worked=body.what_worked,
                                   what_to_change=body.what_to_change, before_after=body.before_after,
                                   next_cycle=body.next_cycle)


@router.post("/processes/{process_id}/next-cycle", response_model=ProcessOut, status_code=201)
def new_cycle(process_id: PathId, body: CycleIn, db: SessionDep, viewer: ViewerDep,
              ctx: EngineCtx) -> ProcessOut:
    """Start the next cycle of a completed process: same roster, history kept."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_start_cycle(viewer, facts))
    return ProcessOut.model_validate(engine.start_new_cycle(ctx, process.id, name=body.name))
