"""Fixtures for the API tests: the app on the test database, a settable clock, and a world
of people in every role of a running process, plus a person of a foreign organisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, Integer, select, text
from sqlalchemy.orm import Session

import models
from api.security.tokens import mint_token
from chefoskop import clock
from chefoskop.settings import get_settings
from flows import engine
from models import ApiToken, Person, Task
from tests import helpers

T0 = helpers.NOW + timedelta(hours=1)
# Who tries the routes: a holder of each of the nine roles of the process (samverkan through
# its body), the organisation admin, a person of the organisation outside the process, and
# the admin of a foreign organisation.
ROLE_ACTORS = ("processagare", "processledare", "chef", "bestallare", "samverkan", "ledning",
               "stabschef", "chefers_chef", "skyddsombud")
ACTORS = (*ROLE_ACTORS[:4], "admin", *ROLE_ACTORS[4:], "outsider", "foreign")


class Clock:
    """The time the app sees; tests move it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with small parameters: the same code path, milliseconds instead of 0.1 s."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from api.security import passwords

    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: cheap.hash("placeholder"))


@pytest.fixture
def api_clock() -> Iterator[Clock]:
    """The app's clock, fixed at T0 until a test moves it."""
    c = Clock(T0)
    with clock.simulated_clock(lambda: c.now):
        yield c


@pytest.fixture
def app(session_factory, api_clock):
    """The application on the test database."""
    from api.app import create_app

    return create_app(get_settings())


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    """A client over https (the session cookie is Secure outside development)."""
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def bearer(session: Session, person: Person) -> dict[str, str]:
    """Headers authenticating as ``person`` with a fresh API token."""
    token, prefix, digest = mint_token()
    session.add(ApiToken(organisation_id=person.organisation_id, person_id=person.id, name="test",
                         prefix=prefix, token_hash=digest, created_at=T0))
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """A running process with step 1 open and its first tasks, and who is who."""

    session: Session
    process_id: int
    people: dict[str, Person]
    foreign_process_id: int
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    now: datetime = T0  # the app's time in this world

    def h(self, actor: str) -> dict[str, str]:
        """Bearer headers for an actor (a cached token per actor)."""
        if actor == "anonymous":
            return {}
        if actor not in self.headers:
            self.headers[actor] = bearer(self.session, self.people[actor])
        return self.headers[actor]

    def task(self, activity: str) -> Task:
        """The live task of ``activity`` in the process."""
        self.session.expire_all()
        return helpers.live_tasks(self.session, self.process_id, activity)[0]

    def gate(self, step_no: int, key: str):
        """The current row of a step's gate."""
        self.session.expire_all()
        return helpers.gate(self.session, self.process_id, step_no, key)


def _approve_order(session: Session, started: helpers.Started) -> None:
    gate = helpers.gate(session, started.process_id, 1, "order")
    ctx = helpers.ctx_for(session, started.person("bestallare"))
    engine.decide_gate(ctx, gate.id, "approve")
    session.commit()


def build_world(session: Session) -> World:
    """Two organisations: ours with a process at step 1 (order approved), and a foreign one."""
    ours = helpers.start(session, managers=2, seed=7)
    _approve_order(session, ours)
    theirs = helpers.start(session, managers=1, seed=8)
    org_id = ours.org.organisation.id
    admin = Person(organisation_id=org_id, name="Ada Admin", email="ada.admin@test.se",
                   is_org_admin=True)
    session.add(admin)
    union = next(m.person_id for m in ours.org.samverkan.members if m.capacity != "arbetsgivare")
    foreign = session.scalar(select(Person).where(
        Person.organisation_id == theirs.org.organisation.id, Person.is_org_admin.is_(True)))
    outsider = Person(organisation_id=org_id, name="Olle Utanför", email="olle.utanfor@test.se",
                      unit_id=ours.org.by_role["chef"][0].unit_id)  # in no process at all
    session.add(outsider)
    session.commit()
    by_role = ours.org.by_role
    people = {role: by_role[role][0]
              for role in ("processagare", "processledare", "chef", "bestallare", "stabschef",
                           "chefers_chef", "skyddsombud")}
    # The first of ledning is the kommundirektör (an admin), the next the processägare: the
    # ledning actor holds ledning and nothing else.
    people["ledning"] = next(p for p in by_role["ledning"]
                             if not p.is_org_admin and p.id != people["processagare"].id)
    people.update(admin=admin, samverkan=session.get(Person, union), outsider=outsider,
                  foreign=foreign)
    return World(session, ours.process_id, people, theirs.process_id)


# Building a world through the engine takes a while; build each kind once per run, keep
# its rows, and copy them into the (emptied) database for every test that asks for it.
_TEMPLATES: dict[str, tuple[dict[str, list[dict]], dict]] = {}


def _capture(engine: Engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in conn.execute(select(t))]
                for t in models.Base.metadata.sorted_tables}


def _restore(engine: Engine, rows: dict[str, list[dict]]) -> None:
    with engine.begin() as conn:
        for table in models.Base.metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(table.insert(), rows[table.name])
        if engine.dialect.name == "postgresql":
            for table in models.Base.metadata.sorted_tables:  # sequences: integer ids only
                if "id" in table.c and table.c.id.primary_key and isinstance(table.c.id.type, Integer):
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM \"{table.name}\""))


def _empty(engine: Engine) -> None:
    from tests.conftest import _empty_tables

    _empty_tables(engine)


def world_from_template(session: Session, name: str, build) -> World:
    """The world ``name``: built by ``build(session)`` the first time, copied afterwards."""
    engine = session.get_bind()
    if name not in _TEMPLATES:
        world = build(session)
        session.commit()
        meta = {"process_id": world.process_id, "foreign_process_id": world.foreign_process_id,
                "people": {actor: p.id for actor, p in world.people.items()}}
        _TEMPLATES[name] = (_capture(engine), meta)
        session.close()
        _empty(engine)
    rows, meta = _TEMPLATES[name]
    _restore(engine, rows)
    people = {actor: session.get(Person, pid) for actor, pid in meta["people"].items()}
    return World(session, meta["process_id"], people, meta["foreign_process_id"])


@pytest.fixture
def world(session: Session, api_clock: Clock) -> World:
    """The standard world."""
    return world_from_template(session, "world", build_world)


def finish_live_tasks(world: World) -> None:
    """Complete every live task once, as the person routed it (through the engine)."""
    helpers.finish_phase_tasks(world.session, world.process_id)
    world.session.commit()


def to_step_approval(world: World) -> None:
    """Drive step 1 until its step_approval gate (processägare) is open."""
    s = world.session
    finish_live_tasks(world)  # forbered
    finish_live_tasks(world)  # aktivitet; the samverkan gate opens before analys
    consult = world.gate(1, "samverkan_design")
    ctx = helpers.ctx_for(s, world.people["processledare"].id)
    engine.record_consultation(ctx, consult.id, subject="Upplägg", held_on=helpers.NOW.date(),
                               participants=["Vision"], outcome="Tillstyrkt")
    s.commit()
    finish_live_tasks(world)  # analys
    assert world.gate(1, "step_approval").status == "open"
