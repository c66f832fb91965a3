"""Changes made through the pages over HTTP: claim, refused forms that leave nothing behind, mail retry."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chefoskop.settings import Settings
from models import Gate, OutboxMessage, Task
from notifications.sink import free_port
from tests.e2e.test_pages_http import sign_in
from tests.e2e.world import World, deliver, drive_to_gate, pass_open_gates
from tests.helpers import snapshot


def _open_task(factory, world: World, activity: str) -> Task:
    with factory() as s:
        return s.scalars(select(Task).where(Task.process_id == world.process_id,
                                            Task.activity_key == activity, Task.status == "open")).one()


def state(factory) -> dict:
    """Every table's rows except the sign-in bookkeeping (sessions, attempts)."""
    with factory() as s:
        rows = snapshot(s)
    return {k: v for k, v in rows.items() if k not in ("web_session", "login_attempt")}


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)


def test_a_shared_task_is_claimed(client: TestClient, world: World, session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "process_plan")
    csrf = sign_in(client, world.emails["processledare"])
    page = client.get(f"/tasks/{task.id}")
    assert "Ta uppgiften" in page.text
    response = client.post(f"/tasks/{task.id}/claim",
                           data={"csrf_token": csrf, "version": _version(page.text)})
    assert response.status_code == 303
    assert "Tagen" in client.get(response.headers["location"]).text
    again = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": csrf})
    assert again.status_code == 403  # already taken: no claim button, no claim


def test_a_refused_form_keeps_the_text_and_writes_nothing(client: TestClient, world: World,
                                                           session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "process_plan")
    csrf = sign_in(client, world.emails["processledare"])
    before = state(session_factory)
    response = client.post(f"/tasks/{task.id}/complete",
                           data={"csrf_token": csrf, "f_purpose": "Vårt <syfte>", "f_goals": "  "})
    assert response.status_code == 422
    assert "Vårt &lt;syfte&gt;" in response.text
    assert 'id="f_goals-error"' in response.text and 'id="f_scope-error"' in response.text
    assert 'id="f_purpose-error"' not in response.text
    assert state(session_factory) == before


def test_gate_refusals_are_pages_and_change_nothing(client: TestClient, world: World,
                                                    session_factory) -> None:
    with session_factory() as s:
        gate_id = s.scalars(select(Gate.id).where(Gate.process_id == world.process_id,
                                                  Gate.status == "open")).one()
    before = state(session_factory)
    csrf = sign_in(client, world.emails["bestallare"])
    for data in ({"decision": "reject", "reason": "  "}, {"decision": "maybe"}, {"version": "9999"}):
        response = client.post(f"/gates/{gate_id}/decide", data={"csrf_token": csrf, **data})
        assert response.status_code in (409, 422), response.text
        assert "text/html" in response.headers["content-type"]
    other = sign_in(client, world.emails["chef"])
    assert client.post(f"/gates/{gate_id}/decide", data={"csrf_token": other,
                                                          "decision": "approve"}).status_code == 403
    assert state(session_factory) == before


def test_consultation_form_names_every_missing_field(client: TestClient, world: World,
                                                     session_factory) -> None:
    gate_id = drive_to_gate(session_factory, world, "samverkan_design", datetime.now(UTC))
    csrf = sign_in(client, world.emails["processledare"])
    response = client.post(f"/gates/{gate_id}/consultation",
                           data={"csrf_token": csrf, "held_on": "igår", "subject": "Samverkan",
                                 "body_id": "999999"})
    assert response.status_code == 422
    for name in ("held_on", "participants", "outcome", "body_id"):
        assert f'id="{name}-error"' in response.text
    assert 'value="igår"' in response.text


def test_undelivered_mail_is_listed_and_retried(client: TestClient, world: World, session_factory,
                                                tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, smtp_host="127.0.0.1",
                        smtp_port=free_port(), send_max_attempts=1, smtp_timeout_seconds=2)
    deliver(session_factory, settings)
    with session_factory() as s:
        dead = s.scalars(select(OutboxMessage).where(OutboxMessage.status == "dead")).first()
    assert dead is not None
    csrf = sign_in(client, world.admin_email)
    page = client.get("/admin")
    assert dead.recipient_email in page.text and "Uppgiven" in page.text
    response = client.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": csrf})
    assert response.status_code == 303
    with session_factory() as s:
        assert s.get(OutboxMessage, dead.id).status == "pending"
    assert "Mejlet står i kö" in client.get(response.headers["location"]).text


