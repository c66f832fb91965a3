"""Dela värld's development areas by level, the plans that start from them, and a plan's history."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from flows.engine.core import Context, check_version, create_all, record
from flows.engine.queries import get
from flows.engine.roster import require_role
from flows.errors import GateUnmet, IllegalTransition, InvalidData, NotRoleHolder
from models import (
    Action,
    ActionPlan,
    ActionReview,
    AuditEvent,
    Consultation,
    DevelopmentArea,
    FollowUpMeeting,
    Gate,
    Person,
    Process,
    RiskAssessment,
    StepInstance,
    Task,
    Unit,
)
from roles.catalogue import PLAN_OWNER_ROLE_BY_LEVEL
from roles.mandate import plan_mandate
from roles.resolve import resolve

AREA_STEP_NO = 7
MANAGERS = ("processagare", "processledare")


@dataclass(frozen=True)
class AreaFields:
    """A prioritised development area and where it goes: level A/B/C, receiving unit and/or owner."""

    title: str
    level: str
    goal: str = ""
    unit_id: int | None = None
    owner_id: int | None = None
    priority: int = 1


def _area_errors(ctx: Context, process: Process, f: AreaFields, prefix: str = "") -> dict[str, str]:
    errors: dict[str, str] = {}
    if not f.title or not f.title.strip():
        errors[prefix + "title"] = "required"
    if f.level not in PLAN_OWNER_ROLE_BY_LEVEL:
        errors[prefix + "level"] = "invalid"
        return errors
    if f.unit_id is not None:
        unit = ctx.session.get(Unit, f.unit_id)
        if unit is None or unit.organisation_id != process.organisation_id:
            errors[prefix + "unit_id"] = "not_found"
        elif unit.level != f.level:
            errors[prefix + "unit_id"] = "level"
    if f.owner_id is not None:
        role = PLAN_OWNER_ROLE_BY_LEVEL[f.level]
        if f.owner_id not in resolve(ctx.role_data(process.id), role, ctx.now):
            errors[prefix + "owner_id"] = "no_mandate"
    if not isinstance(f.priority, int) or f.priority < 1:
        errors[prefix + "priority"] = "invalid"
    return errors


def _require_area_step(ctx: Context, process: Process) -> None:
    if process.status != "running":
        raise IllegalTransition(f"process is {process.status}", entity="process",
                                from_state=process.status, to_state="running")
    step = ctx.session.scalars(select(StepInstance).where(
        StepInstance.process_id == process.id, StepInstance.step_no == AREA_STEP_NO)).one()
    if step.status != "open" and (process.current_step_no or 0) < AREA_STEP_NO:
        raise GateUnmet("development areas are prioritised at Dela värld (step 7)", gate="step_7_open")


def record_development_areas(ctx: Context, process_id: int, areas: list[AreaFields]) -> list[DevelopmentArea]:
    """Record Dela värld's prioritised areas with their level and receiving unit/owner (all or nothing)."""
    process = get(ctx.session, Process, process_id)
    require_role(ctx, process, MANAGERS)
    _require_area_step(ctx, process)
    if not areas:
        raise InvalidData("give at least one development area", errors={"areas": "required"})
    errors: dict[str, str] = {}
    for i, f in enumerate(areas):
        errors |= _area_errors(ctx, process, f, f"areas.{i}.")
    if errors:
        raise InvalidData("the development areas have errors", errors=errors)
    rows = [DevelopmentArea(process_id=process.id, title=f.title.strip(), goal=(f.goal or "").strip(),
                            level=f.level, unit_id=f.unit_id, owner_id=f.owner_id,
                            priority=f.priority, status="active", created_by_id=ctx.actor.person_id,
                            created_at=ctx.now)
            for f in areas]
    create_all(ctx, rows, "development_area", "active", organisation_id=process.organisation_id,
               process_id=process.id, action="recorded",
               data=lambda row: {"title": row.title, "level": row.level, "unit_id": row.unit_id,
                                 "owner_id": row.owner_id})
    return rows


