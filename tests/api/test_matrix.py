"""The authorisation matrix: every signed-in route × each actor × anonymous.

The actors: a holder of each of the nine roles of the process, the organisation admin, a
person of the organisation who takes no part in the process, and the admin of a foreign
organisation. Each case gets a fresh world. Actors who may not act are tried first (their
request must change nothing), then those who may. "ok" is any 2xx; an actor who may act but
comes after the first success may also meet 409 (the state moved on).

Where ``roles.permissions`` has a rule for a route, the case names that rule and the
expected outcome of every actor is derived from it, with the actor's standing read from the
world (their organisation, whether they are its admin, the roles they act in now): an object
the actor may not see is 404, one they may see but not change 403. Our objects are 404 to the
foreign admin; routes about their own organisation work for them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import or_, select

from flows import engine
from models import Delegation, OutboxMessage, RoleAssignment, Survey, Task, TaskCandidate, Unit
from roles import permissions as perm
from roles.permissions import ProcessFacts, TaskFacts, Viewer
from roles.resolve import load_role_data, roles_of
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey, open_survey
from surveys.simulate import simulate_answers
from tests import helpers
from tests.api.conftest import ACTORS, ROLE_ACTORS, T0, World, finish_live_tasks, to_step_approval
from tests.api.test_instruments import OWN as OWN_INSTRUMENT

# The actors the plan and follow-up matrices try (``only`` and ``IN_ORG`` are theirs).
CORE = ("processagare", "processledare", "chef", "bestallare", "admin", "samverkan")
EVERYONE = {a: "ok" for a in ACTORS}
IN_ORG = {**{a: "ok" for a in CORE}, "foreign": 404}


def only(*allowed: str, others: int = 403, foreign: int | str = 404) -> dict[str, int | str]:
    """Expected outcomes over the core actors: ``allowed`` succeed, the rest of ours get ``others``."""
    return {**{a: ("ok" if a in allowed else others) for a in CORE}, "foreign": foreign}


@dataclass(frozen=True)
class Standing:
    """An actor as ``roles.permissions`` sees them: the viewer, and their facts about the process."""

    viewer: Viewer
    facts: ProcessFacts


def standing(w: World, actor: str) -> Standing:
    """The actor's standing in the world now, read from the roster: the roles they act in
    (bodies and delegations applied); involved when named in it at all (also while their role
    is delegated away) or routed a task of the process."""
    person = w.people[actor]
    viewer = Viewer(person.id, person.organisation_id, person.is_org_admin)
    ours = w.people["chef"].organisation_id
    if person.organisation_id != ours:
        return Standing(viewer, ProcessFacts(ours))
    data = load_role_data(w.session, w.process_id)
    roles = frozenset(roles_of(data, person.id, w.now))
    named = any(a.person_id == person.id or person.id in data.body_members.get(a.body_id, ())
                for a in data.assignments) or any(d.to_person_id == person.id for d in data.delegations)
    routed = w.session.scalar(select(Task.id).outerjoin(TaskCandidate).where(
        Task.process_id == w.process_id,
        or_(Task.assignee_id == person.id, TaskCandidate.person_id == person.id)).limit(1))
    return Standing(viewer, ProcessFacts(ours, roles, involved=named or routed is not None))


Expect = dict[str, int | str] | Callable[[World], dict[str, int | str]]


def in_process(rule: Callable[..., bool] | None = None, **fixed: int | str) -> Expect:
    """A route on the world's process or something in it: 404 to whoever may not see the
    process (``perm.can_see_process``), then ``rule(viewer, facts, world)`` decides (ok or 403).
    ``fixed`` outcomes are not a matter of authorisation (the data is refused)."""
    def expect(w: World) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        for actor in ACTORS:
            s = standing(w, actor)
            if not perm.can_see_process(s.viewer, s.facts):
                out[actor] = 404
            else:
                out[actor] = "ok" if rule is None or rule(s.viewer, s.facts, w) else 403
        return {**out, **fixed}
    return expect


def of_our_org(rule: Callable[..., bool] | None = None, **fixed: int | str) -> Expect:
    """A route on an object of our organisation (a unit, a person, a mail, a token): 404
    outside it (``perm.can_read_organisation``), then ``rule(viewer, organisation_id, world)``."""
    def expect(w: World) -> dict[str, int | str]:
        org = w.people["chef"].organisation_id
        out: dict[str, int | str] = {}
        for actor in ACTORS:
            viewer = standing(w, actor).viewer
            if not perm.can_read_organisation(viewer, org):
                out[actor] = 404
            else:
                out[actor] = "ok" if rule is None or rule(viewer, org, w) else 403
        return {**out, **fixed}
    return expect


def in_own_org(rule: Callable[[Viewer, int], bool], **fixed: int | str) -> Expect:
    """A route on the viewer's own organisation: ``rule(viewer, own organisation)`` (ok or 403)."""
    def expect(w: World) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        for actor in ACTORS:
            viewer = standing(w, actor).viewer
            out[actor] = "ok" if rule(viewer, viewer.organisation_id) else 403
        return {**out, **fixed}
    return expect


