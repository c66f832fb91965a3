"""The task page: what the task is, its form from the definition, claim, complete and reassign.

Someone signed in through the task's e-mail link (a link session) may use exactly
the page, claim and complete for that task. Completing it ends the link session, so the
answer is the finished task itself rather than a redirect to a page the session could no
longer open.

A task reopened by a rejected gate (a new iteration) starts from the answers of the last
round, with the rejection's reason above the form. The processledare and processägare
(``roles.permissions.can_reassign_task``) hand a live task to someone else of the
organisation here, as through the API.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, task_facts, visible_task
from api.deps import EngineCtx, PathId, SessionDep, SettingsDep
from api.messages import problem_text, reason_text
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import names, task_people, today
from api.security.sessions import clear_session_cookie, end_session
from chefoskop import clock
from flows import engine
from flows.engine.queries import step_spec
from flows.errors import EngineError, InvalidData
from flows.rules import OPEN_TASK_STATES
from models import Person, Process, StepInstance, Task
from roles import permissions as perm
from roles.resolve import load_role_data, resolve
from surveys.distribution import task_survey_link

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FIELD_PREFIX = "f_"
REASSIGN_FIELD = "to_person_id"
# Activities about the process's roles: their page leads to the roster on the process page.
ROSTER_ACTIVITIES = frozenset({"appoint_roles"})


def _version(form: dict[str, str]) -> int | None:
    value = form.get("version", "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def form_data(fields, form: dict[str, str]) -> dict:
    """The posted values of the activity's fields; numbers parsed, blanks left out."""
    data: dict = {}
    for f in fields:
        raw = form.get(FIELD_PREFIX + f.key, "")
        if not raw.strip():
            continue
        if f.type == "number":
            try:
                number = float(raw.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
                if not math.isfinite(number):
                    raise ValueError(raw)
                data[f.key] = int(number) if number.is_integer() and abs(number) < 2**53 else number
            except ValueError:
                data[f.key] = raw  # the engine names it: not_a_number
        else:
            data[f.key] = raw
    return data


def last_rounds_answers(db: Session, task: Task) -> dict:
    """What the same work recorded in the newest earlier round, for a task reopened by a
    rejected gate (same step, activity and, for per-holder work, holder); empty otherwise."""
    if task.iteration <= 1 or task.data or task.status not in ("pending", *OPEN_TASK_STATES):
        return {}
    stmt = select(Task.data).where(
        Task.step_id == task.step_id, Task.activity_key == task.activity_key,
        Task.iteration < task.iteration, Task.status == "completed")
    if task.holder_id is not None:
        stmt = stmt.where(Task.holder_id == task.holder_id)
    for data in db.scalars(stmt.order_by(Task.iteration.desc(), Task.id.desc()).limit(10)):
        if data:
            return dict(data)
    return {}


def reassign_choices(db: Session, process: Process, task: Task) -> tuple[list, list]:
    """The active people of the process's organisation a task may be handed to: those acting
    in the task's role now first, then everyone else; each as (id, name), by name."""
    people = list(db.execute(select(Person.id, Person.name).where(
        Person.organisation_id == process.organisation_id, Person.active.is_(True))
        .order_by(Person.name, Person.id)).all())
    in_role = resolve(load_role_data(db, process.id), task.role, clock.now())
    return ([(i, n) for i, n in people if i in in_role],
            [(i, n) for i, n in people if i not in in_role])


def _page(request: Request, db: Session, principal, task_id: int, *, status: int = 200,
          values: dict | None = None, errors: dict | None = None, error: str | None = None,
          done: str | None = None, link_done: bool = False, chosen: str = "") -> Response:
    lang = page_locale(request)
    viewer = principal.viewer
    task, process, facts = visible_task(db, viewer, task_id)
    step = db.get(StepInstance, task.step_id)
    spec = step_spec(process, step)
    activity = spec.activity(task.activity_key)
    tf = task_facts(task)
    people = names(db, [c.person_id for c in task.candidates] + [task.assignee_id, task.completed_by_id])
    earlier = {} if values is not None else last_rounds_answers(db, task)
    shown = values if values is not None else {k: ("" if v is None else str(v))
                                               for k, v in (task.data or earlier).items()}
    may_reassign = (principal.link_task_id is None and task.status in OPEN_TASK_STATES
                    and perm.can_reassign_task(viewer, facts))
    in_role, others = reassign_choices(db, process, task) if may_reassign else ([], [])
    # A respondent's task is done by answering the questionnaire (the task closes with the
    # mapping), so its page leads to the personal link instead of a "mark as done" form.
    survey_link = task_survey_link(db, task, viewer.person_id, base_url="/")
    return render_page(
        request, "task.html", status=status, task=task, process=process, step=step,
        step_title=spec.title.get(lang), activity=activity, fields=activity.fields,
        title=activity.title.get(lang), waiting_on=task_people(task, people),
        completed_by=people.get(task.completed_by_id), values=shown, errors=errors or {},
        error=error, may_claim=perm.can_claim_task(viewer, tf) and len(tf.candidate_ids) > 1,
        may_complete=perm.can_act_on_task(viewer, tf) and survey_link is None, survey_link=survey_link,
        prefix=FIELD_PREFIX,
        overdue=task.due_date is not None and task.due_date < today(clock.now()),
        done=done or request.query_params.get("done"), link_task_id=principal.link_task_id,
        link_done=link_done, prefilled=bool(earlier), assignee=people.get(task.assignee_id),
        may_reassign=may_reassign, reassign_in_role=in_role, reassign_others=others,
        reassign_field=REASSIGN_FIELD, chosen=chosen,
        roster_link=f"/processes/{process.id}#roster" if task.activity_key in ROSTER_ACTIVITIES
        else None)


@router.get("/tasks/{task_id}")
def task_page(task_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """One task with its form."""
    return _page(request, db, principal, task_id)


@router.post("/tasks/{task_id}/claim")
def claim(task_id: PathId, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
          form: FormDep) -> Response:
    """Take a shared task so the others see it is mine."""
    task, _, _ = visible_task(db, principal.viewer, task_id)
    require(perm.can_claim_task(principal.viewer, task_facts(task)))
    engine.claim(ctx, task.id, expected_version=_version(form))
    return see_other(f"/tasks/{task.id}?done=claimed")


@router.post("/tasks/{task_id}/complete")
def complete(task_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
             ctx: EngineCtx, form: FormDep, settings: SettingsDep) -> Response:
    """Complete the task with the form's data; a refused form comes back with what was typed."""
    task, process, _ = visible_task(db, principal.viewer, task_id)
    require(perm.can_act_on_task(principal.viewer, task_facts(task)))
    step = db.get(StepInstance, task.step_id)
    fields = step_spec(process, step).activity(task.activity_key).fields
    typed = {f.key: form.get(FIELD_PREFIX + f.key, "")[:20000] for f in fields}
    try:
        engine.complete(ctx, task.id, form_data(fields, form), expected_version=_version(form))
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        return _refused(request, db, principal, task_id, exc, typed)
    if principal.link_task_id is not None:
        return _link_done(request, db, principal, task_id, settings)
    return see_other(f"/tasks/{task_id}?done=completed")


@router.post("/tasks/{task_id}/reassign")
def reassign(task_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
             ctx: EngineCtx, form: FormDep) -> Response:
    """Hand a live task to someone else of the organisation (processledare, processägare); a
    refusal (no such person, a stale page) comes back as the page with the reason."""
    lang = page_locale(request)
    task, process, facts = visible_task(db, principal.viewer, task_id)
    require(perm.can_reassign_task(principal.viewer, facts))
    raw = form.get(REASSIGN_FIELD, "").strip()[:20]
    in_role, others = reassign_choices(db, process, task)
    target = int(raw) if raw.isdigit() and len(raw) < 10 else None
    if target not in {i for i, _ in in_role + others}:
        reason = reason_text(lang, "required" if not raw else "not_found")
        return _page(request, db, principal, task_id, status=422, errors={REASSIGN_FIELD: reason},
                     error=problem_text(lang, "invalid_data")[1], chosen=raw)
    try:
        engine.reassign(ctx, task.id, target, expected_version=_version(form))
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        return _refused(request, db, principal, task_id, exc, None, chosen=raw)
    return see_other(f"/tasks/{task.id}?done=reassigned")


def _link_done(request: Request, db: Session, principal, task_id: int, settings) -> Response:
    """The task of a link session is done: the session ends, and the finished task is shown
    with the way to sign in for anything more."""
    end_session(principal.web_session, clock.now())
    request.state.page_user = None  # signed out from here on
    response = _page(request, db, principal, task_id, done="completed", link_done=True)
    clear_session_cookie(response, settings)
    return response


def _refused(request: Request, db: Session, principal, task_id: int, exc: EngineError,
             typed: dict | None, chosen: str = "") -> Response:
    lang = page_locale(request)
    if isinstance(exc, InvalidData):
        errors = {k: reason_text(lang, str(v)) for k, v in (exc.params.get("errors") or {}).items()}
        return _page(request, db, principal, task_id, status=422, values=typed, errors=errors,
                     error=problem_text(lang, "invalid_data")[1], chosen=chosen)
    return _page(request, db, principal, task_id, status=exc.status, values=typed,
                 error=" ".join(problem_text(lang, exc.code)), chosen=chosen)

