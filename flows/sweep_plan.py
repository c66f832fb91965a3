"""When to remind and when to escalate a task: the sweep's pure planner (no I/O).

Policy (all counts are Swedish working days, see ``flows.calendar``):

- ``task_reminder``: once, ``remind_before_due_days`` before the due date, to
  the assignee, else to every candidate. Skipped when the task was created
  inside that window (its assignment mail is still fresh).
- ``task_overdue``: on the first working day after the due date and then every
  ``overdue_reminder_every_days``, to the same people.
- ``escalation``: after ``escalate_after_overdue_days`` overdue days the task
  reaches level 1 (processägare and processledare are told); after twice that,
  level 2 adds the beställare. The level never goes past ``MAX_ESCALATION_LEVEL``
  and falls back to 0 when the due date moves so the task is no longer overdue.
  The people responsible for the task are not escalated to; they get task_overdue.
- Nothing is sent on a non-working day; a missed day catches up with the current
  reminder only, never with every missed one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chefoskop.settings import Settings
from flows.calendar import add_working_days, working_days_between

MAX_ESCALATION_LEVEL = 2
ESCALATION_ROLES: dict[int, tuple[str, ...]] = {
    1: ("processagare", "processledare"),
    2: ("processagare", "processledare", "bestallare"),
}


@dataclass(frozen=True)
class Policy:
    """The sweep's cadence, in working days."""

    remind_before: int
    overdue_every: int
    escalate_after: int
    max_level: int = MAX_ESCALATION_LEVEL

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy configured in ``settings``."""
        return cls(
            settings.remind_before_due_days,
            settings.overdue_reminder_every_days,
            settings.escalate_after_overdue_days,
        )


@dataclass(frozen=True)
class TaskFacts:
    """What the planner needs to know about one task (local dates)."""

    due: date
    created_on: date
    last_reminded_on: date | None
    level: int


@dataclass(frozen=True)
class Plan:
    """What a sweep should do for one task today."""

    reminder: str | None  # "task_reminder", "task_overdue" or None
    slot: int  # 0 before the due date, k for the k-th overdue reminder
    level: int  # the escalation level the task should have
    overdue_days: int

    def changes(self, facts: TaskFacts) -> bool:
        """Whether the plan changes the task at all."""
        return self.reminder is not None or self.level != facts.level


def _not_reminded_since(facts: TaskFacts, start: date) -> bool:
    return facts.last_reminded_on is None or facts.last_reminded_on < start


def plan_task(facts: TaskFacts, today: date, policy: Policy) -> Plan:
    """Decide the reminder and escalation level of one task on ``today`` (pure)."""
    overdue = working_days_between(facts.due, today)
    if overdue >= 1:
        slot = (overdue - 1) // policy.overdue_every + 1
        start = add_working_days(facts.due, 1 + (slot - 1) * policy.overdue_every)
        reminder = "task_overdue" if _not_reminded_since(facts, start) else None
        level = min(policy.max_level, overdue // policy.escalate_after)
        return Plan(reminder, slot, max(level, facts.level), overdue)
    reminder = None
    if policy.remind_before >= 1 and -overdue <= policy.remind_before:
        start = add_working_days(facts.due, -policy.remind_before)
        if facts.created_on < start and _not_reminded_since(facts, start):
            reminder = "task_reminder"
    return Plan(reminder, 0, 0, overdue)
