"""The viewer's own organisation: its units, people and bodies (the admin manages them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from api.access import org_person, org_unit, require
from api.deps import EngineCtx, Paging, PagingDep, PathId, SessionDep, ViewerDep
from api.problems import invalid, not_found
from api.routing import api_router
from api.security.passwords import hash_password
from chefoskop.privacy import erase_person, export_person
from flows.engine import Context, record
from models import Body, Organisation, Person, Unit
from models.schemas.common import Page
from models.schemas.organisation import (
    BodyMemberOut,
    BodyOut,
    OrganisationOut,
    PasswordSet,
    PersonCreate,
    PersonOut,
    PersonUpdate,
    UnitCreate,
    UnitOut,
    UnitUpdate,
)
from roles import permissions as perm

router = api_router("organisation")
ADMIN_ONLY_FIELDS = frozenset({"name", "title", "email", "unit_id", "is_org_admin", "active"})


def _audit(ctx: Context, org_id: int, entity: str, obj_id: int, action: str, data: dict) -> None:
    record(ctx, organisation_id=org_id, process_id=None, entity=entity, entity_id=obj_id,
           action=action, from_state=None, to_state=None, data=data)


def _page(db: Session, stmt, page: Paging, out) -> Page:
    """One window of ``stmt`` (already ordered) with the total, as every list of the API pages."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.scalars(stmt.limit(page.limit).offset(page.offset))
    return Page[out](items=[out.model_validate(r) for r in rows], total=total, limit=page.limit,
                     offset=page.offset)


@router.get("/organisations", response_model=Page[OrganisationOut])
def list_organisations(db: SessionDep, viewer: ViewerDep, page: PagingDep) -> Page[OrganisationOut]:
    """The viewer's own organisation (nobody sees another), as a page like every list."""
    return _page(db, select(Organisation).where(Organisation.id == viewer.organisation_id),
                 page, OrganisationOut)


@router.get("/organisations/{organisation_id}", response_model=OrganisationOut)
def get_organisation(organisation_id: PathId, db: SessionDep, viewer: ViewerDep) -> Organisation:
    """One organisation: only one's own is found."""
    if not perm.can_read_organisation(viewer, organisation_id):
        raise not_found()
    return db.get(Organisation, organisation_id)


@router.get("/units", response_model=Page[UnitOut])
def list_units(db: SessionDep, viewer: ViewerDep, page: PagingDep,
               level: Annotated[str | None, Query(pattern="^[ABC]$")] = None) -> Page[UnitOut]:
    """The organisation's units, optionally of one level, by level and code; one page of
    ``limit`` from ``offset``, with the total."""
    stmt = select(Unit).where(Unit.organisation_id == viewer.organisation_id)
    if level:
        stmt = stmt.where(Unit.level == level)
    return _page(db, stmt.order_by(Unit.level, Unit.code, Unit.id), page, UnitOut)


def check_parent(db: Session, viewer: perm.Viewer, unit: Unit | None, level: str,
                 parent_id: int | None) -> None:
    """Refuse a parent that is elsewhere, not above the unit, or would make a loop."""
    if parent_id is None:
        return
    parent = db.get(Unit, parent_id)
    if parent is None or parent.organisation_id != viewer.organisation_id:
        raise invalid("parent_id", "not_found")
    if parent.level >= level:
        raise invalid("parent_id", "parent_level")
    seen, node = set(), parent
    while node is not None and node.id not in seen:
        if unit is not None and node.id == unit.id:
            raise invalid("parent_id", "cycle")
        seen.add(node.id)
        node = db.get(Unit, node.parent_id) if node.parent_id else None


