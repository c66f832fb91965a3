"""A full mapping: 40 simulated managers in 4 groups, one of 3; the report hides that group everywhere."""

from __future__ import annotations

import csv
import io
import random
import re
import statistics

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from chefoskop import clock
from flows.engine.core import Context
from models import AuditEvent, MappingGroup, Response, ResultAccess, Survey, Task
from surveys.aggregate import classify
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey, response_rates
from surveys.errors import SurveyRefused
from surveys.loader import shipped_instruments
from surveys.report import build_report
from surveys.results import results_csv, set_anonymity_threshold, survey_results
from surveys.simulate import simulate_answers
from tests.surveys.conftest import advance_until, until_phase

NAMES = ["Hemtjänsten", "Skolorna", "Samhällsbyggnad", "Kulturen"]
MARKERS = re.compile(r"dolt \((färre än \d+ svar|för att en mindre grupp inte ska kunna räknas fram)\)")
SMALL, COMPLEMENT = "Kulturen", "Samhällsbyggnad"
INSTRUMENT = shipped_instruments()[1]


@pytest.fixture
def closed_mapping(world_factory, session_factory):
    """Step 4 answered by all 40 managers (groups of 14, 12, 11 and 3) and closed."""
    world = world_factory(managers=40, groups=[14, 12, 11, 3], names=NAMES, seed=11)
    advance_until(world, until_phase(4, "aktivitet"))
    with clock.simulated_clock(lambda: world.now), session_factory() as s, s.begin():
        survey_id = s.scalars(select(Survey.id)).one()
        with pytest.raises(SurveyRefused):
            survey_results(s, survey_id)  # nothing is shown while the mapping is open
    with clock.simulated_clock(lambda: world.now), session_factory() as s, s.begin():
        assert simulate_answers(s, survey_id, random.Random(5), answer_share=1.0) == 40
        assert {r.name: r.answered for r in response_rates(s, survey_id)} == dict(
            zip(NAMES, [14, 12, 11, 3], strict=True))
        close_survey(Context(s, now=world.now), survey_id)
    start_aggregation([survey_id])
    return world, survey_id


def _raw(session, survey_id) -> dict[str, list[dict]]:
    names = dict(session.execute(select(MappingGroup.id, MappingGroup.name)).all())
    found: dict[str, list[dict]] = {}
    for group_id, answers in session.execute(select(Response.group_id, Response.answers).where(
            Response.survey_id == survey_id, Response.status == "submitted")):
        found.setdefault(names[group_id], []).append(answers["items"])
    return found


def _favourable(item, mean):
    return mean if item.polarity == "positive" else 6 - mean


