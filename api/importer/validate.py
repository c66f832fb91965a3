"""Checking every row of an import against the file and the database; every error is listed."""

from __future__ import annotations

from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.importer.parse import Row, Sheet
from api.problems import Issue
from models import Body, Person, Unit
from roles.catalogue import is_known_role

REQUIRED = {"units": ("code", "name", "level"), "people": ("name", "email"), "roles": ("role",)}
MAX_LENGTH = {"code": 60, "name": 200, "title": 200, "email": 320, "parent_code": 60,
              "unit_code": 60, "role": 40, "body": 200, "level": 1}


@dataclass
class Existing:
    """The organisation's current units, people and bodies, by their import keys."""

    units: dict[str, Unit]
    people: dict[str, Person]
    bodies: dict[str, Body]

    @classmethod
    def load(cls, db: Session, organisation_id: int) -> Existing:
        """Read what the organisation has now."""
        units = db.scalars(select(Unit).where(Unit.organisation_id == organisation_id))
        people = db.scalars(select(Person).where(Person.organisation_id == organisation_id))
        bodies = db.scalars(select(Body).where(Body.organisation_id == organisation_id))
        return cls({u.code: u for u in units}, {p.email.lower(): p for p in people},
                   {b.name.strip().lower(): b for b in bodies})


@dataclass
class Plan:
    """The valid rows to write, or the issues that stop the import."""

    units: list[dict[str, str]] = field(default_factory=list)
    people: list[dict[str, str]] = field(default_factory=list)
    roles: list[dict[str, str]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def add(self, sheet: str, row: Row | None, column: str, reason: str) -> None:
        """Note one error."""
        self.issues.append(Issue(column, reason, row=row.number if row else 1, column=column,
                                 sheet=sheet))


def _basic(plan: Plan, sheet: Sheet, row: Row) -> bool:
    ok = True
    for column in REQUIRED[sheet.name]:
        if not row.cells.get(column):
            plan.add(sheet.name, row, column, "required")
            ok = False
    for column, value in row.cells.items():
        if "\x00" in value:
            plan.add(sheet.name, row, column, "invalid_character")
            ok = False
        elif len(value) > MAX_LENGTH.get(column, 200):
            plan.add(sheet.name, row, column, "too_long")
            ok = False
    return ok


def _columns(plan: Plan, sheet: Sheet) -> bool:
    missing = [c for c in REQUIRED[sheet.name] if c not in sheet.columns]
    for column in missing:
        plan.add(sheet.name, None, column, "missing_column")
    return not missing


def _units(plan: Plan, sheet: Sheet, existing: Existing) -> dict[str, str]:
    """Validate unit rows; returns the level of every unit code after the import."""
    levels = {code: u.level for code, u in existing.units.items()}
    code_of = {u.id: code for code, u in existing.units.items()}
    parents = {code: code_of.get(u.parent_id) for code, u in existing.units.items()}
    seen: set[str] = set()
    rows = []
    for row in sheet.rows:
        ok = _basic(plan, sheet, row)
        code, level = row.cells.get("code", ""), row.cells.get("level", "").upper()
        if level and level not in ("A", "B", "C"):
            plan.add("units", row, "level", "not_allowed")
            ok = False
        if code and code in seen:
            plan.add("units", row, "code", "duplicate")
            ok = False
        seen.add(code)
        if not ok:
            continue
        levels[code], parents[code] = level, row.cells.get("parent_code") or None
        rows.append(row)
    for row in rows:
        parent = parents[row.cells["code"]]
        if parent is not None and parent not in levels:
            plan.add("units", row, "parent_code", "unknown_parent")
        elif parent is not None and levels[parent] >= levels[row.cells["code"]]:
            plan.add("units", row, "parent_code", "parent_level")
        elif _loops(parents, row.cells["code"]):
            plan.add("units", row, "parent_code", "cycle")
        else:
            plan.units.append({**row.cells, "level": levels[row.cells["code"]]})
    return levels


def _loops(parents: dict[str, str | None], code: str) -> bool:
    seen, node = {code}, parents.get(code)
    while node is not None:
        if node in seen:
            return True
        seen.add(node)
        node = parents.get(node)
    return False


def _email(value: str) -> str | None:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def _people(plan: Plan, sheet: Sheet, existing: Existing, unit_codes: set[str]) -> set[str]:
    """Validate person rows; returns every e-mail address known after the import."""
    emails = set(existing.people)
    seen: set[str] = set()
    for row in sheet.rows:
        ok = _basic(plan, sheet, row)
        email = _email(row.cells["email"]) if row.cells.get("email") else None
        if row.cells.get("email") and email is None:
            plan.add("people", row, "email", "invalid_email")
        if email is not None and email.lower() in seen:
            plan.add("people", row, "email", "duplicate")
            ok = False
        if not ok or email is None:
            continue
        seen.add(email.lower())
        unit = row.cells.get("unit_code")
        if unit and unit not in unit_codes:
            plan.add("people", row, "unit_code", "unknown_unit")
            continue
        emails.add(email.lower())
        plan.people.append({**row.cells, "email": email})
    return emails


def _roles(plan: Plan, sheet: Sheet, existing: Existing, unit_codes: set[str], emails: set[str]) -> None:
    for row in sheet.rows:
        if not _basic(plan, sheet, row):
            continue
        cells, ok = row.cells, True
        if not is_known_role(cells["role"].strip().lower()):
            plan.add("roles", row, "role", "unknown_role")
            ok = False
        email, body = cells.get("email", "").lower(), cells.get("body", "").strip().lower()
        if bool(email) == bool(body):
            plan.add("roles", row, "email", "person_xor_body")
            ok = False
        elif email and email not in emails:
            plan.add("roles", row, "email", "unknown_person")
            ok = False
        elif body and body not in existing.bodies:
            plan.add("roles", row, "body", "not_found")
            ok = False
        if cells.get("unit_code") and cells["unit_code"] not in unit_codes:
            plan.add("roles", row, "unit_code", "unknown_unit")
            ok = False
        if ok:
            plan.roles.append({**cells, "role": cells["role"].strip().lower(), "email": email,
                               "body": body})


def validate(sheets: list[Sheet], existing: Existing) -> Plan:
    """Check every sheet; the plan's issues list every error found, row by row."""
    plan = Plan()
    by_name = {s.name: s for s in sheets}
    levels = {code: u.level for code, u in existing.units.items()}
    if "units" in by_name and _columns(plan, by_name["units"]):
        levels = _units(plan, by_name["units"], existing)
    emails = set(existing.people)
    if "people" in by_name and _columns(plan, by_name["people"]):
        emails = _people(plan, by_name["people"], existing, set(levels))
    if "roles" in by_name and _columns(plan, by_name["roles"]):
        _roles(plan, by_name["roles"], existing, set(levels), emails)
    return plan
