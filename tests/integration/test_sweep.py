"""The reminder and escalation sweep against a real database, with processes built by the engine."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import Settings
from flows import engine
from flows.sweep import SweepReport, run_sweep, sweep
from models import AuditEvent, Gate, Organisation, OutboxMessage, Person, StepInstance, Task

STOCKHOLM = ZoneInfo("Europe/Stockholm")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=STOCKHOLM)  # a Monday
SETTINGS = Settings(
    remind_before_due_days=2, overdue_reminder_every_days=2, escalate_after_overdue_days=3
)
SWEEP_KINDS = ("task_reminder", "task_overdue", "escalation")
ROLES = ("bestallare", "processagare", "processledare", "ledning", "chefers_chef", "chef")


def at(day: date, hour: int = 9) -> datetime:
    """``day`` at ``hour`` o'clock in Stockholm."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=STOCKHOLM)


@dataclass
class World:
    """One organisation's running process with step 1 open and its first tasks."""

    people: dict[str, int]
    process_ids: list[int]

    def task(self, session: Session, activity: str, process_index: int = 0) -> Task:
        """The task of ``activity`` in the chosen process."""
        return session.scalars(
            select(Task).where(
                Task.process_id == self.process_ids[process_index], Task.activity_key == activity
            )
        ).one()


def _people(session: Session) -> tuple[Organisation, dict[str, int]]:
    org = Organisation(name="Testkommun", slug="testkommun")
    session.add(org)
    session.flush()
    names = {
        "bea": "Bea Beställare", "pia": "Pia Processägare", "leo": "Leo Ledare",
        "lea": "Lea Ledare", "lars": "Lars Ledning", "cia": "Cia Chefschef", "cat": "Cat Chef",
    }
    people = {}
    for key, name in names.items():
        person = Person(organisation_id=org.id, name=name, email=f"{key}@test.se")
        session.add(person)
        session.flush()
        people[key] = person.id
    return org, people


def _roster(people: dict[str, int]) -> list[engine.RoleSpec]:
    holders = {
        "bestallare": ["bea"], "processagare": ["pia"], "processledare": ["leo", "lea"],
        "ledning": ["lars"], "chefers_chef": ["cia"], "chef": ["cat"],
    }
    return [engine.RoleSpec(role, person_id=people[p]) for role in ROLES for p in holders[role]]


def _start_and_open(session: Session, org_id: int, people: dict[str, int], name: str) -> int:
    ctx = engine.Context(session, engine.Actor.person(people["bea"]), T0)
    process = engine.start_process(ctx, org_id, name, _roster(people))
    for step_no, step_id in ctx.queued:
        engine.open_step(engine.Context(session, engine.Actor(label="test"), T0), step_id)
        assert step_no == 1
    order = session.scalars(
        select(Gate).where(Gate.process_id == process.id, Gate.key == "order")
    ).one()
    engine.decide_gate(ctx, order.id, "approve")
    return process.id


@pytest.fixture
def build(session_factory: sessionmaker[Session]) -> Callable[[int], World]:
    """Build an organisation and ``n`` processes whose step 1 tasks are open since T0."""

    def make(n: int = 1) -> World:
        with session_factory() as s, s.begin():
            org, people = _people(s)
            ids = [_start_and_open(s, org.id, people, f"Process {i}") for i in range(n)]
        return World(people, ids)

    return make


def _outbox(session: Session, **where) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).filter_by(**where).order_by(OutboxMessage.id)
    return list(session.scalars(stmt))


def _sweep_at(factory: sessionmaker[Session], when: datetime) -> SweepReport:
    with factory() as s, s.begin():
        return sweep(s, when, SETTINGS)


def _sweep_audits(session: Session) -> int:
    stmt = select(func.count()).select_from(AuditEvent)
    return session.scalar(stmt.where(AuditEvent.actor_label == "flow:sweep")) or 0


def test_fixture_has_open_tasks_with_working_day_due_dates(build, session) -> None:
    world = build()
    appoint = world.task(session, "appoint_roles")
    plan = world.task(session, "process_plan")
    assert (appoint.status, appoint.due_date) == ("open", date(2026, 3, 9))
    assert (plan.status, plan.due_date) == ("open", date(2026, 3, 16))
    assert {c.person_id for c in plan.candidates} == {world.people["leo"], world.people["lea"]}


def test_reminder_before_due(build, session_factory, session) -> None:
    world = build()
    assert _sweep_at(session_factory, at(date(2026, 3, 4))).reminders == 0  # 3 days before
    report = _sweep_at(session_factory, at(date(2026, 3, 5)))  # 2 working days before 9 March
    assert (report.reminders, report.overdue, report.escalations) == (1, 0, 0)
    task = world.task(session, "appoint_roles")
    [msg] = _outbox(session, kind="task_reminder")
    assert (msg.task_id, msg.recipient_id) == (task.id, world.people["pia"])
    assert msg.payload["due_date"] == "2026-03-09" and msg.payload["task_id"] == task.id
    assert msg.dedupe_key == f"remind:{task.id}:1:2026-03-09:{world.people['pia']}"
    assert task.last_reminder_at == at(date(2026, 3, 5))
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.actor_label == "flow:sweep"))
    assert (event.entity, event.entity_id, event.action) == ("task", task.id, "reminded")
    assert _sweep_at(session_factory, at(date(2026, 3, 6))).reminders == 0  # once only


