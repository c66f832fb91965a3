"""Sessions opened from a task's e-mail link: that one task, nothing more, and only while it lasts.

The audit that led here: with the processägare's link, another task could be opened, the
processes listed and a different task reassigned, and the session outlived the completed task.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.deps import LINK_SESSION_ROUTES, current_principal
from api.security.passwords import hash_password
from flows import engine
from models import Person, Task, WebSession
from notifications.links import make_task_token
from roles import permissions as perm
from roles.permissions import LinkScope, TaskFacts
from tests import helpers
from tests.api.conftest import World
from tests.api.test_oidc import oidc_client, provider, servers, sign_on, user  # noqa: F401 (fixtures)

PASSWORD = "correct horse battery"
SV_REFUSAL = "Du kom hit via länken i ett uppgiftsmejl"


# --- helpers -------------------------------------------------------------------------------


def owner_task(world: World) -> Task:
    """The processägare's own task (appoint_roles: routed to them alone)."""
    return world.task("appoint_roles")


def leader_task(world: World) -> Task:
    """A task shared by the two processledare (so it can be claimed and given back)."""
    return world.task("process_plan")


def link_for(task: Task, person: Person) -> str:
    return f"/t/{make_task_token(task.id, person.id, task.route_version)}"


def follow(client: TestClient, task: Task, person: Person) -> str:
    """Follow ``person``'s link to ``task``; returns the CSRF token of the session it opened."""
    r = client.get(link_for(task, person), follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/tasks/{task.id}"
    me = client.get("/api/v1/auth/session")
    assert me.status_code == 200 and me.json()["via"] == "link"
    return me.json()["csrf_token"]


def with_password(world: World, actor: str) -> Person:
    person = world.people[actor]
    person.password_hash = hash_password(PASSWORD)
    world.session.commit()
    return person


def sign_in(client: TestClient, person: Person):
    return client.post("/api/v1/auth/login", json={"email": person.email, "password": PASSWORD})


def sessions_of(world: World, person: Person) -> list[WebSession]:
    world.session.expire_all()
    return list(world.session.scalars(select(WebSession).where(WebSession.person_id == person.id)
                                      .order_by(WebSession.id)))


def assert_link_refusal(r, lang: str = "sv") -> None:
    assert r.status_code == 403, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "link_session_only"
    if lang == "sv":
        assert body["title"] == "Logga in för att göra mer" and body["detail"].startswith(SV_REFUSAL)
    else:
        assert body["title"] == "Sign in to do more"
        assert body["detail"].startswith("You came here through the link in a task e-mail")


def assert_sent_to_sign_in(r, path: str) -> None:
    assert r.status_code == 303, (path, r.status_code, r.text[:300])
    location = r.headers["location"]
    assert location.startswith("/login?next="), location
    assert unquote(location.removeprefix("/login?next=")) == path


def form_fields(world: World, task: Task) -> dict[str, str]:
    return {f"f_{k}": v for k, v in helpers.form_data(world.session, task).items()}


# --- what the auditor did --------------------------------------------------------------------


def test_the_audited_requests_are_refused(client, world):
    owner = world.people["processagare"]
    mine, other = owner_task(world), leader_task(world)
    csrf = follow(client, mine, owner)
    before = helpers.snapshot(world.session)

    assert_link_refusal(client.get(f"/api/v1/tasks/{other.id}"))
    assert_link_refusal(client.get("/api/v1/processes"))
    assert_link_refusal(client.get("/api/v1/processes", headers={"Accept-Language": "en"}), "en")
    assert_link_refusal(client.get("/api/v1/tasks"))
    reassign = client.post(f"/api/v1/tasks/{other.id}/reassign", headers={"X-CSRF-Token": csrf},
                           json={"to_person_id": world.people["chef"].id,
                                 "expected_version": other.version})
    assert_link_refusal(reassign)
    # Not even the linked task may be handed on: the link works on it, it does not manage it.
    assert_link_refusal(client.post(f"/api/v1/tasks/{mine.id}/reassign", headers={"X-CSRF-Token": csrf},
                                    json={"to_person_id": world.people["chef"].id,
                                          "expected_version": mine.version}))

    # The pages: anything but the task sends the reader to sign in, and comes back afterwards.
    for path in (f"/tasks/{other.id}", "/processes", "/tasks", f"/processes/{world.process_id}",
                 "/admin", "/audit", "/me/data.json"):
        assert_sent_to_sign_in(client.get(path, follow_redirects=False), path)
    posted = client.post(f"/tasks/{other.id}/complete", follow_redirects=False,
                         data={"csrf_token": csrf, **form_fields(world, other)})
    assert posted.status_code == 403 and posted.headers["content-type"].startswith("text/html")
    assert SV_REFUSAL in posted.text and "/login?next=/tasks" in posted.text
    assert f'href="/tasks/{mine.id}"' in posted.text  # back to the task the link opens

    assert helpers.snapshot(world.session) == before


def test_the_sign_in_page_explains_what_a_link_session_is(client, world):
    owner = world.people["processagare"]
    task = owner_task(world)
    follow(client, task, owner)
    page = client.get("/login?next=/processes", follow_redirects=False)
    assert page.status_code == 200  # not straight on to /processes (that would loop)
    assert "Länken öppnar bara sin egen uppgift" in page.text
    assert f'href="/tasks/{task.id}"' in page.text and 'value="/processes"' in page.text
    english = client.get("/login?next=/processes&lang=en")
    assert "That link opens only its own task" in english.text


def _call(client: TestClient, method: str, path: str, csrf: str):
    if path.startswith("/api/"):
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        return client.request(method, path, headers={"X-CSRF-Token": csrf}, follow_redirects=False,
                              **body)
    data = {"data": {"csrf_token": csrf}} if method != "GET" else {}
    return client.request(method, path, follow_redirects=False, **data)


def signed_in_routes(app) -> list[tuple[str, str, str]]:
    """(method, path template, endpoint) of every route that needs someone signed in."""
    def needs_sign_in(dependant) -> bool:
        return dependant.call is current_principal or any(needs_sign_in(d) for d in dependant.dependencies)

    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and needs_sign_in(route.dependant):
            endpoint = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
            found += [(m, context.path_format, endpoint) for m in sorted(context.methods)]
    return found


def test_every_other_route_refuses_a_link_session(app, client, world):
    owner = world.people["processagare"]
    mine, other = owner_task(world), leader_task(world)
    csrf = follow(client, mine, owner)
    routes = signed_in_routes(app)
    assert len(routes) > 80
    # The respondent's questionnaire (its own signed link) and signing in need no session.
    open_paths = {c.path_format for c in iter_route_contexts(app.routes)} - {p for _, p, _ in routes}
    assert {"/s/{token}", "/s/{token}/day/{day_no}", "/login", "/t/{token}"} <= open_paths
    before = helpers.snapshot(world.session)
    allowed = []
    for method, template, endpoint in routes:
        if endpoint in LINK_SESSION_ROUTES and "{task_id}" not in template:
            allowed.append(template)  # about the session itself: tried below
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: str(other.id) if m[1] == "task_id" else "1", template)
        r = _call(client, method, path, csrf)
        if template.startswith("/api/"):
            assert r.status_code == 403 and r.json()["code"] == "link_session_only", (method, path, r.text)
        elif method == "GET":
            assert_sent_to_sign_in(r, path)
        else:
            assert r.status_code == 403 and SV_REFUSAL in r.text, (method, path, r.status_code)
    assert sorted(allowed) == ["/api/v1/auth/logout", "/api/v1/auth/session", "/logout"]
    assert set(LINK_SESSION_ROUTES) <= {endpoint for _, _, endpoint in routes}  # none renamed away
    assert helpers.snapshot(world.session) == before


