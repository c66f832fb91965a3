"""The processledare's page for a mapping (steps 4-6): response rates, close date, closing, results.

Response rates follow the results' anonymity rule while the mapping is open: a group
with fewer answers than the threshold (or one that would give such a group away), and
the total while it is under the threshold, show a marker instead of counts. Once closed,
only the published participation is shown, so the page never holds a count the results hide.

Only people acting as processledare or processägare in the process reach it
(``access.managed_process``: another organisation's process, or one the viewer
takes no part in, is 404). Changes go through ``surveys.distribution``; the
route commits once, and a close starts the aggregation flow after the commit.
Results exist once the mapping has closed; every read is logged through
``surveys.results`` / ``surveys.report`` with the viewer's id.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse
from fastapi.responses import Response as HttpResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import Response

from api.access import managed_process
from api.deps import EngineCtx, PathId, SessionDep
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.problems import not_found
from api.security.headers import CSP
from chefoskop import clock
from chefoskop.i18n import gettext
from chefoskop.settings import get_settings
from models import Process, Survey
from surveys import report_view
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey, current_survey, extend_close, published_rates
from surveys.errors import SurveyRefused
from surveys.loader import from_document
from surveys.report import build_report, report_filename
from surveys.results import results_csv, survey_results

router = APIRouter(route_class=PageRoute, include_in_schema=False)
StepNo = Annotated[int, Path(ge=4, le=6)]


def _survey(db: Session, principal, process_id: int, step_no: int) -> tuple[Process, Survey | None]:
    process, _facts = managed_process(db, principal.viewer, process_id)
    return process, current_survey(db, process.id, step_no)


def _rates(db: Session, survey: Survey, lang: str) -> dict:
    """Live response rates under the results' rule: no count below the threshold, nor one that
    could be worked out from the others (``surveys.distribution.published_rates``)."""
    live = published_rates(db, survey.id)
    return {"participation": report_view.participation_rows(live, lang), "threshold": live["threshold"]}


def _results(db: Session, survey: Survey, viewer_id: int, lang: str) -> dict:
    data = survey_results(db, survey.id, viewer_id=viewer_id, actor_label="person", purpose="data",
                          locale=lang)
    instrument = from_document(survey.instrument)
    return {"participation": report_view.participation_rows(data, lang),
            "headings": [name for _, name in report_view.columns(data, lang)],
            "questions": report_view.item_rows(instrument, data, lang),
            "hidden": gettext(lang, "hidden"), "threshold": data["threshold"]}


def _page(request: Request, db: Session, principal, process_id: int, step_no: int, *,
          status: int = 200, error: str | None = None, errors: dict | None = None,
          typed: str | None = None) -> Response:
    lang = page_locale(request)
    process, survey = _survey(db, principal, process_id, step_no)
    context = {"process": process, "survey": survey, "step_no": step_no, "error": error,
               "errors": errors or {}, "done": request.query_params.get("done"),
               "title": gettext(lang, "Mapping %(number)s", number=step_no - 3)}
    if survey is not None:
        local_close = survey.closes_at.astimezone(ZoneInfo(get_settings().timezone)).date()
        context.update(
            rates=_rates(db, survey, lang) if survey.status == "open" else None,
            instrument_title=from_document(survey.instrument).title.get(lang),
            closes_on=typed or local_close.isoformat(),
            results=_results(db, survey, principal.person.id, lang) if survey.status == "closed" else None)
    return render_page(request, "survey_manage.html", status=status, **context)


@router.get("/processes/{process_id}/surveys/{step_no}")
def manage_page(process_id: PathId, step_no: StepNo, request: Request, principal: PagePrincipal,
                db: SessionDep) -> Response:
    """A mapping's response rates, its close date, and its results once closed."""
    return _page(request, db, principal, process_id, step_no)


def _open_survey(db: Session, principal, process_id: int, step_no: int) -> Survey:
    _process, survey = _survey(db, principal, process_id, step_no)
    if survey is None:
        raise not_found()
    return survey


