"""Notification payloads and queueing from the engine (outbox rows, same transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from chefoskop.settings import get_settings
from flows.engine.core import Context
from flows.engine.queries import get, organisation_of, people_by_id, step_spec
from models import OutboxMessage, Person, Process, StepInstance, Task
from notifications.outbox import enqueue
from roles.resolve import resolve


def process_payload(ctx: Context, process: Process) -> dict:
    """The part of every payload that names the process."""
    org = organisation_of(ctx.session, process)
    ctx.keep(org)
    return {"process_id": process.id, "process_name": process.name, "organisation_name": org.name}


def step_payload(ctx: Context, process: Process, step: StepInstance) -> dict:
    """Process payload plus the step's number and title."""
    spec = step_spec(process, step)
    return {
        **process_payload(ctx, process),
        "step_number": step.step_no,
        "step_title": spec.title.model_dump(),
    }


def task_payload(ctx: Context, task: Task) -> dict:
    """The payload of a task notification."""
    process = get(ctx.session, Process, task.process_id)
    step = get(ctx.session, StepInstance, task.step_id)
    activity = step_spec(process, step).activity(task.activity_key)
    return {
        **step_payload(ctx, process, step),
        "task_id": task.id,
        "task_route_version": task.route_version,
        "task_title": activity.title.model_dump(),
        "due_date": task.due_date.isoformat() if task.due_date else None,
        "reopen_reason": task.reopen_reason,
    }


def people(ctx: Context, ids: Iterable[int]) -> list[Person]:
    """Person rows for ``ids``, ordered by id (rows already in the session are not read again)."""
    found = people_by_id(ctx.session, ids)
    ctx.keep(*found.values())
    return [found[i] for i in sorted(found)]


def send(ctx: Context, kind: str, recipients: Iterable[Person], payload: dict, *,
         process_id: int | None, task_id: int | None = None,
         dedupe: str | None = None) -> int:
    """Queue ``kind`` for each recipient; returns how many rows were added."""
    added = 0
    for person in recipients:
        if not person.active:
            continue
        key = f"{dedupe}:{person.id}" if dedupe else None
        row = enqueue(ctx.session, kind=kind, recipient=person, payload=payload,
                      process_id=process_id, task_id=task_id, dedupe_key=key, now=ctx.now)
        added += row is not None
    return added


def send_to_role(ctx: Context, kind: str, process: Process, role: str, payload: dict, **kw) -> int:
    """Queue ``kind`` for everyone acting in ``role`` of ``process``."""
    recipients = holders(ctx, process.id, role)
    return send(ctx, kind, recipients, payload, process_id=process.id, **kw)


def holders(ctx: Context, process_id: int, role: str) -> list[Person]:
    """The Person rows acting in ``role`` of ``process_id`` now, ordered by id."""
    return people(ctx, resolve(ctx.role_data(process_id), role, ctx.now))


def meeting_payload(ctx: Context, task: Task, attendees: list[Person]) -> dict:
    """An invite for a meeting activity, held on the task's due date at 09:00-12:00 local time.

    The UID stays the task's; SEQUENCE is the task's ``invite_sequence``.
    """
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    day = task.due_date or ctx.now.astimezone(tz).date()
    start = datetime.combine(day, time(9, 0), tzinfo=tz)
    base = task_payload(ctx, task)
    organiser = next(iter(attendees), None)
    return {
        **base,
        "uid": f"task-{task.id}-{task.iteration}@chefoskop",
        "sequence": task.invite_sequence,
        "summary": base["task_title"],
        "start": start.isoformat(),
        "end": (start + timedelta(hours=3)).isoformat(),
        "location": None,
        "organizer_email": settings.mail_from.split("<")[-1].rstrip(">").strip(),
        "organizer_name": organiser.name if organiser else "Chefoskop",
        "attendees": [{"name": p.name, "email": p.email} for p in attendees],
    }


def _invite_key(task: Task) -> str:
    """The dedupe prefix of one version of a meeting task's invite (``send`` adds the person)."""
    return f"invite:{task.id}:{task.iteration}:{task.invite_sequence}"


def send_invite(ctx: Context, task: Task, attendees: list[Person]) -> int:
    """Queue the invite at the task's current SEQUENCE to ``attendees``; once per person and version."""
    return send(ctx, "meeting_invite", attendees, meeting_payload(ctx, task, attendees),
                process_id=task.process_id, task_id=task.id, dedupe=_invite_key(task))


def invited_ids(ctx: Context, task: Task) -> set[int]:
    """Who was sent the invite at the task's current SEQUENCE."""
    return set(ctx.session.scalars(select(OutboxMessage.recipient_id).where(
        OutboxMessage.process_id == task.process_id, OutboxMessage.task_id == task.id,
        OutboxMessage.kind == "meeting_invite",
        OutboxMessage.dedupe_key.startswith(f"{_invite_key(task)}:", autoescape=True))))
