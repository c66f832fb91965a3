"""The mappings through the browser: a manager answers by their personal link, the processledare follows."""

from __future__ import annotations

import re

import pytest

from tests.e2e.a11y import check_page
from tests.e2e.conftest import screenshot
from tests.e2e.survey_world import build_survey_world, open_logbook, simulate_others
from tests.e2e.test_browser import sign_in

pytestmark = pytest.mark.e2e


def assert_accessible(page) -> None:
    """The automated checks find nothing; only a refused form's status reached the console."""
    assert check_page(page) == []
    refused = "Failed to load resource: the server responded with a status of 422"
    assert [e for e in page.console_errors if not e.startswith(refused)] == []


def _answer_everything(respondent, staff_count: str) -> None:
    for radio in respondent.locator('fieldset input[type="radio"][value="3"]').all():
        radio.check()
    respondent.get_by_label("Jag hinner vara chef för alla").check()
    respondent.get_by_label("Hur många medarbetare är du chef för?").fill(staff_count)


def test_manager_answers_and_processledare_closes_with_a_small_group_hidden(
        page, browser, live_server, session_factory) -> None:
    sw = build_survey_world(session_factory)
    manager_link = sw.link(session_factory, sw.world.by_role["chef"][0])

    sign_in(page, sw.emails["processledare"])
    page.goto(f"/processes/{sw.process_id}")
    page.get_by_role("link", name="Kartläggning 1: svarsfrekvens och resultat").click()
    page.wait_for_url(f"**/processes/{sw.process_id}/surveys/4")
    # Counts below the anonymity threshold are not shown, live or closed (the results' rule).
    assert page.locator("#answered-total").inner_text() == "dolt (färre än 5 svar)"
    assert_accessible(page)

    context = browser.new_context(base_url=live_server.url, locale="sv-SE",
                                  viewport={"width": 1280, "height": 900})
    respondent = context.new_page()
    respondent.console_errors = errors = []
    respondent.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        respondent.goto(manager_link)
        assert respondent.locator("h1").inner_text() == "Krav och resurser i chefsuppdraget"
        assert_accessible(respondent)
        respondent.get_by_label("4 – Stämmer ganska bra").first.check()
        respondent.get_by_role("button", name="Spara och fortsätt senare").click()
        respondent.get_by_role("status").filter(has_text="Dina svar är sparade").wait_for()
        assert respondent.get_by_label("4 – Stämmer ganska bra").first.is_checked()  # resumed

        _answer_everything(respondent, "5000")
        respondent.get_by_role("button", name="Skicka mina svar").click()
        error = respondent.locator("#i_staff_count-error")
        error.wait_for()
        assert "1000" in error.inner_text()
        field = respondent.get_by_label("Hur många medarbetare är du chef för?")
        assert field.input_value() == "5000"
        assert field.get_attribute("aria-invalid") == "true"
        assert respondent.get_by_label("Jag hinner vara chef för alla").is_checked()  # kept
        assert_accessible(respondent)
        screenshot(respondent, "survey-refused")

        field.fill("12")
        respondent.get_by_role("button", name="Skicka mina svar").click()
        respondent.get_by_role("status").filter(has_text="Tack! Dina svar är skickade.").wait_for()
        assert respondent.get_by_role("heading", name="Dina svar").is_visible()
        assert respondent.get_by_role("button", name="Skicka mina svar").count() == 0
        assert_accessible(respondent)
        screenshot(respondent, "survey-sent")
    finally:
        context.close()

    page.reload()
    assert page.locator("#answered-total").inner_text() == "dolt (färre än 5 svar)"
    assert simulate_others(session_factory, sw) == 14
    page.reload()
    assert page.locator("#answered-total").inner_text() == "15"
    screenshot(page, "survey-response-rates")
    page.get_by_role("button", name="Stäng nu").click()
    page.get_by_role("status").filter(has_text="Kartläggningen är stängd").wait_for()
    participation = page.locator("table.participation")
    assert re.search(r"Grupp A\s+dolt \(färre än 5 svar\)", participation.inner_text())
    assert page.locator("table.participation tr.suppressed").count() >= 1
    assert page.get_by_role("link", name="Resultatrapporten (PDF)").is_visible()
    assert_accessible(page)
    screenshot(page, "survey-results")


def test_logbook_day_over_24_hours_is_refused_beside_the_field(page, session_factory) -> None:
    sw = open_logbook(session_factory, build_survey_world(session_factory, seed=13))
    page.goto(sw.link(session_factory, sw.world.by_role["chef"][0]))
    assert_accessible(page)
    page.get_by_role("link", name="Dag 1").click()
    page.get_by_label("Arbetade timmar").fill("26")
    page.get_by_label("Personal och arbetsledning").fill("20")
    page.get_by_label("Annat").first.fill("6")
    page.get_by_label("Möten och samtal").fill("26")
    page.get_by_role("button", name="Spara dagen").click()
    error = page.locator("#hours-error")
    error.wait_for()
    assert "24" in error.inner_text()
    assert page.get_by_label("Arbetade timmar").input_value() == "26"
    assert_accessible(page)
    screenshot(page, "survey-logbook-refused")
    page.get_by_label("Arbetade timmar").fill("8")
    page.get_by_label("Personal och arbetsledning").fill("6")
    page.get_by_label("Annat").first.fill("2")
    page.get_by_label("Möten och samtal").fill("8")
    page.get_by_role("button", name="Spara dagen").click()
    page.get_by_role("status").filter(has_text="Dagen är sparad").wait_for()
    assert "sparad" in page.get_by_role("listitem").filter(has_text="Dag 1").inner_text()
