"""End-to-end simulation: organisations whose simulated people walk processes through the engine.

Every change goes through the engine's door, one transaction per human act, on a
simulated clock of Swedish working days. The same seed gives the same counts.

A run's progress is kept in a ``simulation_run`` row, so a run that was killed at
any moment can be resumed (``run_simulation(..., resume=True)``). The row changes
only together with, or strictly after, the work it describes: each organisation
is created in the same transaction that records it, and the simulated day moves
on in its own transaction once that day's work has committed. A resumed run
therefore re-does at most the part of one day that had already happened; every
act of a simulated person is refused or skipped by the engine when it was done
already (a task completed, a gate decided), steps still queued are opened from
the database, the sweep and the digests are idempotent, and mail rows leased by
the killed sender are released for this run's sender to deliver.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from chefoskop import clock
from chefoskop.db import get_sessionmaker, unit_of_work
from chefoskop.seed import build_organisation, slugify
from chefoskop.settings import get_settings
from chefoskop.sim_people import SimPeople
from flows import engine
from flows.calendar import add_working_days
from flows.dispatch import start_queued
from models import (
    Gate,
    Invitation,
    Organisation,
    OutboxMessage,
    OutboxStatus,
    Process,
    SimulationRun,
    StepInstance,
    Survey,
)

START = datetime(2027, 1, 11, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Stockholm
DELIVER_EVERY_DAYS = 5  # the sender runs every few simulated days; each run opens one connection
RUNNING, COMPLETED = "running", "completed"


@dataclass
class SimConfig:
    """What to simulate."""

    organisations: int = 3
    managers: int = 40
    seed: int = 1
    mail: bool = True
    late_share: float = 0.12
    max_days: int = 600


@dataclass
class SimState:
    """State of a running simulation; what survives a crash is mirrored in its ``SimulationRun``."""

    run_id: int
    today: date
    process_ids: list[int] = field(default_factory=list)
    organisation_ids: list[int] = field(default_factory=list)
    days: int = 0
    starts: int = 1
    status: str = RUNNING

    @property
    def now(self) -> datetime:
        """08:00 Stockholm time (07:00 UTC) of the simulated day."""
        return datetime.combine(self.today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)

    @classmethod
    def of(cls, run: SimulationRun) -> SimState:
        """The state a run's row describes."""
        return cls(run.id, run.today, list(run.process_ids), list(run.organisation_ids),
                   run.days, run.starts, run.status)


# --- the durable run --------------------------------------------------------------------


def _begin(cfg: SimConfig) -> SimState:
    with unit_of_work() as s:
        run = SimulationRun(seed=cfg.seed, config=asdict(cfg), today=START.date(), days=0,
                            organisation_ids=[], process_ids=[], status=RUNNING, starts=1)
        s.add(run)
        s.flush()
        return SimState.of(run)


def latest_run() -> tuple[SimConfig, SimState] | None:
    """The newest simulation run recorded in the database, if any."""
    with unit_of_work() as s:
        run = s.scalars(select(SimulationRun).order_by(SimulationRun.id.desc())).first()
        return (SimConfig(**run.config), SimState.of(run)) if run is not None else None


def _take_over(state: SimState) -> None:
    """Count this start and release mail leases the killed run's sender still held.

    The simulation is the only sender of its organisations' rows (their times lie on
    its simulated clock), so a lease left behind belongs to a process that is gone.
    """
    with unit_of_work() as s:
        run = s.get(SimulationRun, state.run_id)
        run.starts += 1
        state.starts = run.starts
        if state.organisation_ids:
            s.execute(update(OutboxMessage).where(
                OutboxMessage.organisation_id.in_(state.organisation_ids),
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.locked_until.is_not(None)).values(locked_until=None))


def _remember(people: SimPeople, state: SimState) -> None:
    """Give resumed people what they knew before the crash and the database still shows."""
    with unit_of_work() as s:
        rejected = s.execute(
            select(Gate.process_id, StepInstance.step_no, Gate.key)
            .outerjoin(StepInstance, StepInstance.id == Gate.step_id)
            .where(Gate.process_id.in_(state.process_ids), Gate.kind == "approval",
                   Gate.status == "rejected"))
        people.rejected |= {(pid, step_no or 0, key) for pid, step_no, key in rejected}
        people.answered_surveys |= set(s.scalars(
            select(Invitation.survey_id).join(Survey, Survey.id == Invitation.survey_id)
            .where(Survey.process_id.in_(state.process_ids), Invitation.answered.is_(True))))


def _next_day(state: SimState) -> None:
    """Move to the next working day, once the day's work has committed."""
    with unit_of_work() as s:
        run = s.get(SimulationRun, state.run_id)
        run.today = state.today = add_working_days(state.today, 1)
        run.days = state.days = state.days + 1


def _finish(state: SimState) -> None:
    with unit_of_work() as s:
        s.get(SimulationRun, state.run_id).status = state.status = COMPLETED


# --- the simulation ----------------------------------------------------------------------