# --- what a link session may do ---------------------------------------------------------------


def test_the_linked_task_can_be_read_claimed_given_back_and_completed(client, world):
    leader = world.people["processledare"]
    task = leader_task(world)
    csrf = follow(client, task, leader)
    h = {"X-CSRF-Token": csrf}
    read = client.get(f"/api/v1/tasks/{task.id}")
    assert read.status_code == 200 and read.json()["may_claim"]
    claimed = client.post(f"/api/v1/tasks/{task.id}/claim", headers=h, json={})
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    back = client.post(f"/api/v1/tasks/{task.id}/unclaim", headers=h, json={})
    assert back.status_code == 200 and back.json()["status"] == "open"
    done = client.post(f"/api/v1/tasks/{task.id}/complete", headers=h,
                       json={"data": helpers.form_data(world.session, task),
                             "expected_version": back.json()["version"]})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    # The task is done: the session that came with its link is over.
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 401
    assert client.get("/api/v1/auth/session").status_code == 401
    assert_sent_to_sign_in(client.get(f"/tasks/{task.id}", follow_redirects=False), f"/tasks/{task.id}")


def test_the_task_page_claim_and_complete_work_and_completing_signs_out(client, world):
    leader = world.people["processledare"]
    task = leader_task(world)
    csrf = follow(client, task, leader)
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200
    assert "Länken ger dig bara tillgång till den här uppgiften" in page.text
    assert 'href="/processes"' not in page.text  # no menu of pages the link does not open
    assert "Logga in för att se mer" in page.text
    english = client.get(f"/tasks/{task.id}?lang=en")  # switching language works
    assert english.status_code == 200 and "The link lets you work on this task only" in english.text
    client.cookies.delete("chefoskop_lang")

    claimed = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": csrf}, follow_redirects=False)
    assert claimed.status_code == 303 and claimed.headers["location"] == f"/tasks/{task.id}?done=claimed"
    world.session.expire_all()
    version = world.session.get(Task, task.id).version
    done = client.post(f"/tasks/{task.id}/complete", follow_redirects=False,
                       data={"csrf_token": csrf, "version": str(version), **form_fields(world, task)})
    assert done.status_code == 200, done.text
    assert "Uppgiften är klar" in done.text and "Slutförd" in done.text
    assert "Länken i mejlet har gjort sitt" in done.text and "Logga ut" not in done.text
    assert "chefoskop_session=" in done.headers["set-cookie"] and "Max-Age=0" in done.headers["set-cookie"]
    (row,) = sessions_of(world, leader)
    assert row.scope_task_id == task.id and row.revoked_at is not None
    assert world.session.get(Task, task.id).status == "completed"


