"""The sweep's pure planner: when a task gets a reminder, an overdue notice or an escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.calendar import add_working_days, is_working_day, working_days_between
from flows.sweep_plan import Plan, Policy, TaskFacts, plan_task

POLICY = Policy(remind_before=2, overdue_every=2, escalate_after=3)
DUE = date(2026, 3, 18)  # a Wednesday
FRESH = TaskFacts(due=DUE, created_on=date(2026, 3, 2), last_reminded_on=None, level=0)


def after(facts: TaskFacts, plan: Plan, today: date) -> TaskFacts:
    """The task facts once ``plan`` was carried out on ``today``."""
    last = today if plan.reminder else facts.last_reminded_on
    return replace(facts, last_reminded_on=last, level=plan.level)


@pytest.mark.parametrize(
    ("today", "reminder", "slot", "level"),
    [
        (date(2026, 3, 13), None, 0, 0),  # three working days before: too early
        (date(2026, 3, 16), "task_reminder", 0, 0),  # two before
        (date(2026, 3, 18), "task_reminder", 0, 0),  # due today, never reminded: catch up
        (date(2026, 3, 19), "task_overdue", 1, 0),  # first working day after due
        (date(2026, 3, 23), "task_overdue", 2, 1),  # 3 overdue: second slot and level 1
        (date(2026, 3, 26), "task_overdue", 3, 2),  # 6 overdue: level 2
        (date(2026, 4, 14), "task_overdue", 9, 2),  # 17 overdue (Easter off): capped
    ],
)
def test_plan_for_a_fresh_task(today: date, reminder: str | None, slot: int, level: int) -> None:
    plan = plan_task(FRESH, today, POLICY)
    assert (plan.reminder, plan.slot, plan.level) == (reminder, slot, level)


def test_one_reminder_before_due() -> None:
    reminded = replace(FRESH, last_reminded_on=date(2026, 3, 16))
    assert plan_task(reminded, date(2026, 3, 17), POLICY).reminder is None
    assert not plan_task(reminded, date(2026, 3, 18), POLICY).changes(reminded)


def test_task_created_inside_the_window_gets_no_early_reminder() -> None:
    late = replace(FRESH, created_on=date(2026, 3, 16))
    assert plan_task(late, date(2026, 3, 17), POLICY).reminder is None
    assert plan_task(late, date(2026, 3, 19), POLICY).reminder == "task_overdue"


def test_overdue_cadence_waits_for_the_next_slot() -> None:
    told = replace(FRESH, last_reminded_on=date(2026, 3, 19))
    assert plan_task(told, date(2026, 3, 20), POLICY).reminder is None
    assert plan_task(told, date(2026, 3, 23), POLICY).reminder == "task_overdue"


def test_level_clears_when_the_due_date_moves_later() -> None:
    escalated = replace(FRESH, due=date(2026, 4, 30), level=1)
    plan = plan_task(escalated, date(2026, 3, 23), POLICY)
    assert plan.level == 0 and plan.changes(escalated)


def test_level_never_drops_while_overdue() -> None:
    escalated = replace(FRESH, level=2)
    assert plan_task(escalated, date(2026, 3, 19), POLICY).level == 2


def test_no_early_reminder_when_disabled() -> None:
    policy = replace(POLICY, remind_before=0)
    assert plan_task(FRESH, DUE, policy).reminder is None


working_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)).map(
    lambda d: add_working_days(d, 1)
)


@given(
    created=working_days,
    due_in=st.integers(min_value=0, max_value=20),
    before=st.integers(min_value=0, max_value=5),
    every=st.integers(min_value=1, max_value=5),
    escalate=st.integers(min_value=1, max_value=6),
    horizon=st.integers(min_value=1, max_value=40),
)
def test_daily_sweeps_follow_the_cadence(created, due_in, before, every, escalate, horizon):
    """Sweeping every working day: one early reminder, one per overdue slot, rising levels."""
    policy = Policy(before, every, escalate)
    due = add_working_days(created, due_in)
    facts = TaskFacts(due=due, created_on=created, last_reminded_on=None, level=0)
    early = overdue = 0
    day = created
    for _ in range(due_in + horizon):
        day = add_working_days(day, 1)
        plan = plan_task(facts, day, policy)
        early += plan.reminder == "task_reminder"
        overdue += plan.reminder == "task_overdue"
        assert plan.level >= facts.level
        facts = after(facts, plan, day)
        assert not plan_task(facts, day, policy).changes(facts), "a second sweep changes nothing"
    late = working_days_between(due, day)
    assert early == (1 if before >= 1 and due_in > before else 0)
    assert overdue == -(-late // every)
    assert facts.level == min(policy.max_level, late // escalate)


@given(created=working_days, gap=st.integers(min_value=1, max_value=30))
def test_a_missed_stretch_sends_one_catch_up(created: date, gap: int) -> None:
    """After days without sweeps, one sweep sends one notice, not one per missed slot."""
    due = add_working_days(created, 5)
    facts = TaskFacts(due=due, created_on=created, last_reminded_on=None, level=0)
    today = add_working_days(due, gap)
    plan = plan_task(facts, today, POLICY)
    assert plan.reminder == "task_overdue"
    done = after(facts, plan, today)
    assert not plan_task(done, today, POLICY).changes(done)
    assert is_working_day(today) and today - due >= timedelta(days=1)
