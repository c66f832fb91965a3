"""The mandate behind an action plan: which units a plan owner holds their level's role for (pure).

A plan at level B (a unit) or C (a workplace) belongs to the manager of that very unit: the
owner must act in the level's role (``PLAN_OWNER_ROLE_BY_LEVEL``) through an assignment scoped
to the plan's unit. An assignment for another unit gives no mandate here, and neither does one
without a unit (it names no workplace). The overall plan (level A) may name its top unit or
none; an unscoped ``ledning`` assignment covers the whole organisation.

"Acting in the role" follows ``roles.resolve``: someone who has delegated the role for a period
acts through their delegate, who then holds the delegator's units. Nothing here reads the
database; the engine passes the process's ``RoleData``.
"""

from __future__ import annotations

from datetime import datetime

from roles.catalogue import PLAN_OWNER_ROLE_BY_LEVEL
from roles.resolve import Assignment, RoleData, resolve_person

UNIT_LEVELS = frozenset({"B", "C"})  # levels whose plans must name their unit


def _in_force(a: Assignment, now: datetime) -> bool:
    return a.valid_from <= now and (a.valid_to is None or now < a.valid_to)


def mandate_units(data: RoleData, role: str, person_id: int, now: datetime) -> set[int | None]:
    """The units through which ``person_id`` acts in ``role`` at ``now`` (None: an unscoped assignment).

    Their own assignments (direct or through a body) unless they have delegated the role away,
    and the assignments of anyone who has delegated the role to them.
    """
    units: set[int | None] = set()
    for a in data.assignments:
        if a.role != role or not _in_force(a, now):
            continue
        holders = [a.person_id] if a.person_id is not None else list(data.body_members.get(a.body_id, ()))
        if any(person_id in resolve_person(data, role, holder, now) for holder in holders):
            units.add(a.unit_id)
    return units


def unit_required(level: str) -> bool:
    """Whether a plan at ``level`` must name its unit (B and C)."""
    return level in UNIT_LEVELS


def covers(level: str, unit_id: int | None, units: set[int | None]) -> bool:
    """Whether holding the role through ``units`` gives a mandate for a plan of ``level`` at ``unit_id``."""
    if not units:
        return False
    if level in UNIT_LEVELS:
        return unit_id is not None and unit_id in units
    return unit_id is None or unit_id in units or None in units


def plan_mandate(data: RoleData, level: str, unit_id: int | None, owner_id: int,
                 now: datetime) -> str | None:
    """Why ``owner_id`` may not own a plan of ``level`` at ``unit_id``, or None when they may.

    'no_role': they do not act in the level's role at all; 'no_unit_mandate': they do, but not
    for this unit (or the plan names no unit where it must).
    """
    units = mandate_units(data, PLAN_OWNER_ROLE_BY_LEVEL[level], owner_id, now)
    if not units:
        return "no_role"
    return None if covers(level, unit_id, units) else "no_unit_mandate"


def owner_unit(data: RoleData, level: str, person_id: int, now: datetime) -> int | None:
    """The one unit through which ``person_id`` holds the level's role, or None (none, or several).

    For a form that makes a plan from a development area assigned to a whole level: the plan's
    unit is then the owner's own.
    """
    units = {u for u in mandate_units(data, PLAN_OWNER_ROLE_BY_LEVEL[level], person_id, now)
             if u is not None}
    return next(iter(units)) if len(units) == 1 else None
