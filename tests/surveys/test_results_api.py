"""The results API (/api/v1): published results, response rates and downloads of a mapping.

40 simulated managers in groups of 14, 12, 11 and 3: the group of 3 and the one hidden to
protect it carry no numbers anywhere in the API; each read of results is logged like the
pages' reads; another organisation gets 404, a person of the process who does not run it 403.
"""

from __future__ import annotations

import random
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.security.tokens import mint_token
from chefoskop import clock
from chefoskop.seed import build_organisation
from flows.engine.core import Context
from models import ApiToken, Person, ResultAccess, Survey
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey
from surveys.simulate import simulate_answers
from tests.surveys.conftest import advance_until, until_phase

NAMES = ["Hemtjänsten", "Skolorna", "Samhällsbyggnad", "Kulturen"]
SMALL, COMPLEMENT = "Kulturen", "Samhällsbyggnad"
THRESHOLD = 5


@pytest.fixture
def mapping(world_factory, session_factory):
    """Step 4 answered by all 40 managers and still open: (world, survey id)."""
    world = world_factory(managers=40, groups=[14, 12, 11, 3], names=NAMES, seed=11)
    advance_until(world, until_phase(4, "aktivitet"))
    with clock.simulated_clock(lambda: world.now), session_factory() as s, s.begin():
        survey_id = s.scalars(select(Survey.id)).one()
        assert simulate_answers(s, survey_id, random.Random(5), answer_share=1.0) == 40
    return world, survey_id


@pytest.fixture
def client(mapping, session_factory):
    """The app on the test database, its clock at the world's time."""
    from api.app import create_app
    from chefoskop.settings import get_settings

    world, _ = mapping
    with clock.simulated_clock(lambda: world.now), TestClient(
            create_app(get_settings()), base_url="https://testserver") as c:
        yield c


def _bearer(factory, person_id: int) -> dict[str, str]:
    token, prefix, digest = mint_token()
    with factory() as s, s.begin():
        person = s.get(Person, person_id)
        s.add(ApiToken(organisation_id=person.organisation_id, person_id=person.id, name="test",
                       prefix=prefix, token_hash=digest, created_at=clock.now()))
    return {"Authorization": f"Bearer {token}"}


def _reads(factory, **where) -> int:
    with factory() as s:
        query = select(func.count(ResultAccess.id))
        for column, value in where.items():
            query = query.where(getattr(ResultAccess, column) == value)
        return s.scalar(query)


def _close(world, factory, survey_id: int) -> None:
    with clock.simulated_clock(lambda: world.now), factory() as s, s.begin():
        close_survey(Context(s, now=world.now), survey_id)
    start_aggregation([survey_id])


def _no_number_for(body: dict, keys: set[str]) -> None:
    """The hidden groups' cells are null, and every shown cell has at least the threshold."""
    for item in body["items"]:
        for group in item["groups"]:
            if group["key"] in keys:
                assert group["cell"] is None, (item["key"], group)
            elif group["cell"] is not None:
                assert group["cell"]["n"] >= THRESHOLD
        for cell in (item["overall"], item["management"]):
            assert cell is None or cell["n"] >= THRESHOLD


