"""Step 7's development-area form, step 9's evaluation form, and the next cycle of a completed process."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, task_facts, visible_process
from api.deps import EngineCtx, PathId, SessionDep
from api.messages import problem_text, reason_text
from api.pages import plan_forms as forms
from api.pages.plans import refusal
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from chefoskop import clock
from chefoskop.i18n import N_, gettext
from chefoskop.settings import get_settings
from flows import engine
from flows.engine.cycle import evaluation_form_data, evaluation_task
from flows.errors import EngineError, InvalidData
from models import DevelopmentArea, Process, ProcessEvaluation, Survey, Unit
from roles import permissions as perm
from surveys.distribution import MAPPING_OF_STEP, current_survey, start_rerun
from surveys.errors import SurveyRefused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
EXTRA_ROWS = 3
MAX_ROWS = 50
AREA_FIELDS = ("title", "level", "unit_id", "goal")
EVALUATION_FIELDS = ("what_worked", "what_to_change", "before_after", "next_cycle")
RERUN_FIELDS = ("rerun_step", "rerun_closes_on")
EVALUATION_STEP_NO = 9
# Why a mapping cannot be run again now (shown beside the field that names it).
RERUN_REFUSALS = {
    "not_now": N_("A mapping is run again in step 9, the follow-up, while the process is running."),
    "never_run": N_("This mapping has not been run in this process."),
    "still_open": N_("A round of this mapping is still open; close it first."),
    "close_in_past": N_("The closing date must be in the future."),
    "not_a_date": N_("Enter a date as YYYY-MM-DD."),
}


def _areas_page(request: Request, db: Session, principal, process_id: int, *, status: int = 200,
                values: dict | None = None, errors: dict | None = None, error: str | None = None) -> Response:
    lang = page_locale(request)
    process, facts = visible_process(db, principal.viewer, process_id)
    areas = list(db.scalars(select(DevelopmentArea).where(DevelopmentArea.process_id == process.id)
                            .order_by(DevelopmentArea.level, DevelopmentArea.priority, DevelopmentArea.id)))
    if values is None:
        taken = {a.title for a in areas}
        suggestions = [s for s in engine.suggested_areas(db, process.id) if s not in taken][:MAX_ROWS]
        values = {f"title_{i}": s[:300] for i, s in enumerate(suggestions)}
        rows = len(suggestions) + EXTRA_ROWS
    else:
        rows = int(values.pop("_rows", EXTRA_ROWS))
    units = list(db.scalars(select(Unit).where(Unit.organisation_id == process.organisation_id)
                            .order_by(Unit.level, Unit.name).limit(1000)))
    return render_page(request, "areas.html", status=status, title=process.name, process=process,
                       areas=areas, units=units, rows=range(rows), values=values, error=error,
                       errors={k: reason_text(lang, v) for k, v in (errors or {}).items()},
                       may_record=perm.can_manage_process(principal.viewer, facts),
                       done=request.query_params.get("done"))


@router.get("/processes/{process_id}/development-areas")
def areas_page(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """Step 7: the recorded development areas and a form prefilled from Dela värld's prioritising."""
    return _areas_page(request, db, principal, process_id)


def _area_rows(form: dict[str, str]) -> tuple[list[engine.AreaFields], list[int], dict[str, str], int]:
    rows = min(sum(1 for k in form if k.startswith("title_")), MAX_ROWS)
    fields, used, errors = [], [], {}
    for i in range(rows):
        title = forms.text(form, f"title_{i}", 300)
        if not title:
            continue
        level = form.get(f"level_{i}", "")
        unit = forms.an_id(form, f"unit_id_{i}")
        if form.get(f"unit_id_{i}") and unit is None:
            errors[f"unit_id_{i}"] = "not_found"
        fields.append(engine.AreaFields(title=title, level=level, goal=forms.text(form, f"goal_{i}"),
                                        unit_id=unit, priority=len(fields) + 1))
        used.append(i)
    if not fields:
        errors["title_0"] = "required"
    return fields, used, errors, rows


def _area_field(key: str, used: list[int]) -> str:
    parts = key.split(".")
    if parts[0] == "areas" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(used):
        return f"{parts[2]}_{used[int(parts[1])]}"
    return "title_0" if key == "areas" else key


