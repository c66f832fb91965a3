"""The audit view: recorded changes, newest first, filtered by process, person, kind and time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import process_facts
from api.deps import SessionDep
from api.messages import reason_text
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page
from api.present import audit_out
from api.problems import forbidden
from chefoskop.settings import get_settings
from models import AuditEvent, Person, Process
from roles import permissions as perm
from roles.permissions import Viewer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50
FILTERS = ("process_id", "person_id", "entity", "action", "since", "until", "page")
WORD_MAX = 40


def readable_processes(db: Session, viewer: Viewer) -> list[Process]:
    """Processes whose audit the viewer may read."""
    rows = db.scalars(select(Process).where(Process.organisation_id == viewer.organisation_id)
                      .order_by(Process.started_at.desc()))
    return [p for p in rows if perm.can_read_audit(viewer, process_facts(db, viewer, p))]


def _day_start(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=ZoneInfo(get_settings().timezone))


def parse_filters(raw: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The query's filters as typed values, and a reason code for each one that is not valid."""
    out: dict = {}
    errors: dict[str, str] = {}
    for key in ("process_id", "person_id", "page"):
        value = raw.get(key, "").strip()
        if value:
            if value.isdigit() and 0 < len(value) < 10 and int(value) > 0:
                out[key] = int(value)
            else:
                errors[key] = "not_an_integer"
    for key in ("entity", "action"):
        value = raw.get(key, "").strip()
        if value:
            if len(value) <= WORD_MAX and value.replace("_", "").isalpha():
                out[key] = value.lower()
            else:
                errors[key] = "invalid"
    for key in ("since", "until"):
        value = raw.get(key, "").strip()
        if value:
            try:
                out[key] = date.fromisoformat(value)
            except ValueError:
                errors[key] = "not_a_date"
    return out, errors


def _query(viewer: Viewer, f: dict, allowed: list[int]):
    stmt = select(AuditEvent).where(AuditEvent.organisation_id == viewer.organisation_id)
    if not viewer.is_org_admin:
        stmt = stmt.where(AuditEvent.process_id.in_(allowed))
    for column, key in ((AuditEvent.process_id, "process_id"), (AuditEvent.actor_id, "person_id"),
                        (AuditEvent.entity, "entity"), (AuditEvent.action, "action")):
        if key in f:
            stmt = stmt.where(column == f[key])
    if "since" in f:
        stmt = stmt.where(AuditEvent.at >= _day_start(f["since"]))
    if "until" in f:
        stmt = stmt.where(AuditEvent.at < _day_start(f["until"] + timedelta(days=1)))
    return stmt


@router.get("/audit")
def audit_page(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """Recorded changes the viewer may read, with filters that keep what was chosen."""
    lang, viewer = page_locale(request), principal.viewer
    processes = readable_processes(db, viewer)
    if not viewer.is_org_admin and not processes:
        raise forbidden()
    raw = {k: request.query_params.get(k, "")[:100] for k in FILTERS}
    filters, errors = parse_filters(raw)
    allowed = [p.id for p in processes]
    if "process_id" in filters and filters["process_id"] not in allowed:
        errors["process_id"] = "not_found"
    events, total = [], 0
    if not errors:
        stmt = _query(viewer, filters, allowed)
        total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        page = filters.get("page", 1)
        rows = list(db.scalars(stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                               .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
        events = audit_out(db, rows)
    people = list(db.scalars(select(Person).where(Person.organisation_id == viewer.organisation_id)
                             .order_by(Person.name).limit(2000)))
    page = filters.get("page", 1)
    return render_page(request, "audit.html", status=422 if errors else 200, events=events, total=total,
                       processes=processes, people=people, values=raw,
                       errors={k: reason_text(lang, v) for k, v in errors.items()}, page=page,
                       pages=max(1, -(-total // PAGE_SIZE)),
                       query_without_page=[(k, raw[k]) for k in FILTERS if k != "page" and raw[k]])