def test_signing_out_ends_a_link_session(client, world):
    owner = world.people["processagare"]
    csrf = follow(client, owner_task(world), owner)
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert sessions_of(world, owner)[0].revoked_at is not None
    assert client.get("/api/v1/auth/session").status_code == 401


# --- when the session stops working ------------------------------------------------------------


def test_the_session_dies_when_the_task_is_completed_by_someone_else(client, world):
    leader = world.people["processledare"]
    task = leader_task(world)
    follow(client, task, leader)
    colleague = next(c.person_id for c in task.candidates if c.person_id != leader.id)
    engine.complete(helpers.ctx_for(world.session, colleague), task.id,
                    helpers.form_data(world.session, task))
    world.session.commit()
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 401
    assert_sent_to_sign_in(client.get(f"/tasks/{task.id}", follow_redirects=False), f"/tasks/{task.id}")


@pytest.mark.parametrize("to", ["chef", "processledare"])
def test_the_session_dies_when_the_task_is_reassigned(client, world, to):
    """Handed to someone else, or even to the link's own person: the routing the session was
    opened for is gone (the route version moved on)."""
    leader = world.people["processledare"]
    task = leader_task(world)
    routed_as = task.route_version
    follow(client, task, leader)
    r = client.post(f"/api/v1/tasks/{task.id}/reassign", headers=world.h("processagare"),
                    json={"to_person_id": world.people[to].id, "expected_version": task.version})
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 401
    world.session.expire_all()
    assert world.session.get(Task, task.id).route_version == routed_as + 1


def test_the_session_dies_when_the_task_is_rerouted(client, world):
    """A new processledare joins: the task is routed anew (the link's person still among its
    candidates), and the session opened for the old routing stops."""
    leader = world.people["processledare"]
    task = leader_task(world)
    link, routed_as = link_for(task, leader), task.route_version
    follow(client, task, leader)
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 200
    r = client.post(f"/api/v1/processes/{world.process_id}/roles", headers=world.h("processagare"),
                    json={"role": "processledare", "person_id": world.people["chef"].id})
    assert r.status_code == 201, r.text
    world.session.expire_all()
    rerouted = world.session.get(Task, task.id)
    assert rerouted.route_version > routed_as
    assert leader.id in {c.person_id for c in rerouted.candidates}
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 401
    # The mail's link still opens the task for someone who may act on it: a new session.
    assert client.get(link, follow_redirects=False).status_code == 303
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 200


def test_the_session_dies_when_a_colleague_takes_the_task(client, world):
    leader = world.people["processledare"]
    task = leader_task(world)
    follow(client, task, leader)
    colleague = next(c.person_id for c in task.candidates if c.person_id != leader.id)
    engine.claim(helpers.ctx_for(world.session, colleague), task.id)
    world.session.commit()
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 401


# --- signing in from a link session, and links followed while signed in -------------------------


def test_a_password_sign_in_upgrades_a_link_session(client, world):
    owner = with_password(world, "processagare")
    follow(client, owner_task(world), owner)
    assert_link_refusal(client.get("/api/v1/processes"))
    r = sign_in(client, owner)
    assert r.status_code == 200 and r.json()["via"] == "password"
    assert client.get("/api/v1/processes").status_code == 200
    link_row, full_row = sessions_of(world, owner)
    assert link_row.scope_task_id is not None and link_row.revoked_at is not None
    assert full_row.scope_task_id is None and full_row.revoked_at is None


