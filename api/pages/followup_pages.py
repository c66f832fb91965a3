"""Step 7's development-area form, step 9's evaluation form, and the next cycle of a completed process."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import require, task_facts, visible_process
from api.deps import EngineCtx, PathId, SessionDep
from api.messages import reason_text
from api.pages import plan_forms as forms
from api.pages.plans import refusal
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from flows import engine
from flows.engine.cycle import evaluation_form_data, evaluation_task
from flows.errors import EngineError, InvalidData
from models import DevelopmentArea, Process, ProcessEvaluation, Survey, Unit
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)
EXTRA_ROWS = 3
MAX_ROWS = 50
AREA_FIELDS = ("title", "level", "unit_id", "goal")
EVALUATION_FIELDS = ("what_worked", "what_to_change", "before_after", "next_cycle")


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
                     error: str | None = None) -> Response:
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
    return render_page(request, "evaluation.html", status=status, title=process.name, process=process,
                       comparison=rerun is not None and perm.can_manage_surveys(principal.viewer, facts),
                       evaluations=evaluations, task=evaluation_task(db, process.id), following=following,
                       may_evaluate=process.status == "running"
                       and perm.can_evaluate_process(principal.viewer, facts),
                       may_cycle=process.status == "completed" and following is None
                       and perm.can_start_cycle(principal.viewer, facts),
                       values=values or {}, error=error,
                       errors={k: reason_text(lang, v) for k, v in (errors or {}).items()},
                       done=request.query_params.get("done"))


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
