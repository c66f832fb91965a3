"""The demo organisation: the fictional municipality Västra Söderbotten."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from chefoskop.db import unit_of_work
from chefoskop.seed import build_organisation, slugify
from flows import engine
from models import Organisation

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


def create_demo(managers: int = 12) -> DemoResult:
    """Create Västra Söderbotten (once) with every role filled, and start its process."""
    with unit_of_work() as s:
        existing = s.scalar(select(Organisation).where(Organisation.slug == slugify(DEMO_NAME)))
        if existing is not None:
            return DemoResult(DEMO_NAME, existing.id, None, [], [])
        seeded = build_organisation(s, DEMO_NAME, managers, seed=DEMO_SEED)
        leader = seeded.by_role["processledare"][0]
        ctx = engine.Context(s, engine.Actor.person(leader.id))
        process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet 2027",
                                       seeded.roster)
        lines = [f"{role:14} {p.name} <{p.email}>"
                 for role, people in seeded.by_role.items() for p in people[:2]]
        return DemoResult(DEMO_NAME, seeded.organisation.id, process.id, ctx.queued, lines)
