"""Tasks: the inbox, one task with its form, and claim, give back, complete and reassign."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from api.access import involved_process_ids_query, require, task_facts, visible_task
from api.deps import EngineCtx, LocaleDep, PagingDep, PathId, SessionDep, ViewerDep
from api.present import form_fields, task_out
from api.problems import ApiProblem, Issue
from api.routing import api_router
from chefoskop import clock
from flows import engine
from flows.errors import InvalidData
from models import Person, Process, Task, TaskCandidate
from models.schemas.common import Page
from models.schemas.work import ClaimIn, CompleteIn, ReassignIn, TaskDetail, TaskOut
from roles import permissions as perm
from roles.permissions import Viewer
from roles.resolve import load_role_data_for_processes, roles_of

router = api_router("tasks")
TaskStatus = Literal["pending", "open", "claimed", "completed", "cancelled"]


def _role_clauses(db: Session, viewer: Viewer, now: datetime) -> list:
    """Unclaimed shared tasks of every role the viewer acts in, per running process."""
    ids = db.scalars(select(Process.id).where(
        Process.organisation_id == viewer.organisation_id, Process.status == "running",
        Process.id.in_(involved_process_ids_query(viewer.person_id))))
    clauses = []
    for pid, data in load_role_data_for_processes(db, ids, viewer.person_id).items():
        roles = roles_of(data, viewer.person_id, now)
        if roles:
            clauses.append(and_(Task.process_id == pid, Task.role.in_(sorted(roles)),
                                Task.assignee_id.is_(None), Task.holder_id.is_(None)))
    return clauses


def inbox_query(db: Session, viewer: Viewer, now: datetime):
    """Tasks assigned to the viewer, routed to them, or open to a role they act in."""
    me = viewer.person_id
    routed = exists(select(TaskCandidate.task_id).where(TaskCandidate.task_id == Task.id,
                                                        TaskCandidate.person_id == me))
    mine = or_(Task.assignee_id == me, and_(Task.assignee_id.is_(None), routed),
               *_role_clauses(db, viewer, now))
    return (select(Task).join(Process, Process.id == Task.process_id)
            .where(Process.organisation_id == viewer.organisation_id, mine))


@router.get("/tasks", response_model=Page[TaskOut])
def inbox(db: SessionDep, viewer: ViewerDep, locale: LocaleDep, page: PagingDep,
          process_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
          status: Annotated[list[TaskStatus] | None, Query()] = None,
          due_before: date | None = None) -> Page[TaskOut]:
    """My tasks: assigned to me and open to my roles; open and claimed unless asked otherwise."""
    stmt = inbox_query(db, viewer, clock.now()).where(Task.status.in_(status or ["open", "claimed"]))
    if process_id is not None:
        stmt = stmt.where(Task.process_id == process_id)
    if due_before is not None:
        stmt = stmt.where(Task.due_date < due_before)
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.scalars(stmt.order_by(Task.due_date.is_(None), Task.due_date, Task.process_id, Task.id)
                      .limit(page.limit).offset(page.offset))
    return Page[TaskOut](items=[task_out(db, t, locale) for t in rows], total=total,
                         limit=page.limit, offset=page.offset)


def task_detail(db: Session, viewer: Viewer, task: Task, facts: perm.ProcessFacts,
                locale: str) -> TaskDetail:
    """A task with its form and what the viewer may do with it."""
    tf = task_facts(task)
    return TaskDetail(**task_out(db, task, locale).model_dump(), fields=form_fields(db, task, locale),
                      data=task.data, candidate_ids=sorted(tf.candidate_ids),
                      may_claim=perm.can_claim_task(viewer, tf),
                      may_complete=perm.can_act_on_task(viewer, tf),
                      may_reassign=perm.can_reassign_task(viewer, facts)
                      and task.status in ("open", "claimed"))


@router.get("/tasks/{task_id}", response_model=TaskDetail)
def get_task(task_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> TaskDetail:
    """One task with its form definition."""
    task, _, facts = visible_task(db, viewer, task_id)
    return task_detail(db, viewer, task, facts, locale)


def _refuse_outsiders(viewer: Viewer, task: Task) -> None:
    """403 for someone who is neither assignee nor candidate of a live task."""
    tf = task_facts(task)
    if task.status in ("open", "claimed") and task.assignee_id is None:
        require(viewer.person_id in tf.candidate_ids)
    elif task.status == "claimed":
        require(perm.can_act_on_task(viewer, tf) or viewer.person_id in tf.candidate_ids)


@router.post("/tasks/{task_id}/claim", response_model=TaskDetail)
def claim(task_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx, locale: LocaleDep,
          body: ClaimIn | None = None) -> TaskDetail:
    """Take an open task so the others routed it see it is yours."""
    task, _, facts = visible_task(db, viewer, task_id)
    _refuse_outsiders(viewer, task)
    task = engine.claim(ctx, task.id, expected_version=body.expected_version if body else None)
    return task_detail(db, viewer, task, facts, locale)


@router.post("/tasks/{task_id}/unclaim", response_model=TaskDetail)
def unclaim(task_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx,
            locale: LocaleDep, body: ClaimIn | None = None) -> TaskDetail:
    """Give a claimed task back to everyone it was routed to."""
    task, _, facts = visible_task(db, viewer, task_id)
    _refuse_outsiders(viewer, task)
    task = engine.unclaim(ctx, task.id, expected_version=body.expected_version if body else None)
    return task_detail(db, viewer, task, facts, locale)


def form_problem(db: Session, task: Task, exc: InvalidData, locale: str) -> ApiProblem:
    """The engine's form errors as a problem naming each field of the body, with its label."""
    labels = {f.key: f.label for f in form_fields(db, task, locale)}
    issues = [Issue(f"data.{key}", str(reason), label=labels.get(key))
              for key, reason in (exc.params.get("errors") or {}).items()]
    return ApiProblem(422, "invalid_data", issues=issues)


@router.post("/tasks/{task_id}/complete", response_model=TaskDetail)
def complete(task_id: PathId, body: CompleteIn, db: SessionDep, viewer: ViewerDep,
             ctx: EngineCtx, locale: LocaleDep) -> TaskDetail:
    """Complete a task with its form's data, at the version the client saw."""
    task, _, facts = visible_task(db, viewer, task_id)
    if task.status in ("open", "claimed"):
        require(perm.can_act_on_task(viewer, task_facts(task)))
    try:
        task = engine.complete(ctx, task.id, body.data, expected_version=body.expected_version)
    except InvalidData as exc:
        raise form_problem(db, task, exc, locale) from None
    return task_detail(db, viewer, task, facts, locale)


@router.post("/tasks/{task_id}/reassign", response_model=TaskDetail)
def reassign(task_id: PathId, body: ReassignIn, db: SessionDep, viewer: ViewerDep,
             ctx: EngineCtx, locale: LocaleDep) -> TaskDetail:
    """Hand a task to someone else (processledare, processägare)."""
    task, process, facts = visible_task(db, viewer, task_id)
    require(perm.can_reassign_task(viewer, facts))
    target = db.get(Person, body.to_person_id)
    if target is None or target.organisation_id != process.organisation_id or not target.active:
        raise ApiProblem(422, "invalid_data", issues=[Issue("to_person_id", "not_found")])
    task = engine.reassign(ctx, task.id, target.id, expected_version=body.expected_version)
    return task_detail(db, viewer, task, facts, locale)