@router.post("/processes/{process_id}/development-areas")
def record_areas(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                 ctx: EngineCtx, form: FormDep) -> Response:
    """Record the areas with a title (all or nothing), each with its level and receiving unit."""
    process, facts = visible_process(db, principal.viewer, process_id)
    require(perm.can_manage_process(principal.viewer, facts))
    fields, used, errors, rows = _area_rows(form)
    values = {f"{name}_{i}": form.get(f"{name}_{i}", "")[:forms.MAX_TEXT]
              for i in range(rows) for name in AREA_FIELDS}
    try:
        if errors:
            raise InvalidData("the development areas have errors", errors=errors)
        engine.record_development_areas(ctx, process.id, fields)
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        found, error = refusal(page_locale(request), exc)
        return _areas_page(request, db, principal, process_id, status=exc.status,
                           values={**values, "_rows": max(rows, 1)}, error=error,
                           errors={_area_field(k, used): v for k, v in found.items()})
    return see_other(f"/processes/{process_id}/development-areas?done=recorded")


def _evaluation_page(request: Request, db: Session, principal, process_id: int, *, status: int = 200,
                     values: dict | None = None, errors: dict | None = None,
                     error: str | None = None, texts: dict | None = None,
                     form_name: str | None = None) -> Response:
    lang = page_locale(request)
    process, facts = visible_process(db, principal.viewer, process_id)
    evaluations = list(db.scalars(select(ProcessEvaluation).where(ProcessEvaluation.process_id == process.id)
                                  .order_by(ProcessEvaluation.id)))
    following = db.scalar(select(Process.id).where(Process.previous_process_id == process.id))
    # A mapping run again (a later round, or any mapping of a follow-on cycle) has a before/after
    # comparison in the results report, which those running the process may open.
    closed = select(Survey.id).where(Survey.process_id == process.id, Survey.status == "closed")
    if process.previous_process_id is None:
        closed = closed.where(Survey.round > 1)
    rerun = db.scalar(closed.limit(1))
    may_rerun = _rerun_open(process) and perm.can_manage_surveys(principal.viewer, facts)
    mappings = _mappings(db, process.id, lang) if perm.can_manage_surveys(principal.viewer, facts) else []
    return render_page(request, "evaluation.html", status=status, title=process.name, process=process,
                       comparison=rerun is not None and perm.can_manage_surveys(principal.viewer, facts),
                       may_rerun=may_rerun, mappings=mappings,
                       rerunnable=[m for m in mappings if m["status"] == "closed"],
                       default_close=(clock.now().date() + timedelta(days=21)).isoformat(),
                       evaluations=evaluations, task=evaluation_task(db, process.id), following=following,
                       may_evaluate=process.status == "running"
                       and perm.can_evaluate_process(principal.viewer, facts),
                       may_cycle=process.status == "completed" and following is None
                       and perm.can_start_cycle(principal.viewer, facts),
                       values=values or {}, error=error, form_name=form_name,
                       errors={**{k: reason_text(lang, v) for k, v in (errors or {}).items()},
                               **(texts or {})},
                       done=request.query_params.get("done"), done_step=request.query_params.get("step"))


@router.get("/processes/{process_id}/evaluation")
def evaluation_page(process_id: PathId, request: Request, principal: PagePrincipal,
                    db: SessionDep) -> Response:
    """Step 9: the evaluation of the process, and the next cycle once it is completed."""
    return _evaluation_page(request, db, principal, process_id)


@router.post("/processes/{process_id}/evaluation")
def evaluate(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
             ctx: EngineCtx, form: FormDep) -> Response:
    """Record the evaluation (every adopted plan followed up first); it also completes step 9's
    evaluation task when that is open and the viewer's to do."""
    process, facts = visible_process(db, principal.viewer, process_id)
    require(perm.can_evaluate_process(principal.viewer, facts))
    values = {k: form.get(k, "")[:forms.MAX_TEXT] for k in EVALUATION_FIELDS}
    try:
        row = engine.evaluate_process(ctx, process.id, **{k: v.strip() for k, v in values.items()})
        task = evaluation_task(db, process.id)
        if task is not None and perm.can_act_on_task(principal.viewer, task_facts(task)):
            engine.complete(ctx, task.id, evaluation_form_data(row))
    except EngineError as exc:
        db.rollback()
        ctx.queued.clear()
        found, error = refusal(page_locale(request), exc)
        return _evaluation_page(request, db, principal, process_id, status=exc.status, values=values,
                                errors=found, error=error)
    return see_other(f"/processes/{process_id}/evaluation?done=recorded")