def _unique_name(session, base: str) -> str:
    name, n = base, 1
    while session.scalar(select(Organisation.id).where(Organisation.slug == slugify(name))):
        n += 1
        name = f"{base} ({n})"
    return name


def _create(cfg: SimConfig, state: SimState, progress: Callable[[str], None]) -> None:
    for i in range(len(state.organisation_ids), cfg.organisations):
        with unit_of_work() as s:
            kind = "region" if i % 5 == 4 else "kommun"
            name = _unique_name(s, f"Simulerad {kind} {cfg.seed}-{i + 1}")
            seeded = build_organisation(s, name, cfg.managers, seed=cfg.seed * 1000 + i, kind=kind)
            starter = seeded.by_role["processledare"][0]
            ctx = engine.Context(s, engine.Actor.person(starter.id), state.now)
            process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet", seeded.roster)
            run = s.get(SimulationRun, state.run_id)
            run.organisation_ids = [*state.organisation_ids, seeded.organisation.id]
            run.process_ids = [*state.process_ids, process.id]
        state.process_ids.append(process.id)
        state.organisation_ids.append(seeded.organisation.id)
        progress(f"organisation {i + 1}/{cfg.organisations}: {name}")


def _open_queued(state: SimState) -> None:
    """Open the run's queued steps (the database knows them, also after a crash)."""
    with unit_of_work() as s:
        queued = list(s.execute(select(StepInstance.step_no, StepInstance.id).where(
            StepInstance.process_id.in_(state.process_ids), StepInstance.status == "queued")
            .order_by(StepInstance.step_no, StepInstance.id)).tuples())
    start_queued(queued, wait=True)


def _deliver(cfg: SimConfig, state: SimState) -> None:
    if not cfg.mail:
        return
    from notifications.digest import build_digests
    from notifications.sender import deliver_all_sync

    with unit_of_work() as s:
        build_digests(s, state.now)
    deliver_all_sync(get_sessionmaker(), get_settings(), now=state.now)


def _write_reports(state: SimState) -> list[str]:
    """Each organisation's results report for Dela värld, as PDF in the data folder."""
    from surveys.report import build_report

    folder = get_settings().data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for pid in state.process_ids:
        with unit_of_work() as s:
            org = s.get(Organisation, s.get(Process, pid).organisation_id)
            report = build_report(s, pid, locale="sv", actor_label="simulate")
        path = folder / f"{org.slug}-process-{pid}.pdf"
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_bytes(report.pdf)
        partial.replace(path)  # a crash never leaves half a report under the real name
        written.append(str(path))
    return written


def _running(state: SimState) -> int:
    with unit_of_work() as s:
        return len(list(s.scalars(select(Process.id).where(
            Process.id.in_(state.process_ids), Process.status == "running"))))


def _people(cfg: SimConfig, state: SimState) -> SimPeople:
    if state.starts == 1:
        return SimPeople(random.Random(cfg.seed), cfg.late_share)
    # A resumed run draws afresh: a crash makes the run nondeterministic anyway.
    people = SimPeople(random.Random(f"{cfg.seed}/{state.starts}"), cfg.late_share)
    _remember(people, state)
    return people


def _simulate(cfg: SimConfig, state: SimState, progress: Callable[[str], None]) -> None:
    from flows.sweep import run_sweep

    people = _people(cfg, state)
    _create(cfg, state, progress)
    while state.days < cfg.max_days:
        _open_queued(state)
        if not _running(state):
            break
        for pid in state.process_ids:
            people.act(pid, state.today, state.now)  # steps it queues open tomorrow morning
        run_sweep(now=state.now)
        if state.days % DELIVER_EVERY_DAYS == 0:
            _deliver(cfg, state)
        _next_day(state)
        if state.days % 10 == 0:
            progress(f"day {state.days} ({state.today}): {_running(state)} running")
    _deliver(cfg, state)


def run_simulation(cfg: SimConfig, progress: Callable[[str], None] = lambda _: None, *,
                   resume: bool = False) -> dict:
    """Run the simulation and return its summary (counts read back from the database).

    With ``resume``, the newest recorded run is continued to its end (with the
    configuration it was started with; ``cfg`` is ignored), or only summarised when
    it has ended; a new run with ``cfg`` starts when none is recorded.
    """
    started = time.perf_counter()
    found = latest_run() if resume else None
    if found is None:
        state = _begin(cfg)
    else:
        cfg, state = found
        if state.status == RUNNING:
            _take_over(state)
    with clock.simulated_clock(lambda: state.now):
        if state.status == RUNNING:
            _simulate(cfg, state, progress)
        reports = _write_reports(state)
        if state.status == RUNNING:
            _finish(state)
    from chefoskop.summary import summarise

    summary = summarise(state.organisation_ids)
    summary["reports"] = reports
    summary.update(seed=cfg.seed, organisations=cfg.organisations, managers=cfg.managers,
                   simulated_working_days=state.days,
                   seconds=round(time.perf_counter() - started, 2))
    return summary
