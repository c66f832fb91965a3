"""Crash safety: ``chefoskop simulate`` killed with SIGKILL again and again, resumed each time.

A small simulation runs as a subprocess against a database of its own and sends its
mail to an SMTP server in this test process (so the kills never reach it). Each
start is killed after a random delay, seeded, and restarted with ``--resume``; the
kill moments are spread over the whole run: while the interpreter starts, while
organisations are created, at random moments of random simulated days (people
acting, the sweep, the digests, mail going out), right as the server accepts a
message (before the sender hears the answer, or just after), and after the last
process ended (final mail, reports). Then the run is resumed to its end and the
database must show: every process completed, no step closed with a gate unmet, no
action under way without its approved risk assessment, every status change chained
by audit events from creation to the current status, no outbox row unsent, every row
marked sent received, every Message-ID once in the mailbox, and no more SMTP-level
resends than kills that landed while the sender had a connection open.

``CHEFOSKOP_CRASH_KILLS`` sets the number of kills (default and least: 20; a full run
is 100) and ``CHEFOSKOP_CRASH_SEED`` the seed of the kill plan. The figures are
printed (``pytest -rA`` shows them) and recorded as the test's user properties.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chefoskop.db import make_engine
from models import OutboxMessage, OutboxStatus, Process, SimulationRun, StepInstance
from notifications.sink import MaildirHandler, free_port, list_messages
from tests.reliability.checks import consistency_problems

MIN_KILLS = 20
KILLS = max(MIN_KILLS, int(os.environ.get("CHEFOSKOP_CRASH_KILLS", MIN_KILLS)))
SEED = int(os.environ.get("CHEFOSKOP_CRASH_SEED", "8"))
SIM_ARGS = ["--organisations", "1", "--managers", "3", "--seed", "3"]
EXPECTED_DAYS = 250  # simulated working days a run of SIM_ARGS takes (252 without kills)
DAY_BUDGET = 0.5  # share of those days that kills by progress use up, so they end before the run
STARTUP_IMPORTS = "import chefoskop_cli.main, chefoskop.simulate, flows.dispatch, notifications.sender"
POLL_SECONDS = 0.02
START_TIMEOUT = 300.0


# --- the SMTP server the sender delivers to --------------------------------------------------


class RecordingHandler(MaildirHandler):
    """The mail sink's Maildir handler (one copy per Message-ID) that also records every delivery."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.deliveries: list[str] = []  # Message-IDs in the order the DATA arrived, repeats kept
        self.connections = 0  # SMTP connections open right now
        self._lock = threading.Lock()
        self._armed: tuple[int, Callable[[], None]] | None = None

    def arm(self, after: int, kill: Callable[[], None]) -> None:
        """Call ``kill`` once the ``after``-th message from now has been accepted."""
        with self._lock:
            self._armed = (len(self.deliveries) + after, kill)

    def disarm(self) -> None:
        """Forget an armed kill."""
        with self._lock:
            self._armed = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Store and record the message; an armed kill fires before the sender hears the answer."""
        content = envelope.original_content or envelope.content
        headers = BytesHeaderParser(policy=policy.default).parsebytes(content)
        reply = await super().handle_DATA(server, session, envelope)
        with self._lock:
            self.deliveries.append(str(headers.get("Message-ID", "")).strip())
            armed = self._armed
            fire = armed is not None and len(self.deliveries) >= armed[0]
        if fire:
            armed[1]()
        return reply


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP protocol, counting open connections on its handler."""

    def connection_made(self, transport: Any) -> None:
        """Count the connection."""
        self.event_handler.connections += 1
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Uncount the connection."""
        self.event_handler.connections -= 1
        super().connection_lost(error)


class RecordingServer(Controller):
    """An SMTP server on 127.0.0.1 in a thread of this process."""

    def factory(self) -> SMTP:
        """The counting protocol."""
        return CountingSMTP(self.handler, **self.SMTP_kwargs)


# --- the kill plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """When to kill one start.

    ``start``: ``delay`` seconds after the process started. ``day``: ``delay`` seconds
    after the run reached ``days`` working days past where this start resumed it.
    ``mail``: as the ``mails``-th message of this start is accepted (before the sender
    hears the answer when ``delay`` is 0, else ``delay`` seconds later), or as ``day``.
    ``end``: ``delay`` seconds after the last process ended (final mail and reports).
    """

    kind: str
    delay: float
    days: int = 0
    mails: int = 0


def startup_seconds() -> float:
    """How long a start takes to import what it runs (measured here: kills by time land in it)."""
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", STARTUP_IMPORTS], check=True)
    return max(0.3, time.monotonic() - began)


def kill_plan(n: int, rng: random.Random, startup: float) -> list[Kill]:
    """``n`` kills spread over a whole run; the last kills land after the last process ended."""
    n_end = max(1, n // 20)
    n_start = max(2, n // 7)
    n_mail = max(2, 3 * n // 10)
    n_day = n - n_end - n_start - n_mail
    most_days = max(1, round(2 * DAY_BUDGET * EXPECTED_DAYS / (n_day + n_mail)))
    plan = [Kill("start", rng.uniform(0.05, startup)) for _ in range(n_start)]
    # A simulated day takes some tens of milliseconds: a delay of up to 0.1 s (20 kills; shorter
    # with more) lands anywhere in the next days' work (people acting, the sweep, digests, mail)
    # without using up the run.
    plan += [Kill("day", rng.uniform(0, 2.0 / n), days=rng.randint(0, most_days)) for _ in range(n_day)]
    plan += [Kill("mail", rng.choice((0.0, rng.uniform(0, 0.03))), days=most_days,
                  mails=rng.randint(1, 8)) for _ in range(n_mail)]
    rng.shuffle(plan)
    return plan + [Kill("end", rng.uniform(0, 0.5)) for _ in range(n_end)]


@dataclass
class Outcome:
    """How one start of the simulation ended."""

    kill: Kill | None
    killed: bool
    inside_delivery: bool
    returncode: int
    seconds: float
    stdout: str
    stderr: str


class CrashRun:
    """Starts, kills and resumes one simulation; reads its progress from the database."""

    def __init__(self, database_url: str, folder: Path, server: RecordingServer) -> None:
        self.folder = folder
        self.handler: RecordingHandler = server.handler
        self.engine = make_engine(database_url)
        self.env = {**os.environ, "CHEFOSKOP_DATABASE_URL": database_url, "CHEFOSKOP_FLOW_MODE": "direct",
                    "CHEFOSKOP_DATA_DIR": str(folder / "data"), "CHEFOSKOP_SMTP_HOST": server.hostname,
                    "CHEFOSKOP_SMTP_PORT": str(server.port), "CHEFOSKOP_SMTP_SECURITY": "none"}
        self.command = [sys.executable, "-m", "chefoskop_cli.main", "simulate", *SIM_ARGS, "--json",
                        "--resume"]
        self.outcomes: list[Outcome] = []

    def progress(self) -> tuple[int, int | None]:
        """Working days done and processes still running (None before any process exists)."""
        with Session(self.engine) as s:
            run = s.scalars(select(SimulationRun).order_by(SimulationRun.id.desc())).first()
            if run is None or not run.process_ids:
                return (run.days if run else 0), None
            running = s.scalar(select(func.count()).select_from(Process).where(
                Process.id.in_(run.process_ids), Process.status == "running"))
            return run.days, running

    def _due(self, kill: Kill, started: float, base_days: int) -> bool:
        if kill.kind == "start":
            return time.monotonic() - started >= kill.delay
        days, running = self.progress()
        if kill.kind == "end":
            return running == 0
        return days >= base_days + kill.days

    def start(self, kill: Kill | None) -> Outcome:
        """One start with ``--resume``, killed as ``kill`` says (or left to finish)."""
        number = len(self.outcomes) + 1
        base_days, _ = self.progress()
        out_path, err_path = self.folder / f"start-{number}.out", self.folder / f"start-{number}.err"
        inside: list[bool] = []
        lock = threading.Lock()
        with out_path.open("w") as out, err_path.open("w") as err:
            process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=err)

            def kill_now() -> None:
                with lock:
                    if not inside and process.poll() is None:
                        inside.append(self.handler.connections > 0)
                        os.kill(process.pid, signal.SIGKILL)

            started = time.monotonic()
            if kill is not None and kill.kind == "mail":
                after_answer = (lambda: threading.Timer(kill.delay, kill_now).start()) if kill.delay else None
                self.handler.arm(kill.mails, after_answer or kill_now)
            try:
                while process.poll() is None:
                    if time.monotonic() - started > START_TIMEOUT:
                        kill_now()
                        pytest.fail(f"start {number} ran longer than {START_TIMEOUT} s")
                    if kill is not None and not inside and self._due(kill, started, base_days):
                        if kill.kind != "start":
                            time.sleep(kill.delay)
                        kill_now()
                    time.sleep(POLL_SECONDS)
            finally:
                self.handler.disarm()
                if process.poll() is None:
                    process.kill()
                process.wait()
        outcome = Outcome(kill, bool(inside), bool(inside and inside[0]), process.returncode,
                          time.monotonic() - started, out_path.read_text(), err_path.read_text())
        self.outcomes.append(outcome)
        return outcome


# --- the test ----------------------------------------------------------------------------


def _assert_delivered_once(handler: RecordingHandler, maildir: Path, rows: list[tuple[str, str]],
                           kills_in_delivery: int) -> dict[str, int]:
    statuses = Counter(status for _, status in rows)
    unsent = {k: v for k, v in statuses.items() if k not in (OutboxStatus.SENT, OutboxStatus.DIGESTED)}
    assert not unsent, f"outbox rows left unsent: {unsent}"
    sent = {message_id for message_id, status in rows if status == OutboxStatus.SENT}
    arrived = Counter(handler.deliveries)
    assert set(arrived) == sent, (f"rows marked sent that never arrived: {len(sent - set(arrived))}; "
                                  f"mail that no sent row stands for: {len(set(arrived) - sent)}")
    in_mailbox = Counter(m.message_id for m in list_messages(maildir))
    assert set(in_mailbox) == sent, "the mailbox holds other mail than the rows marked sent"
    twice = {mid: n for mid, n in in_mailbox.items() if n > 1}
    assert not twice, f"Message-IDs in the mailbox more than once: {twice}"
    resends = sum(n - 1 for n in arrived.values())
    assert resends <= kills_in_delivery, (resends, kills_in_delivery)
    return {"outbox_rows": len(rows), "rows_sent": len(sent),
            "rows_digested": statuses[OutboxStatus.DIGESTED], "smtp_deliveries": len(handler.deliveries),
            "smtp_resends": resends}


@pytest.mark.slow
def test_simulate_survives_kills_and_completes(own_database_url, tmp_path, record_property):
    started = time.monotonic()
    handler = RecordingHandler(tmp_path / "mailbox")
    server = RecordingServer(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    server.start()
    run = CrashRun(own_database_url, tmp_path, server)
    plan = kill_plan(KILLS, random.Random(SEED), startup_seconds())
    try:
        for kill in plan:
            outcome = run.start(kill)
            if not outcome.killed:
                assert outcome.returncode == 0, outcome.stderr[-3000:]
                break  # the run ended before this kill could land
        landed = [o for o in run.outcomes if o.killed]
        assert len(landed) == len(plan), (
            f"only {len(landed)} of {len(plan)} kills landed before the run ended "
            f"(EXPECTED_DAYS too high for this run?): {[o.kill for o in run.outcomes if not o.killed]}")
        final = run.start(None)
        assert final.returncode == 0, final.stderr[-3000:]
        summary = json.loads(final.stdout)
    finally:
        server.stop()
        wall = time.monotonic() - started

    with Session(run.engine) as s:
        runs = s.scalars(select(SimulationRun)).all()
        assert len(runs) == 1, "a start began a second run instead of resuming the first"
        sim = runs[0]
        assert sim.status == "completed" and 2 <= sim.starts <= len(run.outcomes)
        pids = sim.process_ids
        assert len(pids) == 1 and summary["processes_started"] == summary["processes_completed"] == 1
        assert set(s.scalars(select(Process.status).where(Process.id.in_(pids)))) == {"completed"}
        assert list(s.scalars(select(StepInstance.status).where(StepInstance.process_id.in_(pids)))) \
            == ["closed"] * 9
        assert consistency_problems(s, pids) == []
        rows = [tuple(r) for r in s.execute(select(OutboxMessage.message_id, OutboxMessage.status).where(
            OutboxMessage.organisation_id.in_(sim.organisation_ids)))]
        days = sim.days
    run.engine.dispose()
    kills_in_delivery = sum(o.inside_delivery for o in landed)
    mail = _assert_delivered_once(handler, tmp_path / "mailbox", rows, kills_in_delivery)

    figures = {"database": run.engine.dialect.name, "kills": len(landed),
               "kills_by_kind": dict(Counter(o.kill.kind for o in landed)),
               "kills_inside_delivery": kills_in_delivery, "starts": len(run.outcomes),
               "simulated_working_days": days, **mail, "wall_seconds": round(wall, 1),
               "seconds_in_final_start": round(final.seconds, 1)}
    for key, value in figures.items():
        record_property(key, value)
    print(f"\ncrash suite figures: {json.dumps(figures)}")
