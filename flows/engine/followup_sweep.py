"""Reminders for upcoming and overdue follow-up meetings, for the routing sweep to call.

Same policy and pure planner as the task sweep (``flows.sweep_plan.plan_task``): a
reminder before the date to the plan owner, an overdue notice after it, and
escalation to processägare/processledare (level 1) and the beställare (level 2).
Each meeting is written in its own savepoint with one audit event; dedupe keys
make a repeated sweep send nothing twice. Flushes, never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from chefoskop.i18n import SUPPORTED_LOCALES, gettext
from chefoskop.settings import Settings, get_settings
from flows.batch import item_scope, lock_for_batch
from flows.calendar import add_working_days, is_working_day, local_date
from flows.engine.core import Actor, Context, record
from flows.engine.notify import holders, process_payload
from flows.engine.queries import definition_of
from flows.sweep_plan import ESCALATION_ROLES, Policy, TaskFacts, plan_task
from models import ActionPlan, FollowUpMeeting, Person, Process
from notifications.outbox import enqueue

log = logging.getLogger(__name__)
FOLLOW_UP_ACTOR = Actor(label="flow:follow_up_sweep")


@dataclass
class FollowUpReport:
    """Notices queued for follow-up meetings, and meetings examined, skipped or failed."""

    reminders: int = 0
    overdue: int = 0
    escalations: int = 0
    examined: int = 0
    skipped: int = 0
    failed: int = 0


def _payload(ctx: Context, process: Process, plan: ActionPlan, meeting: FollowUpMeeting,
             owner: Person | None, overdue: int, level: int) -> dict:
    step = definition_of(process).step(9)
    title = {lang: gettext(lang, "Follow-up meeting: %(plan)s", plan=plan.title)
             for lang in SUPPORTED_LOCALES}
    return {**process_payload(ctx, process), "task_id": None, "task_route_version": None,
            "task_title": title, "step_number": 9, "step_title": step.title.model_dump(),
            "due_date": meeting.scheduled_on.isoformat(), "reopen_reason": None,
            "overdue_days": max(overdue, 0), "level": level, "escalation_level": level,
            "assignee_name": owner.name if owner else None}


def _queue(ctx: Context, kind: str, recipients: list[Person], payload: dict, prefix: str,
           process_id: int) -> int:
    sent = 0
    for person in recipients:
        if person.active and enqueue(ctx.session, kind=kind, recipient=person, payload=payload,
                                     process_id=process_id, dedupe_key=f"{prefix}:{person.id}",
                                     now=ctx.now) is not None:
            sent += 1
    return sent


def _escalation_recipients(ctx: Context, process_id: int, level: int, skip: int) -> list[Person]:
    found: dict[int, Person] = {}
    for role in ESCALATION_ROLES[level]:
        for person in holders(ctx, process_id, role):
            found.setdefault(person.id, person)
    return [p for p in found.values() if p.id != skip]


def _apply(ctx: Context, meeting: FollowUpMeeting, process: Process, plan, tz: str) -> FollowUpReport:
    today = local_date(ctx.now, tz)
    facts = TaskFacts(due=meeting.scheduled_on, created_on=local_date(meeting.created_at, tz),
                      last_reminded_on=local_date(meeting.last_reminder_at, tz) if meeting.last_reminder_at
                      else None, level=meeting.escalation_level)
    todo = plan_task(facts, today, Policy.from_settings(get_settings()))
    done = FollowUpReport()
    if not todo.changes(facts):
        return done
    level_from = meeting.escalation_level
    meeting.last_reminder_at = ctx.now if todo.reminder else meeting.last_reminder_at
    meeting.escalation_level = todo.level
    ctx.session.flush()  # the version check: a concurrent change raises StaleDataError here
    owner = ctx.session.get(Person, plan.owner_id)
    payload = _payload(ctx, process, plan, meeting, owner, todo.overdue_days, todo.level)
    key = f"follow-up:{meeting.id}:{meeting.scheduled_on}"
    if todo.reminder and owner is not None:
        sent = _queue(ctx, todo.reminder, [owner], payload, f"{key}:{todo.reminder}:{todo.slot}", process.id)
        setattr(done, "reminders" if todo.reminder == "task_reminder" else "overdue", sent)
    if todo.level > level_from:
        told = _escalation_recipients(ctx, process.id, todo.level, plan.owner_id)
        done.escalations = _queue(ctx, "escalation", told, payload, f"{key}:escalate:{todo.level}",
                                  process.id)
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="follow_up_meeting",
           entity_id=meeting.id, action="escalated" if todo.level > level_from else "reminded",
           from_state=meeting.status, to_state=meeting.status,
           data={"reminder": todo.reminder, "overdue_days": todo.overdue_days, "level_from": level_from,
                 "level_to": todo.level})
    return done


def _due_meetings(session: Session, horizon: date):
    return session.execute(
        select(FollowUpMeeting, Process, ActionPlan)
        .join(Process, Process.id == FollowUpMeeting.process_id)
        .join(ActionPlan, ActionPlan.id == FollowUpMeeting.plan_id)
        .where(FollowUpMeeting.status == "scheduled", ActionPlan.status == "adopted",
               Process.status.in_(("running", "completed")),
               or_(FollowUpMeeting.scheduled_on <= horizon, FollowUpMeeting.escalation_level > 0))
        .order_by(FollowUpMeeting.id)).all()


def follow_up_reminders(session: Session, now: datetime, settings: Settings | None = None) -> FollowUpReport:
    """Remind, chase and escalate scheduled follow-up meetings (flushes; the caller commits)."""
    settings = settings or get_settings()
    report = FollowUpReport()
    today = local_date(now, settings.timezone)
    if not is_working_day(today):
        return report
    lock_for_batch(session)
    ctx = Context(session, FOLLOW_UP_ACTOR, now)
    horizon = add_working_days(today, settings.remind_before_due_days)
    for meeting, process, plan in _due_meetings(session, horizon):
        report.examined += 1
        try:
            with item_scope(session):
                part = _apply(ctx, meeting, process, plan, settings.timezone)
        except (StaleDataError, IntegrityError):
            report.skipped += 1
            continue
        except Exception:  # one broken meeting must not stop the others' reminders
            log.exception("follow-up sweep: meeting %s failed and was left unchanged", meeting.id)
            report.failed += 1
            continue
        for name in ("reminders", "overdue", "escalations"):
            setattr(report, name, getattr(report, name) + getattr(part, name))
    return report


def run_follow_up_reminders(now: datetime | None = None) -> FollowUpReport:
    """Run ``follow_up_reminders`` in its own committed transaction (for the scheduled sweep)."""
    from chefoskop import clock
    from chefoskop.db import unit_of_work

    with unit_of_work() as session:
        return follow_up_reminders(session, now or clock.now())
