"""Test worlds for the page tests: a seeded organisation with passwords, driven through the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.pages.demo_access import give_demo_passwords
from flows import engine
from flows.dispatch import start_queued
from models import Gate, Person
from tests import helpers

PASSWORD = "Chefoskop-prov-2027"
SIGN_IN_ROLES = ("processagare", "processledare", "bestallare", "chef")


@dataclass
class World:
    """A started process and the people who sign in to it."""

    process_id: int
    emails: dict[str, str]
    ids: dict[str, int]
    admin_email: str


def build_world(factory: sessionmaker[Session], now: datetime, managers: int = 4) -> World:
    """Seed an organisation, start its process with step 1 open, and give sign-in people passwords."""
    with factory() as s:
        started = helpers.start(s, managers=managers, now=now)
        people = {role: started.org.by_role[role][0] for role in SIGN_IN_ROLES}
        admin = s.scalar(select(Person).where(Person.organisation_id == started.org.organisation.id,
                                              Person.is_org_admin.is_(True)))
        give_demo_passwords(s, started.org.organisation.id, PASSWORD,
                            only=[p.id for p in [*people.values(), admin]])
        s.commit()
        return World(started.process_id, {r: p.email for r, p in people.items()},
                     {r: p.id for r, p in people.items()}, admin.email)


def _open_gates(s: Session, process_id: int) -> list[Gate]:
    return list(s.scalars(select(Gate).where(Gate.process_id == process_id, Gate.status == "open")))


def _pass_gate(s: Session, world: World, gate: Gate, now: datetime) -> list:
    if gate.kind == "consultation":
        ctx = helpers.ctx_for(s, world.ids["processledare"], now)
        engine.record_consultation(ctx, gate.id, subject="Samverkan", held_on=now.date(),
                                   participants=["Vision", "Kommunal"], outcome="Informerade")
    else:
        decider = gate.requirements["decider"]
        ctx = helpers.ctx_for(s, world.ids[decider], now)
        engine.decide_gate(ctx, gate.id, "approve")
    return ctx.queued


def drive_to_gate(factory: sessionmaker[Session], world: World, key: str, now: datetime) -> int:
    """Do the work and pass the gates of the open step until gate ``key`` waits; returns its id."""
    for _ in range(30):
        with factory() as s:
            gates = _open_gates(s, world.process_id)
            target = next((g for g in gates if g.key == key), None)
            if target is not None:
                return target.id
            queued = []
            for gate in gates:
                queued += _pass_gate(s, world, gate, now)
            if not gates:
                queued += helpers.finish_phase_tasks(s, world.process_id, now)
            s.commit()
        start_queued(queued, wait=True)
    raise AssertionError(f"gate {key} never opened")


def pass_open_gates(factory: sessionmaker[Session], world: World, now: datetime) -> None:
    """Approve (or record) every gate that is open now, then open any step that was queued."""
    with factory() as s:
        queued = []
        for gate in _open_gates(s, world.process_id):
            queued += _pass_gate(s, world, gate, now)
        s.commit()
    start_queued(queued, wait=True)


def deliver(factory: sessionmaker[Session], settings) -> object:
    """Send the outbox in a worker thread (Playwright's sync API may hold this thread's event loop)."""
    from concurrent.futures import ThreadPoolExecutor

    from notifications.sender import deliver_all_sync

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(deliver_all_sync, factory, settings).result()
