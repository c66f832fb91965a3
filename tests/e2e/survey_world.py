"""A process whose step 4 survey is out, for the survey page tests (driven through the engine)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlparse

from sqlalchemy.orm import Session, sessionmaker

from api.pages.demo_access import give_demo_passwords
from chefoskop import clock
from chefoskop.seed import build_organisation
from flows import engine
from flows.dispatch import start_queued
from models import Person
from surveys.distribution import close_survey, current_survey, respondent_link
from surveys.groups import define_mapping_groups
from surveys.simulate import simulate_answers
from tests.surveys.conftest import World, advance_until, until_phase

SIGN_IN_ROLES = ("processledare", "processagare", "chef")


@dataclass
class SurveyWorld:
    """The process, its step-4 survey, people by role, and the e-mail of those who sign in."""

    world: World
    survey_id: int
    emails: dict[str, str]

    @property
    def process_id(self) -> int:
        """The process's id."""
        return self.world.process_id

    def link(self, factory: sessionmaker[Session], person_id: int) -> str:
        """The path of a person's personal link (``/s/<token>``)."""
        with factory() as s:
            return urlparse(respondent_link(s, self.survey_id, person_id)).path


def _started_world(factory: sessionmaker[Session], sizes: list[int], seed: int, now: datetime) -> World:
    """As ``tests.surveys.conftest.make_world``, but started at ``now`` so roles hold for the live app."""
    with clock.simulated_clock(lambda: now), factory() as s, s.begin():
        seeded = build_organisation(s, f"Enkätkommun {seed}", sum(sizes), seed=seed)
        starter = seeded.by_role["processledare"][0]
        ctx = engine.Context(s, engine.Actor.person(starter.id), now)
        process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet", seeded.roster)
        by_role = {r: [p.id for p in people] for r, people in seeded.by_role.items()}
        chefs = sorted(by_role["chef"])
        layout, start = {}, 0
        for index, size in enumerate(sizes):
            layout[f"Grupp {chr(65 + index)}"] = chefs[start:start + size]
            start += size
        define_mapping_groups(s, process.id, layout)
        world = World(factory, process.id, seeded.organisation.id, by_role, now)
        queued = ctx.queued
    with clock.simulated_clock(lambda: now):
        start_queued(queued, wait=True)
    return world


def build_survey_world(factory: sessionmaker[Session], groups: list[int] | None = None,
                       seed: int = 11) -> SurveyWorld:
    """Managers in groups A, B, C of 3, 6 and 6 (by default), mapping 1 open for answers."""
    from tests.e2e.world import PASSWORD

    sizes = groups or [3, 6, 6]
    world = _started_world(factory, sizes, seed, datetime.now(UTC))
    advance_until(world, until_phase(4, "aktivitet"))
    with factory() as s, s.begin():
        survey = current_survey(s, world.process_id, 4)
        people = [world.by_role[r][0] for r in SIGN_IN_ROLES]
        give_demo_passwords(s, world.organisation_id, PASSWORD, only=people)
        emails = {r: s.get(Person, world.by_role[r][0]).email for r in SIGN_IN_ROLES}
        return SurveyWorld(world, survey.id, emails)


def simulate_others(factory: sessionmaker[Session], sw: SurveyWorld, share: float = 1.0) -> int:
    """Let the simulated managers who have not answered do so (committed), as ``chefoskop simulate`` does."""
    with clock.simulated_clock(lambda: sw.world.now), factory() as s, s.begin():
        return simulate_answers(s, sw.survey_id, random.Random(3), answer_share=share)


def open_logbook(factory: sessionmaker[Session], sw: SurveyWorld) -> SurveyWorld:
    """Close mapping 1 as the processledare and walk on until the logbook (mapping 2) is out."""
    world = sw.world
    with clock.simulated_clock(lambda: world.now), factory() as s, s.begin():
        ctx = engine.Context(s, engine.Actor.person(world.by_role["processledare"][0]), world.now)
        close_survey(ctx, sw.survey_id)
        queued = list(ctx.queued)
    with clock.simulated_clock(lambda: world.now):
        start_queued(queued, wait=True)
    advance_until(world, until_phase(5, "aktivitet"))
    with factory() as s:
        return SurveyWorld(world, current_survey(s, world.process_id, 5).id, sw.emails)
