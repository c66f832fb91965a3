"""'Mina uppgifter': my open tasks grouped by process and due date, and the gates waiting on me."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from api.access import involved_process_ids_query, process_facts
from api.deps import SessionDep
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.pages.views import names, task_people, task_title, today
from api.present import gate_title
from api.routes.tasks import inbox_query
from chefoskop import clock
from models import Gate, Process, StepInstance, Task
from roles import permissions as perm
from roles.permissions import Viewer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
INBOX_LIMIT = 500


@dataclass
class Group:
    """One process's part of the inbox."""

    process: Process
    tasks: list[dict] = field(default_factory=list)
    gates: list[dict] = field(default_factory=list)


def _task_rows(db: Session, viewer: Viewer, lang: str, groups: dict[int, Group]) -> None:
    now = clock.now()
    stmt = inbox_query(db, viewer, now).where(Task.status.in_(("open", "claimed")))
    tasks = list(db.scalars(stmt.order_by(Task.due_date.is_(None), Task.due_date, Task.id)
                            .limit(INBOX_LIMIT)))
    people = names(db, [c.person_id for t in tasks for c in t.candidates] + [t.assignee_id for t in tasks])
    day = today(now)
    for t in tasks:
        group = groups.setdefault(t.process_id, Group(db.get(Process, t.process_id)))
        group.tasks.append({"task": t, "title": task_title(db, t, lang), "people": task_people(t, people),
                            "overdue": t.due_date is not None and t.due_date < day,
                            "step_no": db.get(StepInstance, t.step_id).step_no})


def _gate_rows(db: Session, viewer: Viewer, lang: str, groups: dict[int, Group]) -> None:
    ids = select(Process.id).where(Process.organisation_id == viewer.organisation_id,
                                   Process.status == "running",
                                   Process.id.in_(involved_process_ids_query(viewer.person_id)))
    for gate in db.scalars(select(Gate).where(Gate.process_id.in_(ids), Gate.status == "open")
                           .order_by(Gate.opened_at, Gate.id)):
        process = db.get(Process, gate.process_id)
        facts = process_facts(db, viewer, process)
        decider = (gate.requirements or {}).get("decider")
        mine = (perm.can_record_consultation(viewer, facts) if gate.kind == "consultation"
                else perm.can_decide_gate(viewer, facts, decider))
        if mine:
            step = db.get(StepInstance, gate.step_id) if gate.step_id else None
            group = groups.setdefault(process.id, Group(process))
            group.gates.append({"gate": gate, "title": gate_title(process, gate, step, lang),
                                "step_no": step.step_no if step else None})


@router.get("/")
def home() -> Response:
    """The start page is my inbox."""
    return see_other("/tasks")


@router.get("/tasks")
def inbox(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """My tasks by process and due date, with the decisions waiting on me."""
    lang = page_locale(request)
    groups: dict[int, Group] = {}
    _gate_rows(db, principal.viewer, lang, groups)
    _task_rows(db, principal.viewer, lang, groups)
    ordered = sorted(groups.values(), key=lambda g: g.process.name.lower())
    return render_page(request, "inbox.html", groups=ordered, today=today(clock.now()))
