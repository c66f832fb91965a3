"""Schemas of organisations, units, people and bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from models.schemas.common import Id, InModel, OutModel, text

Level = Literal["A", "B", "C"]
Locale = Literal["sv", "en"]


class OrganisationOut(OutModel):
    """A municipality, region or municipal company."""

    id: int
    name: str
    slug: str
    kind: str
    locale: str
    anonymity_threshold: int


class UnitOut(OutModel):
    """A unit in the hierarchy (A: top management, B: managers' managers, C: first line)."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class UnitCreate(InModel):
    """A new unit."""

    code: text(60)
    name: text(200)
    level: Level
    parent_id: Id | None = None


class UnitUpdate(InModel):
    """Changes to a unit; fields left out stay as they are."""

    name: text(200) | None = None
    parent_id: Id | None = None


class PersonOut(OutModel):
    """Someone in the organisation."""

    id: int
    name: str
    email: str
    title: str | None
    unit_id: int | None
    locale: str
    digest: bool
    is_org_admin: bool
    active: bool


class PersonCreate(InModel):
    """A new person."""

    name: text(200)
    email: EmailStr = Field(max_length=320)
    title: text(200, required=False) | None = None
    unit_id: Id | None = None
    locale: Locale = "sv"
    digest: bool = False
    is_org_admin: bool = False


class PersonUpdate(InModel):
    """Changes to a person; fields left out stay. Only an admin may change the last four."""

    locale: Locale | None = None
    digest: bool | None = None
    name: text(200) | None = None
    title: text(200, required=False) | None = None
    email: EmailStr | None = Field(default=None, max_length=320)
    unit_id: Id | None = None
    is_org_admin: bool | None = None
    active: bool | None = None


class PasswordSet(InModel):
    """A new password, set by an admin."""

    password: text(200) = Field(min_length=10)


class BodyMemberOut(OutModel):
    """A member of a body and in what capacity."""

    person_id: int
    name: str
    capacity: str | None


class BodyOut(OutModel):
    """A body that can hold a role as a whole, such as a samverkansgrupp."""

    id: int
    name: str
    kind: str
    members: list[BodyMemberOut]
