"""Checking every row of an import against the file and the database; every error is listed.

Every non-empty cell is checked, whatever else is wrong in its row: a row without a name but
with an unknown parent reports both. A reference (parent, unit, person, body) is known when
the organisation has it or the upload names it, even on a row that has errors of its own
(that row's errors are reported there). Errors name the sheet as the user called it.
"""

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

    def add(self, sheet: Sheet, row: Row | None, column: str, reason: str) -> None:
        """Note one error, on the sheet as the user named it."""
        self.issues.append(Issue(column, reason, row=row.number if row else 1, column=column,
                                 sheet=sheet.label))


def _basic(plan: Plan, sheet: Sheet, row: Row) -> set[str]:
    """Required, readable and not too long; the columns with an error (empty: all is well)."""
    bad: set[str] = set()
    for column in REQUIRED[sheet.name]:
        if not row.cells.get(column):
            plan.add(sheet, row, column, "required")
            bad.add(column)
    for column, value in row.cells.items():
        if "\x00" in value:
            plan.add(sheet, row, column, "invalid_character")
            bad.add(column)
        elif len(value) > MAX_LENGTH.get(column, 200):
            plan.add(sheet, row, column, "too_long")
            bad.add(column)
    return bad


def _reference(row: Row, column: str, bad: set[str]) -> str:
    """The cell ``column`` to look up: '' when it is empty or already wrong in itself."""
    return "" if column in bad else row.cells.get(column, "")


def _columns(plan: Plan, sheet: Sheet) -> bool:
    missing = [c for c in REQUIRED[sheet.name] if c not in sheet.columns]
    for column in missing:
        plan.add(sheet, None, column, "missing_column")
    return not missing


def _units(plan: Plan, sheet: Sheet, existing: Existing) -> set[str]:
    """Validate unit rows; returns every unit code the organisation or the upload has (what
    people and role holders may refer to)."""
    levels = {code: u.level for code, u in existing.units.items()}
    code_of = {u.id: code for code, u in existing.units.items()}
    parents = {code: code_of.get(u.parent_id) for code, u in existing.units.items()}
    known = set(levels) | {r.cells.get("code", "") for r in sheet.rows} - {""}
    seen: set[str] = set()
    checked = []
    for row in sheet.rows:
        bad = _basic(plan, sheet, row)
        code, level = row.cells.get("code", ""), row.cells.get("level", "").upper()
        if level and "level" not in bad and level not in ("A", "B", "C"):
            plan.add(sheet, row, "level", "not_allowed")
            bad.add("level")
        if code and code in seen:
            plan.add(sheet, row, "code", "duplicate")
            bad.add("code")
        seen.add(code)
        parent = _reference(row, "parent_code", bad)
        if "code" not in bad:  # the first row of each code places it
            parents[code] = parent or None
            if "level" not in bad:
                levels[code] = level
        checked.append((row, bad, parent))
    for row, bad, parent in checked:
        code = row.cells.get("code", "")
        if parent and parent not in known:
            plan.add(sheet, row, "parent_code", "unknown_parent")
        elif bad:
            continue
        elif parent and parent in levels and levels[parent] >= levels[code]:
            plan.add(sheet, row, "parent_code", "parent_level")
        elif _loops(parents, code):
            plan.add(sheet, row, "parent_code", "cycle")
        elif not parent or parent in levels:
            plan.units.append({**row.cells, "level": levels[code]})
    return known


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
    """Validate person rows; returns every e-mail address the organisation or the upload has."""
    emails = set(existing.people)
    seen: set[str] = set()
    for row in sheet.rows:
        bad = _basic(plan, sheet, row)
        typed = _reference(row, "email", bad)
        email = _email(typed) if typed else None
        if typed and email is None:
            plan.add(sheet, row, "email", "invalid_email")
            bad.add("email")
        if email is not None and email.lower() in seen:
            plan.add(sheet, row, "email", "duplicate")
            bad.add("email")
        unit = _reference(row, "unit_code", bad)
        if unit and unit not in unit_codes:
            plan.add(sheet, row, "unit_code", "unknown_unit")
            bad.add("unit_code")
        if email is None:
            continue
        seen.add(email.lower())
        emails.add(email.lower())
        if not bad:
            plan.people.append({**row.cells, "email": email})
    return emails


def _roles(plan: Plan, sheet: Sheet, existing: Existing, unit_codes: set[str], emails: set[str]) -> None:
    for row in sheet.rows:
        bad = _basic(plan, sheet, row)
        cells = row.cells
        role = _reference(row, "role", bad).strip().lower()
        if role and not is_known_role(role):
            plan.add(sheet, row, "role", "unknown_role")
            bad.add("role")
        email, body = cells.get("email", "").lower(), cells.get("body", "").strip().lower()
        if bool(email) == bool(body):
            plan.add(sheet, row, "email", "person_xor_body")
            bad.add("email")
        elif _reference(row, "email", bad) and email not in emails:
            plan.add(sheet, row, "email", "unknown_person")
            bad.add("email")
        elif _reference(row, "body", bad) and body not in existing.bodies:
            plan.add(sheet, row, "body", "not_found")
            bad.add("body")
        unit = _reference(row, "unit_code", bad)
        if unit and unit not in unit_codes:
            plan.add(sheet, row, "unit_code", "unknown_unit")
            bad.add("unit_code")
        if not bad:
            plan.roles.append({**cells, "role": role, "email": email, "body": body})


def validate(sheets: list[Sheet], existing: Existing) -> Plan:
    """Check every sheet; the plan's issues list every error found, row by row."""
    plan = Plan()
    by_name = {s.name: s for s in sheets}
    unit_codes = set(existing.units)
    if "units" in by_name and _columns(plan, by_name["units"]):
        unit_codes = _units(plan, by_name["units"], existing)
    emails = set(existing.people)
    if "people" in by_name and _columns(plan, by_name["people"]):
        emails = _people(plan, by_name["people"], existing, unit_codes)
    if "roles" in by_name and _columns(plan, by_name["roles"]):
        _roles(plan, by_name["roles"], existing, unit_codes, emails)
    return plan
