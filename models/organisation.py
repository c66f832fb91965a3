"""Organisations, their unit hierarchy, people and bodies (such as samverkansgrupper)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class UnitLevel(StrEnum):
    """A: top management, B: the managers' managers, C: first-line units."""

    A = "A"
    B = "B"
    C = "C"


class Organisation(Base):
    """A municipality, region or municipal company."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="kommun")
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    anonymity_threshold: Mapped[int] = mapped_column(default=5)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Unit(Base):
    """A unit in the organisation's hierarchy."""

    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("organisation_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(1))

    parent: Mapped[Unit | None] = relationship(remote_side="Unit.id")


class Person(Base):
    """Someone in the organisation who can hold roles and receive tasks."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("organisation_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(5), default="sv")
    digest: Mapped[bool] = mapped_column(Boolean, default=False)
    is_org_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Body(Base):
    """A group that can hold a role as a whole, e.g. a samverkansgrupp."""

    __tablename__ = "body"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="samverkansgrupp")

    members: Mapped[list[BodyMember]] = relationship(cascade="all, delete-orphan")


class BodyMember(Base):
    """Membership of a person in a body."""

    __tablename__ = "body_member"

    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, index=True)
    capacity: Mapped[str | None] = mapped_column(String(80))