def _task_facts(w: World, activity: str) -> TaskFacts:
    task = w.task(activity)
    return TaskFacts(task.status, task.assignee_id, frozenset(c.person_id for c in task.candidates))


def _chef_id(w: World) -> int:
    return w.people["chef"].id


def _delegation(w: World) -> Delegation:
    return w.session.scalar(select(Delegation).order_by(Delegation.id))


@dataclass
class Case:
    """One route, how to reach it in a world, and who may use it."""

    name: str
    method: str
    path: Callable[[World], str]
    expect: Expect  # outcome per actor, or how to derive it from the world after ``prepare``
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


def _survey_id(w: World) -> int:
    """The mapping of the world's process (the one ``_mapping_open`` sent out)."""
    return w.session.scalar(select(Survey.id).where(Survey.process_id == w.process_id).order_by(Survey.id))


def _mapping_open(w: World) -> None:
    """Mapping 1 of the world's process sent out (what opening step 4 does) and answered by
    everyone invited (through ``surveys.respond``)."""
    survey = open_survey(helpers.ctx_for(w.session, None, T0), helpers.step(w.session, w.process_id, 4))
    simulate_answers(w.session, survey.id, random.Random(4), answer_share=1.0)
    w.session.commit()


def _mapping_closed(w: World) -> None:
    """Mapping 1 closed and aggregated: its results can be read (409 before)."""
    _mapping_open(w)
    survey_id = _survey_id(w)
    close_survey(helpers.ctx_for(w.session, None, T0), survey_id)
    w.session.commit()
    start_aggregation([survey_id])  # after the commit, as the sweep and the page do
    w.session.expire_all()


