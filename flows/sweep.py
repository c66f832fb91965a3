"""The reminders and escalation sweep over open tasks with a due date.

The policy (when to remind, when to escalate) is the pure planner in
``flows.sweep_plan``; this module applies its plans to the tasks in the database.

Idempotence: every outbox row has a dedupe key naming the task, its iteration,
its due date, the reminder slot or level and the recipient, and the task records
``last_reminder_at`` and ``escalation_level`` (one audit event per task update).
Concurrent sweeps: each task is written in its own savepoint (``flows.batch``);
on PostgreSQL the task's version column makes the loser of a race fail with
StaleDataError (or IntegrityError on a dedupe key) and skip the task. On SQLite
a batch first takes the database's write lock, so a second sweep waits and then
reads the first one's work. Any other error undoes that task only (``failed``).
Nothing here commits; ``run_sweep`` commits one batch per transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from chefoskop import clock
from chefoskop.settings import Settings, get_settings
from flows.batch import item_scope, lock_for_batch
from flows.calendar import add_working_days, is_working_day, local_date
from flows.engine import task_payload
from flows.engine.core import Actor, Context, record
from flows.engine.notify import holders
from flows.engine.queries import people_by_id
from flows.rules import OPEN_TASK_STATES
from flows.sweep_hooks import BEFORE_SWEEP, NO_ESCALATION, NOTICE_FILTERS
from flows.sweep_plan import ESCALATION_ROLES, Plan, Policy, TaskFacts, plan_task
from models import Person, Process, Task
from notifications.outbox import enqueue

log = logging.getLogger(__name__)

BATCH_SIZE = 500
SWEEP_ACTOR = Actor(label="flow:sweep")

@dataclass
class SweepReport:
    """Notifications queued by a sweep (messages, not tasks) and tasks seen, skipped or failed."""

    reminders: int = 0
    overdue: int = 0
    escalations: int = 0
    examined: int = 0
    skipped: int = 0  # another writer changed the task meanwhile; the next sweep looks again
    failed: int = 0  # an error undid this task's notices; logged, retried by the next sweep
    last_id: int = 0

    def add(self, other: SweepReport) -> None:
        """Add the counts of ``other``; keep the larger ``last_id``."""
        for f in fields(self):
            if f.name != "last_id":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.last_id = max(self.last_id, other.last_id)


def sweep(
    session: Session, now: datetime, settings: Settings, *, batch_size: int = BATCH_SIZE
) -> SweepReport:
    """Sweep every open task in the caller's transaction (batched reads, no commit)."""
    total = SweepReport()
    while True:
        part = sweep_batch(session, now, settings, after_id=total.last_id, limit=batch_size)
        total.add(part)
        if part.examined < batch_size:
            return total


def run_sweep(
    now: datetime | None = None,
    settings: Settings | None = None,
    *,
    batch_size: int = BATCH_SIZE,
) -> SweepReport:
    """Sweep every open task, committing one batch per transaction."""
    from chefoskop.db import unit_of_work

    now = now or clock.now()
    settings = settings or get_settings()
    total = SweepReport()
    _before_sweep(now)
    while True:
        with unit_of_work() as session:
            part = sweep_batch(session, now, settings, after_id=total.last_id, limit=batch_size)
        total.add(part)
        if part.examined < batch_size:
            return total


def _before_sweep(now: datetime) -> None:
    """Start and expire delegations and run the BEFORE_SWEEP hooks, in one transaction; then
    their callbacks. Delegations start first, so a hand-over from one stand-in to the next
    routes the open tasks once, straight to the next one."""
    from chefoskop.db import unit_of_work
    from flows.dispatch import start_queued
    from flows.engine import expire_delegations, follow_up_reminders
    from flows.engine.roster import activate_delegations
    from flows.opening import load_hook_modules

    load_hook_modules()
    with unit_of_work() as session:
        ctx = Context(session, SWEEP_ACTOR, now)
        activate_delegations(ctx)
        expire_delegations(ctx)
        follow_up_reminders(session, now)
        after = [hook(ctx) for hook in BEFORE_SWEEP]
    start_queued(ctx.queued, wait=True)
    for callback in after:
        if callback is not None:
            callback()


def sweep_batch(
    session: Session,
    now: datetime,
    settings: Settings,
    *,
    after_id: int = 0,
    limit: int = BATCH_SIZE,
) -> SweepReport:
    """Sweep up to ``limit`` open tasks with ids above ``after_id``; flushes, never commits."""
    report = SweepReport(last_id=after_id)
    today = local_date(now, settings.timezone)
    if not is_working_day(today):
        return report
    policy = Policy.from_settings(settings)
    lock_for_batch(session)
    rows = session.execute(_batch_query(today, policy, after_id, limit)).all()
    ctx = Context(session, SWEEP_ACTOR, now)
    people = _people(session, [task for task, _ in rows])
    cache: dict[tuple[int, int], list[Person]] = {}
    for task, organisation_id in rows:
        report.examined += 1
        report.last_id = task.id
        if any(needs_none(session, task) for needs_none in NOTICE_FILTERS):
            continue
        facts = _facts(task, settings.timezone)
        plan = plan_task(facts, today, policy)
        if plan.level > facts.level and any(quiet(session, task) for quiet in NO_ESCALATION):
            plan = replace(plan, level=facts.level)  # remind its people; tell nobody else
        if plan.changes(facts):
            report.add(_sweep_task(ctx, task, organisation_id, plan, people, cache))
    return report


