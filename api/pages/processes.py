"""The process pages: my processes, and one process as a timeline of its nine steps with its
roster: who holds which role now, and the delegations in force (read-only: the roster is
changed through the API, ``/api/v1/processes/{id}/roles`` and ``.../delegations``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from api.access import involved_process_ids_query, visible_process
from api.deps import PathId, SessionDep
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page
from api.pages.views import names, waiting_in_step, waiting_text
from api.present import gate_title
from chefoskop import clock
from flows.engine.queries import current_gates, definition_of
from models import Body, Delegation, Process, RoleAssignment, StepInstance, Unit
from roles import permissions as perm

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/processes")
def process_list(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """The processes I take part in (all of the organisation's for its admin)."""
    viewer = principal.viewer
    stmt = select(Process).where(Process.organisation_id == viewer.organisation_id)
    if not viewer.is_org_admin:
        stmt = stmt.where(Process.id.in_(involved_process_ids_query(viewer.person_id)))
    processes = list(db.scalars(stmt.order_by(Process.started_at.desc(), Process.id.desc()).limit(200)))
    return render_page(request, "processes.html", processes=processes)


def _step_row(db, process: Process, step: StepInstance, lang: str, now) -> dict:
    spec = definition_of(process).step(step.step_no)
    gates = [{"gate": g, "title": gate_title(process, g, step, lang)}
             for g in current_gates(db, step).values()]
    waiting = waiting_in_step(db, process, step, lang, now) if step.status == "open" else []
    return {"step": step, "title": spec.title.get(lang), "part": spec.part, "gates": gates,
            "waiting": [{"item": w, "who": waiting_text(lang, w)} for w in waiting]}


def roster(db, process: Process, now) -> dict:
    """Who holds which role now (people and bodies, with the unit a holder answers for), in the
    order of the method's roles, and the delegations in force, each with names."""
    held = [a for a in db.scalars(select(RoleAssignment).where(RoleAssignment.process_id == process.id)
                                  .order_by(RoleAssignment.id))
            if a.valid_from <= now and (a.valid_to is None or now < a.valid_to)]
    delegations = [d for d in db.scalars(select(Delegation).where(
        Delegation.process_id == process.id, Delegation.status == "active",
        Delegation.revoked_at.is_(None)).order_by(Delegation.ends_at, Delegation.id))
        if d.starts_at <= now < d.ends_at]
    people = names(db, [a.person_id for a in held] + [d.from_person_id for d in delegations]
                   + [d.to_person_id for d in delegations])
    bodies = _named(db, Body, {a.body_id for a in held})
    units = _named(db, Unit, {a.unit_id for a in held})
    order = {role: n for n, role in enumerate(definition_of(process).roles)}
    by_role: dict[str, list[str]] = {}
    for a in sorted(held, key=lambda a: (order.get(a.role, len(order)), a.role)):
        who = people.get(a.person_id) if a.person_id else bodies.get(a.body_id)
        by_role.setdefault(a.role, []).append(f"{who} ({units[a.unit_id]})" if a.unit_id in units
                                              else str(who))
    return {"holders": [{"role": role, "who": who} for role, who in by_role.items()],
            "delegations": [{"role": d.role, "from": people.get(d.from_person_id),
                             "to": people.get(d.to_person_id), "ends_at": d.ends_at,
                             "reason": d.reason} for d in delegations]}


def _named(db, model, ids: set) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.execute(select(model.id, model.name).where(model.id.in_(wanted))).all())


@router.get("/processes/{process_id}")
def process_page(process_id: PathId, request: Request, principal: PagePrincipal,
                 db: SessionDep) -> Response:
    """The nine steps with status, phase, and who is waiting on whom."""
    lang = page_locale(request)
    process, facts = visible_process(db, principal.viewer, process_id)
    now = clock.now()
    steps = db.scalars(select(StepInstance).where(StepInstance.process_id == process.id)
                       .order_by(StepInstance.step_no))
    rows = [_step_row(db, process, s, lang, now) for s in steps]
    return render_page(request, "process.html", process=process, rows=rows,
                       my_roles=sorted(facts.roles), now=now, roster=roster(db, process, now),
                       manages=perm.can_manage_process(principal.viewer, facts))