def test_the_numbers_equal_an_independent_computation(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s, s.begin():
        data = survey_results(s, survey_id, viewer_id=world.by_role["processledare"][0])
        raw = _raw(s, survey_id)
        assert s.get(Survey, survey_id).results == data  # stored by the aggregation flow
    keys = {g["name"]: g["key"] for g in data["participation"]["groups"]}
    everyone = [a for answers in raw.values() for a in answers]
    assert data["participation"]["overall"] == {"invited": 40, "n": 40, "rate": 1.0}
    likert = [i for i in INSTRUMENT.items() if i.kind == "likert"]
    org_average = statistics.fmean(_favourable(i, a[i.key]) for a in everyone for i in likert if i.key in a)
    assert data["org_average"] == pytest.approx(org_average)
    for entry in data["items"]:
        item = INSTRUMENT.item(entry["key"])
        values = [a[item.key] for a in everyone if item.key in a]
        assert entry["overall"]["n"] == len(values)
        if item.kind == "likert":
            assert entry["overall"]["mean"] == pytest.approx(statistics.fmean(values))
            assert entry["overall"]["distribution"] == {str(v): values.count(v) for v in range(1, 6)}
        for name in ("Hemtjänsten", "Skolorna"):
            group_values = [a[item.key] for a in raw[name] if item.key in a]
            if item.kind != "single_choice":
                assert entry["groups"][keys[name]]["mean"] == pytest.approx(statistics.fmean(group_values))
            if item.kind == "likert":
                verdict = classify(_favourable(item, statistics.fmean(group_values)), 3.0, org_average)
                listed = data["findings"].get(keys[name], {}).get(verdict or "", [])
                assert (item.key in listed) == bool(verdict)


def test_the_small_group_is_hidden_in_the_data_and_its_complement_too(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s, s.begin():
        data = survey_results(s, survey_id)
    groups = {g["name"]: g for g in data["participation"]["groups"]}
    assert not groups[SMALL]["shown"] and "n" not in groups[SMALL]
    assert not groups[COMPLEMENT]["shown"] and "invited" not in groups[COMPLEMENT]
    assert groups["Hemtjänsten"]["n"] == 14
    for entry in data["items"]:
        assert entry["groups"][groups[SMALL]["key"]] is None
        assert entry["groups"][groups[COMPLEMENT]["key"]] is None
    assert groups[SMALL]["key"] not in data["findings"]


def test_the_small_group_is_hidden_in_the_csv(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s, s.begin():
        text = results_csv(s, survey_id, viewer_id=world.by_role["processledare"][0])
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Fråga", "Text", "Grupp", "Antal svar", "Medelvärde", "Fördelning"]
    small = [r for r in rows if r[2] in (SMALL, COMPLEMENT)]
    assert len(small) == 2 * len([i for i in INSTRUMENT.items() if i.kind != "free_text"])
    assert all(r[3:] == ["", "", "dolt (färre än 5 svar)"] for r in small if r[2] == SMALL)
    assert all(r[3:] == ["", "", "dolt (för att en mindre grupp inte ska kunna räknas fram)"]
               for r in small if r[2] == COMPLEMENT)
    assert any(r[2] == "Alla chefer" and r[3] == "40" for r in rows)


def _assert_columns_hidden(html: str) -> None:
    """In every table with a column per group, the small group's column holds only the marker."""
    checked = 0
    for table in re.findall(r"<table[^>]*>.*?</table>", html, flags=re.S):
        heads = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>.*?</th>", table, re.S)]
        if SMALL not in heads:
            continue
        for name in (SMALL, COMPLEMENT):
            col = heads.index(name)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("</thead>")[1], re.S):
                cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
                if not cells:
                    continue  # a section's heading row spans the table
                assert cells[col] == "dolt", (name, row)
                checked += 1
    assert checked > 30


def _pdf_text(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    lines = []
    for page in doc:
        lines += page.get_textpage().get_text_range().splitlines()
    return lines


def test_the_report_is_produced_and_hides_the_small_group(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s, s.begin():
        before = s.scalar(select(func.count(ResultAccess.id)))
        report = build_report(s, world.process_id, viewer_id=world.by_role["processagare"][0])
        assert s.scalar(select(func.count(ResultAccess.id))) == before + 1
    assert report.html.startswith("<!DOCTYPE html>") and "Resultat inför Dela värld" in report.html
    for row in re.findall(r"<tr[^>]*>.*?</tr>", report.html, flags=re.S):
        if SMALL in row or COMPLEMENT in row:
            text = MARKERS.sub("dolt", re.sub(r"<[^>]+>", " ", row))
            assert ("<th" in row or "dolt" in text) and not re.search(r"\d", text), row
    _assert_columns_hidden(report.html)
    assert "<svg" in report.html and SMALL not in "".join(re.findall(r"<svg.*?</svg>", report.html, re.S))
    # Every count of answers shown (tables, charts and their descriptions) is at least the threshold.
    counts = [int(n) for n in re.findall(r"(\d+) svar\b", report.html)]
    assert counts and min(counts) >= 5
    assert "Stängd " in report.html and "Stängde" not in report.html
    assert "De tre kartläggningarna i överblick" in report.html and "Median" in report.html
    lines = _pdf_text(report.pdf)
    assert any("Frågor för dialogen" in line for line in lines)
    for line in lines:
        if SMALL in line or COMPLEMENT in line:
            assert not re.search(r"\d", MARKERS.sub("dolt", line)), line
    page = pdfium.PdfDocument(report.pdf)[0].render(scale=1).to_pil().convert("L")
    dark = sum(page.histogram()[:128])
    assert page.size[0] > 500 and dark > 2000  # page 1 has text on it, not a blank page


def test_closing_completes_the_answer_tasks_and_is_audited(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s:
        statuses = set(s.scalars(select(Task.status).where(Task.activity_key == "answer_survey_1")))
        assert statuses == {"completed"}
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "survey")))
        assert actions == ["opened", "answering_started", "closed"]
        purposes = set(s.scalars(select(ResultAccess.purpose)))
        assert "flow" in purposes


def test_raising_the_threshold_hides_more_and_it_cannot_be_lowered(closed_mapping, session_factory):
    world, survey_id = closed_mapping
    with session_factory() as s, s.begin():
        set_anonymity_threshold(s, world.organisation_id, 12)
        data = survey_results(s, survey_id)
        shown = {g["name"] for g in data["participation"]["groups"] if g["shown"]}
        assert shown == {"Hemtjänsten", "Skolorna"} or not shown
        assert data["threshold"] == 12
        with pytest.raises(SurveyRefused) as caught:
            set_anonymity_threshold(s, world.organisation_id, 5)
        assert caught.value.message("sv") == "Gränsen för anonymitet kan bara höjas (den är 12)."
