"""All three mappings through the engine, top management beside the managers, and a re-run compared."""

from __future__ import annotations

import random
import re

from sqlalchemy import select

from chefoskop import clock
from flows.engine.core import Context
from models import Invitation, MappingGroup, Survey
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey, start_rerun
from surveys.report import build_report
from surveys.results import results_csv, survey_results
from surveys.simulate import simulate_answers
from tests.surveys.conftest import advance_until, until_phase


def _answer_and_close(world, factory, step_no: int) -> int:
    advance_until(world, until_phase(step_no, "aktivitet"))
    with clock.simulated_clock(lambda: world.now), factory() as s, s.begin():
        survey = s.scalars(select(Survey).where(Survey.step_no == step_no)
                           .order_by(Survey.round.desc())).first()
        simulate_answers(s, survey.id, random.Random(step_no), answer_share=1.0)
        close_survey(Context(s, now=world.now), survey.id)
        survey_id = survey.id
    start_aggregation([survey_id])
    return survey_id


def test_three_mappings_in_the_same_groups_with_top_management_and_a_rerun(world_factory, session_factory):
    world, f = world_factory(managers=24, groups=[12, 12], seed=5), session_factory
    ids = {step: _answer_and_close(world, f, step) for step in (4, 5, 6)}
    with f() as s, s.begin():
        groups_per_survey = {sid: set(s.scalars(select(Invitation.group_id).where(
            Invitation.survey_id == sid, Invitation.role == "chef"))) for sid in ids.values()}
        assert len({frozenset(g) for g in groups_per_survey.values()}) == 1  # same groups throughout
        kinds = dict(s.execute(select(MappingGroup.key, MappingGroup.kind)).all())
        assert kinds["ledning"] == "management"
        logbook = survey_results(s, ids[5])
        mapping3 = survey_results(s, ids[6])
    use = logbook["time_use"]["overall"]
    assert use["n"] == 24 and use["days"] == 120
    assert abs(sum(use["areas"].values()) - 1) < 1e-9 and abs(sum(use["forms"].values()) - 1) < 1e-9
    management = next(g for g in mapping3["participation"]["groups"] if g["kind"] == "management")
    assert management["shown"] and management["n"] == 5
    entry = next(e for e in mapping3["items"] if e["key"] == "decisions_clear")
    assert entry["overall"]["n"] == 24 and entry["management"]["n"] == 5
    with clock.simulated_clock(lambda: world.now), f() as s, s.begin():
        rerun = start_rerun(Context(s, now=world.now), ids[4])
        assert rerun.round == 2 and rerun.status == "open"
        simulate_answers(s, rerun.id, random.Random(99), answer_share=1.0)
        close_survey(Context(s, now=world.now), rerun.id)
    with f() as s, s.begin():
        report = build_report(s, world.process_id, locale="en", pdf=False)
        csv_text = results_csv(s, ids[6], locale="en")
    assert report.pdf is None
    for heading in ("Mapping 1:", "Mapping 2:", "Mapping 3:", "Before and after", "Top management",
                    "Time by area", "Questions for the dialogue"):
        assert heading in report.html, heading
    assert "→" in report.html
    assert "Top management" in csv_text
    html = report.html
    # The overview pulls the three mappings together before the details.
    assert html.index("The three mappings at a glance") < html.index("Mapping 1:")
    assert "hours per logged day" in html and "Largest areas:" in html
    # Mapping 3's items keep their section ("How easy is it to get support from ...").
    assert '<tr class="section"><th colspan="5">How easy is it to get support from ...</th></tr>' in html
    # The logbook is not judged by the strengths rule; the rule's "no question" note is not used for it.
    logbook = html[html.index("Mapping 2:"):html.index("Mapping 3:")]
    assert "Talking about the logbook" in logbook and "No question meets the rule" not in logbook
    # Charts: a visible title, a title and a description for screen readers, the scale's ends and
    # the middle line explained, labels whole (wrapped, never cut with an ellipsis).
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert charts and all("<desc id=" in c and 'aria-labelledby="' in c for c in charts)
    means = [c for c in charts if "Mean per question" in c]
    assert means and all("Middle of the scale (3)" in c and "1 = " in c and "5 = " in c for c in means)
    assert any("worded negatively (−)" in c for c in means)
    assert not any("…<" in c for c in charts)
    assert any("Spread of the answers" in c for c in charts)
    assert "Median" in html and "(closest answer:" in html