def test_audit_filters_and_their_errors(client: TestClient, world: World) -> None:
    sign_in(client, world.admin_email)
    page = client.get("/audit", params={"process_id": world.process_id, "entity": "gate"})
    assert page.status_code == 200 and "gate" in page.text
    bad = client.get("/audit", params={"since": "igår", "process_id": "99999"})
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text and 'id="process_id-error"' in bad.text
    assert 'value="igår"' in bad.text


def test_people_outside_the_management_get_a_page_saying_no(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["chef"])
    for path in ("/admin", "/audit"):
        response = client.get(path)
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"] and response.text.count("<h1>") == 1


NASTY = ["", " ", "\x00", "1e400", "-1", "9" * 40, "2026-13-45", "<script>alert(1)</script>", "ü" * 30000,
         "approve", "reject"]


def test_no_form_a_browser_can_send_gives_500(client: TestClient, world: World, session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "process_plan")
    csrf = sign_in(client, world.emails["processledare"])
    with session_factory() as s:
        gate_id = s.scalars(select(Gate.id).where(Gate.process_id == world.process_id)).first()
    posts = [f"/tasks/{task.id}/complete", f"/tasks/{task.id}/claim", f"/gates/{gate_id}/decide",
             f"/gates/{gate_id}/consultation", "/admin/outbox/retry", "/admin/outbox/1/retry", "/login"]
    fields = ["f_purpose", "f_goals", "f_scope", "version", "decision", "reason", "held_on", "body_id",
              "participants", "outcome", "subject", "email", "password", "next"]
    for path in posts:
        for value in NASTY:
            response = client.post(path, data={"csrf_token": csrf, **{f: value for f in fields}})
            assert response.status_code < 500, (path, value[:20], response.text[:300])
        odd = client.post(path, content=b"\xff\xfe--", headers={"content-type": "multipart/form-data"})
        assert odd.status_code < 500, path


# -- a task reopened by a rejection keeps the last round's answers --------------------------------

def test_a_reopened_task_is_filled_in_with_the_last_rounds_answers(client: TestClient, world: World,
                                                                   session_factory) -> None:
    now = datetime.now(UTC)
    pass_open_gates(session_factory, world, now)
    plan = _open_task(session_factory, world, "process_plan")
    csrf = sign_in(client, world.emails["processledare"])
    page = client.get(f"/tasks/{plan.id}").text
    typed = {"f_purpose": "Bättre villkor för cheferna", "f_goals": "Högst 25 medarbetare per chef",
             "f_scope": "Alla förvaltningar"}
    done = client.post(f"/tasks/{plan.id}/complete",
                       data={"csrf_token": csrf, "version": _version(page), **typed})
    assert done.status_code == 303
    gate_id = drive_to_gate(session_factory, world, "step_approval", now)
    owner = sign_in(client, world.emails["processagare"])
    gate = client.get(f"/gates/{gate_id}").text
    rejected = client.post(f"/gates/{gate_id}/decide", data={
        "csrf_token": owner, "version": _version(gate), "decision": "reject",
        "reason": "Målen behöver en tidsplan"})
    assert rejected.status_code == 303, rejected.text
    reopened = _open_task(session_factory, world, "process_plan")
    assert reopened.id != plan.id and reopened.iteration == 2 and not reopened.data
    sign_in(client, world.emails["processledare"])
    page = client.get(f"/tasks/{reopened.id}").text
    for name, value in typed.items():  # what was written last round, ready to be changed
        assert re.search(rf'<textarea id="{name}" name="{name}"[^>]*>{value}</textarea>', page), name
    reason = page.index("Målen behöver en tidsplan")
    assert reason < page.index(f'action="/tasks/{reopened.id}/complete"')  # the reason above the form
    assert "svaren från förra omgången" in page
    # The first round's own page still shows what it recorded, and no form.
    first = client.get(f"/tasks/{plan.id}").text
    assert "Högst 25 medarbetare per chef" in first and "/complete" not in first


# -- reassigning a task in the browser --------------------------------------------------------------

