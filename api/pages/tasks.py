"""The task page: what the task is, its form from the definition, claim and complete.

Someone signed in through the task's e-mail link (a link session) may use exactly
these three routes for that task. Completing it ends the link session, so the answer
is the finished task itself rather than a redirect to a page the session could no
longer open.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
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
from models import StepInstance
from roles import permissions as perm
from surveys.distribution import task_survey_link

router = APIRouter(route_class=PageRoute, include_in_schema=False)
FIELD_PREFIX = "f_"


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


def _page(request: Request, db: Session, principal, task_id: int, *, status: int = 200,
          values: dict | None = None, errors: dict | None = None, error: str | None = None,
          done: str | None = None, link_done: bool = False) -> Response:
    lang = page_locale(request)
    viewer = principal.viewer
    task, process, _facts = visible_task(db, viewer, task_id)
    step = db.get(StepInstance, task.step_id)
    spec = step_spec(process, step)
    activity = spec.activity(task.activity_key)
    tf = task_facts(task)
    people = names(db, [c.person_id for c in task.candidates] + [task.assignee_id, task.completed_by_id])
    shown = values if values is not None else {k: ("" if v is None else str(v))
                                               for k, v in (task.data or {}).items()}
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
        link_done=link_done)


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


def _link_done(request: Request, db: Session, principal, task_id: int, settings) -> Response:
    """The task of a link session is done: the session ends, and the finished task is shown
    with the way to sign in for anything more."""
    end_session(principal.web_session, clock.now())
    request.state.page_user = None  # signed out from here on
    response = _page(request, db, principal, task_id, done="completed", link_done=True)
    clear_session_cookie(response, settings)
    return response


def _refused(request: Request, db: Session, principal, task_id: int, exc: EngineError,
             typed: dict) -> Response:
    lang = page_locale(request)
    if isinstance(exc, InvalidData):
        errors = {k: reason_text(lang, str(v)) for k, v in (exc.params.get("errors") or {}).items()}
        return _page(request, db, principal, task_id, status=422, values=typed, errors=errors,
                     error=problem_text(lang, "invalid_data")[1])
    return _page(request, db, principal, task_id, status=exc.status, values=typed,
                 error=" ".join(problem_text(lang, exc.code)))