@router.post("/units", response_model=UnitOut, status_code=201)
def create_unit(body: UnitCreate, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> Unit:
    """Add a unit (organisation admin)."""
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    code = body.code.strip()
    if db.scalar(select(Unit.id).where(Unit.organisation_id == viewer.organisation_id, Unit.code == code)):
        raise invalid("code", "taken")
    check_parent(db, viewer, None, body.level, body.parent_id)
    unit = Unit(organisation_id=viewer.organisation_id, code=code, name=body.name.strip(),
                level=body.level, parent_id=body.parent_id)
    db.add(unit)
    db.flush()
    _audit(ctx, viewer.organisation_id, "unit", unit.id, "created", {"code": code})
    return unit


@router.get("/units/{unit_id}", response_model=UnitOut)
def get_unit(unit_id: PathId, db: SessionDep, viewer: ViewerDep) -> Unit:
    """One unit of the organisation."""
    return org_unit(db, viewer, unit_id)


@router.patch("/units/{unit_id}", response_model=UnitOut)
def update_unit(unit_id: PathId, body: UnitUpdate, db: SessionDep, viewer: ViewerDep,
                ctx: EngineCtx) -> Unit:
    """Rename a unit or move it under another parent (organisation admin)."""
    unit = org_unit(db, viewer, unit_id)
    require(perm.can_manage_structure(viewer, unit.organisation_id))
    if "parent_id" in body.model_fields_set:
        check_parent(db, viewer, unit, unit.level, body.parent_id)
        unit.parent_id = body.parent_id
    if body.name is not None:
        unit.name = body.name.strip()
    db.flush()
    _audit(ctx, unit.organisation_id, "unit", unit.id, "updated",
           {"fields": sorted(body.model_fields_set)})
    return unit


@router.get("/people", response_model=Page[PersonOut])
def list_people(db: SessionDep, viewer: ViewerDep, page: PagingDep,
                q: Annotated[str | None, Query(max_length=200)] = None,
                unit_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
                active: bool | None = None) -> Page[PersonOut]:
    """People of the organisation, searchable by name or e-mail; one page of ``limit`` from
    ``offset``, with the total."""
    stmt = select(Person).where(Person.organisation_id == viewer.organisation_id)
    if q:
        pattern = f"%{q.replace(chr(0), '').lower()}%"
        stmt = stmt.where(or_(func.lower(Person.name).like(pattern), func.lower(Person.email).like(pattern)))
    if unit_id is not None:
        stmt = stmt.where(Person.unit_id == unit_id)
    if active is not None:
        stmt = stmt.where(Person.active.is_(active))
    return _page(db, stmt.order_by(Person.name, Person.id), page, PersonOut)


def _email_taken(db: Session, org_id: int, email: str, except_id: int | None = None) -> bool:
    stmt = select(Person.id).where(Person.organisation_id == org_id,
                                   func.lower(Person.email) == email.lower())
    if except_id is not None:
        stmt = stmt.where(Person.id != except_id)
    return db.scalar(stmt) is not None


@router.post("/people", response_model=PersonOut, status_code=201)
def create_person(body: PersonCreate, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> Person:
    """Add a person (organisation admin)."""
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    if _email_taken(db, viewer.organisation_id, body.email):
        raise invalid("email", "taken")
    if body.unit_id is not None:
        unit = db.get(Unit, body.unit_id)
        if unit is None or unit.organisation_id != viewer.organisation_id:
            raise invalid("unit_id", "not_found")
    person = Person(organisation_id=viewer.organisation_id, **body.model_dump())
    person.name, person.title = body.name.strip(), (body.title or "").strip() or None
    db.add(person)
    db.flush()
    _audit(ctx, viewer.organisation_id, "person", person.id, "created", {})
    return person


@router.get("/people/{person_id}", response_model=PersonOut)
def get_person(person_id: PathId, db: SessionDep, viewer: ViewerDep) -> Person:
    """One person of the organisation."""
    return org_person(db, viewer, person_id)


@router.patch("/people/{person_id}", response_model=PersonOut)
def update_person(person_id: PathId, body: PersonUpdate, db: SessionDep, viewer: ViewerDep,
                  ctx: EngineCtx) -> Person:
    """Change a person: the admin anything, a person their own language and digest choice."""
    person = org_person(db, viewer, person_id)
    require(perm.can_edit_person(viewer, person.organisation_id, person.id))
    changes = body.model_dump(exclude_unset=True)
    if changes.keys() & ADMIN_ONLY_FIELDS:
        require(perm.can_manage_structure(viewer, person.organisation_id))
    for name in ("name", "email", "locale", "digest", "is_org_admin", "active"):
        if changes.get(name) is None and name in changes:
            raise invalid(name, "required")
    if changes.get("email") and _email_taken(db, person.organisation_id, changes["email"], person.id):
        raise invalid("email", "taken")
    if changes.get("unit_id") is not None:
        unit = db.get(Unit, changes["unit_id"])
        if unit is None or unit.organisation_id != person.organisation_id:
            raise invalid("unit_id", "not_found")
    for name, value in changes.items():
        setattr(person, name, value.strip() if isinstance(value, str) else value)
    if "title" in changes:
        person.title = person.title or None
    db.flush()
    _audit(ctx, person.organisation_id, "person", person.id, "updated", {"fields": sorted(changes)})
    return person


@router.post("/people/{person_id}/password", status_code=204, response_class=Response)
def set_password(person_id: PathId, body: PasswordSet, db: SessionDep, viewer: ViewerDep,
                 ctx: EngineCtx) -> Response:
    """Set someone's password (organisation admin)."""
    person = org_person(db, viewer, person_id)
    require(perm.can_manage_structure(viewer, person.organisation_id))
    person.password_hash = hash_password(body.password)
    _audit(ctx, person.organisation_id, "person", person.id, "password_set", {})
    return Response(status_code=204)


@router.get("/people/{person_id}/export", response_model=dict[str, Any])
def export_person_data(person_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> dict:
    """Everything chefoskop keeps about the person (a GDPR access request): for the person
    themselves or the organisation admin; every export is in the audit trail."""
    return person_export(db, viewer, ctx, person_id)


def person_export(db: Session, viewer: perm.Viewer, ctx: Context, person_id: int) -> dict:
    """Everything kept about a person the viewer may export, with the export's audit event."""
    person = org_person(db, viewer, person_id)
    require(perm.can_export_person(viewer, person.organisation_id, person.id))
    data = export_person(db, person.id)
    _audit(ctx, person.organisation_id, "person", person.id, "exported", {})
    return data


@router.post("/people/{person_id}/erase", response_model=PersonOut)
def erase_person_data(person_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> Person:
    """Anonymise the person (GDPR erasure; the organisation admin). Refused while they hold a
    role in a running process; the history keeps its shape and every survey result stays."""
    person = org_person(db, viewer, person_id)
    require(perm.can_erase_person(viewer, person.organisation_id))
    return erase_person(ctx, person.id)


@router.get("/bodies", response_model=Page[BodyOut])
def list_bodies(db: SessionDep, viewer: ViewerDep, page: PagingDep) -> Page[BodyOut]:
    """The organisation's bodies (such as samverkansgrupper) and their members; one page of
    ``limit`` from ``offset``, with the total."""
    stmt = select(Body).where(Body.organisation_id == viewer.organisation_id)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    bodies = db.scalars(stmt.order_by(Body.name, Body.id).limit(page.limit).offset(page.offset))
    out = []
    for body in bodies:
        names = dict(db.execute(select(Person.id, Person.name).where(
            Person.id.in_([m.person_id for m in body.members]))).all())
        members = [BodyMemberOut(person_id=m.person_id, name=names.get(m.person_id, ""),
                                 capacity=m.capacity) for m in body.members]
        out.append(BodyOut(id=body.id, name=body.name, kind=body.kind, members=members))
    return Page[BodyOut](items=out, total=total, limit=page.limit, offset=page.offset)

