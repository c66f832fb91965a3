"""The demo organisation: the fictional municipality Västra Söderbotten."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from chefoskop.db import unit_of_work
from chefoskop.seed import build_organisation, slugify
from flows import engine
from models import Organisation, Person, Process, RoleAssignment

DEMO_NAME = "Västra Söderbotten"
DEMO_SEED = 2027


@dataclass
class DemoResult:
    """What ``create_demo`` made."""

    name: str
    organisation_id: int
    process_id: int | None
    queued: list[tuple[int, int]]
    sign_in_lines: list[str]
    admins: list[str] = field(default_factory=list)  # "Name <email>" of the organisation admins


ADMIN_MARK = "[admin]"  # after a person who is the organisation admin (/admin, /audit)


def _sign_in_lines(session, organisation_id: int) -> list[str]:
    """Who to sign in as: one or two people per role, with the shared demo password; the
    organisation admin is marked ``[admin]``."""
    rows = session.execute(
        select(RoleAssignment.role, Person.name, Person.email, Person.is_org_admin)
        .join(Person, Person.id == RoleAssignment.person_id)
        .join(Process, Process.id == RoleAssignment.process_id)
        .where(Process.organisation_id == organisation_id)
        .order_by(RoleAssignment.id)).all()
    seen: dict[str, int] = {}
    lines: list[str] = []
    for role, name, email, is_admin in rows:
        seen[role] = seen.get(role, 0) + 1
        if seen[role] <= 2:
            lines.append(f"{role:14} {name} <{email}>" + (f"  {ADMIN_MARK}" if is_admin else ""))
    return lines


def _admins(session, organisation_id: int) -> list[str]:
    """The organisation admins, who see /admin and /audit for every process: 'Name <email>'."""
    rows = session.execute(select(Person.name, Person.email).where(
        Person.organisation_id == organisation_id, Person.is_org_admin.is_(True),
        Person.active.is_(True)).order_by(Person.id)).all()
    return [f"{name} <{email}>" for name, email in rows]


def create_demo(managers: int = 12) -> DemoResult:
    """Create Västra Söderbotten (once) with every role filled and passwords set; start its process."""
    from api.pages.demo_access import give_demo_passwords

    with unit_of_work() as s:
        existing = s.scalar(select(Organisation).where(Organisation.slug == slugify(DEMO_NAME)))
        if existing is not None:
            return DemoResult(DEMO_NAME, existing.id, None, [], _sign_in_lines(s, existing.id),
                              _admins(s, existing.id))
        seeded = build_organisation(s, DEMO_NAME, managers, seed=DEMO_SEED)
        give_demo_passwords(s, seeded.organisation.id)
        leader = seeded.by_role["processledare"][0]
        ctx = engine.Context(s, engine.Actor.person(leader.id))
        process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet 2027",
                                       seeded.roster)
        return DemoResult(DEMO_NAME, seeded.organisation.id, process.id, ctx.queued,
                          _sign_in_lines(s, seeded.organisation.id), _admins(s, seeded.organisation.id))