def test_running_the_sweep_twice_sends_once(build, session_factory, session) -> None:
    build()
    when = at(date(2026, 3, 12))
    first = _sweep_at(session_factory, when)
    messages, audits = len(_outbox(session)), _sweep_audits(session)
    second = _sweep_at(session_factory, when)
    assert first.reminders + first.overdue + first.escalations > 0
    assert (second.reminders, second.overdue, second.escalations) == (0, 0, 0)
    assert len(_outbox(session)) == messages and _sweep_audits(session) == audits


def test_overdue_cadence(build, session_factory, session) -> None:
    world = build()
    task_id = world.task(session, "appoint_roles").id
    sent = []
    for day in (10, 11, 12, 13, 16, 17):  # 1..6 working days after the due date (9 March)
        _sweep_at(session_factory, at(date(2026, 3, day)))
        sent.append(len(_outbox(session, kind="task_overdue", task_id=task_id)))
    assert sent == [1, 1, 2, 2, 3, 3]  # every second working day
    told = {m.recipient_id for m in _outbox(session, kind="task_overdue", task_id=task_id)}
    assert told == {world.people["pia"]}


def test_escalation_to_process_owner_and_leaders(build, session_factory, session) -> None:
    world = build()
    p = world.people
    leo = engine.Context(session, engine.Actor.person(p["leo"]), T0)
    engine.claim(leo, world.task(session, "process_plan").id)  # Leo takes the plan
    session.commit()
    appoint, plan = world.task(session, "appoint_roles"), world.task(session, "process_plan")

    _sweep_at(session_factory, at(date(2026, 3, 11)))  # appoint_roles 2 days overdue
    assert not _outbox(session, kind="escalation")
    report = _sweep_at(session_factory, at(date(2026, 3, 12)))  # 3 days overdue: level 1
    assert report.escalations == 2
    escalated = {m.recipient_id for m in _outbox(session, kind="escalation", task_id=appoint.id)}
    assert escalated == {p["leo"], p["lea"]}  # Pia is the one it waits for: she gets overdue
    session.expire_all()
    assert world.task(session, "appoint_roles").escalation_level == 1

    _sweep_at(session_factory, at(date(2026, 3, 17)))  # 6 days overdue: level 2 adds Bea
    level2 = [m for m in _outbox(session, kind="escalation", task_id=appoint.id)
              if m.payload["level"] == 2]
    assert {m.recipient_id for m in level2} == {p["leo"], p["lea"], p["bea"]}
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_id == appoint.id,
                                 AuditEvent.action == "escalated").order_by(AuditEvent.id)
    ).all()
    assert [(e.data["level_from"], e.data["level_to"]) for e in events] == [(0, 1), (1, 2)]

    # The claimed plan task: reminders go to its assignee only.
    reminders = _outbox(session, kind="task_reminder", task_id=plan.id)
    assert [m.recipient_id for m in reminders] == [p["leo"]]


def test_completed_tasks_and_holidays_are_left_alone(build, session_factory, session) -> None:
    world = build()
    pia = engine.Context(session, engine.Actor.person(world.people["pia"]), T0)
    engine.complete(pia, world.task(session, "appoint_roles").id, {})
    session.commit()
    saturday = _sweep_at(session_factory, at(date(2026, 3, 14)))
    assert (saturday.examined, saturday.reminders, saturday.overdue) == (0, 0, 0)
    _sweep_at(session_factory, at(date(2026, 3, 12)))
    assert not _outbox(session, kind="task_overdue")


def _concurrently(work: Callable[[], SweepReport], n: int = 2) -> list[SweepReport]:
    barrier = threading.Barrier(n, timeout=30)
    results: list[SweepReport | BaseException] = [None] * n  # type: ignore[list-item]

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a sweep hung"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results  # type: ignore[return-value]


def _sent(report: SweepReport) -> int:
    return report.reminders + report.overdue + report.escalations


@pytest.mark.parametrize("batched", [False, True], ids=["one-transaction", "batches"])
def test_two_concurrent_sweeps_send_once(build, session_factory, session, batched) -> None:
    world = build(4)
    when = at(date(2026, 3, 12))  # per process: overdue + 2 escalations + 2 reminders

    def one_sweep() -> SweepReport:
        if batched:
            return run_sweep(when, SETTINGS, batch_size=3)
        return _sweep_at(session_factory, when)

    reports = _concurrently(one_sweep)
    messages = [m for m in _outbox(session) if m.kind in SWEEP_KINDS]
    assert len(messages) == 5 * len(world.process_ids)
    assert sum(_sent(r) for r in reports) == len(messages)
    assert len({m.dedupe_key for m in messages}) == len(messages)
    assert _sweep_audits(session) == 2 * len(world.process_ids)  # one per task changed
    appoint = select(Task.escalation_level).where(Task.activity_key == "appoint_roles")
    assert set(session.scalars(appoint)) == {1}
    assert session.scalar(select(func.count()).select_from(StepInstance)) == 9 * 4


def test_a_broken_task_is_undone_alone(build, session_factory, session, monkeypatch) -> None:
    import flows.sweep as sweep_module

    world = build(2)
    broken = world.task(session, "appoint_roles", process_index=0).id
    real = sweep_module.task_payload

    def payload(s, task):
        if task.id == broken:
            raise LookupError("definition missing")
        return real(s, task)

    monkeypatch.setattr(sweep_module, "task_payload", payload)
    report = _sweep_at(session_factory, at(date(2026, 3, 12)))
    assert report.failed == 1 and report.overdue == 1  # the other process's task
    session.expire_all()
    task = session.get(Task, broken)
    assert (task.last_reminder_at, task.escalation_level) == (None, 0)
    assert not _outbox(session, task_id=broken, kind="task_overdue")
    assert _sweep_audits(session) == 3  # the three tasks that did change