def _close_time(text: str) -> datetime | None:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return None
    if not 2000 <= day.year <= 2999:  # far-off years overflow on conversion and mean a typing slip
        return None
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(get_settings().timezone))


@router.post("/processes/{process_id}/surveys/{step_no}/extend")
def extend(process_id: PathId, step_no: StepNo, request: Request, principal: PagePrincipal,
           db: SessionDep, ctx: EngineCtx, form: FormDep) -> Response:
    """Move the close date later; every personal link stays valid until then."""
    lang = page_locale(request)
    survey = _open_survey(db, principal, process_id, step_no)
    typed = form.get("closes_on", "")[:40]
    closes_at = _close_time(typed)
    if closes_at is None:
        message = gettext(lang, "Give a date as YYYY-MM-DD.")
        return _page(request, db, principal, process_id, step_no, status=422, error=message,
                     errors={"closes_on": message}, typed=typed)
    try:
        extend_close(ctx, survey.id, closes_at)
    except SurveyRefused as exc:
        db.rollback()
        message = exc.message(lang)
        return _page(request, db, principal, process_id, step_no, status=409, error=message,
                     errors={"closes_on": message}, typed=typed)
    return see_other(f"/processes/{process_id}/surveys/{step_no}?done=extended")


@router.post("/processes/{process_id}/surveys/{step_no}/close")
def close_now(process_id: PathId, step_no: StepNo, request: Request, principal: PagePrincipal,
              db: SessionDep, ctx: EngineCtx) -> Response:
    """Close the mapping now; its results are aggregated once the close is committed."""
    survey = _open_survey(db, principal, process_id, step_no)
    try:
        close_survey(ctx, survey.id)
    except SurveyRefused as exc:
        db.rollback()
        return _page(request, db, principal, process_id, step_no, status=409,
                     error=exc.message(page_locale(request)))
    response = see_other(f"/processes/{process_id}/surveys/{step_no}?done=closed")
    # Background tasks run after the route class has committed and answered.
    response.background = BackgroundTask(start_aggregation, [survey.id])
    return response


@router.get("/processes/{process_id}/surveys/{step_no}/results.csv")
def results_file(process_id: PathId, step_no: StepNo, request: Request, principal: PagePrincipal,
                 db: SessionDep) -> Response:
    """The results as CSV; hidden groups carry a marker, never a number."""
    survey = _open_survey(db, principal, process_id, step_no)
    lang = page_locale(request)
    try:
        text = results_csv(db, survey.id, viewer_id=principal.person.id, locale=lang)
    except SurveyRefused as exc:
        return _page(request, db, principal, process_id, step_no, status=409, error=exc.message(lang))
    name = f"chefoskop-kartlaggning-{step_no - 3}-{survey.id}.csv"
    return HttpResponse("\ufeff" + text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})


@router.get("/processes/{process_id}/report")
def report_html(process_id: PathId, request: Request, principal: PagePrincipal,
                db: SessionDep) -> Response:
    """The Dela värld results report as a web page."""
    process, _ = managed_process(db, principal.viewer, process_id)
    report = build_report(db, process.id, locale=page_locale(request), viewer_id=principal.person.id,
                          pdf=False)
    return HTMLResponse(report.html, headers={"Cache-Control": "no-store",
                                              "Content-Security-Policy": _report_csp(report.html)})


def _report_csp(html: str) -> str:
    """The app's CSP, allowing exactly the report's own inline styles by their hashes (no script)."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S))
    return CSP.replace("style-src 'self'", f"style-src 'self' {hashes}".rstrip())


@router.get("/processes/{process_id}/report.pdf")
def report_pdf(process_id: PathId, request: Request, principal: PagePrincipal,
               db: SessionDep) -> Response:
    """The Dela värld results report as a PDF."""
    process, _ = managed_process(db, principal.viewer, process_id)
    report = build_report(db, process.id, locale=page_locale(request), viewer_id=principal.person.id)
    return HttpResponse(report.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{report_filename(process, clock.now())}"',
        "Cache-Control": "no-store"})
