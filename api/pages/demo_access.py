"""Demo sign-in: give every person of a demo organisation one shared password (never in production).

Meant for ``chefoskop demo`` (the CLI is not ours to change; adopt by calling
``give_demo_passwords`` there) and for the page tests.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.security.passwords import hash_password
from chefoskop.settings import get_settings
from models import Person

DEMO_PASSWORD = "chefoskop-demo"


def give_demo_passwords(session: Session, organisation_id: int, password: str = DEMO_PASSWORD,
                        *, only: list[int] | None = None) -> list[str]:
    """Set ``password`` for the organisation's people (or those in ``only``); returns their e-mails."""
    if get_settings().environment == "production":
        raise RuntimeError("demo passwords are refused in production")
    digest = hash_password(password)  # one hash shared by all: Argon2 is slow on purpose
    stmt = select(Person).where(Person.organisation_id == organisation_id, Person.active.is_(True))
    if only is not None:
        stmt = stmt.where(Person.id.in_(only))
    people = list(session.scalars(stmt.order_by(Person.id)))
    for person in people:
        person.password_hash = digest
    session.flush()
    return [p.email for p in people]