def test_results_rates_and_downloads_hide_the_small_group_and_every_read_is_logged(
        mapping, client, session_factory):
    world, survey_id = mapping
    f = session_factory
    leader = world.by_role["processledare"][0]
    headers = _bearer(f, leader)

    # While the mapping is open: live response rates under the threshold rule, no results yet.
    rates = client.get(f"/api/v1/surveys/{survey_id}/response-rates", headers=headers)
    assert rates.status_code == 200, rates.text
    groups = {g["name"]: g for g in rates.json()["groups"]}
    assert groups["Hemtjänsten"] == {"key": groups["Hemtjänsten"]["key"], "name": "Hemtjänsten",
                                     "kind": "managers", "shown": True, "invited": 14, "answered": 14,
                                     "rate": 1.0, "hidden_because": None}
    assert groups[SMALL]["shown"] is False and groups[SMALL]["hidden_because"] == "few"
    assert groups[COMPLEMENT]["shown"] is False and groups[COMPLEMENT]["hidden_because"] == "protects"
    for name in (SMALL, COMPLEMENT):
        assert groups[name]["invited"] is None and groups[name]["answered"] is None
    assert rates.json()["overall"] == {"invited": 40, "answered": 40, "rate": 1.0}
    listed = client.get(f"/api/v1/processes/{world.process_id}/surveys", headers=headers).json()
    assert [(s["id"], s["status"], s["results_available"]) for s in listed] == [(survey_id, "open", False)]
    refused = client.get(f"/api/v1/surveys/{survey_id}/results", headers=headers)
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert _reads(f) == 0  # a refused read leaves no trace, and nothing was shown

    _close(world, f, survey_id)
    before = _reads(f, viewer_id=leader)
    answer = client.get(f"/api/v1/surveys/{survey_id}/results", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert _reads(f, viewer_id=leader, purpose="data", survey_id=survey_id) == before + 1
    assert body["threshold"] == THRESHOLD and body["survey"]["status"] == "closed"
    part = {g["name"]: g for g in body["participation"]["groups"]}
    hidden = {part[SMALL]["key"], part[COMPLEMENT]["key"]}
    assert part[SMALL]["answered"] is None and part[SMALL]["hidden_because"] == "few"
    assert part[COMPLEMENT]["invited"] is None and part[COMPLEMENT]["hidden_because"] == "protects"
    assert body["participation"]["overall"] == {"invited": 40, "answered": 40, "rate": 1.0}
    _no_number_for(body, hidden)
    assert not hidden & {f["where"] for f in body["findings"]}
    workload = next(i for i in body["items"] if i["key"] == "workload_fits")
    assert workload["section"] == "Arbetsmängd och tid" and workload["polarity"] == "positive"
    assert workload["overall"]["n"] == 40
    assert sum(d["count"] for d in workload["overall"]["distribution"]) == 40
    assert workload["overall"]["distribution"][0]["label"] == "Stämmer inte alls"
    staff = next(i for i in body["items"] if i["key"] == "staff_count")
    assert staff["overall"]["median"] is not None
    # The same read in English; a second read is a second row.
    english = client.get(f"/api/v1/surveys/{survey_id}/results",
                         headers={**headers, "Accept-Language": "en"}).json()
    assert next(i for i in english["items"] if i["key"] == "workload_fits")["section"] == "Workload and time"
    assert _reads(f, viewer_id=leader, purpose="data", survey_id=survey_id) == before + 2

    csv = client.get(f"/api/v1/surveys/{survey_id}/results.csv", headers=headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    small_rows = [line.split(";") for line in csv.text.splitlines() if f";{SMALL};" in line]
    assert small_rows and all(row[3:] == ["", "", "dolt (färre än 5 svar)"] for row in small_rows)
    assert _reads(f, viewer_id=leader, purpose="csv", survey_id=survey_id) == 1

    pdf = client.get(f"/api/v1/processes/{world.process_id}/report.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert _reads(f, viewer_id=leader, purpose="report", survey_id=survey_id) == 1

    # The live rates after the close follow the same rule as the published participation.
    closed_rates = client.get(f"/api/v1/surveys/{survey_id}/response-rates", headers=headers).json()
    assert {g["name"] for g in closed_rates["groups"] if not g["shown"]} == {SMALL, COMPLEMENT}


def test_another_organisation_gets_404_and_a_manager_who_does_not_run_the_process_403(
        mapping, client, session_factory):
    world, survey_id = mapping
    f = session_factory
    _close(world, f, survey_id)
    with clock.simulated_clock(lambda: world.now), f() as s, s.begin():
        other = build_organisation(s, "Grannkommunen", 6, seed=12)
        foreigner = other.by_role["processledare"][0].id
        admin = s.scalar(select(Person.id).where(Person.organisation_id == other.organisation.id,
                                                 Person.is_org_admin.is_(True)))
    paths = [f"/api/v1/surveys/{survey_id}/results", f"/api/v1/surveys/{survey_id}/response-rates",
             f"/api/v1/surveys/{survey_id}/results.csv", f"/api/v1/processes/{world.process_id}/surveys",
             f"/api/v1/processes/{world.process_id}/report.pdf"]
    reads = _reads(f)
    for who, status in ((foreigner, 404), (admin, 404), (world.by_role["chef"][0], 403)):
        headers = _bearer(f, who)
        for path in paths:
            answer = client.get(path, headers=headers)
            assert answer.status_code == status, (who, path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert not re.search(rf"{SMALL}|{COMPLEMENT}|Hemtjänsten", answer.text)
    for path in paths:
        assert client.get(path).status_code == 401
    leader = _bearer(f, world.by_role["processledare"][0])
    assert client.get("/api/v1/surveys/2147483647/results", headers=leader).status_code == 404
    assert _reads(f) == reads  # no refused request left a read behind


def test_the_openapi_document_describes_the_results_routes():
    from api.app import create_app
    from chefoskop.settings import Settings

    document = create_app(Settings(environment="test")).openapi()
    paths = document["paths"]
    results = paths["/api/v1/surveys/{survey_id}/results"]["get"]["responses"]
    assert results["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/SurveyResultsOut")
    assert {"401", "403", "404", "409"} <= set(results)
    rates = paths["/api/v1/surveys/{survey_id}/response-rates"]["get"]["responses"]["200"]
    assert rates["content"]["application/json"]["schema"]["$ref"].endswith("/ResponseRatesOut")
    csv = paths["/api/v1/surveys/{survey_id}/results.csv"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in csv
    pdf = paths["/api/v1/processes/{process_id}/report.pdf"]["get"]["responses"]["200"]["content"]
    assert "application/pdf" in pdf
    schemas = document["components"]["schemas"]
    assert {"ItemResultOut", "ResultCell", "GroupRateOut", "TimeUseOut"} <= set(schemas)
