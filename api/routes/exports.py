"""Downloads: a plan as PDF, CSV or XLSX, and the process's evidence pack as one PDF."""

from __future__ import annotations

from fastapi import Response

from api.access import visible_plan, visible_process
from api.deps import LocaleDep, PathId, SessionDep, ViewerDep
from api.routing import api_router
from plans import export

router = api_router("exports")
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(content: bytes | str, media_type: str, name: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _doc(media_type: str) -> dict:
    return {200: {"content": {media_type.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}},
                  "description": "The file."}}


@router.get("/plans/{plan_id}/export.pdf", response_class=Response, responses=_doc(PDF))
def plan_pdf(plan_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """The plan as PDF."""
    plan, _, _ = visible_plan(db, viewer, plan_id)
    return _file(export.plan_pdf(db, plan.id, locale), PDF, f"handlingsplan-{plan.id}.pdf")


@router.get("/plans/{plan_id}/export.csv", response_class=Response, responses=_doc(CSV))
def plan_csv(plan_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """The plan's actions as CSV."""
    plan, _, _ = visible_plan(db, viewer, plan_id)
    return _file(export.plan_csv(db, plan.id, locale), CSV, f"handlingsplan-{plan.id}.csv")


@router.get("/plans/{plan_id}/export.xlsx", response_class=Response, responses=_doc(XLSX))
def plan_xlsx(plan_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """The plan as an XLSX workbook."""
    plan, _, _ = visible_plan(db, viewer, plan_id)
    return _file(export.plan_xlsx(db, plan.id, locale), XLSX, f"handlingsplan-{plan.id}.xlsx")


@router.get("/processes/{process_id}/evidence-pack.pdf", response_class=Response, responses=_doc(PDF))
def evidence_pack(process_id: PathId, db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> Response:
    """Every gate, consultation and risk assessment of the process, with dates and names, as one PDF."""
    process, _ = visible_process(db, viewer, process_id)
    return _file(export.evidence_pack_pdf(db, process.id, locale), PDF, f"underlag-{process.id}.pdf")
