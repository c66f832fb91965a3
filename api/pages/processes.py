"""The process pages: my processes, and one process as a timeline of its nine steps."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from api.access import involved_process_ids_query, visible_process
from api.deps import PathId, SessionDep
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page
from api.pages.views import waiting_in_step, waiting_text
from api.present import gate_title
from chefoskop import clock
from flows.engine.queries import current_gates, definition_of
from models import Process, StepInstance

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
                       my_roles=sorted(facts.roles), now=now)
