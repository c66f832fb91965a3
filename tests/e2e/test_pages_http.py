"""The pages over HTTP without a browser: sign-in, each page renders, refusals are pages, not 500s."""

from __future__ import annotations

import html
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests import helpers
from tests.e2e.world import PASSWORD, World, build_world, pass_open_gates

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


@pytest.mark.parametrize("path", ["/tasks", "/processes", "/admin", "/audit"])
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


def _text(page: str) -> str:
    """The page's text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _rows(page: str, css_class: str) -> list[str]:
    """The text of each table row of ``css_class``."""
    rows = re.findall(rf'<tr class="{css_class}">(.*?)</tr>', page, re.S)
    return [" ".join(_text(r).split()) for r in rows]


# -- the dashboard's survey response rates ---------------------------------------------------

def test_dashboard_shows_the_response_rate_of_each_open_and_recently_closed_mapping(
        client: TestClient, session_factory) -> None:
    from models import Survey
    from tests.e2e.survey_world import build_survey_world, simulate_others

    sw = build_survey_world(session_factory)  # mapping 1 out to 15 managers in groups A, B, C
    answered = simulate_others(session_factory, sw, share=0.5)
    assert 0 < answered < 15
    sign_in(client, sw.emails["processledare"])
    survey_page = client.get(f"/processes/{sw.process_id}/surveys/4").text
    rate = " ".join(_text(re.search(r'id="rate-total">(.*?)<', survey_page).group(1)).split())
    dashboard = client.get("/admin")
    assert dashboard.status_code == 200 and 'id="surveys"' in dashboard.text
    rows = _rows(dashboard.text, "survey-rate")
    assert len(rows) == 1
    assert rows[0].startswith("Kartläggning 1") and f"15 {answered} {rate}" in rows[0]
    assert f'href="/processes/{sw.process_id}/surveys/4"' in dashboard.text
    assert "Grupp A" not in dashboard.text  # one rate per mapping: no group is shown here
    with session_factory() as s, s.begin():  # closed long ago: off the dashboard
        survey = s.get(Survey, sw.survey_id)
        survey.status, survey.closed_at = "closed", datetime.now(UTC) - timedelta(days=31)
    later = client.get("/admin").text
    assert not _rows(later, "survey-rate") and "Ingen kartläggning är öppen" in later
    with session_factory() as s, s.begin():  # closed yesterday: still there, as closed
        s.get(Survey, sw.survey_id).closed_at = datetime.now(UTC) - timedelta(days=1)
    rows = _rows(client.get("/admin").text, "survey-rate")
    assert len(rows) == 1 and "Klar" in rows[0] and f"15 {answered} {rate}" in rows[0]  # as its own page


def test_dashboard_gives_no_count_while_fewer_than_the_threshold_have_answered(
        client: TestClient, session_factory) -> None:
    from tests.e2e.survey_world import build_survey_world, simulate_others

    sw = build_survey_world(session_factory)
    answered = simulate_others(session_factory, sw, share=0.2)
    assert 0 < answered < 5
    sign_in(client, sw.emails["processledare"])
    (row,) = _rows(client.get("/admin").text, "survey-rate")
    assert "färre än 5" in row.lower() or "dolt" in row.lower(), row
    assert not re.search(rf"\b15 {answered}\b", row) and "%" not in row


def test_dashboard_without_mappings_says_so(client: TestClient, world: World) -> None:
    sign_in(client, world.admin_email)
    page = client.get("/admin?lang=en").text
    assert 'id="surveys"' in page and "No mapping is open or closed in the last 30 days." in page


# -- the audit view ---------------------------------------------------------------------------

def _audit_world(session_factory) -> World:
    now = datetime.now(UTC)
    world = build_world(session_factory, now)
    pass_open_gates(session_factory, world, now)  # the order approved: step 1's work goes out
    with session_factory() as s:  # and is done: the step moves to its next phase
        helpers.finish_phase_tasks(s, world.process_id, now)
        s.commit()
    return world


def test_audit_rows_read_as_text_in_the_readers_language(client: TestClient, session_factory) -> None:
    from models import Process

    world = _audit_world(session_factory)
    with session_factory() as s:
        name = s.get(Process, world.process_id).name
    sign_in(client, world.admin_email)
    english = client.get("/audit?lang=en")
    assert english.status_code == 200
    rows = _rows(english.text, "audit-event")
    assert rows
    text = " ".join(rows)
    for code in ("forbered", "aktivitet", "analys", "approve ", "created:", "task ", "gate ", "step "):
        assert code not in text, code
    assert any(r.startswith(tuple("0123456789")) and "Gate: Order" in r and "Approved (Open → Approved)" in r
               for r in rows), rows
    assert any("Moved to another phase (Prepare → " in r for r in rows), rows
    assert any("Task: " in r and "Created (Open)" in r for r in rows), rows
    assert any("Task: " in r and "Completed (Open → Completed)" in r for r in rows), rows
    assert any("Role assignment: Process owner (" in r and "Role given (Active)" in r for r in rows), rows
    assert all(r.endswith(name) for r in rows if "Gate: Order" in r)  # the process by its name
    assert f'<a href="/processes/{world.process_id}">{name}</a>' in english.text
    swedish = " ".join(_rows(client.get("/audit?lang=sv").text, "audit-event"))
    assert "Grind: Beställning" in swedish and "Godkänd (Öppen → Godkänd)" in swedish
    assert "Bytte fas (Förbered → " in swedish


def test_audit_filters_offer_the_stored_codes_by_their_labels(client: TestClient, session_factory) -> None:
    world = _audit_world(session_factory)
    sign_in(client, world.admin_email)
    page = client.get("/audit?lang=en").text
    for name in ("entity", "action"):
        assert f'<label for="{name}">' in page and f'<select id="{name}" name="{name}"' in page
        assert f'<input id="{name}"' not in page
    assert '<option value="approve">Approved</option>' in page
    assert '<option value="reject">Rejected</option>' in page
    assert '<option value="gate">Gate</option>' in page
    assert "e.g. approved" not in page
    decided = client.get("/audit?lang=en&entity=gate&action=approve")
    assert decided.status_code == 200
    assert '<option value="approve" selected>Approved</option>' in decided.text
    rows = _rows(decided.text, "audit-event")
    assert rows and all("Gate: " in r and "Approved" in r for r in rows)
    assert "1 change" in decided.text
    # An address typed by hand with a code no label names still filters and keeps its choice.
    odd = client.get("/audit?lang=en&action=no_such_thing")
    assert odd.status_code == 200
    assert '<option value="no_such_thing" selected>no such thing</option>' in odd.text
    assert client.get("/audit?action=" + "x" * 60).status_code == 422


# -- the mail sink ----------------------------------------------------------------------------

def _dev_client(tmp_path: Path) -> TestClient:
    from api.app import create_app
    from chefoskop.settings import Settings

    settings = Settings(environment="development", data_dir=tmp_path, base_url="http://testserver",
                        database_url=os.environ.get("CHEFOSKOP_DATABASE_URL"))
    return TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)


def _catch_mails(maildir: Path, count: int) -> None:
    """``count`` mails as the sink keeps them, stored a second apart (mail 0 first)."""
    from notifications.sink import MaildirHandler

    handler = MaildirHandler(maildir)
    for n in range(count):
        key = f"mid-test{n:05d}"
        raw = (f"To: chef{n}@test.se\r\nSubject: Mail {n}\r\nMessage-ID: <{n}@test>\r\n"
               f"Date: Mon, 01 Feb 2027 08:00:00 +0000\r\n\r\n" + "Text.\r\n" * 50).encode()
        handler.store_once(key, raw)
        os.utime(maildir / "new" / key, ns=(1_800_000_000_000_000_000 + n * 10**9,) * 2)


def test_the_mail_sink_is_served_only_in_development(client: TestClient, world: World, tmp_path) -> None:
    _catch_mails(tmp_path / "mail", 1)
    sign_in(client, world.admin_email)  # not even for a signed-in admin in the test environment
    assert client.get("/dev/mail").status_code == 404
    assert client.get("/dev/mail/mid-test00000").status_code == 404
    with _dev_client(tmp_path) as dev:  # in development, without signing in: the demo's way in
        listing = dev.get("/dev/mail")
        assert listing.status_code == 200 and "Mail 0" in listing.text
        assert dev.get("/dev/mail/mid-test00000").status_code == 200
        for odd in ("/dev/mail/..%2Fetc", "/dev/mail/nope", "/dev/mail?page=0", "/dev/mail?page=x",
                    "/dev/mail?page=99999999999"):
            assert 400 <= dev.get(odd).status_code < 500, odd


def test_the_mail_sink_pages_newest_first_reading_only_the_page(tmp_path, monkeypatch,
                                                                session_factory) -> None:
    from notifications import sink

    _catch_mails(tmp_path / "mail", 120)
    parsed = []
    real = sink.parse_message
    monkeypatch.setattr(sink, "parse_message", lambda raw, **kw: parsed.append(1) or real(raw, **kw))
    with _dev_client(tmp_path) as dev:
        first = dev.get("/dev/mail")
        assert first.status_code == 200 and first.text.count("<h1") == 1
        subjects = re.findall(r'<a href="/dev/mail/mid-test\d+">Mail (\d+)</a>', first.text)
        assert [int(n) for n in subjects] == list(range(119, 69, -1))  # 50, newest first
        assert len(parsed) <= 50  # only the page's mails were opened
        assert 'href="/dev/mail?page=2"' in first.text and "Sida 1 av 3" in first.text
        assert "120 fångade mejl" in first.text
        last = dev.get("/dev/mail?page=3").text
        assert [int(n) for n in re.findall(r">Mail (\d+)</a>", last)] == list(range(19, -1, -1))
        assert 'href="/dev/mail?page=2"' in last and "page=4" not in last
        beyond = dev.get("/dev/mail?page=4")
        assert beyond.status_code == 200 and "Det finns inga mejl på den här sidan." in beyond.text


# -- the order gate ---------------------------------------------------------------------------

def test_the_order_gate_says_rejecting_cancels_the_process(client: TestClient, world: World,
                                                            session_factory) -> None:
    from models import Gate, Process

    with session_factory() as s:
        gate_id = s.scalar(select(Gate.id).where(Gate.process_id == world.process_id, Gate.kind == "order"))
    csrf = sign_in(client, world.emails["bestallare"])
    page = client.get(f"/gates/{gate_id}").text
    assert "Processen avbryts" in page
    assert "Processledarna får motiveringen med mejl, och den sparas med den avbrutna processen." in page
    assert "öppnas igen" not in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    rejected = client.post(f"/gates/{gate_id}/decide", data={
        "csrf_token": csrf, "version": version, "decision": "reject", "reason": "Inte nu"})
    assert rejected.status_code == 303
    after = client.get(rejected.headers["location"]).text
    assert "Beställningen är avslagen; processen är avbruten." in after and "öppnas igen" not in after
    with session_factory() as s:
        assert s.get(Process, world.process_id).status == "cancelled"


# -- task links refused in a browser ------------------------------------------------------------

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _link_to(task, person_id: int) -> str:
    from notifications.links import make_task_token

    return f"/t/{make_task_token(task.id, person_id, task.route_version)}"


def _shared_task_done_by_a_colleague(session_factory, world: World) -> str:
    """Step 1's plan (shared by the processledare) done by the colleague; the first one's link."""
    from flows import engine
    from models import Task

    now = datetime.now(UTC)
    pass_open_gates(session_factory, world, now)
    with session_factory() as s:
        task = s.scalars(select(Task).where(Task.process_id == world.process_id,
                                            Task.activity_key == "process_plan")).one()
        mine = world.ids["processledare"]
        colleague = next(c.person_id for c in task.candidates if c.person_id != mine)
        link = _link_to(task, mine)
        engine.complete(helpers.ctx_for(s, colleague, now), task.id, helpers.form_data(s, task))
        s.commit()
    return link


def test_a_task_link_refused_in_a_browser_is_a_page_with_a_way_to_sign_in(
        client: TestClient, world: World, session_factory) -> None:
    link = _shared_task_done_by_a_colleague(session_factory, world)
    page = client.get(link, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 410 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("<h1") == 1 and "urn:chefoskop:problem" not in page.text
    words = " ".join(_text(page.text).split())
    assert "Uppgiften är redan klar" in words and "inget mer behövs" in words
    assert "fungerar bara så länge uppgiften väntar på dig" in words
    assert 'href="/login?next=/tasks"' in page.text and "set-cookie" not in page.headers
    english = client.get(link + "?lang=en", headers={"Accept": BROWSER_ACCEPT})
    assert english.status_code == 410 and "The task is already done" in english.text
    # An API client still gets problem+json.
    api = client.get(link, headers={"Accept": "application/json"})
    assert api.status_code == 410 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "task_closed"
    assert client.get(link).headers["content-type"] == "application/problem+json"  # Accept: */*


def test_a_garbled_task_link_in_a_browser_is_a_page_with_a_sign_in_link(
        client: TestClient, world: World, session_factory) -> None:
    pass_open_gates(session_factory, world, datetime.now(UTC))
    with session_factory() as s:
        from models import Task

        task = s.scalars(select(Task).where(Task.process_id == world.process_id)).first()
        link = _link_to(task, world.ids["processagare"])
    for garbled in (helpers.tamper(link), "/t/not-a-link", link[:-12]):
        page = client.get(garbled, headers={"Accept": BROWSER_ACCEPT})
        assert page.status_code == 400 and page.headers["content-type"].startswith("text/html"), garbled
        assert "Länken fungerar inte" in page.text and 'href="/login?next=/tasks"' in page.text
        assert page.text.count("<h1") == 1
        assert client.get(garbled).json()["code"] == "link_invalid"


def test_a_link_that_still_works_is_not_changed_by_asking_for_html(
        client: TestClient, world: World, session_factory) -> None:
    from models import Task

    pass_open_gates(session_factory, world, datetime.now(UTC))
    with session_factory() as s:
        task = s.scalars(select(Task).where(Task.process_id == world.process_id,
                                            Task.activity_key == "appoint_roles")).one()
        link = _link_to(task, world.ids["processagare"])
    r = client.get(link, headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 303 and r.headers["location"] == f"/tasks/{task.id}"


# -- the menu offers only what the person may open ------------------------------------------------

def _menu(page: str) -> list[str]:
    nav = re.search(r'<nav class="site-nav".*?</nav>', page, re.S)
    return re.findall(r'<a href="([^"]+)"', nav.group(0)) if nav else []


def test_the_menu_offers_only_the_pages_the_person_may_open(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["chef"])
    menu = _menu(client.get("/tasks").text)
    assert menu == ["/tasks", "/processes"]
    for hidden in ("/admin", "/audit"):  # the rule the menu follows is the pages' own
        assert client.get(hidden).status_code == 403
    for role in ("processledare", "processagare"):
        sign_in(client, world.emails[role])
        assert _menu(client.get("/tasks").text) == ["/tasks", "/processes", "/admin", "/audit"], role
        assert client.get("/admin").status_code == client.get("/audit").status_code == 200
    sign_in(client, world.admin_email)
    page = client.get("/processes")
    assert _menu(page.text) == ["/tasks", "/processes", "/admin", "/audit"]
    assert 'aria-current="page"' in re.search(r'<nav class="site-nav".*?</nav>', page.text, re.S).group(0)


def test_error_pages_keep_the_menu_the_person_may_use(client: TestClient, world: World) -> None:
    sign_in(client, world.emails["chef"])
    refused = client.get("/admin")
    assert refused.status_code == 403 and _menu(refused.text) == ["/tasks", "/processes"]


# -- the process page: the roster, and the dates of the steps -----------------------------------

def test_the_process_page_shows_who_holds_which_role_and_delegations_in_force(
        client: TestClient, world: World, session_factory) -> None:
    from flows import engine
    from models import Person, Process, StepInstance

    now = datetime.now(UTC)
    with session_factory() as s:
        owner = s.get(Person, world.ids["processagare"])
        chef = s.get(Person, world.ids["chef"])
        engine.delegate(helpers.ctx_for(s, owner.id, now), world.process_id, "processagare", chef.id,
                        starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=5),
                        reason="Semester")
        step = s.scalars(select(StepInstance).where(StepInstance.process_id == world.process_id,
                                                    StepInstance.step_no == 1)).one()
        step.closed_at = now  # as the timeline shows a closed step
        s.commit()
        owner_name, chef_name = owner.name, chef.name
        process_name = s.get(Process, world.process_id).name
    sign_in(client, world.emails["bestallare"])  # takes part, runs nothing
    page = client.get(f"/processes/{world.process_id}")
    assert page.status_code == 200, page.text
    roster = re.search(r'<section[^>]*id="roster".*?</section>', page.text, re.S).group(0)
    holders = [" ".join(_text(r).split()) for r in
               re.findall(r'<tr class="role-holder">(.*?)</tr>', roster, re.S)]
    assert any(r.startswith("Processägare") and owner_name in r for r in holders), holders
    assert any(r.startswith("Verksamhetsnära chef") and chef_name in r for r in holders), holders
    (delegation,) = [" ".join(_text(r).split()) for r in
                     re.findall(r'<tr class="delegation">(.*?)</tr>', roster, re.S)]
    assert delegation.startswith("Processägare") and owner_name in delegation
    assert chef_name in delegation and "Semester" in delegation
    assert "<form" not in roster  # read-only
    assert "/api/v1/processes/" not in roster  # the API hint is for those who run the process
    assert "Stängd " in page.text and "Stängde" not in page.text and "Öppnad " in page.text
    assert process_name in page.text
