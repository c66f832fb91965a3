"""Read-only views the pages share: names, who is waiting on whom, overdue work, open gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.pages.labels import role_name
from api.present import gate_title
from chefoskop.settings import get_settings
from flows.calendar import local_date
from flows.engine.queries import step_spec
from flows.rules import OPEN_TASK_STATES
from models import Gate, Person, Process, StepInstance, Task
from roles.resolve import load_role_data, resolve


def names(db: Session, ids) -> dict[int, str]:
    """Names of the people with ``ids``."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.execute(select(Person.id, Person.name).where(Person.id.in_(wanted))).all())


def today(now: datetime) -> date:
    """Today's date in the organisation's time zone."""
    return local_date(now, get_settings().timezone)


@dataclass
class Waiting:
    """One thing a step waits for: a task or a gate, and the people it waits on."""

    kind: str  # "task" or "gate"
    id: int
    title: str
    role: str
    people: list[str] = field(default_factory=list)
    due_date: date | None = None
    since: datetime | None = None
    overdue: bool = False
    reopen_reason: str | None = None


def task_people(task: Task, people: dict[int, str]) -> list[str]:
    """Who a task waits on: its assignee, else everyone it was routed to."""
    if task.assignee_id is not None:
        return [people.get(task.assignee_id, "?")]
    return sorted(people.get(c.person_id, "?") for c in task.candidates)


def task_title(db: Session, task: Task, locale: str, process: Process | None = None,
               step: StepInstance | None = None) -> str:
    """The title of a task's activity in ``locale``."""
    process = process or db.get(Process, task.process_id)
    step = step or db.get(StepInstance, task.step_id)
    return step_spec(process, step).activity(task.activity_key).title.get(locale)


def gate_people(db: Session, process: Process, gate: Gate, now: datetime) -> tuple[str, list[str]]:
    """The role a gate waits on and the names of the people holding it now."""
    role = (gate.requirements or {}).get("decider") or "processledare"
    holders = resolve(load_role_data(db, process.id), role, now)
    return role, sorted(names(db, holders).values())


def waiting_in_step(db: Session, process: Process, step: StepInstance, locale: str,
                    now: datetime) -> list[Waiting]:
    """What an open step waits for: its open gates first, then its open tasks by due date."""
    out: list[Waiting] = []
    for gate in db.scalars(select(Gate).where(Gate.step_id == step.id, Gate.status == "open")):
        role, people = gate_people(db, process, gate, now)
        out.append(Waiting("gate", gate.id, gate_title(process, gate, step, locale), role, people,
                           since=gate.opened_at))
    tasks = list(db.scalars(select(Task).where(Task.step_id == step.id,
                                               Task.status.in_(OPEN_TASK_STATES))
                            .order_by(Task.due_date, Task.id)))
    people = names(db, [c.person_id for t in tasks for c in t.candidates] + [t.assignee_id for t in tasks])
    day = today(now)
    for t in tasks:
        out.append(Waiting("task", t.id, task_title(db, t, locale, process, step), t.role,
                           task_people(t, people), due_date=t.due_date, since=t.created_at,
                           overdue=t.due_date is not None and t.due_date < day,
                           reopen_reason=t.reopen_reason))
    return out


def waiting_text(locale: str, w: Waiting) -> str:
    """'Role (names)' for one waiting item."""
    who = ", ".join(w.people)
    return f"{role_name(locale, w.role)} ({who})" if who else role_name(locale, w.role)


def overdue_tasks(db: Session, process_ids: list[int], now: datetime) -> list[Task]:
    """Open and claimed tasks past their due date, oldest due first."""
    if not process_ids:
        return []
    return list(db.scalars(select(Task).where(
        Task.process_id.in_(process_ids), Task.status.in_(OPEN_TASK_STATES),
        Task.due_date < today(now)).order_by(Task.due_date, Task.id)))


def open_gates(db: Session, process_ids: list[int]) -> list[Gate]:
    """Gates waiting for a decision, longest waiting first."""
    if not process_ids:
        return []
    return list(db.scalars(select(Gate).where(Gate.process_id.in_(process_ids), Gate.status == "open")
                           .order_by(Gate.opened_at, Gate.id)))


def days_between(start: datetime | None, end: datetime) -> float:
    """Days from ``start`` to ``end`` (0 without a start)."""
    if start is None:
        return 0.0
    if start.tzinfo is None and end.tzinfo is not None:
        end = end.replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds() / 86400)
