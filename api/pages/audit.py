"""The audit view: recorded changes, newest first, filtered by process, person, kind and time.

Every row reads as text in the reader's language: what changed (the kind of item and, where
one read per kind of item on the page finds it, its name or title), the change, and the
states before and after, never the stored codes. The kind and change filters offer the known
codes by their labels (``api.pages.labels``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import process_facts
from api.deps import SessionDep
from api.messages import reason_text
from api.pages import labels
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page
from api.pages.views import task_title
from api.present import gate_title
from api.problems import forbidden
from chefoskop.i18n import gettext
from chefoskop.settings import get_settings
from flows.engine.queries import definition_of
from models import (
    Action,
    ActionPlan,
    AuditEvent,
    Body,
    Delegation,
    DevelopmentArea,
    Gate,
    Person,
    Process,
    RoleAssignment,
    StepInstance,
    Survey,
    Task,
    Unit,
)
from roles import permissions as perm
from roles.permissions import Viewer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50
FILTERS = ("process_id", "person_id", "entity", "action", "since", "until", "page")
WORD_MAX = 40
NAME_MAX = 80
# The kinds of item whose name or title a row shows, read once per page: model and its text.
NAMED = {"task": Task, "gate": Gate, "step": StepInstance, "survey": Survey, "plan": ActionPlan,
         "action": Action, "development_area": DevelopmentArea, "role_assignment": RoleAssignment,
         "delegation": Delegation, "person": Person, "unit": Unit, "process": Process}


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


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= NAME_MAX else text[:NAME_MAX - 1].rstrip() + "…"


@dataclass
class Subjects:
    """What one page of events is about, read once: the items by kind and id, and the names of
    the people and bodies that role assignments and delegations name."""

    items: dict[str, dict[int, object]] = field(default_factory=dict)
    people: dict[int, str] = field(default_factory=dict)
    bodies: dict[int, str] = field(default_factory=dict)


def _names_of(db: Session, model, ids: set) -> dict[int, str]:
    ids = sorted(i for i in ids if i)
    return dict(db.execute(select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}


def subjects(db: Session, events: list[AuditEvent]) -> Subjects:
    """The items the events are about: one read per kind of item on the page, one for the
    steps of its tasks and gates, one for their processes, and the holders' names."""
    ids: dict[str, set[int]] = {}
    for e in events:
        if e.entity in NAMED:
            ids.setdefault(e.entity, set()).add(e.entity_id)
    found = {entity: {row.id: row for row in db.scalars(select(NAMED[entity]).where(
        NAMED[entity].id.in_(sorted(wanted))))} for entity, wanted in ids.items()}
    step_ids = {row.step_id for kind in ("task", "gate") for row in found.get(kind, {}).values()
                if row.step_id} - set(found.get("step", {}))
    if step_ids:  # into the session's identity map, for the titles of tasks and gates
        list(db.scalars(select(StepInstance).where(StepInstance.id.in_(sorted(step_ids)))))
    process_ids = {row.process_id for rows in found.values() for row in rows.values()
                   if getattr(row, "process_id", None)}
    if process_ids:
        list(db.scalars(select(Process).where(Process.id.in_(sorted(process_ids)))))
    assignments = found.get("role_assignment", {}).values()
    delegations = found.get("delegation", {}).values()
    return Subjects(found, _names_of(db, Person, {a.person_id for a in assignments}
                                     | {d.to_person_id for d in delegations}),
                    _names_of(db, Body, {a.body_id for a in assignments}))


def _name(db: Session, entity: str, row, lang: str, known: Subjects) -> str:
    """The name or title of one item, as the pages call it."""
    process = db.get(Process, row.process_id) if getattr(row, "process_id", None) else None
    if entity == "task":
        return task_title(db, row, lang, process)
    if entity == "gate":
        step = db.get(StepInstance, row.step_id) if row.step_id else None
        return gate_title(process, row, step, lang)
    if entity == "step":
        return f"{row.step_no}. {definition_of(process).step(row.step_no).title.get(lang)}"
    if entity == "survey":
        return gettext(lang, "Mapping %(number)s", number=row.step_no - 3)
    if entity in ("role_assignment", "delegation"):  # the role, and who holds it or gets it
        role = labels.role_name(lang, row.role)
        if entity == "delegation":
            holder = known.people.get(row.to_person_id)
            return f"{role} → {holder}" if holder else role
        holder = known.people.get(row.person_id) if row.person_id else known.bodies.get(row.body_id)
        return f"{role} ({holder})" if holder else role
    text = {"plan": "title", "development_area": "title", "action": "description"}.get(entity, "name")
    return _short(getattr(row, text))


def describe(db: Session, events: list[AuditEvent], processes: dict[int, str], lang: str) -> list[dict]:
    """Each event as a row people read: when, who, what, the change, the reason, the process."""
    known = subjects(db, events)
    actors = _names_of(db, Person, {e.actor_id for e in events})
    rows = []
    for e in events:
        what = labels.entity_name(lang, e.entity)
        row = known.items.get(e.entity, {}).get(e.entity_id)
        try:
            name = _name(db, e.entity, row, lang, known) if row is not None else ""
        except (KeyError, LookupError, AttributeError):  # a definition that no longer names it
            name = ""
        if name:
            what = name if e.entity == "survey" else f"{what}: {name}"
        if e.actor_id in actors:
            who = actors[e.actor_id]
        elif e.actor_label == "person":  # a person since erased
            who = "–"
        else:
            who = gettext(lang, "chefoskop (automatically)")
        reason = (e.data or {}).get("reason") if isinstance(e.data, dict) else None
        rows.append({"at": e.at, "who": who, "what": what,
                     "change": labels.action_name(lang, e.action),
                     "states": labels.state_change(lang, e.entity, e.from_state, e.to_state),
                     "reason": reason if isinstance(reason, str) else None,
                     "process_id": e.process_id, "process": processes.get(e.process_id)})
    return rows


def _options(lang: str, table: dict[str, str], name, chosen: str) -> list[tuple[str, str]]:
    """A filter's options; a code typed into the address that no label names is kept too."""
    options = labels.choices(lang, table, name)
    chosen = chosen.strip().lower()
    if chosen and chosen not in table:
        options.append((chosen, labels.readable_code(chosen)))
    return options


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
        events = describe(db, rows, {p.id: p.name for p in processes}, lang)
    people = list(db.scalars(select(Person).where(Person.organisation_id == viewer.organisation_id)
                             .order_by(Person.name).limit(2000)))
    page = filters.get("page", 1)
    return render_page(request, "audit.html", status=422 if errors else 200, events=events, total=total,
                       processes=processes, people=people, values=raw,
                       entities=_options(lang, labels.ENTITIES, labels.entity_name,
                                         raw["entity"] if "entity" not in errors else ""),
                       actions=_options(lang, labels.ACTIONS, labels.action_name,
                                        raw["action"] if "action" not in errors else ""),
                       errors={k: reason_text(lang, v) for k, v in errors.items()}, page=page,
                       pages=max(1, -(-total // PAGE_SIZE)),
                       query_without_page=[(k, raw[k]) for k in FILTERS if k != "page" and raw[k]])