P = "/api/v1"
# The results of the mappings: for the people running the process (``api.access.managed_process``).
RUNS_SURVEYS = in_process(lambda v, f, w: perm.can_manage_surveys(v, f))
READ_ORG = in_own_org(perm.can_read_organisation)
STRUCTURE = in_own_org(perm.can_manage_structure)
CASES = [
    Case("organisations", "GET", lambda w: f"{P}/organisations", READ_ORG),
    Case("organisation", "GET", lambda w: f"{P}/organisations/{w.people['chef'].organisation_id}",
         of_our_org()),
    Case("units", "GET", lambda w: f"{P}/units", READ_ORG),
    Case("unit create", "POST", lambda w: f"{P}/units", STRUCTURE,
         body=lambda w: {"code": "M1", "name": "Matris", "level": "B"}),
    Case("unit", "GET", lambda w: f"{P}/units/{_unit_id(w)}", of_our_org()),
    Case("unit update", "PATCH", lambda w: f"{P}/units/{_unit_id(w)}",
         of_our_org(lambda v, org, w: perm.can_manage_structure(v, org)),
         body=lambda w: {"name": "Omdöpt"}),
    Case("people", "GET", lambda w: f"{P}/people", READ_ORG),
    Case("person create", "POST", lambda w: f"{P}/people", STRUCTURE,
         body=lambda w: {"name": "Mats Matris", "email": "mats@matris.se"}),
    Case("person", "GET", lambda w: f"{P}/people/{w.people['chef'].id}", of_our_org()),
    Case("person update", "PATCH", lambda w: f"{P}/people/{w.people['chef'].id}",
         of_our_org(lambda v, org, w: perm.can_edit_person(v, org, _chef_id(w))),
         body=lambda w: {"digest": True}),
    Case("password set", "POST", lambda w: f"{P}/people/{w.people['chef'].id}/password",
         of_our_org(lambda v, org, w: perm.can_manage_structure(v, org)),
         body=lambda w: {"password": "ett långt lösenord"}),
    Case("person export", "GET", lambda w: f"{P}/people/{w.people['chef'].id}/export",
         of_our_org(lambda v, org, w: perm.can_export_person(v, org, _chef_id(w)))),
    Case("person erase", "POST", lambda w: f"{P}/people/{_spare_person_id(w)}/erase",
         of_our_org(lambda v, org, w: perm.can_erase_person(v, org))),
    Case("bodies", "GET", lambda w: f"{P}/bodies", READ_ORG),
    Case("processes", "GET", lambda w: f"{P}/processes", EVERYONE),  # each sees what they take part in
    # The foreign admin may start processes, but not with our people in the roster.
    Case("process start", "POST", lambda w: f"{P}/processes", in_own_org(perm.can_start_process, foreign=422),
         body=lambda w: {"name": "Matris", "roster": _roster(w)}),
    Case("process", "GET", lambda w: f"{P}/processes/{w.process_id}", in_process()),
    Case("process cancel", "POST", lambda w: f"{P}/processes/{w.process_id}/cancel",
         in_process(lambda v, f, w: perm.can_cancel_process(v, f)), body=lambda w: {"reason": "Matris"}),
    Case("timeline", "GET", lambda w: f"{P}/processes/{w.process_id}/timeline",
         in_process(lambda v, f, w: perm.can_read_timeline(v, f))),
    Case("steps", "GET", lambda w: f"{P}/processes/{w.process_id}/steps", in_process()),
    Case("step", "GET", lambda w: f"{P}/steps/{helpers.step(w.session, w.process_id, 1).id}", in_process()),
    Case("process tasks", "GET", lambda w: f"{P}/processes/{w.process_id}/tasks", in_process()),
    Case("roles", "GET", lambda w: f"{P}/processes/{w.process_id}/roles", in_process()),
    Case("role assign", "POST", lambda w: f"{P}/processes/{w.process_id}/roles",
         in_process(lambda v, f, w: perm.can_manage_process(v, f)),
         body=lambda w: {"role": "stabschef", "person_id": w.people["admin"].id}),
    Case("role end", "POST", lambda w: f"{P}/role-assignments/{_assignment_id(w)}/end",
         in_process(lambda v, f, w: perm.can_manage_process(v, f))),
    Case("delegations", "GET", lambda w: f"{P}/processes/{w.process_id}/delegations", in_process()),
    # One's own role: the permission, then the engine, which lets one delegate only a role one
    # acts in (here processledare).
    Case("delegate", "POST", lambda w: f"{P}/processes/{w.process_id}/delegations",
         in_process(lambda v, f, w: perm.can_delegate(v, f, None) and "processledare" in f.roles),
         body=lambda w: {
             "role": "processledare", "to_person_id": w.people["admin"].id,
             "starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(days=3)).isoformat()}),
    Case("delegation revoke", "POST", lambda w: f"{P}/delegations/1/revoke",
         in_process(lambda v, f, w: perm.can_revoke_delegation(
             v, f, _delegation(w).from_person_id, _delegation(w).to_person_id)), prepare=_delegated),
    Case("inbox", "GET", lambda w: f"{P}/tasks", EVERYONE),  # each sees their own tasks
    Case("task", "GET", lambda w: f"{P}/tasks/{_task('process_plan')(w)}", in_process()),
    Case("claim", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/claim",
         in_process(lambda v, f, w: perm.can_claim_task(v, _task_facts(w, "process_plan"))),
         body=lambda w: {}),
    Case("unclaim", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/unclaim",
         in_process(lambda v, f, w: perm.can_act_on_task(v, _task_facts(w, "process_plan"))),
         body=lambda w: {}, prepare=_claimed),
    Case("complete", "POST", lambda w: f"{P}/tasks/{_task('process_plan')(w)}/complete",
         in_process(lambda v, f, w: perm.can_act_on_task(v, _task_facts(w, "process_plan"))),
         body=lambda w: {
             "data": {"purpose": "a", "goals": "b", "scope": "c"},
             "expected_version": w.task("process_plan").version}),
    Case("reassign", "POST", lambda w: f"{P}/tasks/{_task('appoint_roles')(w)}/reassign",
         in_process(lambda v, f, w: perm.can_reassign_task(v, f)), body=lambda w: {
             "to_person_id": w.people["chef"].id, "expected_version": w.task("appoint_roles").version}),
    Case("gates", "GET", lambda w: f"{P}/processes/{w.process_id}/gates", in_process()),
    Case("gate", "GET", lambda w: f"{P}/gates/{w.gate(1, 'order').id}", in_process()),
    Case("decide", "POST", lambda w: f"{P}/gates/{w.gate(1, 'step_approval').id}/decide",
         in_process(lambda v, f, w: perm.can_decide_gate(
             v, f, w.gate(1, "step_approval").requirements["decider"])), prepare=to_step_approval,
         body=lambda w: {"decision": "approve", "expected_version": w.gate(1, "step_approval").version}),
    Case("consultation", "POST", lambda w: f"{P}/gates/{w.gate(1, 'samverkan_design').id}/consultations",
         in_process(lambda v, f, w: perm.can_record_consultation(v, f)), prepare=_consultation_open,
         body=lambda w: {"subject": "S", "held_on": "2027-01-20", "participants": ["Vision"],
                         "outcome": "Ja"}),
    Case("audit", "GET", lambda w: f"{P}/audit", in_own_org(lambda v, org: perm.can_read_audit(v, None))),
    Case("process audit", "GET", lambda w: f"{P}/audit?process_id={w.process_id}",
         in_process(lambda v, f, w: perm.can_read_audit(v, f))),
    Case("outbox", "GET", lambda w: f"{P}/outbox", in_own_org(perm.can_manage_outbox)),
    Case("outbox retry", "POST", lambda w: f"{P}/outbox/retry", in_own_org(perm.can_manage_outbox),
         body=lambda w: {}),
    Case("outbox retry one", "POST", lambda w: f"{P}/outbox/{_outbox_id(w)}/retry",
         of_our_org(lambda v, org, w: perm.can_manage_outbox(v, org))),
    Case("tokens", "GET", lambda w: f"{P}/api-tokens", STRUCTURE),
    Case("token create", "POST", lambda w: f"{P}/api-tokens", STRUCTURE, body=lambda w: {"name": "Matris"}),
    Case("token revoke", "DELETE", lambda w: f"{P}/api-tokens/{_token_id(w)}",
         of_our_org(lambda v, org, w: perm.can_manage_structure(v, org))),
    Case("import", "POST", lambda w: f"{P}/imports/structure", STRUCTURE,
         files=lambda w: {"units": ("units.csv", b"code,name,level,parent_code\nM9,Matris,B,A1\n")}),
    Case("surveys", "GET", lambda w: f"{P}/processes/{w.process_id}/surveys", RUNS_SURVEYS,
         prepare=_mapping_open),
    Case("response rates", "GET", lambda w: f"{P}/surveys/{_survey_id(w)}/response-rates", RUNS_SURVEYS,
         prepare=_mapping_open),
    Case("results", "GET", lambda w: f"{P}/surveys/{_survey_id(w)}/results", RUNS_SURVEYS,
         prepare=_mapping_closed),
    Case("results csv", "GET", lambda w: f"{P}/surveys/{_survey_id(w)}/results.csv", RUNS_SURVEYS,
         prepare=_mapping_closed),
    Case("report pdf", "GET", lambda w: f"{P}/processes/{w.process_id}/report.pdf", RUNS_SURVEYS,
         prepare=_mapping_closed),
    Case("instruments", "GET", lambda w: f"{P}/instruments", EVERYONE),
    Case("instrument import", "POST", lambda w: f"{P}/instruments", STRUCTURE,
         files=lambda w: {"file": ("own.yaml", OWN_INSTRUMENT.encode())}),
    Case("session", "GET", lambda w: f"{P}/auth/session", EVERYONE),
    Case("password change", "POST", lambda w: f"{P}/auth/password",  # the current password is wrong
         {a: 422 for a in ACTORS}, body=lambda w: {"current_password": "x", "new_password": "y" * 12}),
    Case("logout", "POST", lambda w: f"{P}/auth/logout", EVERYONE),
]


def _order(expect: dict[str, int | str]) -> list[str]:
    """Refused actors first (nothing may change), then the allowed ones."""
    return ["anonymous"] + sorted(expect, key=lambda a: expect[a] == "ok")


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


def test_the_actors_stand_where_the_matrix_puts_them(world):
    """Each role actor acts in their role; the admin in none; the outsider sees no process."""
    for actor in ROLE_ACTORS:
        s = standing(world, actor)
        assert actor in s.facts.roles and not s.viewer.is_org_admin, (actor, s)
    admin, outsider, foreign = (standing(world, a) for a in ("admin", "outsider", "foreign"))
    assert admin.viewer.is_org_admin and not admin.facts.roles
    assert outsider.viewer.organisation_id == admin.viewer.organisation_id
    assert not outsider.facts.roles and not perm.can_see_process(outsider.viewer, outsider.facts)
    assert foreign.viewer.is_org_admin and foreign.viewer.organisation_id != admin.viewer.organisation_id


def expectations(world: World, case: Case) -> dict[str, int | str]:
    """The outcome per actor the case expects in this world (derived after ``prepare``)."""
    return case.expect(world) if callable(case.expect) else case.expect


def run_case(client, world: World, case: Case) -> None:
    """Try the case as every actor it names and check each outcome."""
    case.prepare(world)
    expect = expectations(world, case)
    for actor in expect:
        world.h(actor)  # tokens first, so the snapshots below compare only the request's effect
    request = _request(world, case)
    succeeded = False
    unchanged = None  # the state before the next refusal, while refusals follow one another
    for actor in _order(expect):
        expected = 401 if actor == "anonymous" else expect[actor]
        checked = expected not in ("ok", 422) and case.method != "GET"
        if checked and unchanged is None:
            unchanged = helpers.snapshot(world.session)
        r = _call(client, world, case, request, actor)
        if expected == "ok":
            if succeeded and case.method != "GET":  # the state moved on; only authorisation counts
                assert r.status_code not in (401, 403, 404), (actor, r.status_code, r.text)
            else:
                assert 200 <= r.status_code < 300, (actor, r.status_code, r.text)
            succeeded = succeeded or r.status_code < 300
            unchanged = None
        else:
            assert r.status_code == expected, (actor, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            if checked:
                after = helpers.snapshot(world.session)
                assert _without_tokens(after) == _without_tokens(unchanged), actor
                unchanged = after
            else:
                unchanged = None


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
