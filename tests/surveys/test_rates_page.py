"""The processledare's mapping page shows no count below the anonymity threshold, open or closed.

A group of 3 that all answered would read "3 of 3" beside results that hide the group:
a participation count that small is itself telling (and, noted down while the mapping is
open, it would still be known after the close). The page follows the results' rule live:
groups (and the total) under the threshold, or from which such a group could be worked
out, show a marker instead of counts; once closed only the published participation is shown.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.survey_world import build_survey_world, simulate_others
from tests.e2e.test_pages_http import sign_in

FEW = "dolt (färre än 5 svar)"
PROTECTS = "dolt (för att en mindre grupp inte ska kunna räknas fram)"


@pytest.fixture
def client(session_factory, tmp_path: Path):
    from api.app import create_app
    from tests.e2e.conftest import app_settings

    with TestClient(create_app(app_settings(tmp_path)), base_url="https://testserver",
                    follow_redirects=False) as c:
        yield c


def _rows(html: str, table_class: str) -> dict[str, str]:
    """Row heading -> the row's cells as text, in the table of class ``table_class``."""
    match = re.search(rf'<table class="{table_class}">(.*?)</table>', html, re.S)
    assert match, table_class
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", match.group(1).split("</thead>")[1], re.S):
        name = re.sub(r"<[^>]+>", "", re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1)).strip()
        rows[name] = " ".join(re.sub(r"<[^>]+>", "", c).strip()
                              for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
    return rows


def test_a_small_groups_answers_are_never_counted_on_the_page(client: TestClient, session_factory):
    sw = build_survey_world(session_factory)  # groups A, B, C of 3, 6 and 6
    path = f"/processes/{sw.process_id}/surveys/4"
    csrf = sign_in(client, sw.emails["processledare"])

    simulate_others(session_factory, sw, share=0.2)  # a few answers: the total is under 5 too
    rows = _rows(client.get(path).text, "response-rates")
    assert rows["Alla chefer"] == FEW and all(v in (FEW, PROTECTS) or v.startswith("6 ")
                                             for v in rows.values())
    simulate_others(session_factory, sw)  # everyone has answered: 3 of 3 in group A
    page = client.get(path).text
    rows = _rows(page, "response-rates")
    assert rows["Grupp A"] == FEW  # not "3 3 100 %"
    assert rows["Grupp B"] == PROTECTS  # else A = all managers - B - C
    assert rows["Grupp C"] == "6 6 100\xa0%" and rows["Alla chefer"] == "15 15 100\xa0%"
    assert 'id="answered-total">15<' in page

    assert client.post(path + "/close", data={"csrf_token": csrf}).status_code == 303
    page = client.get(path).text
    assert 'class="response-rates"' not in page  # the published participation only
    rows = _rows(page, "participation")
    assert rows["Grupp A"] == FEW and rows["Grupp B"] == PROTECTS and rows["Alla chefer"] == "15 15 100\xa0%"
