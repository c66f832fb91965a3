"""End-to-end simulation: organisations whose simulated people walk processes through the engine.

Every change goes through the engine's door, one transaction per human act, on a
simulated clock of Swedish working days. The same seed gives the same counts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from chefoskop import clock
from chefoskop.db import get_sessionmaker, unit_of_work
from chefoskop.seed import build_organisation, slugify
from chefoskop.settings import get_settings
from chefoskop.sim_people import SimPeople
from flows import engine
from flows.calendar import add_working_days
from flows.dispatch import start_queued
from models import Organisation, Process

START = datetime(2027, 1, 11, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Stockholm
DELIVER_EVERY_DAYS = 5  # the sender runs every few simulated days; each run opens one connection


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
    """Mutable state of a running simulation."""

    today: date
    process_ids: list[int] = field(default_factory=list)
    organisation_ids: list[int] = field(default_factory=list)
    queued: list[tuple[int, int]] = field(default_factory=list)
    days: int = 0

    @property
    def now(self) -> datetime:
        """08:00 Stockholm time (07:00 UTC) of the simulated day."""
        return datetime.combine(self.today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7)


def _unique_name(session, base: str) -> str:
    name, n = base, 1
    while session.scalar(select(Organisation.id).where(Organisation.slug == slugify(name))):
        n += 1
        name = f"{base} ({n})"
    return name


def _create(cfg: SimConfig, state: SimState, progress: Callable[[str], None]) -> None:
    for i in range(cfg.organisations):
        with unit_of_work() as s:
            kind = "region" if i % 5 == 4 else "kommun"
            name = _unique_name(s, f"Simulerad {kind} {cfg.seed}-{i + 1}")
            seeded = build_organisation(s, name, cfg.managers, seed=cfg.seed * 1000 + i, kind=kind)
            starter = seeded.by_role["processledare"][0]
            ctx = engine.Context(s, engine.Actor.person(starter.id), state.now)
            process = engine.start_process(ctx, seeded.organisation.id, "Chefoskopet", seeded.roster)
            state.process_ids.append(process.id)
            state.organisation_ids.append(seeded.organisation.id)
            state.queued += ctx.queued
        progress(f"organisation {i + 1}/{cfg.organisations}: {name}")


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
        path.write_bytes(report.pdf)
        written.append(str(path))
    return written


def _running(state: SimState) -> int:
    with unit_of_work() as s:
        return len(list(s.scalars(select(Process.id).where(
            Process.id.in_(state.process_ids), Process.status == "running"))))


def run_simulation(cfg: SimConfig, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Run the simulation and return its summary (counts read back from the database)."""
    from flows.sweep import run_sweep

    started = time.perf_counter()
    state = SimState(today=START.date())
    people = SimPeople(random.Random(cfg.seed), cfg.late_share)
    with clock.simulated_clock(lambda: state.now):
        _create(cfg, state, progress)
        while state.days < cfg.max_days:
            start_queued(state.queued, wait=True)
            state.queued = []
            if not _running(state):
                break
            for pid in state.process_ids:
                state.queued += people.act(pid, state.today, state.now)
            run_sweep(now=state.now)
            if state.days % DELIVER_EVERY_DAYS == 0:
                _deliver(cfg, state)
            state.today = add_working_days(state.today, 1)
            state.days += 1
            if state.days % 10 == 0:
                progress(f"day {state.days} ({state.today}): {_running(state)} running")
        _deliver(cfg, state)
        reports = _write_reports(state)
    from chefoskop.summary import summarise

    summary = summarise(state.organisation_ids)
    summary["reports"] = reports
    summary.update(seed=cfg.seed, organisations=cfg.organisations, managers=cfg.managers,
                   simulated_working_days=state.days,
                   seconds=round(time.perf_counter() - started, 2))
    return summary

