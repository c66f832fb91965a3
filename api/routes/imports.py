"""Importing the organisation's structure: units, people and role holders, all or nothing."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.access import managed_process, require
from api.deps import EngineCtx, SessionDep, SettingsDep, ViewerDep
from api.importer.apply import apply_plan, preview, report
from api.importer.parse import ParseError, Sheet, read_csv, read_workbook
from api.importer.validate import Existing, validate
from api.problems import ApiProblem, Issue
from api.routing import api_router
from flows.engine import Context
from models.schemas.admin import ImportReport
from roles import permissions as perm

router = api_router("imports")
Upload = Annotated[UploadFile | None, File()]


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes; 413 when it is larger than ``limit``."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiProblem(413, "payload_too_large", params={"limit": limit})
    return data


async def read_sheets(files: dict[str, UploadFile | None], workbook: UploadFile | None,
                      limit: int) -> list[Sheet]:
    """Every sheet uploaded, as CSV files or one workbook; problems name the file."""
    sheets: list[Sheet] = []
    try:
        if workbook is not None:
            sheets += read_workbook(await read_upload(workbook, limit))
        for name, upload in files.items():
            if upload is not None:
                if any(s.name == name for s in sheets):
                    raise ParseError(Issue(name, "duplicate", sheet=name))
                sheets.append(read_csv(name, await read_upload(upload, limit)))
    except ParseError as exc:
        raise ApiProblem(422, "import_invalid", issues=[exc.issue]) from None
    if not sheets:
        raise ApiProblem(422, "invalid_data", issues=[Issue("file", "required")])
    return sheets


@router.post("/imports/structure", response_model=ImportReport,
             responses={413: {"description": "A file is larger than the upload limit"}})
async def import_structure(
    db: SessionDep, viewer: ViewerDep, ctx: EngineCtx, settings: SettingsDep,
    units: Upload = None, people: Upload = None, roles: Upload = None,
    workbook: Annotated[UploadFile | None, File(description="XLSX with sheets units, people, roles")] = None,
    process_id: Annotated[int | None, Form(ge=1, le=2_147_483_647)] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> ImportReport:
    """Import units (code, name, level, parent_code), people (name, email, unit_code, title)
    and, for one process, role holders (role, email or body, unit_code) from CSV or XLSX.

    Every row is checked; every error is reported with its sheet, row and column, and
    nothing is imported unless the whole upload is valid.
    """
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    sheets = await read_sheets({"units": units, "people": people, "roles": roles}, workbook,
                               settings.upload_max_bytes)
    return await run_in_threadpool(_import, db, viewer, ctx, sheets, process_id, dry_run)


def _import(db: Session, viewer: perm.Viewer, ctx: Context, sheets: list[Sheet], process_id: int | None,
            dry_run: bool) -> ImportReport:
    has_roles = any(s.name == "roles" and s.rows for s in sheets)
    if has_roles and process_id is None:
        raise ApiProblem(422, "invalid_data", issues=[Issue("process_id", "required")])
    if has_roles:
        process, _ = managed_process(db, viewer, process_id)
        if process.status != "running":
            raise ApiProblem(422, "invalid_data", issues=[Issue("process_id", "not_running")])
    existing = Existing.load(db, viewer.organisation_id)
    plan = validate(sheets, existing)
    if plan.issues:
        raise ApiProblem(422, "import_invalid", issues=plan.issues)
    if dry_run:
        return report(preview(plan, existing), True)
    counts = apply_plan(db, ctx, viewer.organisation_id, process_id if has_roles else None, plan,
                        existing)
    return report(counts, False)