def change_development_area(ctx: Context, area_id: int, fields: AreaFields, *,
                            expected_version: int | None = None) -> DevelopmentArea:
    """Change an area's text, level or receiver; the old and new values go to the audit trail."""
    area = get(ctx.session, DevelopmentArea, area_id, lock=True)
    check_version(area, expected_version, "development_area")
    process = get(ctx.session, Process, area.process_id)
    require_role(ctx, process, MANAGERS)
    errors = _area_errors(ctx, process, fields)
    if errors:
        raise InvalidData("the development area has errors", errors=errors)
    keys = ("title", "goal", "level", "unit_id", "owner_id", "priority")
    before = {k: getattr(area, k) for k in keys}
    for k in keys:
        value = getattr(fields, k)
        setattr(area, k, value.strip() if isinstance(value, str) else value)
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id,
           entity="development_area", entity_id=area.id, action="changed", from_state=area.status,
           to_state=area.status, data={"before": before, "after": {k: getattr(area, k) for k in keys}})
    return area


def withdraw_development_area(ctx: Context, area_id: int, *, reason: str) -> DevelopmentArea:
    """Withdraw an area (it stays in the history); a reason is required."""
    area = get(ctx.session, DevelopmentArea, area_id, lock=True)
    process = get(ctx.session, Process, area.process_id)
    require_role(ctx, process, MANAGERS)
    if not reason or not reason.strip():
        raise InvalidData("say why the area is withdrawn", errors={"reason": "required"})
    if area.status != "active":
        raise IllegalTransition(f"area is {area.status}", entity="development_area",
                                from_state=area.status, to_state="withdrawn")
    area.status = "withdrawn"
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id,
           entity="development_area", entity_id=area.id, action="withdrawn", from_state="active",
           to_state="withdrawn", data={"reason": reason.strip()})
    return area


def areas_for(session: Session, process_id: int, level: str, *, unit_id: int | None = None,
              owner_id: int | None = None) -> list[DevelopmentArea]:
    """Active areas of a level that a plan for ``unit_id``/``owner_id`` starts from, by priority."""
    stmt = select(DevelopmentArea).where(
        DevelopmentArea.process_id == process_id, DevelopmentArea.level == level,
        DevelopmentArea.status == "active",
        or_(DevelopmentArea.unit_id.is_(None), DevelopmentArea.unit_id == unit_id),
        or_(DevelopmentArea.owner_id.is_(None), DevelopmentArea.owner_id == owner_id))
    return list(session.scalars(stmt.order_by(DevelopmentArea.priority, DevelopmentArea.id)))


def plan_areas(session: Session, plan_id: int) -> list[DevelopmentArea]:
    """The development areas a plan starts from (its level, its unit or owner)."""
    plan = get(session, ActionPlan, plan_id)
    return areas_for(session, plan.process_id, plan.level, unit_id=plan.unit_id, owner_id=plan.owner_id)


def has_areas(session: Session, process_id: int) -> bool:
    """Whether Dela värld's areas have been recorded for the process."""
    return session.scalar(select(DevelopmentArea.id).where(
        DevelopmentArea.process_id == process_id, DevelopmentArea.status == "active").limit(1)) is not None


def require_plan_areas(ctx: Context, process: Process, level: str, unit_id: int | None,
                       owner_id: int) -> None:
    """Once areas are recorded, a plan needs at least one area assigned to its level and receiver."""
    if has_areas(ctx.session, process.id) and not areas_for(
            ctx.session, process.id, level, unit_id=unit_id, owner_id=owner_id):
        raise InvalidData("no development area is assigned to this level and unit",
                          errors={"level": "no_development_area"})


def action_area_error(session: Session, plan: ActionPlan, development_area: str | None) -> str | None:
    """'not_a_plan_area' when the plan has areas and the action names none of them."""
    titles = {a.title for a in plan_areas(session, plan.id)}
    if titles and development_area and development_area.strip() not in titles:
        return "not_a_plan_area"
    return None


def suggested_areas(session: Session, process_id: int) -> list[str]:
    """The lines of step 7's 'prioritise' answer (development_areas), as suggestions to assign."""
    data = session.scalars(select(Task.data).join(StepInstance, StepInstance.id == Task.step_id).where(
        Task.process_id == process_id, StepInstance.step_no == AREA_STEP_NO,
        Task.activity_key == "prioritise", Task.status == "completed").order_by(Task.id.desc())).first()
    text = str((data or {}).get("development_areas") or "")
    lines = (re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in text.splitlines())
    return [line for line in lines if line]


