"""The pages over HTTP without a browser: sign-in, each page renders, refusals are pages, not 500s."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.e2e.world import PASSWORD, World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client: TestClient, email: str) -> str:
    """Sign in through the form (as a new browser); returns the CSRF token of the new session."""
    client.cookies.clear()
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "login_csrf": token,
                                           "next": "/tasks"})
    assert response.status_code == 303, response.text
    inbox = client.get("/tasks")
    assert inbox.status_code == 200
    return CSRF.search(inbox.text).group(1)


def test_pages_need_sign_in(client: TestClient, world: World) -> None:
    response = client.get("/tasks")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/tasks")


def test_wrong_password_keeps_the_address(client: TestClient, world: World) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", data={"email": world.emails["chef"], "password": "nope",
                                           "login_csrf": token})
    assert response.status_code == 401
    assert world.emails["chef"] in response.text
    assert 'lang="sv"' in response.text


def test_login_without_its_token_is_refused(client: TestClient, world: World) -> None:
    response = client.post("/login", data={"email": world.emails["chef"], "password": PASSWORD})
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/tasks", "/processes", "/admin", "/audit", "/dev/mail"])
def test_admin_pages_render(client: TestClient, world: World, path: str) -> None:
    sign_in(client, world.admin_email)
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.text.count("<h1") == 1


def test_process_page_and_gate_page(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["bestallare"])
    page = client.get(f"/processes/{world.process_id}")
    assert page.status_code == 200
    gate_id = re.search(r'href="/gates/(\d+)"', page.text).group(1)
    gate = client.get(f"/gates/{gate_id}")
    assert gate.status_code == 200
    assert "Godkänn" in gate.text


def test_english_switch_sticks(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["chef"])
    assert 'lang="en"' in client.get("/tasks?lang=en").text
    assert "My tasks" in client.get("/tasks").text


@pytest.mark.parametrize("path", ["/tasks/abc", "/tasks/0", "/tasks/99999999", "/gates/-1",
                                  "/processes/99999999999999", "/audit?since=yesterday&page=x",
                                  "/dev/mail/..%2Fetc", "/dev/mail/nope"])
def test_odd_addresses_are_answered_without_500(client: TestClient, world: World, path: str) -> None:
    sign_in(client, world.emails["chef"])
    response = client.get(path)
    assert 400 <= response.status_code < 500 or response.status_code in (200, 303), response.text
    assert response.status_code != 500


def test_forged_post_is_refused(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["processledare"])
    response = client.post("/tasks/1/complete", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]


def test_a_person_downloads_everything_kept_about_them(client: TestClient, world: World,
                                                       session_factory) -> None:
    import json

    from sqlalchemy import func, select

    from models import AuditEvent

    assert client.get("/me/data.json").status_code == 303  # sign in first
    sign_in(client, world.emails["chef"])
    assert 'href="/me/data.json"' in client.get("/tasks").text
    r = client.get("/me/data.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment;")
    data = json.loads(r.content)
    assert data["person"]["email"] == world.emails["chef"] and data["roles"]
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "person", AuditEvent.action == "exported",
            AuditEvent.entity_id == data["person"]["id"])) == 1
