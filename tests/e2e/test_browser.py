"""Browser scenarios with Playwright and Debian's chromium against the app on a free port."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from chefoskop.settings import Settings
from models import Person
from notifications.sink import MailSink, free_port
from tests.e2e.a11y import check_page, tab_until
from tests.e2e.conftest import screenshot
from tests.e2e.world import PASSWORD, build_world, deliver, drive_to_gate, pass_open_gates
from tests.live import LiveServer

pytestmark = pytest.mark.e2e


def sign_in(page, email: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/login")
    page.get_by_label("E-postadress").fill(email)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(re.compile(r"/tasks$"))


def sign_out(page) -> None:
    """Sign out with the header button."""
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url(re.compile(r"/login$"))


def assert_accessible(page) -> None:
    """The automated checks find nothing, and no CSP or script error reached the console."""
    assert check_page(page) == []
    expected = "Failed to load resource: the server responded with a status of 422"  # a refused form
    assert [e for e in page.console_errors if not e.startswith(expected)] == []


def test_owner_rejects_leader_reworks_owner_approves(page, session_factory) -> None:
    now = datetime.now(UTC)
    world = build_world(session_factory, now)
    gate_id = drive_to_gate(session_factory, world, "step_approval", now)

    sign_in(page, world.emails["processagare"])
    assert_accessible(page)
    page.get_by_role("link", name="Processägarens godkännande").click()
    page.wait_for_url(f"**/gates/{gate_id}")
    reject = page.locator("#reject-consequence")
    assert "Skriv processplan" in reject.inner_text()
    assert "steg 2, Förstå, öppnas" in page.locator("#approve-consequence").inner_text()
    assert_accessible(page)
    screenshot(page, "gate-page")
    page.get_by_role("button", name="Avslå").click()  # no reason yet: refused beside the field
    assert page.locator("#reason-error").is_visible()
    page.get_by_label("Skäl till avslaget").fill("Målen behöver gå att mäta.")
    page.get_by_role("button", name="Avslå").click()
    page.get_by_role("status").filter(has_text="avslagen").wait_for()
    sign_out(page)

    sign_in(page, world.emails["processledare"])
    page.get_by_role("link", name=re.compile("Skriv processplan")).click()
    assert "Målen behöver gå att mäta." in page.locator(".reopen-reason").inner_text()
    page.get_by_role("button", name="Ta uppgiften").click()  # htmx swaps the page's main part
    page.get_by_role("status").filter(has_text="Uppgiften är din nu").wait_for()
    assert page.get_by_role("button", name="Ta uppgiften").count() == 0
    assert "done=" not in page.url  # swapped in place by htmx, not a full page load
    assert page.get_by_label("Mål").input_value()  # prefilled with the last round's answers
    page.get_by_label("Mål").fill("")
    page.get_by_label("Avgränsning").fill("")
    page.get_by_label("Syfte").fill("Bättre förutsättningar för våra chefer")
    page.get_by_role("button", name="Markera som klar").click()  # goals and scope missing
    assert page.locator("#f_goals-error").is_visible()
    assert page.get_by_label("Syfte").input_value() == "Bättre förutsättningar för våra chefer"
    assert_accessible(page)
    screenshot(page, "task-form-errors")
    page.get_by_label("Mål").fill("Mätbara mål: färre medarbetare per chef")
    page.get_by_label("Avgränsning").fill("Vård och omsorg")
    page.get_by_role("button", name="Markera som klar").click()
    page.get_by_role("status").filter(has_text="Uppgiften är klar").wait_for()
    page.goto("/tasks")
    page.get_by_role("link", name=re.compile("Behovsinventering")).click()
    page.get_by_label("Sammanfattning").fill("Enheterna jämförda")
    page.get_by_role("button", name="Markera som klar").click()
    page.get_by_role("status").filter(has_text="Uppgiften är klar").wait_for()
    page.goto("/tasks")
    page.get_by_role("link", name="Samverkan om syfte, mål och upplägg").click()
    page.get_by_label("Deltagare").fill("Vision\nKommunal")
    page.get_by_label("Resultat").fill("Facken stöder de nya målen")
    assert_accessible(page)
    page.get_by_role("button", name="Dokumentera samverkan").click()
    page.get_by_role("status").filter(has_text="Samverkan är dokumenterad").wait_for()
    sign_out(page)

    sign_in(page, world.emails["processagare"])
    page.get_by_role("link", name="Processägarens godkännande").click()
    assert "Målen behöver gå att mäta." in page.locator("main").inner_text()  # the earlier round
    page.locator("body").focus()
    seen = tab_until(page, "e.tagName === 'BUTTON' && e.textContent.trim() === 'Godkänn'")
    assert seen[0].startswith("A Hoppa till innehållet")
    page.keyboard.press("Enter")  # keyboard only: approve
    page.get_by_role("status").filter(has_text="godkänd").wait_for()
    page.get_by_role("link", name=world_process_name(session_factory, world)).first.click()
    step2 = page.locator("ol.timeline > li").nth(1)
    assert "Öppen" in step2.inner_text() and "Klar" in page.locator("ol.timeline > li").first.inner_text()
    assert_accessible(page)
    screenshot(page, "process-page")


def world_process_name(factory, world) -> str:
    """The name of the world's process."""
    from models import Process

    with factory() as s:
        return s.get(Process, world.process_id).name


