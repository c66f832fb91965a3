"""The five-day logbook through its personal link: a day at a time, within 24 hours, resumable."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.e2e.survey_world import build_survey_world, open_logbook

DAY = {"hours": "8", "a_personnel": "3", "a_budget": "1", "a_administration": "2", "a_operations": "2",
       "f_meetings": "4", "f_computer": "3", "f_travel": "1", "comment": "En vanlig dag"}


def test_logbook_days_are_checked_saved_and_resumed(client: TestClient, session_factory) -> None:
    sw = open_logbook(session_factory, build_survey_world(session_factory, seed=12))
    link = sw.link(session_factory, sw.world.by_role["chef"][0])
    start = client.get(link)
    assert start.status_code == 200
    assert f'href="{link}/day/5"' in start.text and "inte ifylld än" in start.text
    day = client.get(link + "/day/1")
    assert day.status_code == 200 and day.text.count("<h1") == 1
    assert '<label for="a_personnel">' in day.text

    too_long = client.post(link + "/day/1", data={**DAY, "hours": "30", "a_other": "22"})
    assert too_long.status_code == 422
    reason = re.search(r'id="hours-error">([^<]+)<', too_long.text).group(1)
    assert "24" in reason and "30" in reason
    assert 'id="hours" name="hours" type="text" inputmode="decimal" value="30"' in too_long.text

    off = client.post(link + "/day/1", data={**DAY, "a_personnel": "5"})
    assert off.status_code == 422
    assert "10" in re.search(r'id="areas-error">([^<]+)<', off.text).group(1)
    assert 'value="5"' in off.text and "En vanlig dag" in off.text

    assert client.post(link + "/day/1", data=DAY).status_code == 303
    assert 'value="3"' in client.get(link + "/day/1").text  # resumed
    assert "sparad" in client.get(link).text
    early = client.post(link, data={"i_ordinary_week": "typical", "action": "submit"})
    assert early.status_code == 422 and "alla 5 dagar" in early.text
    assert client.get(link + "/day/6").status_code == 404
    assert client.post(link + "/day/2", data={"hours": "åtta"}).status_code == 422
    for number in range(2, 6):
        assert client.post(link + f"/day/{number}", data=DAY).status_code == 303
    sent = client.post(link, data={"i_ordinary_week": "typical", "action": "submit"})
    assert sent.status_code == 303, sent.text
    shown = client.get(link)
    assert "Dag 5" in shown.text and "Personal och arbetsledning" in shown.text
    assert client.post(link + "/day/1", data=DAY).status_code == 409
