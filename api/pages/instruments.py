"""The instruments page: which questionnaire each mapping uses, and importing the organisation's own.

Everyone in the organisation may look; an organisation admin, or whoever runs the
process the page was opened from (``?process_id=``), may upload a YAML file. A file
with problems comes back on the same page with every problem listed by its place in
the file; nothing is stored then.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from api.deps import EngineCtx, SessionDep, SettingsDep
from api.pages.render import PagePrincipal, PageRoute, page_locale, render_page, see_other
from api.problems import ApiProblem
from api.routes.imports import read_upload
from api.routes.instruments import available_instruments, may_import, store_instrument

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ProcessField = Annotated[int | None, Form(ge=1, le=2_147_483_647)]


def _may_import(db, viewer, process_id: int | None) -> bool:
    try:
        may_import(db, viewer, process_id)
    except ApiProblem:
        return False
    return True


def _page(request: Request, db, principal, process_id: int | None, *, status: int = 200,
          problems: list[dict] | None = None, done: str | None = None) -> Response:
    viewer = principal.viewer
    lang = page_locale(request)
    return render_page(request, "instruments.html", status=status, process_id=process_id,
                       instruments=available_instruments(db, viewer.organisation_id, lang),
                       can_import=_may_import(db, viewer, process_id), problems=problems or [],
                       done=done)


@router.get("/instruments")
def instruments_page(request: Request, principal: PagePrincipal, db: SessionDep) -> Response:
    """The instruments in use, the organisation's own imports, and the upload form."""
    raw = request.query_params.get("process_id", "")
    process_id = int(raw) if raw.isdigit() and 0 < int(raw) < 2_147_483_647 else None
    done = "imported" if request.query_params.get("done") == "imported" else None
    return _page(request, db, principal, process_id, done=done)


@router.post("/instruments")
async def upload_instrument(request: Request, principal: PagePrincipal, db: SessionDep, ctx: EngineCtx,
                            settings: SettingsDep, file: Annotated[UploadFile, File()],
                            process_id: ProcessField = None) -> Response:
    """Import the uploaded file, or show the page again with every problem in it."""
    viewer = principal.viewer
    may_import(db, viewer, process_id)
    data = await read_upload(file, settings.upload_max_bytes)
    try:
        store_instrument(db, viewer, ctx, data, process_id, page_locale(request))
    except ApiProblem as exc:
        if exc.status != 422:
            raise
        db.rollback()
        problems = [{"where": i.field, "line": i.row, "message": i.message or i.reason}
                    for i in exc.issues]
        return _page(request, db, principal, process_id, status=422, problems=problems)
    suffix = f"&process_id={process_id}" if process_id else ""
    return see_other(f"/instruments?done=imported{suffix}")