def test_the_sign_in_form_upgrades_a_link_session(client, world):
    owner = with_password(world, "processagare")
    follow(client, owner_task(world), owner)
    form = client.get("/login?next=/processes")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text)[1]
    r = client.post("/login", follow_redirects=False, data={
        "login_csrf": token, "email": owner.email, "password": PASSWORD, "next": "/processes"})
    assert r.status_code == 303 and r.headers["location"] == "/processes"
    assert client.get("/processes").status_code == 200
    assert [s.revoked_at is not None for s in sessions_of(world, owner)] == [True, False]


def test_single_sign_on_upgrades_a_link_session(oidc_client, provider, world):  # noqa: F811
    owner = world.people["processagare"]
    follow(oidc_client, owner_task(world), owner)
    form = oidc_client.get("/login")
    assert 'href="/api/v1/auth/oidc/login"' in form.text and "Länken öppnar bara" in form.text
    r = sign_on(oidc_client, provider, user(provider, email=owner.email, email_verified=True))
    assert r.status_code == 303, r.text
    assert oidc_client.get("/api/v1/auth/session").json()["via"] == "oidc"
    assert oidc_client.get("/api/v1/processes").status_code == 200
    link_row, full_row = sessions_of(world, owner)
    assert link_row.revoked_at is not None and full_row.scope_task_id is None


def test_a_full_session_of_the_same_person_is_not_downgraded(client, world):
    owner = with_password(world, "processagare")
    assert sign_in(client, owner).status_code == 200
    task = owner_task(world)
    r = client.get(link_for(task, owner), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task.id}"
    assert "set-cookie" not in r.headers
    assert client.get("/api/v1/processes").status_code == 200
    (row,) = sessions_of(world, owner)
    assert row.scope_task_id is None and row.revoked_at is None


def test_someone_elses_full_session_is_asked_to_sign_out_first(client, world):
    owner = with_password(world, "processagare")
    csrf = sign_in(client, owner).json()["csrf_token"]
    leader, task = world.people["processledare"], leader_task(world)
    link = link_for(task, leader)
    r = client.get(link, follow_redirects=False)
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert "Länken är till någon annan" in r.text and owner.name in r.text
    assert leader.name not in r.text
    assert client.get("/api/v1/auth/session").json()["person"]["id"] == owner.id  # left alone
    out = client.post("/logout", data={"csrf_token": csrf, "next": link}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == link
    assert client.get(link, follow_redirects=False).status_code == 303
    me = client.get("/api/v1/auth/session").json()
    assert me["person"]["id"] == leader.id and me["via"] == "link"


def test_a_link_session_gives_way_to_another_link(client, world):
    owner, leader = world.people["processagare"], world.people["processledare"]
    follow(client, owner_task(world), owner)
    follow(client, leader_task(world), leader)
    assert sessions_of(world, owner)[0].revoked_at is not None
    assert client.get(f"/api/v1/tasks/{owner_task(world).id}").status_code == 403


# --- the pure rules -----------------------------------------------------------------------------


def test_link_session_rules():
    facts = TaskFacts("open", None, frozenset({4, 5}))
    scope = LinkScope(2, 1)
    assert perm.link_session_alive(4, scope, facts, 1)
    assert not perm.link_session_alive(4, scope, facts, 2)  # rerouted or reassigned
    assert not perm.link_session_alive(6, scope, facts, 1)  # not theirs
    assert not perm.link_session_alive(4, scope, TaskFacts("claimed", 5, frozenset({4, 5})), 1)
    assert not perm.link_session_alive(4, scope, TaskFacts("completed", 4, frozenset({4})), 1)
    assert not perm.link_session_alive(4, scope, None, None)
    for action in ("view_task", "claim_task", "unclaim_task", "complete_task"):
        assert perm.link_session_permits(2, action, 2)
        assert not perm.link_session_permits(2, action, 3)
        assert not perm.link_session_permits(2, action, None)
    assert perm.link_session_permits(2, "sign_out", None)
    assert not perm.link_session_permits(2, None, 2)
    assert not perm.link_session_permits(2, "reassign_task", 2)
    assert perm.on_task_link(4, None, False) == "start"
    assert perm.on_task_link(4, 7, True) == "start"  # anyone's link session gives way
    assert perm.on_task_link(4, 4, False) == "keep"
    assert perm.on_task_link(4, 7, False) == "ask"
