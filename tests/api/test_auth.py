"""Sign-in: passwords with rate limiting, session cookies and CSRF, API tokens, task links, OIDC."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.security.passwords import hash_password
from chefoskop.settings import get_settings
from flows import engine
from models import ApiToken, Person, WebSession
from notifications.links import make_task_token
from tests import helpers
from tests.api.conftest import World

PASSWORD = "correct horse battery"


def with_password(world: World, actor: str) -> Person:
    """Give an actor a password (hashing is slow, so only where needed)."""
    person = world.people[actor]
    person.password_hash = hash_password(PASSWORD)
    world.session.commit()
    return person


def sign_in(client: TestClient, person: Person, password: str = PASSWORD):
    """POST the login form."""
    return client.post("/api/v1/auth/login", json={"email": person.email, "password": password})


def test_password_sign_in_sets_a_locked_down_cookie(client, world):
    person = with_password(world, "processagare")
    r = sign_in(client, person)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["person"]["id"] == person.id and body["via"] == "password" and body["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-chefoskop_session=")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag.lower() in cookie.lower(), flag
    assert "domain" not in cookie.lower()
    assert client.get("/api/v1/auth/session").json()["person"]["id"] == person.id


def test_cookie_is_not_secure_in_development(session_factory, world):
    from api.app import create_app

    settings = get_settings().model_copy(update={"environment": "development"})
    person = with_password(world, "chef")
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        cookie = sign_in(c, person).headers["set-cookie"]
    assert cookie.startswith("chefoskop_session=") and "secure" not in cookie.lower()


def test_wrong_password_and_unknown_account_answer_alike(client, world):
    person = with_password(world, "chef")
    wrong = sign_in(client, person, "not the password")
    unknown = client.post("/api/v1/auth/login", json={"email": "nobody@x.se", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong.headers


def test_sign_in_is_rate_limited_per_account_and_address(client, world, api_clock):
    person = with_password(world, "chef")
    for _ in range(get_settings().login_max_failures):
        assert sign_in(client, person, "wrong").status_code == 401
    limited = sign_in(client, person)  # even the right password waits
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 15 * 60
    other = with_password(world, "processledare")
    assert sign_in(client, other).status_code == 200  # another account is not affected
    api_clock.advance(minutes=16)
    assert sign_in(client, person).status_code == 200


def test_logout_ends_the_session(client, world):
    person = with_password(world, "chef")
    csrf = sign_in(client, person).json()["csrf_token"]
    r = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert client.get("/api/v1/auth/session").status_code == 401
    world.session.expire_all()
    assert world.session.scalar(select(WebSession.revoked_at)) is not None


def test_csrf_token_is_required_on_cookie_changes(client, world):
    person = with_password(world, "processledare")
    csrf = sign_in(client, person).json()["csrf_token"]
    task = world.task("process_plan")
    url = f"/api/v1/tasks/{task.id}/claim"
    refused = client.post(url, json={})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert client.post(url, json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    world.session.expire_all()
    assert world.task("process_plan").status == "open"
    assert client.post(url, json={}, headers={"X-CSRF-Token": csrf}).status_code == 200


def test_csrf_token_may_come_as_a_form_field(client, world):
    person = with_password(world, "chef")
    csrf = sign_in(client, person).json()["csrf_token"]
    assert client.post("/api/v1/auth/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.post("/api/v1/auth/logout", data={"csrf_token": csrf}).status_code == 204


def test_bearer_tokens_need_no_csrf_and_stop_when_revoked(client, world):
    headers = world.h("processledare")
    task = world.task("process_plan")
    assert client.post(f"/api/v1/tasks/{task.id}/claim", json={}, headers=headers).status_code == 200
    token = world.session.scalars(select(ApiToken)).first()
    token.revoked_at = helpers.NOW
    world.session.commit()
    r = client.get("/api/v1/tasks", headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer chk_x_y"}).status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Basic abc"}).status_code == 401


def test_anonymous_requests_are_refused(client, world):
    r = client.get("/api/v1/tasks")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    client.cookies.set("__Host-chefoskop_session", "x.y")
    assert client.get("/api/v1/tasks").status_code == 401


def test_change_own_password(client, world):
    person = with_password(world, "chef")
    csrf = sign_in(client, person).json()["csrf_token"]
    h = {"X-CSRF-Token": csrf}
    bad = client.post("/api/v1/auth/password", headers=h,
                      json={"current_password": "wrong", "new_password": "a new long password"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "current_password"
    ok = client.post("/api/v1/auth/password", headers=h,
                     json={"current_password": PASSWORD, "new_password": "a new long password"})
    assert ok.status_code == 204
    assert sign_in(client, person, "a new long password").status_code == 200


# --- sign-in from the e-mail task link ---------------------------------------------------


def link_for(task, person_id: int) -> str:
    return f"/t/{make_task_token(task.id, person_id, task.route_version)}"


def test_task_link_signs_in_and_redirects_to_the_task(client, world):
    task = world.task("process_plan")
    leader = world.people["processledare"]
    r = client.get(link_for(task, leader.id), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task.id}"
    assert "httponly" in r.headers["set-cookie"].lower()
    me = client.get("/api/v1/auth/session").json()
    assert me["person"]["id"] == leader.id and me["via"] == "link"
    assert client.get(f"/api/v1/tasks/{task.id}").status_code == 200


def test_tampered_link_is_refused(client, world):
    task = world.task("process_plan")
    url = link_for(task, world.people["processledare"].id)
    r = client.get(helpers.tamper(url), follow_redirects=False)
    assert r.status_code == 400 and r.json()["code"] == "link_invalid"
    assert "set-cookie" not in r.headers
    assert client.get("/t/not-a-token", follow_redirects=False).status_code == 400


def test_expired_link_is_refused(client, world, monkeypatch):
    task = world.task("process_plan")
    old = time.time() - (get_settings().link_max_age_days + 1) * 86400
    monkeypatch.setattr(time, "time", lambda: old)
    url = link_for(task, world.people["processledare"].id)
    monkeypatch.undo()
    r = client.get(url, follow_redirects=False, headers={"Accept-Language": "en"})
    assert r.status_code == 410 and r.json()["code"] == "link_expired"
    assert r.json()["title"] == "The link has expired"


def test_link_to_a_completed_task_is_refused(client, world):
    task = world.task("process_plan")
    leader = world.people["processledare"]
    url = link_for(task, leader.id)
    ctx = helpers.ctx_for(world.session, leader.id)
    engine.complete(ctx, task.id, helpers.form_data(world.session, task))
    world.session.commit()
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 410 and r.json()["code"] == "task_closed"
    assert "set-cookie" not in r.headers


def test_link_to_a_reassigned_task_is_refused(client, world):
    task = world.task("process_plan")
    leader, other = world.people["processledare"], world.people["chef"]
    url = link_for(task, leader.id)
    owner_ctx = helpers.ctx_for(world.session, world.people["processagare"].id)
    engine.reassign(owner_ctx, task.id, other.id)
    world.session.commit()
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 409 and r.json()["code"] == "task_reassigned"
    world.session.refresh(task)
    assert client.get(link_for(task, other.id), follow_redirects=False).status_code == 303


# --- single sign-on ----------------------------------------------------------------------


def test_oidc_routes_are_absent_unless_configured(client):
    """The sign-on flow itself runs against a real provider in test_oidc.py."""
    assert client.get("/api/v1/auth/oidc/login", follow_redirects=False).status_code == 404
    assert "/api/v1/auth/oidc/login" not in client.get("/openapi.json").json()["paths"]


def test_sessions_expire(client, world, api_clock):
    person = with_password(world, "chef")
    sign_in(client, person)
    api_clock.advance(hours=get_settings().session_max_age_hours, seconds=1)
    assert client.get("/api/v1/auth/session").status_code == 401


def test_api_token_expiry(client, world, api_clock):
    headers = world.h("chef")
    token = world.session.scalars(select(ApiToken)).first()
    token.expires_at = api_clock.now + timedelta(minutes=1)
    world.session.commit()
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    api_clock.advance(minutes=2)
    assert client.get("/api/v1/tasks", headers=headers).status_code == 401
