"""Swedish working days in Europe/Stockholm: the calendar due dates and reminders count in.

A working day is a weekday (Monday-Friday) that is neither a Swedish public
holiday (allmän helgdag, from ``holidays.Sweden``) nor one of the three eves
that Swedish working life treats as holidays although the law does not name
them: midsommarafton, julafton and nyårsafton (the Annual Leave Act, SFS
1977:480 §7, puts them on a par with Sundays, and collective agreements in
municipalities give them off). Sundays are weekend days already; we ask the
library for public holidays only and never for its optional "every Sunday is a
holiday" entries, so the answer does not depend on the library's default for
``include_sundays`` (it changed between versions).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = "Europe/Stockholm"
_EVES = ("Midsommarafton", "Julafton", "Nyårsafton")


def _midsummer_eve(year: int) -> date:
    """The Friday between 19 and 25 June."""
    june_19 = date(year, 6, 19)
    return june_19 + timedelta(days=(4 - june_19.weekday()) % 7)


@lru_cache(maxsize=64)
def non_working_holidays(year: int) -> dict[date, str]:
    """The holidays and de facto holidays of ``year`` that fall on any day, by date."""
    public = holidays.Sweden(years=year, include_sundays=False, language="sv")
    days = {d: name for d, name in public.items() if name != "Söndag"}
    eves = (_midsummer_eve(year), date(year, 12, 24), date(year, 12, 31))
    for day, name in zip(eves, _EVES, strict=True):
        days.setdefault(day, name)
    return days


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a Swedish working day (no weekend, holiday or holiday eve)."""
    return d.weekday() < 5 and d not in non_working_holidays(d.year)


def add_working_days(d: date, n: int) -> date:
    """The ``n``-th working day after ``d`` (before it when ``n`` is negative); ``d`` when 0."""
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    current = d
    while remaining:
        current += step
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(a: date, b: date) -> int:
    """Working days after ``a`` up to and including ``b``; negative when ``b`` is before ``a``."""
    if b < a:
        return -working_days_between(b, a)
    count = 0
    current = a
    while current < b:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


def local_date(dt: datetime, tz: str | tzinfo = STOCKHOLM) -> date:
    """The calendar date of the aware datetime ``dt`` in time zone ``tz``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime given; use an aware datetime")
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return dt.astimezone(zone).date()
