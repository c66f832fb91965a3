"""Swedish working days: holidays, de facto holidays, weekends and the counting functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.calendar import (
    add_working_days,
    is_working_day,
    local_date,
    non_working_holidays,
    working_days_between,
)

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 3),  # Långfredagen
        date(2026, 4, 6),  # Annandag påsk
        date(2027, 3, 26),  # Långfredagen
        date(2027, 3, 29),  # Annandag påsk
        date(2026, 5, 14),  # Kristi himmelsfärdsdag
        date(2027, 5, 6),  # Kristi himmelsfärdsdag
        date(2026, 5, 1),  # Första maj
        date(2025, 6, 6),  # Nationaldagen on a Friday
        date(2026, 6, 19),  # Midsommarafton (de facto)
        date(2027, 6, 25),  # Midsommarafton (de facto)
        date(2026, 12, 24),  # Julafton (de facto)
        date(2026, 12, 25),  # Juldagen
        date(2026, 12, 31),  # Nyårsafton (de facto)
        date(2027, 1, 1),  # Nyårsdagen
        date(2027, 1, 6),  # Trettondedag jul
    ],
)
def test_holidays_and_eves_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 4, 2),  # Skärtorsdagen is a working day
        date(2026, 4, 7),  # the Tuesday after Easter
        date(2026, 5, 13),  # the day before Kristi himmelsfärd
        date(2026, 5, 15),  # klämdag: a working day by law
        date(2026, 6, 18),  # the day before midsommarafton
        date(2026, 6, 22),  # the Monday after midsommar
        date(2026, 12, 23),
        date(2026, 12, 28),
        date(2027, 1, 7),
        date(2026, 11, 2),  # Monday after Alla helgons dag
    ],
)
def test_ordinary_weekdays_are_working_days(day: date) -> None:
    assert is_working_day(day)


def test_weekends_are_never_working_days() -> None:
    saturday = date(2026, 3, 7)
    assert not is_working_day(saturday)
    assert not is_working_day(saturday + timedelta(days=1))


def test_sundays_are_not_listed_as_holidays() -> None:
    """holidays.Sweden can list every Sunday; the calendar must not depend on it."""
    names = set(non_working_holidays(2026).values())
    assert "Söndag" not in names
    assert {"Midsommarafton", "Midsommardagen", "Julafton", "Nyårsafton"} <= names
    assert len(non_working_holidays(2026)) < 20


def test_midsummer_both_eve_and_day() -> None:
    year = non_working_holidays(2026)
    assert year[date(2026, 6, 19)] == "Midsommarafton"
    assert year[date(2026, 6, 20)] == "Midsommardagen"
    assert year[date(2026, 6, 6)] == "Nationaldagen"


def test_easter_2026_run() -> None:
    # Thursday 2 April + 1 working day skips Långfredag, the weekend and Annandag påsk.
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    assert working_days_between(date(2026, 4, 2), date(2026, 4, 7)) == 1


def test_easter_2027_run() -> None:
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert add_working_days(date(2027, 3, 30), -1) == date(2027, 3, 25)


def test_ascension_day_is_skipped() -> None:
    assert add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 15)


def test_christmas_and_new_year_run() -> None:
    # From Wednesday 23 Dec 2026: 24, 25 off, weekend, 28-30 work, 31 and 1 Jan off.
    start = date(2026, 12, 23)
    assert add_working_days(start, 1) == date(2026, 12, 28)
    assert add_working_days(start, 3) == date(2026, 12, 30)
    assert add_working_days(start, 4) == date(2027, 1, 4)
    assert add_working_days(start, 6) == date(2027, 1, 7)  # 6 Jan is Trettondedag jul
    assert working_days_between(start, date(2027, 1, 7)) == 6


def test_midsummer_week_2026() -> None:
    assert add_working_days(date(2026, 6, 18), 1) == date(2026, 6, 22)


def test_zero_and_sign() -> None:
    saturday = date(2026, 3, 7)
    assert add_working_days(saturday, 0) == saturday
    assert working_days_between(saturday, saturday) == 0
    assert working_days_between(date(2026, 3, 9), date(2026, 3, 6)) == -1
    assert add_working_days(saturday, -1) == date(2026, 3, 6)


def test_local_date_uses_stockholm() -> None:
    late = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)  # already 10 March in Stockholm
    assert local_date(late) == date(2026, 3, 10)
    assert local_date(late, "UTC") == date(2026, 3, 9)
    assert local_date(late, ZoneInfo("America/New_York")) == date(2026, 3, 9)
    summer = datetime(2026, 6, 30, 22, 0, tzinfo=UTC)  # CEST, +2
    assert local_date(summer) == date(2026, 7, 1)
    with pytest.raises(ValueError):
        local_date(datetime(2026, 3, 9, 12, 0))


@given(dates, st.integers(min_value=1, max_value=400))
def test_adding_lands_on_a_working_day(d: date, n: int) -> None:
    assert is_working_day(add_working_days(d, n))
    assert add_working_days(d, n) > d


@given(dates, st.integers(min_value=0, max_value=400))
def test_between_inverts_add(d: date, n: int) -> None:
    assert working_days_between(d, add_working_days(d, n)) == n


@given(dates, st.integers(min_value=1, max_value=400))
def test_going_back_from_a_working_day_inverts(d: date, n: int) -> None:
    start = add_working_days(d, 1)  # a working day
    back = add_working_days(start, -n)
    assert is_working_day(back)
    assert working_days_between(start, back) == -n
    assert add_working_days(back, n) == start


@given(dates, dates)
def test_between_is_antisymmetric_and_bounded(a: date, b: date) -> None:
    count = working_days_between(a, b)
    assert count == -working_days_between(b, a)
    assert abs(count) <= abs((b - a).days)


@given(dates, dates, dates)
def test_between_is_additive(a: date, b: date, c: date) -> None:
    assert working_days_between(a, c) == working_days_between(a, b) + working_days_between(b, c)


@given(dates)
def test_every_week_has_at_most_five_working_days(d: date) -> None:
    week = [d + timedelta(days=i) for i in range(7)]
    assert sum(is_working_day(x) for x in week) <= 5
