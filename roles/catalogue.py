"""The role catalogue of Chefoskopet: keys used in code and definitions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A role someone can hold in a process."""

    BESTALLARE = "bestallare"
    PROCESSAGARE = "processagare"
    PROCESSLEDARE = "processledare"
    SAMVERKAN = "samverkan"
    LEDNING = "ledning"
    STABSCHEF = "stabschef"
    CHEFERS_CHEF = "chefers_chef"
    CHEF = "chef"
    SKYDDSOMBUD = "skyddsombud"


ALL_ROLES: frozenset[str] = frozenset(r.value for r in Role)

# Roles that run the process and may manage its tasks.
MANAGING_ROLES: frozenset[str] = frozenset({Role.PROCESSAGARE, Role.PROCESSLEDARE})

# Which role holds a mandate for action plans at each unit level.
PLAN_OWNER_ROLE_BY_LEVEL: dict[str, str] = {
    "A": Role.LEDNING,
    "B": Role.CHEFERS_CHEF,
    "C": Role.CHEF,
}


def is_known_role(role: str) -> bool:
    """Whether ``role`` is in the catalogue."""
    return role in ALL_ROLES
