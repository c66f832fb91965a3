"""Mapping instruments: the three shipped with chefoskop and an organisation's own imports.

An organisation may replace an instrument with its own version (the official one
included) by uploading its YAML file. A file with problems is refused with every
problem named: its place in the file (path and line) and the reason, in the reader's
language. Nothing is stored unless the whole file is valid.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import managed_process, require
from api.deps import EngineCtx, LocaleDep, SessionDep, SettingsDep, ViewerDep
from api.problems import ApiProblem, Issue
from api.routes.imports import read_upload
from api.routing import api_router
from flows.engine import Context, record
from models import OrganisationInstrument
from models.schemas.instruments import InstrumentOut
from roles import permissions as perm
from surveys.errors import InstrumentRejected
from surveys.loader import from_document, import_instrument, instrument_for, shipped_instruments
from surveys.schema import Instrument

router = api_router("instruments")


def _out(instrument: Instrument, locale: str, *, source: str, in_use: bool,
         row: OrganisationInstrument | None = None) -> InstrumentOut:
    items = sum(len(section.items) for section in instrument.sections)
    return InstrumentOut(key=instrument.key, version=instrument.version, mapping=instrument.mapping,
                         kind=instrument.kind, title=instrument.title.get(locale),
                         languages=list(instrument.languages), items=items, source=source,
                         in_use=in_use, imported_at=row.imported_at if row else None)


def _in_use(db, organisation_id: int) -> dict[int, tuple[str, int]]:
    return {mapping: (i.key, i.version) for mapping in (1, 2, 3)
            if (i := instrument_for(db, organisation_id, mapping))}


def available_instruments(db: Session, organisation_id: int, locale: str) -> list[InstrumentOut]:
    """The shipped instruments and the organisation's own, newest import first."""
    used = _in_use(db, organisation_id)
    found = [_out(i, locale, source="shipped", in_use=used[i.mapping] == (i.key, i.version))
             for i in shipped_instruments().values()]
    rows = db.scalars(select(OrganisationInstrument).where(
        OrganisationInstrument.organisation_id == organisation_id).order_by(
        OrganisationInstrument.imported_at.desc(), OrganisationInstrument.id.desc()))
    for row in rows:
        own = from_document(row.document)
        found.append(_out(own, locale, source="organisation", row=row,
                          in_use=used[own.mapping] == (own.key, own.version)))
    return found


def may_import(db: Session, viewer: perm.Viewer, process_id: int | None) -> None:
    """An organisation admin may import; so may whoever runs ``process_id``. Refuses others."""
    if process_id is None:
        require(perm.can_manage_structure(viewer, viewer.organisation_id))
    else:
        managed_process(db, viewer, process_id)


def _rejection(exc: InstrumentRejected, locale: str) -> ApiProblem:
    issues = [Issue(i.path or "/", i.code, row=i.line, message=i.describe(locale)) for i in exc.issues]
    return ApiProblem(422, "instrument_invalid", issues=issues, params={"count": len(issues)})


def store_instrument(db: Session, viewer: perm.Viewer, ctx: Context, data: bytes,
                     process_id: int | None, locale: str) -> InstrumentOut:
    """Validate and keep an uploaded instrument file, with its audit event; refuses with every
    problem named (``ApiProblem`` 422) and stores nothing then.

    The caller has checked ``may_import`` already, before it read the upload (so a refusal
    comes before the upload's size matters).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiProblem(422, "instrument_invalid", issues=[Issue("file", "unreadable")]) from None
    try:
        row = import_instrument(db, viewer.organisation_id, text, imported_by_id=viewer.person_id)
    except InstrumentRejected as exc:
        raise _rejection(exc, locale) from None
    instrument = from_document(row.document)
    record(ctx, organisation_id=viewer.organisation_id, process_id=process_id, entity="instrument",
           entity_id=row.id, action="imported", from_state=None, to_state=None,
           data={"key": instrument.key, "version": instrument.version, "mapping": instrument.mapping})
    return _out(instrument, locale, source="organisation", row=row, in_use=True)


@router.get("/instruments", response_model=list[InstrumentOut])
def list_instruments(db: SessionDep, viewer: ViewerDep, locale: LocaleDep) -> list[InstrumentOut]:
    """The shipped instruments and the organisation's own, newest import first."""
    return available_instruments(db, viewer.organisation_id, locale)


@router.post("/instruments", response_model=InstrumentOut, status_code=201,
             responses={413: {"description": "The file is larger than the upload limit"}})
async def import_own_instrument(
    db: SessionDep, viewer: ViewerDep, ctx: EngineCtx, settings: SettingsDep, locale: LocaleDep,
    file: Annotated[UploadFile, File(description="The instrument as YAML (UTF-8)")],
    process_id: Annotated[int | None, Form(ge=1, le=2_147_483_647)] = None,
) -> InstrumentOut:
    """Import the organisation's own instrument (an organisation admin, or whoever runs the
    given process); new mappings of its number use it from then on."""
    may_import(db, viewer, process_id)  # before reading the upload
    data = await read_upload(file, settings.upload_max_bytes)
    return store_instrument(db, viewer, ctx, data, process_id, locale)
