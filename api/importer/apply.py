"""Writing a valid import plan in the request's transaction (the route class commits)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.importer.validate import Existing, Plan
from flows import engine
from flows.engine import Context
from models import Person, RoleAssignment, Unit
from models.schemas.admin import ImportReport


@dataclass
class Counts:
    """What the import created and changed."""

    units_created: int = 0
    units_updated: int = 0
    people_created: int = 0
    people_updated: int = 0
    roles_assigned: int = 0


def _units(db: Session, org_id: int, plan: Plan, existing: Existing, counts: Counts) -> None:
    for row in plan.units:
        unit = existing.units.get(row["code"])
        if unit is None:
            unit = Unit(organisation_id=org_id, code=row["code"], name=row["name"], level=row["level"])
            db.add(unit)
            existing.units[row["code"]] = unit
            counts.units_created += 1
        else:
            unit.name, unit.level = row["name"], row["level"]
            counts.units_updated += 1
    db.flush()
    for row in plan.units:
        parent = row.get("parent_code")
        existing.units[row["code"]].parent_id = existing.units[parent].id if parent else None
    db.flush()


def _people(db: Session, org_id: int, plan: Plan, existing: Existing, counts: Counts) -> None:
    for row in plan.people:
        unit = existing.units.get(row["unit_code"]) if row.get("unit_code") else None
        person = existing.people.get(row["email"].lower())
        if person is None:
            person = Person(organisation_id=org_id, email=row["email"], name=row["name"])
            db.add(person)
            existing.people[row["email"].lower()] = person
            counts.people_created += 1
        else:
            person.name = row["name"]
            counts.people_updated += 1
        person.title = row.get("title") or None
        person.unit_id = unit.id if unit else None
    db.flush()


def _held(db: Session, process_id: int, role: str, person_id: int | None, body_id: int | None,
          unit_id: int | None, ctx: Context) -> bool:
    rows = db.scalars(select(RoleAssignment).where(
        RoleAssignment.process_id == process_id, RoleAssignment.role == role,
        RoleAssignment.person_id.is_(None) if person_id is None else RoleAssignment.person_id == person_id,
        RoleAssignment.body_id.is_(None) if body_id is None else RoleAssignment.body_id == body_id))
    return any(r.unit_id == unit_id and (r.valid_to is None or r.valid_to > ctx.now) for r in rows)


def _roles(db: Session, ctx: Context, process_id: int, plan: Plan, existing: Existing,
           counts: Counts) -> None:
    for row in plan.roles:
        person = existing.people.get(row["email"]) if row["email"] else None
        body = existing.bodies.get(row["body"]) if row["body"] else None
        unit = existing.units.get(row["unit_code"]) if row.get("unit_code") else None
        spec = engine.RoleSpec(row["role"], person.id if person else None, body.id if body else None,
                               unit.id if unit else None)
        if _held(db, process_id, spec.role, spec.person_id, spec.body_id, spec.unit_id, ctx):
            continue
        engine.assign_role(ctx, process_id, spec)
        counts.roles_assigned += 1


def apply_plan(db: Session, ctx: Context, org_id: int, process_id: int | None, plan: Plan,
               existing: Existing) -> Counts:
    """Write units, then people, then role holders; returns the counts."""
    counts = Counts()
    _units(db, org_id, plan, existing, counts)
    _people(db, org_id, plan, existing, counts)
    if plan.roles and process_id is not None:
        _roles(db, ctx, process_id, plan, existing, counts)
    engine.record(ctx, organisation_id=org_id, process_id=process_id, entity="organisation",
                  entity_id=org_id, action="structure_imported", from_state=None, to_state=None,
                  data=counts.__dict__)
    return counts


def preview(plan: Plan, existing: Existing) -> Counts:
    """What ``apply_plan`` would do, without writing."""
    counts = Counts()
    for row in plan.units:
        if row["code"] in existing.units:
            counts.units_updated += 1
        else:
            counts.units_created += 1
    for row in plan.people:
        if row["email"].lower() in existing.people:
            counts.people_updated += 1
        else:
            counts.people_created += 1
    counts.roles_assigned = len(plan.roles)
    return counts


def report(counts: Counts, dry_run: bool) -> ImportReport:
    """The import's report for the client."""
    return ImportReport(dry_run=dry_run, **counts.__dict__)
