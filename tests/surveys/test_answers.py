"""Answer checks (pure): Likert points, options, numbers, and the logbook day's arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from surveys.answers import clean_day, clean_items, missing_days
from surveys.errors import SurveyRefused
from surveys.loader import shipped_instruments

SURVEY = shipped_instruments()[1]
LOGBOOK = shipped_instruments()[2]
SPEC = LOGBOOK.logbook
AREAS = {"personnel": 3, "budget": 1, "administration": 2, "operations": 2, "other": 0}
FORMS = {"meetings": 4, "computer": 3, "travel": 0.5, "other": 0.5}


def test_a_complete_day_is_stored_in_numbers():
    day, issues = clean_day(SPEC, 0, {"hours": "8", "areas": AREAS, "forms": FORMS, "comment": " ok "})
    assert issues == []
    assert day == {"hours": 8.0, "areas": {k: float(v) for k, v in AREAS.items()},
                   "forms": {k: float(v) for k, v in FORMS.items()}, "comment": "ok"}


def test_a_day_over_24_hours_is_refused_with_the_reason():
    areas = {"personnel": 20, "operations": 6}
    _, issues = clean_day(SPEC, 2, {"hours": 26, "areas": areas, "forms": {"meetings": 26}})
    assert [(i.path, i.code) for i in issues] == [("days[2].hours", "day_over_limit")]
    assert issues[0].reason("sv") == "En dag kan inte ha fler än 24 timmar (du angav 26)."
    assert issues[0].reason("en") == "A day cannot have more than 24 hours (you entered 26)."


def test_splits_that_do_not_add_up_are_named():
    _, issues = clean_day(SPEC, 0, {"hours": 8, "areas": AREAS, "forms": {"meetings": 2}})
    assert [(i.path, i.code) for i in issues] == [("days[0].forms", "forms_mismatch")]
    assert "2" in issues[0].reason("sv") and "8" in issues[0].reason("sv")


def test_negative_and_unknown_parts_are_refused():
    _, issues = clean_day(SPEC, 0, {"areas": {"personnel": -1, "golf": 2}, "forms": {}})
    codes = {(i.path, i.code) for i in issues}
    assert ("days[0].areas.golf", "unknown_item") in codes
    assert ("days[0].areas.personnel", "negative_hours") in codes


def test_a_sixth_day_does_not_exist():
    _, issues = clean_day(SPEC, 5, {"hours": 1})
    assert [i.code for i in issues] == ["unknown_day"]
    assert missing_days(SPEC, [{"hours": 1}, None, {"hours": 2}]) == [1, 3, 4]


@given(st.lists(st.integers(0, 40), min_size=5, max_size=5), st.lists(st.integers(0, 40), min_size=4,
                                                                      max_size=4))
def test_any_accepted_day_adds_up_and_stays_within_a_day(area_quarters, form_quarters):
    areas = {c.key: q / 4 for c, q in zip(SPEC.areas, area_quarters, strict=True)}
    forms = {c.key: q / 4 for c, q in zip(SPEC.forms, form_quarters, strict=True)}
    day, issues = clean_day(SPEC, 0, {"areas": areas, "forms": forms})
    if not issues:
        assert day["hours"] <= 24
        assert abs(sum(day["areas"].values()) - day["hours"]) <= SPEC.tolerance_hours
        assert abs(sum(day["forms"].values()) - day["hours"]) <= SPEC.tolerance_hours


def test_likert_off_the_scale_and_unknown_options_are_refused():
    clean, issues = clean_items(SURVEY, {"workload_fits": 7, "staff_group_size": "huge",
                                         "staff_count": "tolv", "recovers": "4"}, complete=False)
    assert clean["recovers"] == 4
    assert {(i.path, i.code) for i in issues} == {
        ("items.workload_fits", "not_on_scale"), ("items.staff_group_size", "not_an_option"),
        ("items.staff_count", "not_a_number")}
    refusal = SurveyRefused("invalid_answers", issues=issues)
    assert refusal.messages("sv")["items.workload_fits"] == "7 finns inte på den här skalan."
    assert refusal.messages("en")["items.workload_fits"] == "7 is not a point on this scale."


def test_a_complete_submission_needs_every_required_answer():
    _, issues = clean_items(SURVEY, {}, complete=True)
    required = {f"items.{i.key}" for i in SURVEY.items() if i.required}
    assert {i.path for i in issues} == required and {i.code for i in issues} == {"required"}