def test_manager_follows_the_link_in_a_real_mail(page, session_factory, live_server, tmp_path) -> None:
    now = datetime.now(UTC)
    world = build_world(session_factory, now)
    pass_open_gates(session_factory, world, now)  # the order: tasks go out by mail
    with session_factory() as s:
        manager = s.get(Person, world.ids["chef"])
        leader_task = _first_open_task(s, world.process_id)
        from flows import engine
        from tests.helpers import ctx_for

        engine.reassign(ctx_for(s, world.ids["processledare"], now), leader_task, manager.id)
        s.commit()
        email = manager.email
    with MailSink(tmp_path / "mail") as sink:
        settings = Settings(environment="test", data_dir=tmp_path, base_url=live_server.url,
                            smtp_host="127.0.0.1", smtp_port=sink.port)
        report = deliver(session_factory, settings)
    assert report.total > 0
    # The mail sink page is a development tool: a development server on the same data folder
    # shows it; the link in the mail leads back to the app under test.
    mail_reader = LiveServer(create_app(Settings(
        environment="development", data_dir=tmp_path, base_url=live_server.url,
        database_url=os.environ.get("CHEFOSKOP_DATABASE_URL"))), free_port()).start()
    try:
        page.goto(f"{mail_reader.url}/dev/mail")
        screenshot(page, "mail-sink")
        page.locator("tr", has_text=email).first.get_by_role("link").click()
        link = page.locator("a.mail-link", has_text="/t/").first
        link.click()
    finally:
        mail_reader.stop()
    page.wait_for_url(re.compile(r"/tasks/\d+"))
    assert page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page)
    screenshot(page, "task-from-mail")
    page.get_by_role("button", name="Markera som klar").click()
    page.get_by_role("status").filter(has_text="Uppgiften är klar").wait_for()
    assert "Slutförd" in page.locator("main").inner_text()


def _first_open_task(s, process_id: int) -> int:
    from models import Task

    return s.scalars(select(Task.id).where(Task.process_id == process_id, Task.status == "open",
                                           Task.activity_key == "appoint_roles")).first()


def test_dashboard_shows_the_overdue_task(page, session_factory) -> None:
    then = datetime.now(UTC) - timedelta(days=40)
    world = build_world(session_factory, then)
    pass_open_gates(session_factory, world, then)  # tasks were due weeks ago
    sign_in(page, world.admin_email)
    started = time.monotonic()
    page.goto("/admin")
    overdue = page.locator("tr.overdue-task")
    assert overdue.count() >= 1
    assert "Utse processledare" in page.locator("#overdue + table").inner_text()
    assert page.locator("svg.chart rect.bar").count() == 9
    assert time.monotonic() - started < 5
    assert_accessible(page)
    screenshot(page, "dashboard")
    page.goto("/audit")
    assert_accessible(page)
    screenshot(page, "audit")
    page.goto("/tasks?lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "inbox-en")


def test_sign_in_page_by_keyboard(page, world) -> None:
    page.goto("/login")
    assert_accessible(page)
    screenshot(page, "sign-in")
    page.locator("body").focus()
    tab_until(page, "e.id === 'email'")
    page.keyboard.type(world.emails["processagare"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Logga in"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/tasks$"))
    screenshot(page, "inbox")
