"""The survey pages over HTTP: personal links, refusals beside their fields, the processledare's page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Invitation, Person
from surveys.respond import open_link
from tests.e2e.survey_world import SurveyWorld, build_survey_world, simulate_others
from tests.e2e.test_pages_http import sign_in
from tests.e2e.world import build_world
from tests.helpers import tamper

LIKERT_KEYS = re.compile(r'name="(i_[a-z0-9_]+)" value="(\d+)"')


@pytest.fixture
def sw(session_factory) -> SurveyWorld:
    return build_survey_world(session_factory)


def _all_answers(page: str) -> dict[str, str]:
    """A complete, valid answer for every question on the page."""
    answers = {name: "3" for name, _ in LIKERT_KEYS.findall(page)}
    answers.update({"i_staff_count": "12", "i_staff_group_size": "manageable", "action": "submit"})
    return answers


def _manager(sw: SurveyWorld, index: int = 0) -> int:
    return sw.world.by_role["chef"][index]


def test_link_opens_the_form_without_sign_in(client: TestClient, sw: SurveyWorld, session_factory) -> None:
    page = client.get(sw.link(session_factory, _manager(sw)))
    assert page.status_code == 200, page.text
    assert page.text.count("<h1") == 1
    assert "<legend>" in page.text and 'type="radio"' in page.text
    assert 'for="i_workload_fits_1"' in page.text
    assert "Skicka mina svar" in page.text


def test_off_scale_and_bad_number_are_refused_beside_the_fields_and_kept(
        client: TestClient, sw: SurveyWorld, session_factory) -> None:
    link = sw.link(session_factory, _manager(sw))
    response = client.post(link, data={"i_workload_fits": "9", "i_time_for_staff": "4",
                                       "i_staff_count": "5000", "action": "save"})
    assert response.status_code == 422
    assert 'id="i_workload_fits-error"' in response.text
    assert "9 är inte" in response.text or "9" in re.search(
        r'id="i_workload_fits-error">([^<]+)<', response.text).group(1)
    assert "1000" in re.search(r'id="i_staff_count-error">([^<]+)<', response.text).group(1)
    assert 'value="5000"' in response.text  # what was typed is kept
    assert re.search(r'id="i_time_for_staff_4"[^>]*checked', response.text)
    assert 'aria-invalid="true"' in response.text
    with session_factory() as s:  # nothing was saved
        assert open_link(s, link.removeprefix("/s/")).status == "not_started"


def test_save_resume_submit_then_the_link_shows_the_answers(client: TestClient, sw: SurveyWorld,
                                                           session_factory) -> None:
    link = sw.link(session_factory, _manager(sw))
    assert client.post(link, data={"i_workload_fits": "4", "action": "save"}).status_code == 303
    resumed = client.get(link)
    assert re.search(r'id="i_workload_fits_4"[^>]*checked', resumed.text)
    incomplete = client.post(link, data={"action": "submit"})
    assert incomplete.status_code == 422
    assert "Svara på frågan" in incomplete.text or "field-error" in incomplete.text
    done = client.post(link, data=_all_answers(resumed.text))
    assert done.status_code == 303, done.text
    shown = client.get(link)
    assert "Dina svar" in shown.text and "Skicka mina svar" not in shown.text
    again = client.post(link, data=_all_answers(resumed.text))  # a reused link
    assert again.status_code == 409
    assert "redan skickat" in again.text
    csv = client.get(link + "/answers.csv")
    assert csv.status_code == 200 and "text/csv" in csv.headers["content-type"]
    assert "Stämmer delvis" in csv.text


def test_refusals_speak_the_respondents_language(client: TestClient, sw: SurveyWorld,
                                                 session_factory) -> None:
    person_id = _manager(sw, 1)
    with session_factory() as s, s.begin():
        s.get(Person, person_id).locale = "en"
    response = client.post(sw.link(session_factory, person_id), data={"i_workload_fits": "0"})
    assert response.status_code == 422
    assert 'lang="en"' in response.text
    assert "is not a point on this scale" in response.text


@pytest.mark.parametrize("path", ["/s/abc", "/s/not-a-real-token-at-all", "/s/" + "x" * 600,
                                  "/s/abc/answers.csv", "/s/abcdefghij/day/99", "/s/abcdefghij/day/1",
                                  "/processes/1/surveys/9", "/processes/abc/surveys/4"])
def test_odd_links_are_answered_without_500(client: TestClient, sw: SurveyWorld, path: str) -> None:
    response = client.get(path)
    assert response.status_code != 500
    assert response.status_code in (303, 404, 422)


def test_tampered_link_and_a_day_of_a_survey_without_logbook(client: TestClient, sw: SurveyWorld,
                                                            session_factory) -> None:
    link = sw.link(session_factory, _manager(sw))
    assert client.get(tamper(link)).status_code == 404
    assert client.post(tamper(link), data={"i_workload_fits": "3"}).status_code == 404
    assert client.get(link + "/day/1").status_code == 404
    assert client.post(link + "/day/1", data={"hours": "30"}).status_code in (404, 409)


def test_only_those_running_the_process_see_the_mapping(client: TestClient, sw: SurveyWorld,
                                                        session_factory) -> None:
    path = f"/processes/{sw.process_id}/surveys/4"
    sign_in(client, sw.emails["processledare"])
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert "Grupp A" in page.text and page.text.count("<h1") == 1
    sign_in(client, sw.emails["processagare"])
    assert client.get(path).status_code == 200
    sign_in(client, sw.emails["chef"])
    assert client.get(path).status_code in (403, 404)
    other = build_world(session_factory, sw.world.now)
    sign_in(client, other.emails["processledare"])
    assert client.get(path).status_code == 404
    assert client.get(f"/processes/{sw.process_id}/report").status_code == 404
    assert client.get(f"/processes/{sw.process_id}/surveys/4/results.csv").status_code == 404


def test_extend_refusals_and_close_with_suppressed_results(client: TestClient, sw: SurveyWorld,
                                                           session_factory) -> None:
    path = f"/processes/{sw.process_id}/surveys/4"
    csrf = sign_in(client, sw.emails["processledare"])
    bad = client.post(path + "/extend", data={"csrf_token": csrf, "closes_on": "snart"})
    assert bad.status_code == 422 and 'id="closes_on-error"' in bad.text and 'value="snart"' in bad.text
    for odd in ("0001-01-01", "9999-12-31", "2027-02-30", "\x00", "x" * 5000):
        assert client.post(path + "/extend", data={"csrf_token": csrf, "closes_on": odd}).status_code == 422
    earlier = client.post(path + "/extend", data={"csrf_token": csrf, "closes_on": "2020-01-01"})
    assert earlier.status_code == 409 and "senare" in earlier.text
    later = client.post(path + "/extend", data={"csrf_token": csrf, "closes_on": "2099-12-31"})
    assert later.status_code == 303
    assert client.post(path + "/close", data={"csrf_token": "forged"}).status_code == 403
    assert client.get(path + "/results.csv").status_code == 409  # not closed yet
    assert simulate_others(session_factory, sw) == 15
    with session_factory() as s:
        invitation = s.scalars(select(Invitation).where(Invitation.survey_id == sw.survey_id)).first()
        link = sw.link(session_factory, invitation.person_id)  # closing deletes what links are made from
    closed = client.post(path + "/close", data={"csrf_token": csrf})
    assert closed.status_code == 303
    page = client.get(closed.headers["location"])
    assert page.status_code == 200
    assert "dolt (färre än 5 svar)" in page.text
    assert client.post(path + "/close", data={"csrf_token": csrf}).status_code == 409
    csv = client.get(path + "/results.csv")
    assert csv.status_code == 200 and "dolt" in csv.text
    report = client.get(f"/processes/{sw.process_id}/report")
    assert report.status_code == 200
    # The report's own inline styles are allowed by hash; scripts stay limited to 'self'.
    csp = report.headers["content-security-policy"]
    assert "'sha256-" in csp and "script-src 'self';" in csp and "unsafe-inline" not in csp
    after = client.post(link, data={"i_workload_fits": "3"})
    assert after.status_code == 409 and "Enkäten stängde" in after.text


@pytest.mark.parametrize("field", ["i_workload_fits", "i_staff_count"])
@pytest.mark.parametrize("value", ["nan", "1e400", "-inf", "x" * 30000])
def test_odd_numbers_are_refused_not_500(client: TestClient, sw: SurveyWorld, session_factory,
                                         field: str, value: str) -> None:
    response = client.post(sw.link(session_factory, _manager(sw)), data={field: value, "action": "save"})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.text


def test_a_respondents_task_link_leads_to_their_questionnaire(client: TestClient, sw: SurveyWorld,
                                                               session_factory) -> None:
    from models import Task
    from notifications.links import make_task_token

    manager = _manager(sw)
    with session_factory() as s:
        task = s.scalar(select(Task).where(Task.activity_key == "answer_survey_1", Task.status == "open",
                                           Task.candidates.any(person_id=manager)))
        token = make_task_token(task.id, manager, task.route_version)
    own = sw.link(session_factory, manager)
    # The mail's task link signs the manager in and goes straight on to the questionnaire.
    assert client.get(f"/t/{token}").headers["location"] == own
    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200 and f'href="{own}"' in page.text
    assert "Markera som klar" not in page.text  # answering, not a button, completes it
    client.post(own, data=_all_answers(client.get(own).text))
    after = client.get(f"/tasks/{task.id}").text
    assert f'href="{own}"' not in after  # answered: nothing more is asked of them
    assert client.get(f"/t/{token}").headers["location"] == f"/tasks/{task.id}"
