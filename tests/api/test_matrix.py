"""The authorisation matrix: every signed-in route × each role × a foreign person × anonymous.

Each case gets a fresh world. Actors who may not act are tried first (their request must
change nothing), then those who may. "ok" is any 2xx; an actor who may act but comes after
the first success may also meet 409 (the state moved on). The foreign person is the admin of
another organisation: our objects are 404 to them; routes about their own organisation work.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from flows import engine
from models import OutboxMessage, RoleAssignment, Unit
from tests import helpers
from tests.api.conftest import ACTORS, T0, World, finish_live_tasks, to_step_approval
from tests.api.test_instruments import OWN as OWN_INSTRUMENT

OURS = ("processagare", "processledare", "chef", "bestallare", "admin", "samverkan")
EVERYONE = {a: "ok" for a in ACTORS}
IN_ORG = {**{a: "ok" for a in OURS}, "foreign": 404}


def only(*allowed: str, others: int = 403, foreign: int | str = 404) -> dict[str, int | str]:
    """Expected outcomes: ``allowed`` succeed, the rest of ours get ``others``."""
    return {**{a: ("ok" if a in allowed else others) for a in OURS}, "foreign": foreign}


@dataclass
class Case:
    """One route, how to reach it in a world, and who may use it."""

    name: str
    method: str
    path: Callable[[World], str]
    expect: dict[str, int | str]
    body: Callable[[World], dict] | None = None
    prepare: Callable[[World], None] = lambda w: None
    files: Callable[[World], dict] | None = None
    route: str = ""  # the route's path template, where a test needs it


def _task(activity: str) -> Callable[[World], int]:
    return lambda w: w.task(activity).id


def _unit_id(w: World) -> int:
    return w.session.scalar(select(Unit.id).where(Unit.organisation_id == w.people["chef"].organisation_id))


def _assignment_id(w: World) -> int:
    return w.session.scalar(select(RoleAssignment.id).where(
        RoleAssignment.process_id == w.process_id, RoleAssignment.role == "chef"))


def _outbox_id(w: World) -> int:
    return w.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.organisation_id == w.people["chef"].organisation_id))


def _claimed(w: World) -> None:
    engine.claim(helpers.ctx_for(w.session, w.people["processledare"].id), w.task("process_plan").id)
    w.session.commit()


def _delegated(w: World) -> None:
    ctx = helpers.ctx_for(w.session, w.people["processledare"].id, T0)
    engine.delegate(ctx, w.process_id, "processledare", w.people["chef"].id, starts_at=T0,
                    ends_at=T0 + timedelta(days=5))
    w.session.commit()


def _consultation_open(w: World) -> None:
    finish_live_tasks(w)
    finish_live_tasks(w)


def _spare_person_id(w: World) -> int:
    """A person of our organisation with no role anywhere (one the admin may erase)."""
    from models import Person

    found = w.session.scalar(select(Person.id).where(Person.email == "spare.person@test.se"))
    if found is None:
        spare = Person(organisation_id=w.people["chef"].organisation_id, name="Sara Spare",
                       email="spare.person@test.se")
        w.session.add(spare)
        w.session.commit()
        found = spare.id
    return found


def _token_id(w: World) -> int:
    from models import ApiToken

    w.h("chef")
    return w.session.scalar(select(ApiToken.id).where(ApiToken.person_id == w.people["chef"].id))


def _roster(w: World) -> list[dict]:
    rows = w.session.scalars(select(RoleAssignment).where(RoleAssignment.process_id == w.process_id))
    return [{"role": r.role, "person_id": r.person_id, "body_id": r.body_id} for r in rows]


P = "/api/v1"
CASES = [
    Case("organisations", "GET", lambda w: f"{P}/organisations", EVERYONE),
    Case("organisation", "GET", lambda w: f"{P}/organisations/{w.people['chef'].organisation_id}", IN_ORG),
    Case("units", "GET", lambda w: f"{P}/units", EVERYONE),
    Case("unit create", "POST", lambda w: f"{P}/units", only("admin", foreign="ok"),
         body=lambda w: {"code": "M1", "name": "Matris", "level": "B"}),
    Case("unit", "GET", lambda w: f"{P}/units/{_unit_id(w)}", IN_ORG),
    Case("unit update", "PATCH", lambda w: f"{P}/units/{_unit_id(w)}", only("admin"),
         body=lambda w: {"name": "Omdöpt"}),
    Case("people", "GET", lambda w: f"{P}/people", EVERYONE),
    Case("person create", "POST", lambda w: f"{P}/people", only("admin", foreign="ok"),
         body=lambda w: {"name": "Mats Matris", "email": "mats@matris.se"}),
    Case("person", "GET", lambda w: f"{P}/people/{w.people['chef'].id}", IN_ORG),
    Case("person update", "PATCH", lambda w: f"{P}/people/{w.people['chef'].id}",
         only("admin", "chef"), body=lambda w: {"digest": True}),
    Case("password set", "POST", lambda w: f"{P}/people/{w.people['chef'].id}/password",
         only("admin"), body=lambda w: {"password": "ett långt lösenord"}),
    Case("person export", "GET", lambda w: f"{P}/people/{w.people['chef'].id}/export", only("admin", "chef")),
    Case("person erase", "POST", lambda w: f"{P}/people/{_spare_person_id(w)}/erase", only("admin")),
    Case("bodies", "GET", lambda w: f"{P}/bodies", EVERYONE),
    Case("processes", "GET", lambda w: f"{P}/processes", EVERYONE),
    Case("process start", "POST", lambda w: f"{P}/processes", only("admin", foreign=422),
         body=lambda w: {"name": "Matris", "roster": _roster(w)}),
    Case("process", "GET", lambda w: f"{P}/processes/{w.process_id}", IN_ORG),
    Case("process cancel", "POST", lambda w: f"{P}/processes/{w.process_id}/cancel",
         only("processagare", "bestallare"), body=lambda w: {"reason": "Matris"}),
    Case("timeline", "GET", lambda w: f"{P}/processes/{w.process_id}/timeline", IN_ORG),
    Case("steps", "GET", lambda w: f"{P}/processes/{w.process_id}/steps", IN_ORG),
    Case("step", "GET", lambda w: f"{P}/steps/{helpers.step(w.session, w.process_id, 1).id}", IN_ORG),
    Case("process tasks", "GET", lambda w: f"{P}/processes/{w.process_id}/tasks", IN_ORG),
    Case("roles", "GET", lambda w: f"{P}/processes/{w.process_id}/roles", IN_ORG),
    Case("role assign", "POST", lambda w: f"{P}/processes/{w.process_id}/roles",
         only("processagare", "processledare"),
         body=lambda w: {"role": "stabschef", "person_id": w.people["admin"].id}),
    Case("role end", "POST", lambda w: f"{P}/role-assignments/{_assignment_id(w)}/end",
         only("processagare", "processledare")),
    Case("delegations", "GET", lambda w: f"{P}/processes/{w.process_id}/delegations", IN_ORG),
    Case("delegate", "POST", lambda w: f"{P}/processes/{w.process_id}/delegations",
         only("processledare"), body=lambda w: {
             "role": "processledare", "to_person_id": w.people["admin"].id,
             "starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(days=3)).isoformat()}),
    Case("delegation revoke", "POST", lambda w: f"{P}/delegations/1/revoke",
         only("processledare", "chef", "processagare"), prepare=_delegated),
    Case("inbox", "GET", lambda w: f"{P}/tasks", EVERYONE),
    Case("task", "GET", lambda w: f"{P}/tasks/{_task('process_plan')(w)}", IN_ORG),
    Case("claim", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/claim",
         only("processledare"), body=lambda w: {}),
    Case("unclaim", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/unclaim",
         only("processledare"), body=lambda w: {}, prepare=_claimed),
    Case("complete", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/complete",
         only("processledare"), body=lambda w: {
             "data": {"purpose": "a", "goals": "b", "scope": "c"},
             "expected_version": w.task("process_plan").version}),
    Case("reassign", "POST", lambda w: f"{P}/tasks/{_task('appoint_roles')(w)}/reassign",
         only("processagare", "processledare"), body=lambda w: {
             "to_person_id": w.people["chef"].id, "expected_version": w.task("appoint_roles").version}),
    Case("gates", "GET", lambda w: f"{P}/processes/{w.process_id}/gates", IN_ORG),
    Case("gate", "GET", lambda w: f"{P}/gates/{w.gate(1, 'order').id}", IN_ORG),
    Case("decide", "POST", lambda w: f"{P}/gates/{w.gate(1, 'step_approval').id}/decide",
         only("processagare"), prepare=to_step_approval,
         body=lambda w: {"decision": "approve", "expected_version": w.gate(1, "step_approval").version}),
    Case("consultation", "POST", lambda w: f"{P}/gates/{w.gate(1, 'samverkan_design').id}/consultations",
         only("processagare", "processledare"), prepare=_consultation_open, body=lambda w: {
             "subject": "S", "held_on": "2027-01-20", "participants": ["Vision"], "outcome": "Ja"}),
    Case("audit", "GET", lambda w: f"{P}/audit", only("admin", foreign="ok")),
    Case("process audit", "GET", lambda w: f"{P}/audit?process_id={w.process_id}",
         only("admin", "processagare", "processledare")),
    Case("outbox", "GET", lambda w: f"{P}/outbox", only("admin", foreign="ok")),
    Case("outbox retry", "POST", lambda w: f"{P}/outbox/retry", only("admin", foreign="ok"),
         body=lambda w: {}),
    Case("outbox retry one", "POST", lambda w: f"{P}/outbox/{_outbox_id(w)}/retry", only("admin")),
    Case("tokens", "GET", lambda w: f"{P}/api-tokens", only("admin", foreign="ok")),
    Case("token create", "POST", lambda w: f"{P}/api-tokens", only("admin", foreign="ok"),
         body=lambda w: {"name": "Matris"}),
    Case("token revoke", "DELETE", lambda w: f"{P}/api-tokens/{_token_id(w)}", only("admin")),
    Case("import", "POST", lambda w: f"{P}/imports/structure", only("admin", foreign="ok"),
         files=lambda w: {"units": ("units.csv", b"code,name,level,parent_code\nM9,Matris,B,A1\n")}),
    Case("instruments", "GET", lambda w: f"{P}/instruments", EVERYONE),
    Case("instrument import", "POST", lambda w: f"{P}/instruments", only("admin", foreign="ok"),
         files=lambda w: {"file": ("own.yaml", OWN_INSTRUMENT.encode())}),
    Case("session", "GET", lambda w: f"{P}/auth/session", EVERYONE),
    Case("password change", "POST", lambda w: f"{P}/auth/password",
         {a: 422 for a in ACTORS}, body=lambda w: {"current_password": "x", "new_password": "y" * 12}),
    Case("logout", "POST", lambda w: f"{P}/auth/logout", EVERYONE),
]


def _order(expect: dict[str, int | str]) -> list[str]:
    """Refused actors first (nothing may change), then the allowed ones."""
    return ["anonymous"] + sorted(ACTORS, key=lambda a: expect[a] == "ok")


def _request(world: World, case: Case) -> dict:
    """The path and body of the case, fixed before anyone acts."""
    request = {"method": case.method, "url": case.path(world)}
    if case.body is not None:
        request["json"] = case.body(world)
    return request


def _call(client, world: World, case: Case, request: dict, actor: str):
    files = case.files(world) if case.files is not None else None
    return client.request(**request, headers=world.h(actor), files=files)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_authorisation_matrix(client, world, case: Case):
    run_case(client, world, case)


def run_case(client, world: World, case: Case) -> None:
    """Try the case as every actor and check each outcome."""
    case.prepare(world)
    for actor in ACTORS:
        world.h(actor)  # tokens first, so the snapshots below compare only the request's effect
    request = _request(world, case)
    succeeded = False
    for actor in _order(case.expect):
        expected = 401 if actor == "anonymous" else case.expect[actor]
        before = helpers.snapshot(world.session) if expected != "ok" and case.method != "GET" else None
        r = _call(client, world, case, request, actor)
        if expected == "ok":
            if succeeded and case.method != "GET":  # the state moved on; only authorisation counts
                assert r.status_code not in (401, 403, 404), (actor, r.status_code, r.text)
            else:
                assert 200 <= r.status_code < 300, (actor, r.status_code, r.text)
            succeeded = succeeded or r.status_code < 300
        else:
            assert r.status_code == expected, (actor, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            if before is not None and expected != 422:
                after = helpers.snapshot(world.session)
                assert _without_tokens(after) == _without_tokens(before), actor


def _without_tokens(snapshot: dict) -> dict:
    """A snapshot without sign-in bookkeeping (a token's last use)."""
    return {k: v for k, v in snapshot.items() if k != "api_token"}


def _template_regex(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def all_routes(app) -> set[tuple[str, str]]:
    """Every (method, path template) in the app's OpenAPI document."""
    return {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}


def routes_of(app, cases: list[Case], world: World) -> set[tuple[str, str]]:
    """The (method, path template) pairs the cases reach."""
    found = set()
    for case in cases:
        path = case.path(world).split("?", 1)[0]
        for method, template in all_routes(app):
            if method == case.method and _template_regex(template).match(path):
                found.add((method, template))
    return found


PUBLIC = {("POST", "/api/v1/auth/login"), ("GET", "/t/{token}"), ("GET", "/api/v1/health")}


def test_every_signed_in_route_is_in_the_matrix(app, world):
    from tests.api.test_followup_matrix import FOLLOWUP_CASES
    from tests.api.test_plans_matrix import PLAN_CASES

    covered = routes_of(app, CASES, world) | {(c.method, c.route) for c in PLAN_CASES + FOLLOWUP_CASES}
    assert all_routes(app) - PUBLIC == covered
