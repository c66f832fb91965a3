"""Fixtures for the survey tests: organisations and processes walked through the engine."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import surveys.hooks  # noqa: F401 - registers the AFTER_OPEN hooks as flows.opening.HOOK_MODULES would
from chefoskop import clock
from chefoskop.seed import build_organisation
from flows import engine
from flows.dispatch import start_queued
from flows.engine.queries import step_spec
from models import Gate, Person, Process, RoleAssignment, StepInstance, Task
from roles.resolve import holders

T0 = datetime(2027, 1, 11, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Stockholm


@dataclass
class World:
    """One organisation's process, its people by role, and the simulated time."""

    factory: sessionmaker[Session]
    process_id: int
    organisation_id: int
    by_role: dict[str, list[int]]
    now: datetime = T0

    def tick(self, days: int = 1) -> datetime:
        """Move the simulated clock on."""
        self.now += timedelta(days=days)
        return self.now


def _field_value(kind: str, label: str):
    return {"number": 1, "date": date(2027, 1, 15).isoformat()}.get(kind, f"{label}: testsvar")


def _do_tasks(s: Session, process_id: int, now: datetime, skip_roles: set[str]) -> list:
    queued = []
    for task in s.scalars(select(Task).where(Task.process_id == process_id,
                                             Task.status.in_(("open", "claimed"))).order_by(Task.id)):
        if task.role in skip_roles:
            continue
        who = task.assignee_id or sorted(c.person_id for c in task.candidates)[0]
        ctx = engine.Context(s, engine.Actor.person(who), now)
        if task.assignee_id is None:
            engine.claim(ctx, task.id)
        process = s.get(Process, task.process_id)
        spec = step_spec(process, s.get(StepInstance, task.step_id)).activity(task.activity_key)
        engine.complete(ctx, task.id, {f.key: _field_value(f.type, f.label.sv) for f in spec.fields})
        queued += ctx.queued
    return queued


def _do_gates(s: Session, process_id: int, now: datetime) -> list:
    queued = []
    for gate in s.scalars(select(Gate).where(Gate.process_id == process_id, Gate.status == "open")
                          .order_by(Gate.id)):
        if gate.kind == "consultation":
            leader = holders(s, process_id, "processledare", now)[0]
            ctx = engine.Context(s, engine.Actor.person(leader.id), now)
            body_id = s.scalar(select(RoleAssignment.body_id).where(
                RoleAssignment.process_id == process_id, RoleAssignment.role == "samverkan"))
            engine.record_consultation(ctx, gate.id, subject="Samverkan", held_on=now.date(),
                                       participants=["Facket"], outcome="Samverkat.", body_id=body_id)
        else:
            decider = holders(s, process_id, gate.requirements["decider"], now)[0]
            ctx = engine.Context(s, engine.Actor.person(decider.id), now)
            engine.decide_gate(ctx, gate.id, "approve", evidence={"note": "Godkänt"})
        queued += ctx.queued
    return queued


def step_status(world: World, step_no: int) -> tuple[str, str | None]:
    """(status, phase) of one step of the world's process."""
    with world.factory() as s:
        step = s.scalars(select(StepInstance).where(StepInstance.process_id == world.process_id,
                                                    StepInstance.step_no == step_no)).one()
        return step.status, step.phase


def advance_until(world: World, done, *, skip_roles: frozenset[str] = frozenset({"chef", "ledning"}),
                  limit: int = 60) -> None:
    """Act for everyone but ``skip_roles`` (through the engine) until ``done(world)`` holds."""
    for _ in range(limit):
        if done(world):
            return
        with clock.simulated_clock(lambda: world.now), world.factory() as s, s.begin():
            queued = _do_tasks(s, world.process_id, world.now, set(skip_roles))
            queued += _do_gates(s, world.process_id, world.now)
        with clock.simulated_clock(lambda: world.now):
            start_queued(queued, wait=True)
        world.tick()
    raise AssertionError("the process did not get there")


def until_step_open(step_no: int):
    """A ``done`` predicate: step ``step_no`` has opened (its survey is out)."""
    return lambda world: step_status(world, step_no)[0] in ("open", "closed")


def until_phase(step_no: int, phase: str):
    """A ``done`` predicate: step ``step_no`` is open in ``phase``."""
    return lambda world: step_status(world, step_no) == ("open", phase)


def make_world(factory: sessionmaker[Session], managers: int = 12, seed: int = 7,
               groups: list[int] | None = None, names: list[str] | None = None) -> World:
    """An organisation with a started process; ``groups`` sizes define the mapping groups."""
    from surveys.groups import define_mapping_groups

    with clock.simulated_clock(lambda: T0), factory() as s, s.begin():
        seeded = build_organisation(s, f"Testkommun {seed}", managers, seed=seed)
        starter = seeded.by_role["processledare"][0]
        ctx = engine.Context(s, engine.Actor.person(starter.id), T0)
        process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet", seeded.roster)
        by_role = {r: [p.id for p in people] for r, people in seeded.by_role.items()}
        if groups:
            chefs = sorted(by_role["chef"])
            random.Random(seed).shuffle(chefs)
            layout, start = {}, 0
            for size, name in zip(groups, names or [f"Grupp {chr(65 + i)}" for i in range(len(groups))],
                                  strict=True):
                layout[name] = chefs[start:start + size]
                start += size
            define_mapping_groups(s, process.id, layout)
        world = World(factory, process.id, seeded.organisation.id, by_role)
        queued = ctx.queued
    with clock.simulated_clock(lambda: T0):
        start_queued(queued, wait=True)
    return world


def person_locale(factory: sessionmaker[Session], person_id: int, locale: str) -> None:
    """Set a person's language."""
    with factory() as s, s.begin():
        s.get(Person, person_id).locale = locale


@pytest.fixture
def world_factory(session_factory: sessionmaker[Session]):
    """Build a world on the test database: ``world_factory(managers=..., groups=[...])``."""
    return lambda **kw: make_world(session_factory, **kw)
