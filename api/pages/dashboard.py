"""The admin dashboard: every process, overdue tasks, waiting gates, lead times, the response
rates of open and recently closed mappings, and undelivered mail."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import process_facts, require
from api.deps import EngineCtx, PathId, SessionDep
from api.pages.chart import bar_chart
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import (
    days_between,
    gate_people,
    names,
    open_gates,
    overdue_tasks,
    task_people,
    task_title,
    today,
)
from api.present import gate_title
from api.routes.admin import UNDELIVERED, _retry
from chefoskop import clock
from chefoskop.i18n import format_number, format_percent, gettext
from flows.engine.queries import definition_of
from models import OutboxMessage, Process, StepInstance, Survey
from roles import permissions as perm
from roles.permissions import Viewer
from surveys.distribution import published_rates
from surveys.report_view import hidden_marker

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MAIL_LIMIT = 100
RECENTLY_CLOSED_DAYS = 30  # a closed mapping stays on the dashboard this long


def dashboard_processes(db: Session, viewer: Viewer) -> list[Process]:
    """The admin's whole organisation; otherwise the processes the viewer runs."""
    rows = list(db.scalars(select(Process).where(Process.organisation_id == viewer.organisation_id)
                           .order_by(Process.started_at.desc(), Process.id.desc())))
    if viewer.is_org_admin:
        return rows
    return [p for p in rows if perm.can_manage_process(viewer, process_facts(db, viewer, p))]


def lead_time_chart(db: Session, process: Process, lang: str, now):
    """Days each step has taken (open steps so far), as a chart."""
    definition = definition_of(process)
    rows = []
    for step in db.scalars(select(StepInstance).where(StepInstance.process_id == process.id)
                           .order_by(StepInstance.step_no)):
        days = days_between(step.opened_at, step.closed_at or now) if step.opened_at else 0.0
        label = f"{step.step_no}. {definition.step(step.step_no).title.get(lang)}"
        text = gettext(lang, "%(days)s days", days=format_number(round(days, 1), lang))
        rows.append((label, days, step.status, text if step.opened_at else "–"))
    return bar_chart(rows)


def _process_cards(db: Session, processes: list[Process], lang: str, now) -> list[dict]:
    cards = []
    for p in processes:
        definition = definition_of(p)
        current = definition.step(p.current_step_no).title.get(lang) if p.current_step_no else ""
        cards.append({"process": p, "current": current, "chart": lead_time_chart(db, p, lang, now)})
    return cards


def _overdue_rows(db: Session, processes: list[Process], lang: str, now) -> list[dict]:
    by_id = {p.id: p for p in processes}
    tasks = overdue_tasks(db, list(by_id), now)
    people = names(db, [c.person_id for t in tasks for c in t.candidates] + [t.assignee_id for t in tasks])
    day = today(now)
    return [{"task": t, "process": by_id[t.process_id], "title": task_title(db, t, lang),
             "people": task_people(t, people), "days": (day - t.due_date).days} for t in tasks]


def _gate_rows(db: Session, processes: list[Process], lang: str, now) -> list[dict]:
    by_id = {p.id: p for p in processes}
    rows = []
    for g in open_gates(db, list(by_id)):
        process = by_id[g.process_id]
        step = db.get(StepInstance, g.step_id) if g.step_id else None
        role, holders = gate_people(db, process, g, now)
        rows.append({"gate": g, "process": process, "title": gate_title(process, g, step, lang),
                     "role": role, "holders": holders, "days": days_between(g.opened_at, now)})
    return rows


def _survey_rows(db: Session, viewer: Viewer, processes: list[Process], lang: str, now) -> list[dict]:
    """The overall response rate of every open mapping, and of those closed in the last
    ``RECENTLY_CLOSED_DAYS`` days, as the mapping's own page publishes it
    (``surveys.distribution.published_rates``): only the total, and no count at all while
    fewer than the anonymity threshold have answered."""
    by_id = {p.id: p for p in processes}
    if not by_id:
        return []
    surveys = db.scalars(select(Survey).where(
        Survey.process_id.in_(sorted(by_id)),
        or_(Survey.status == "open", Survey.closed_at >= now - timedelta(days=RECENTLY_CLOSED_DAYS)))
        .order_by(Survey.process_id, Survey.step_no, Survey.round))
    rows, managed = [], {}
    for survey in surveys:
        process = by_id[survey.process_id]
        if process.id not in managed:  # the mapping's page is for those running the process
            managed[process.id] = perm.can_manage_surveys(viewer, process_facts(db, viewer, process))
        # Under the results' rule: while fewer than the threshold have answered, no count.
        published = published_rates(db, survey.id)
        overall = published["participation"]["overall"]
        rows.append({"survey": survey, "process": process,
                     "title": gettext(lang, "Mapping %(number)s", number=survey.step_no - 3),
                     "invited": overall["invited"] if overall else None,
                     "answered": overall["n"] if overall else None,
                     "rate": format_percent(overall["rate"], lang) if overall else None,
                     "marker": None if overall else hidden_marker("few", published["threshold"], lang),
                     "link": f"/processes/{process.id}/surveys/{survey.step_no}"
                     if managed[process.id] else None})
    return rows


@router.get("/admin")
def dashboard(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """Every process at a glance, for the organisation admin and those running processes."""
    lang, viewer, now = page_locale(request), principal.viewer, clock.now()
    processes = dashboard_processes(db, viewer)
    require(viewer.is_org_admin or bool(processes))
    mail = []
    if perm.can_manage_outbox(viewer, viewer.organisation_id):
        mail = list(db.scalars(select(OutboxMessage).where(
            OutboxMessage.organisation_id == viewer.organisation_id,
            OutboxMessage.status.in_(UNDELIVERED)).order_by(OutboxMessage.id.desc()).limit(MAIL_LIMIT)))
    return render_page(request, "dashboard.html", cards=_process_cards(db, processes, lang, now),
                       overdue=_overdue_rows(db, processes, lang, now),
                       gates=_gate_rows(db, processes, lang, now), mail=mail,
                       surveys=_survey_rows(db, viewer, processes, lang, now),
                       recent_days=RECENTLY_CLOSED_DAYS,
                       may_retry=perm.can_manage_outbox(viewer, viewer.organisation_id),
                       done=request.query_params.get("done"))


@router.post("/admin/outbox/retry")
def retry_all(principal: PagePrincipal, db: SessionDep, ctx: EngineCtx) -> Response:
    """Queue every failed and undelivered mail of the organisation again."""
    require(perm.can_manage_outbox(principal.viewer, principal.viewer.organisation_id))
    _retry(db, principal.viewer, None, ctx)
    return see_other("/admin?done=retried#mail")


@router.post("/admin/outbox/{message_id}/retry")
def retry_one(message_id: PathId, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx) -> Response:
    """Queue one failed or undelivered mail again."""
    require(perm.can_manage_outbox(principal.viewer, principal.viewer.organisation_id))
    _retry(db, principal.viewer, [message_id], ctx)
    return see_other("/admin?done=retried#mail")
