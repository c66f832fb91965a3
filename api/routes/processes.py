"""Processes: start one, follow its state, its steps, its tasks and its timeline; cancel it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.access import (
    involved_process_ids_query,
    process_facts,
    require,
    visible_process,
    visible_step,
)
from api.deps import EngineCtx, LocaleDep, PagingDep, PathId, SessionDep, ViewerDep
from api.present import audit_out, process_state, process_steps, step_detail, task_out
from api.problems import ApiProblem, Issue
from api.routing import api_router
from flows import engine
from models import AuditEvent, Body, Person, Process, Task, Unit
from models.schemas.common import Page
from models.schemas.process import (
    AuditEventOut,
    CancelIn,
    ProcessOut,
    ProcessStart,
    ProcessState,
    RoleHolderIn,
    StepOut,
)
from models.schemas.work import StepDetail, TaskOut
from roles import permissions as perm
from roles.catalogue import is_known_role

router = api_router("processes")
ProcessStatus = Literal["running", "completed", "cancelled"]
TaskStatus = Literal["pending", "open", "claimed", "completed", "cancelled"]


@router.get("/processes", response_model=Page[ProcessOut])
def list_processes(db: SessionDep, viewer: ViewerDep, page: PagingDep,
                   status: ProcessStatus | None = None) -> Page[ProcessOut]:
    """The processes the viewer takes part in (all of the organisation's for its admin)."""
    stmt = select(Process).where(Process.organisation_id == viewer.organisation_id)
    if not viewer.is_org_admin:
        stmt = stmt.where(Process.id.in_(involved_process_ids_query(viewer.person_id)))
    if status:
        stmt = stmt.where(Process.status == status)
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.scalars(stmt.order_by(Process.started_at.desc(), Process.id.desc())
                      .limit(page.limit).offset(page.offset))
    return Page[ProcessOut](items=[ProcessOut.model_validate(p) for p in rows], total=total,
                            limit=page.limit, offset=page.offset)


def roster_issues(db: Session, org_id: int, roster: list[RoleHolderIn]) -> list[Issue]:
    """Every problem with a roster, each naming its entry."""
    issues = []
    for i, entry in enumerate(roster):
        where = f"roster.{i}"
        if not is_known_role(entry.role):
            issues.append(Issue(f"{where}.role", "unknown_role"))
        if (entry.person_id is None) == (entry.body_id is None):
            issues.append(Issue(f"{where}.person_id", "person_xor_body"))
        for name, model, value in (("person_id", Person, entry.person_id),
                                   ("body_id", Body, entry.body_id), ("unit_id", Unit, entry.unit_id)):
            obj = db.get(model, value) if value is not None else None
            if value is not None and (obj is None or obj.organisation_id != org_id):
                issues.append(Issue(f"{where}.{name}", "not_found"))
            elif model is Person and obj is not None and not obj.active:
                issues.append(Issue(f"{where}.{name}", "inactive"))
    return issues


@router.post("/processes", response_model=ProcessState, status_code=201)
def start_process(body: ProcessStart, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx,
                  locale: LocaleDep) -> ProcessState:
    """Start a process with its role roster (organisation admin); step 1 opens right after."""
    require(perm.can_start_process(viewer, viewer.organisation_id))
    issues = roster_issues(db, viewer.organisation_id, body.roster)
    if issues:
        raise ApiProblem(422, "invalid_data", issues=issues)
    roster = [engine.RoleSpec(e.role, e.person_id, e.body_id, e.unit_id) for e in body.roster]
    process = engine.start_process(ctx, viewer.organisation_id, body.name, roster)
    return process_state(db, process, process_facts(db, viewer, process, ctx.now).roles, locale)


@router.get("/processes/{process_id}", response_model=ProcessState)
def get_process(process_id: PathId, db: SessionDep, viewer: ViewerDep,
                locale: LocaleDep) -> ProcessState:
    """A process with its nine steps, their gates and open tasks, and the viewer's roles."""
    process, facts = visible_process(db, viewer, process_id)
    return process_state(db, process, facts.roles, locale)


@router.post("/processes/{process_id}/cancel", response_model=ProcessOut)
def cancel_process(process_id: PathId, body: CancelIn, db: SessionDep, viewer: ViewerDep,
                   ctx: EngineCtx) -> Process:
    """Stop a process (its processägare or beställare); live tasks and gates are cancelled."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_cancel_process(viewer, facts))
    engine.cancel_process(ctx, process, body.reason.strip())
    return process


@router.get("/processes/{process_id}/timeline", response_model=Page[AuditEventOut])
def timeline(process_id: PathId, db: SessionDep, viewer: ViewerDep,
             page: PagingDep) -> Page[AuditEventOut]:
    """What happened in the process, oldest first, from the audit trail."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_read_timeline(viewer, facts))
    stmt = select(AuditEvent).where(AuditEvent.process_id == process.id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(db.scalars(stmt.order_by(AuditEvent.at, AuditEvent.id)
                           .limit(page.limit).offset(page.offset)))
    return Page[AuditEventOut](items=audit_out(db, rows), total=total, limit=page.limit,
                               offset=page.offset)


@router.get("/processes/{process_id}/steps", response_model=list[StepOut])
def list_steps(process_id: PathId, db: SessionDep, viewer: ViewerDep,
               locale: LocaleDep) -> list[StepOut]:
    """The nine steps of a process."""
    process, _ = visible_process(db, viewer, process_id)
    return process_steps(db, process, locale)


@router.get("/steps/{step_id}", response_model=StepDetail)
def get_step(step_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> StepDetail:
    """One step with its activities, gates and tasks."""
    step, process, _ = visible_step(db, viewer, step_id)
    return step_detail(db, process, step, locale)


@router.get("/processes/{process_id}/tasks", response_model=Page[TaskOut])
def process_tasks(process_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep,
                  page: PagingDep,
                  status: Annotated[list[TaskStatus] | None, Query()] = None) -> Page[TaskOut]:
    """Every task of a process (optionally of some statuses), by due date."""
    process, _ = visible_process(db, viewer, process_id)
    stmt = select(Task).where(Task.process_id == process.id)
    if status:
        stmt = stmt.where(Task.status.in_(status))
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.scalars(stmt.order_by(Task.due_date.is_(None), Task.due_date, Task.id)
                      .limit(page.limit).offset(page.offset))
    return Page[TaskOut](items=[task_out(db, t, locale) for t in rows], total=total,
                         limit=page.limit, offset=page.offset)