def _sweep_task(
    ctx: Context,
    task: Task,
    organisation_id: int,
    plan: Plan,
    people: dict[int, Person],
    cache: dict[tuple[int, int], list[Person]],
) -> SweepReport:
    task_id = task.id
    try:
        with item_scope(ctx.session):
            return _apply(ctx, task, organisation_id, plan, people, cache)
    except (StaleDataError, IntegrityError):
        return SweepReport(skipped=1)
    except Exception:  # one broken task must not stop the reminders of all others
        log.exception("sweep: task %s failed and was left unchanged", task_id)
        return SweepReport(failed=1)


def _batch_query(today: date, policy: Policy, after_id: int, limit: int):
    horizon = add_working_days(today, policy.remind_before)
    return (
        select(Task, Process.organisation_id)
        .join(Process, Process.id == Task.process_id)
        .where(
            Task.id > after_id,
            Task.status.in_(sorted(OPEN_TASK_STATES)),
            Task.due_date.is_not(None),
            Process.status == "running",
            or_(Task.due_date <= horizon, Task.escalation_level > 0),
        )
        .order_by(Task.id)
        .limit(limit)
    )


def _facts(task: Task, tz: str) -> TaskFacts:
    assert task.due_date is not None
    last = task.last_reminder_at
    return TaskFacts(
        due=task.due_date,
        created_on=local_date(task.created_at, tz),
        last_reminded_on=local_date(last, tz) if last else None,
        level=task.escalation_level,
    )


def _people(session: Session, tasks: list[Task]) -> dict[int, Person]:
    ids = {t.assignee_id for t in tasks} | {c.person_id for t in tasks for c in t.candidates}
    return people_by_id(session, ids)


def responsible(task: Task, people: dict[int, Person]) -> list[Person]:
    """Who a reminder goes to: the active assignee, else every active candidate."""
    assignee = people.get(task.assignee_id) if task.assignee_id else None
    if assignee is not None and assignee.active:
        return [assignee]
    found = (people.get(c.person_id) for c in task.candidates)
    return sorted((p for p in found if p is not None and p.active), key=lambda p: p.id)


def _apply(
    ctx: Context,
    task: Task,
    organisation_id: int,
    plan: Plan,
    people: dict[int, Person],
    cache: dict[tuple[int, int], list[Person]],
) -> SweepReport:
    session = ctx.session
    level_from = task.escalation_level
    if plan.reminder:
        task.last_reminder_at = ctx.now
    task.escalation_level = plan.level
    session.flush()  # the version check: a concurrent change raises StaleDataError here
    payload = {
        **task_payload(session, task),
        "overdue_days": max(plan.overdue_days, 0),
        "level": plan.level,
    }
    done, told = SweepReport(), responsible(task, people)
    reminded: list[int] = []
    if plan.reminder:
        reminded = _queue(ctx, task, plan.reminder, told, payload, _reminder_key(task, plan))
        setattr(done, "reminders" if plan.reminder == "task_reminder" else "overdue", len(reminded))
    escalated: list[int] = []
    if plan.level > level_from:
        escalated = _escalate(ctx, task, plan, told, payload, cache)
        done.escalations = len(escalated)
    session.flush()  # a concurrent sweep's identical dedupe key raises IntegrityError here
    _record(ctx, task, organisation_id, plan, level_from, reminded, escalated)
    return done


def _reminder_key(task: Task, plan: Plan) -> str:
    if plan.reminder == "task_reminder":
        return f"remind:{task.id}:{task.iteration}:{task.due_date}"
    return f"overdue:{task.id}:{task.iteration}:{task.due_date}:{plan.slot}"


def _escalate(
    ctx: Context,
    task: Task,
    plan: Plan,
    told: list[Person],
    payload: dict,
    cache: dict[tuple[int, int], list[Person]],
) -> list[int]:
    key = (task.process_id, plan.level)
    if key not in cache:
        found: dict[int, Person] = {}
        for role in ESCALATION_ROLES[plan.level]:
            for person in holders(ctx, task.process_id, role):
                found.setdefault(person.id, person)
        cache[key] = [p for p in found.values() if p.active]
    skip = {p.id for p in told}
    recipients = [p for p in cache[key] if p.id not in skip]
    assignee = next((p.name for p in told if p.id == task.assignee_id), None)
    prefix = f"escalate:{task.id}:{task.iteration}:{task.due_date}:{plan.level}"
    payload = {**payload, "assignee_name": assignee}
    return _queue(ctx, task, "escalation", recipients, payload, prefix)


def _queue(
    ctx: Context, task: Task, kind: str, recipients: list[Person], payload: dict, prefix: str
) -> list[int]:
    sent = []
    for person in recipients:
        row = enqueue(
            ctx.session,
            kind=kind,
            recipient=person,
            payload=payload,
            process_id=task.process_id,
            task_id=task.id,
            dedupe_key=f"{prefix}:{person.id}",
            now=ctx.now,
        )
        if row is not None:
            sent.append(person.id)
    return sent


def _record(
    ctx: Context,
    task: Task,
    organisation_id: int,
    plan: Plan,
    level_from: int,
    reminded: list[int],
    escalated: list[int],
) -> None:
    if plan.level > level_from:
        action = "escalated"
    elif plan.level < level_from:
        action = "escalation_cleared"
    else:
        action = "reminded"
    record(
        ctx,
        organisation_id=organisation_id,
        process_id=task.process_id,
        entity="task",
        entity_id=task.id,
        action=action,
        from_state=task.status,
        to_state=task.status,
        data={
            "reminder": plan.reminder,
            "slot": plan.slot,
            "overdue_days": plan.overdue_days,
            "level_from": level_from,
            "level_to": plan.level,
            "reminded": reminded,
            "escalated_to": escalated,
        },
    )