def require_plan_mandate(ctx: Context, process: Process, level: str, unit_id: int | None,
                         owner_id: int) -> None:
    """Refuse an owner who does not hold the level's role (NotRoleHolder), or holds it for another
    unit than the plan's (InvalidData on ``owner_id``); see ``roles.mandate``."""
    why = plan_mandate(ctx.role_data(process.id), level, unit_id, owner_id, ctx.now)
    role = PLAN_OWNER_ROLE_BY_LEVEL[level]
    if why == "no_role":
        raise NotRoleHolder(f"the owner must hold {role}", role=role)
    if why is not None:
        raise InvalidData(f"the owner holds {role} for another unit than the plan's",
                          errors={"owner_id": why})


def update_plan(ctx: Context, plan_id: int, *, title: str | None = None, owner_id: int | None = None,
                expected_version: int | None = None) -> ActionPlan:
    """Change a plan's title or owner (the new owner needs the level's mandate for the plan's unit);
    audited. (A B or C plan made before plans had to name their unit keeps the role-only check.)"""
    plan = get(ctx.session, ActionPlan, plan_id, lock=True)
    check_version(plan, expected_version, "plan")
    process = get(ctx.session, Process, plan.process_id)
    if ctx.actor.person_id != plan.owner_id:
        require_role(ctx, process, MANAGERS)
    if title is not None and not title.strip():
        raise InvalidData("the plan needs a title", errors={"title": "required"})
    if owner_id is not None and owner_id != plan.owner_id:
        if plan.unit_id is None and plan.level != "A":
            role = PLAN_OWNER_ROLE_BY_LEVEL[plan.level]
            if owner_id not in resolve(ctx.role_data(process.id), role, ctx.now):
                raise NotRoleHolder(f"the owner must hold {role}", role=role)
        else:
            require_plan_mandate(ctx, process, plan.level, plan.unit_id, owner_id)
    before = {"title": plan.title, "owner_id": plan.owner_id}
    plan.title = title.strip() if title is not None else plan.title
    plan.owner_id = owner_id if owner_id is not None else plan.owner_id
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="plan",
           entity_id=plan.id, action="changed", from_state=plan.status, to_state=plan.status,
           data={"before": before, "after": {"title": plan.title, "owner_id": plan.owner_id}})
    return plan


@dataclass(frozen=True)
class HistoryEntry:
    """One audited change of a plan or of something in it."""

    at: datetime
    entity: str
    entity_id: int
    action: str
    from_state: str | None
    to_state: str | None
    actor_name: str | None
    actor_label: str
    data: dict | None


def _plan_entities(session: Session, plan: ActionPlan) -> set[tuple[str, int]]:
    action_ids = list(session.scalars(select(Action.id).where(Action.plan_id == plan.id)))
    found = {("plan", plan.id)} | {("action", a) for a in action_ids}
    found |= {("gate", g) for g in session.scalars(select(Gate.id).where(
        or_(Gate.plan_id == plan.id, Gate.action_id.in_(action_ids))))}
    found |= {("consultation", c) for c in session.scalars(
        select(Consultation.id).where(Consultation.plan_id == plan.id))}
    found |= {("risk_assessment", r) for r in session.scalars(
        select(RiskAssessment.id).where(RiskAssessment.action_id.in_(action_ids)))}
    meetings = list(session.scalars(select(FollowUpMeeting.id).where(FollowUpMeeting.plan_id == plan.id)))
    found |= {("follow_up_meeting", m) for m in meetings}
    found |= {("action_review", r) for r in session.scalars(
        select(ActionReview.id).where(ActionReview.meeting_id.in_(meetings)))}
    return found


def plan_history(session: Session, plan_id: int) -> list[HistoryEntry]:
    """Every audited change of the plan, its actions, gates, evidence and follow-ups, oldest first."""
    plan = get(session, ActionPlan, plan_id)
    wanted = _plan_entities(session, plan)
    kinds = sorted({entity for entity, _ in wanted})
    events = session.scalars(select(AuditEvent).where(
        AuditEvent.process_id == plan.process_id, AuditEvent.entity.in_(kinds))
        .order_by(AuditEvent.at, AuditEvent.id))
    chosen = [e for e in events if (e.entity, e.entity_id) in wanted]
    ids = {e.actor_id for e in chosen if e.actor_id}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all()) \
        if ids else {}
    return [HistoryEntry(e.at, e.entity, e.entity_id, e.action, e.from_state, e.to_state,
                         names.get(e.actor_id), e.actor_label, e.data) for e in chosen]