@router.post("/processes/{process_id}/next-cycle")
def new_cycle(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
              ctx: EngineCtx) -> Response:
    """Start the next cycle of the completed process (same roster, history kept)."""
    process, facts = visible_process(db, principal.viewer, process_id)
    require(perm.can_start_cycle(principal.viewer, facts))
    following = engine.start_new_cycle(ctx, process.id)
    return see_other(f"/processes/{following.id}")


def _rerun_open(process: Process) -> bool:
    """A mapping is run again during step 9 (the follow-up) of a running process."""
    return process.status == "running" and process.current_step_no == EVALUATION_STEP_NO


def _mappings(db: Session, process_id: int, lang: str) -> list[dict]:
    """The newest round of each mapping the process has run (step, round, status, name)."""
    found = []
    for step_no in sorted(MAPPING_OF_STEP):
        survey = current_survey(db, process_id, step_no)
        if survey is not None:
            found.append({"step_no": step_no, "round": survey.round, "status": survey.status,
                          "name": gettext(lang, "Mapping %(number)s", number=MAPPING_OF_STEP[step_no])})
    return found


def _close_time(raw: str, errors: dict[str, str]) -> datetime | None:
    """The optional closing date as the end of that day in the organisation's time zone."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors["rerun_closes_on"] = "not_a_date"
        return None
    if not 2000 <= day.year <= 2999:
        errors["rerun_closes_on"] = "not_a_date"
        return None
    if day <= clock.now().date():
        errors["rerun_closes_on"] = "close_in_past"
        return None
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(get_settings().timezone))


@router.post("/processes/{process_id}/mapping-rerun")
def rerun_mapping(process_id: PathId, request: Request, principal: PagePrincipal, db: SessionDep,
                  ctx: EngineCtx, form: FormDep) -> Response:
    """Run a closed mapping again in the same groups (step 9), so that its results can be compared
    before and after; answering starts at once."""
    lang = page_locale(request)
    process, facts = visible_process(db, principal.viewer, process_id)
    require(perm.can_manage_surveys(principal.viewer, facts))
    values = {k: form.get(k, "")[:40] for k in RERUN_FIELDS}
    errors: dict[str, str] = {}
    raw = values["rerun_step"].strip()
    step_no = int(raw) if raw.isdigit() and len(raw) < 3 else None
    closes_at = _close_time(values["rerun_closes_on"], errors)
    status, previous = 422, None
    if step_no is None or step_no not in MAPPING_OF_STEP:
        errors["rerun_step"] = "required" if not raw else "not_allowed"
    elif not _rerun_open(process):
        errors["rerun_step"], status = "not_now", 409
    else:
        previous = current_survey(db, process.id, step_no)
        if previous is None:
            errors["rerun_step"], status = "never_run", 409
        elif previous.status != "closed":
            errors["rerun_step"], status = "still_open", 409
    error = None
    if not errors and previous is not None:
        try:
            start_rerun(ctx, previous.id, closes_at=closes_at)
        except SurveyRefused as exc:
            error, status = exc.message(lang), exc.status
        except EngineError as exc:
            _found, error = refusal(lang, exc)
            status = exc.status
    if errors or error:
        db.rollback()
        ctx.queued.clear()
        texts = {k: gettext(lang, RERUN_REFUSALS[v]) if v in RERUN_REFUSALS else reason_text(lang, v)
                 for k, v in errors.items()}
        return _evaluation_page(request, db, principal, process_id, status=status, values=values,
                                texts=texts, error=error or (texts["rerun_step"] if status == 409 else
                                                             problem_text(lang, "invalid_data")[1]),
                                form_name="rerun")
    return see_other(f"/processes/{process_id}/evaluation?done=rerun&step={step_no}")