def test_the_processledare_hands_a_task_to_someone_else(client: TestClient, world: World,
                                                        session_factory) -> None:
    from models import Person

    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "appoint_roles")
    with session_factory() as s:
        chef = s.get(Person, world.ids["chef"])
        chef_name = chef.name
    csrf = sign_in(client, world.emails["processledare"])
    page = client.get(f"/tasks/{task.id}").text
    form = re.search(rf'<form[^>]*action="/tasks/{task.id}/reassign".*?</form>', page, re.S).group(0)
    assert '<label for="to_person_id">' in form and '<select id="to_person_id" name="to_person_id"' in form
    assert f'<option value="{world.ids["chef"]}">{chef_name}' in form
    stale = int(_version(page))
    before = state(session_factory)
    unknown = client.post(f"/tasks/{task.id}/reassign",
                          data={"csrf_token": csrf, "version": str(stale), "to_person_id": "999999"})
    assert unknown.status_code == 422 and 'id="to_person_id-error"' in unknown.text
    assert 'aria-invalid="true"' in unknown.text
    assert state(session_factory) == before
    moved = client.post(f"/tasks/{task.id}/reassign", data={
        "csrf_token": csrf, "version": str(stale), "to_person_id": str(world.ids["chef"])})
    assert moved.status_code == 303
    after = client.get(moved.headers["location"]).text
    assert f"Uppgiften är överlämnad till {chef_name}." in after
    with session_factory() as s:
        row = s.get(Task, task.id)
        assert row.assignee_id == world.ids["chef"] and row.status == "claimed"
    # A second hand-over from the page read before the first: a stale page, said so, nothing changed.
    before = state(session_factory)
    again = client.post(f"/tasks/{task.id}/reassign", data={
        "csrf_token": csrf, "version": str(stale), "to_person_id": str(world.ids["processagare"])})
    assert again.status_code == 409 and "text/html" in again.headers["content-type"]
    assert "Ändrad av någon annan" in again.text and f'action="/tasks/{task.id}/reassign"' in again.text
    assert state(session_factory) == before


def test_people_who_do_not_run_the_process_get_no_reassign_form(client: TestClient, world: World,
                                                                 session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "appoint_roles")
    csrf = sign_in(client, world.emails["bestallare"])
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200 and "/reassign" not in page.text
    before = state(session_factory)
    refused = client.post(f"/tasks/{task.id}/reassign", data={
        "csrf_token": csrf, "version": str(task.version), "to_person_id": str(world.ids["bestallare"])})
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    assert state(session_factory) == before


def test_the_roster_task_leads_to_the_roster(client: TestClient, world: World, session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "appoint_roles")
    sign_in(client, world.emails["processagare"])
    page = client.get(f"/tasks/{task.id}").text
    assert f'href="/processes/{world.process_id}#roster"' in page
    process = client.get(f"/processes/{world.process_id}").text
    assert 'id="roster"' in process and f"/api/v1/processes/{world.process_id}/roles" in process


@pytest.mark.e2e
def test_the_reassign_form_and_the_roster_pass_the_accessibility_checks(page, world: World,
                                                                        session_factory) -> None:
    """In Debian's chromium: labels, headings in order, contrast; the task handed over by keyboard."""
    from tests.e2e.a11y import tab_until
    from tests.e2e.test_browser import assert_accessible
    from tests.e2e.test_browser import sign_in as sign_in_in_browser

    pass_open_gates(session_factory, world, datetime.now(UTC))
    task = _open_task(session_factory, world, "appoint_roles")
    sign_in_in_browser(page, world.emails["processledare"])
    page.goto(f"/tasks/{task.id}")
    assert_accessible(page)
    page.get_by_role("button", name="Lämna över uppgiften").click()  # nobody chosen: said beside it
    assert page.locator("#to_person_id-error").is_visible()
    assert_accessible(page)
    page.get_by_label("Ny ansvarig").select_option(str(world.ids["chef"]))
    page.locator("#to_person_id").focus()
    tab_until(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Lämna över uppgiften'")
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="Uppgiften är överlämnad").wait_for()
    page.goto(f"/processes/{world.process_id}")
    assert page.locator("#roster").is_visible()
    assert_accessible(page)
