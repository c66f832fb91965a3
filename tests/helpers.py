"""Test helpers: organisations and processes built through the engine, never by direct inserts."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

import models
from chefoskop.seed import SeededOrganisation, build_organisation
from flows import engine
from flows.calendar import add_working_days
from flows.engine.queries import current_gates
from models import Gate, Process, StepInstance, Task
from surveys.distribution import close_due_surveys

NOW = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)
_names = itertools.count(1)


@dataclass
class Started:
    """An organisation with a started process whose step 1 is open."""

    org: SeededOrganisation
    process_id: int

    def person(self, role: str, index: int = 0) -> int:
        """Id of the ``index``-th person seeded in ``role``."""
        return self.org.by_role[role][index].id


def ctx_for(session: Session, person_id: int | None, now: datetime = NOW) -> engine.Context:
    """An engine context acting as ``person_id`` (or the system)."""
    actor = engine.Actor.person(person_id) if person_id else engine.SYSTEM
    return engine.Context(session, actor, now)


def open_queued(session: Session, queued: list[tuple[int, int]], now: datetime = NOW) -> None:
    """Commit, then open queued steps as their step flow does (hooks included), at ``now``."""
    from chefoskop import clock
    from flows.opening import run_step

    session.commit()
    with clock.simulated_clock(lambda: now):
        for step_no, step_id in queued:
            run_step(step_no, [step_id])
    session.expire_all()


def start(session: Session, managers: int = 6, seed: int = 7, now: datetime = NOW) -> Started:
    """Seed an organisation, start its process and open step 1 (committed)."""
    org = build_organisation(session, f"Testkommun {next(_names)}-{seed}", managers, seed=seed)
    ctx = ctx_for(session, org.by_role["processledare"][0].id, now)
    process = engine.start_process(ctx, org.organisation.id, "Chefoskopet", org.roster)
    open_queued(session, ctx.queued, now)
    session.commit()
    return Started(org, process.id)


def step(session: Session, process_id: int, number: int) -> StepInstance:
    """Step ``number`` of the process."""
    return session.scalars(select(StepInstance).where(
        StepInstance.process_id == process_id, StepInstance.step_no == number)).one()


def gate(session: Session, process_id: int, number: int, key: str) -> Gate:
    """The current row of gate ``key`` in step ``number``."""
    return current_gates(session, step(session, process_id, number))[key]


def live_tasks(session: Session, process_id: int, activity: str | None = None) -> list[Task]:
    """Open or claimed tasks of the process (optionally of one activity), by id."""
    stmt = select(Task).where(Task.process_id == process_id, Task.status.in_(("open", "claimed")))
    if activity:
        stmt = stmt.where(Task.activity_key == activity)
    return list(session.scalars(stmt.order_by(Task.id)))


def form_data(session: Session, task: Task) -> dict:
    """Valid form data for the task's activity."""
    from flows.engine.queries import step_spec

    process = session.get(Process, task.process_id)
    spec = step_spec(process, session.get(StepInstance, task.step_id)).activity(task.activity_key)
    return {f.key: f"{f.key} text" for f in spec.fields}


def finish_phase_tasks(session: Session, process_id: int, now: datetime = NOW) -> list:
    """Complete every live task of the process once; returns steps queued meanwhile."""
    queued = []
    for task in live_tasks(session, process_id):
        who = task.assignee_id or task.candidates[0].person_id
        ctx = ctx_for(session, who, now)
        engine.complete(ctx, task.id, form_data(session, task))
        queued += ctx.queued
    return queued


def walk_to(session: Session, process_id: int, number: int, now: datetime = NOW) -> None:
    """Drive the process (approving everything) until step ``number`` is open; commits."""
    from chefoskop.sim_people import SimPeople

    people = SimPeople(random.Random(1), late_share=0.0)
    people.rejected = {(process_id, n, "step_approval") for n in range(1, 10)}
    people.record_areas = False  # tests record the development areas they need themselves
    today = now.date()
    for _ in range(200):
        session.commit()
        session.expire_all()
        current = step(session, process_id, number)
        if current.status == "open":
            return
        moment = datetime.combine(today, now.timetz())
        queued = people.act(process_id, today, moment)
        ctx = engine.Context(session, engine.Actor(label="sweep"), moment)
        close_due_surveys(ctx)  # what the sweep does each day: closing completes answer tasks
        session.commit()
        queued += ctx.queued
        session.expire_all()  # the simulated people worked in their own sessions
        open_queued(session, queued, moment)
        session.commit()
        today = add_working_days(today, 1)
    raise AssertionError(f"step {number} never opened")


def snapshot(session: Session) -> dict[str, list[tuple]]:
    """Every row of every table, to show that a refused call changed nothing."""
    session.expire_all()
    result = {}
    for table in models.Base.metadata.sorted_tables:
        cols = [c.name for c in table.columns]
        rows = session.execute(select(table)).all()
        result[table.name] = sorted(tuple(str(r._mapping[c]) for c in cols) for r in rows)
    return result


def inspect_status(obj) -> str | None:
    """The committed status of a mapped object."""
    return inspect(obj).attrs.status.loaded_value


def tamper(signed: str) -> str:
    """``signed`` (a token or a URL ending in one) with one character of its signature changed.

    The character changed sits in the middle of the last dot-separated part: the final base64
    character also carries padding bits, so some changes to it decode to the same bytes and the
    forgery would pass by chance.
    """
    head, signature = signed.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{flipped}{signature[middle + 1:]}"
