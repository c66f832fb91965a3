"""Scenario 6: what a step's Prefect flow run costs against calling the same step logic directly.

Each repetition opens fresh queued step-1 instances, one at a time and in a
batch of ten, once through the step flow (``flows.steps.STEP_FLOWS[1]``) and once
through ``flows.opening.run_step`` (flow_mode ``direct``). Embedded mode talks to
Prefect's ephemeral API; ``--prefect-server`` adds a run against a local
``prefect server start``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from bench.common import Config, Row, Sample, ScenarioResult, alternate, compare, median
from bench.database import BenchDatabase
from bench.walk import Walker

MS = 1000.0
BATCH = 10


@contextmanager
def app_database(url: str) -> Iterator[None]:
    """Point chefoskop's own engine (used by the step flows) at ``url`` for a while."""
    from chefoskop import db
    from chefoskop.settings import get_settings

    before = os.environ.get("CHEFOSKOP_DATABASE_URL")
    os.environ["CHEFOSKOP_DATABASE_URL"] = url
    for cached in (get_settings, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()
    try:
        yield
    finally:
        db.get_engine().dispose()
        if before is None:
            os.environ.pop("CHEFOSKOP_DATABASE_URL", None)
        else:
            os.environ["CHEFOSKOP_DATABASE_URL"] = before
        for cached in (get_settings, db.get_engine, db.get_sessionmaker):
            cached.cache_clear()


class Queue:
    """Queued step-1 instances, handed out in order."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids

    def take(self, n: int) -> list[int]:
        """The next ``n`` ids."""
        taken, self.ids = self.ids[:n], self.ids[n:]
        if len(taken) < n:
            raise RuntimeError("not enough queued steps prepared")
        return taken


def contenders(queue: Queue) -> dict:
    """Flow and direct, one step and a batch, each timed around one call."""
    from flows.opening import run_step
    from flows.steps import STEP_FLOWS

    def timed(call, n: int) -> Sample:
        ids = queue.take(n)
        started = time.perf_counter()
        opened = call(ids)
        seconds = time.perf_counter() - started
        if sorted(opened) != sorted(ids):
            raise RuntimeError(f"opened {opened}, expected {ids}")
        return Sample(n, seconds)

    return {
        "flow_1": lambda: timed(lambda ids: STEP_FLOWS[1](step_ids=ids), 1),
        "direct_1": lambda: timed(lambda ids: run_step(1, ids), 1),
        "flow_batch": lambda: timed(lambda ids: STEP_FLOWS[1](step_ids=ids), BATCH),
        "direct_batch": lambda: timed(lambda ids: run_step(1, ids), BATCH),
    }


def measure(label: str, queue: Queue, reps: int) -> tuple[list[Row], dict]:
    """Rows comparing flow runs with direct calls under one Prefect set-up."""
    cold = contenders(queue)["flow_1"]().seconds  # first run: API start-up, registration
    s = alternate(reps, contenders(queue))
    name = f"6 prefect ({label})"
    rows = [
        compare(name, "open 1 step", "ms", [x.seconds * MS for x in s["flow_1"]],
                [x.seconds * MS for x in s["direct_1"]], "direct call"),
        compare(name, f"open {BATCH} steps in one run", "ms", [x.seconds * MS for x in s["flow_batch"]],
                [x.seconds * MS for x in s["direct_batch"]], "direct call"),
        Row(name, "overhead per flow run", "ms",
            median([(f.seconds - d.seconds) * MS for f, d in zip(s["flow_1"], s["direct_1"], strict=True)])),
        Row(name, "first flow run of the process (cold)", "s", cold),
    ]
    return rows, {k: [x.seconds for x in v] for k, v in s.items()} | {"cold_seconds": cold}


def prepare(db: BenchDatabase, count: int) -> tuple[str, list[int]]:
    """A database with ``count`` processes whose step 1 is queued."""
    engine = db.fresh()
    walker = Walker(engine)
    walker.seed(count, 2)
    ids = walker.start_all()
    return engine.url.render_as_string(hide_password=False), ids


def drain() -> None:
    """Send Prefect's queued logs and events now, while their API still runs."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


@contextmanager
def local_server() -> Iterator[str]:
    """``prefect server start`` on a free port; yields its API URL."""
    from notifications.sink import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--no-ui"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise RuntimeError("the local Prefect server did not become healthy")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Embedded (ephemeral API), and a local server with ``--prefect-server``."""
    per_setup = (cfg.reps + 1) * (2 + 2 * BATCH)
    url, ids = prepare(db, per_setup * (2 if cfg.prefect_server else 1))
    queue = Queue(ids)
    result = ScenarioResult("6 prefect")
    with app_database(url):
        rows, details = measure("embedded", queue, cfg.reps)
        drain()
        result.rows += rows
        result.details["embedded"] = details
        if cfg.prefect_server:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with local_server() as api, temporary_settings(updates={PREFECT_API_URL: api}):
                rows, details = measure("local server", queue, cfg.reps)
                drain()
            result.rows += rows
            result.details["local_server"] = details
    if not cfg.prefect_server:
        result.note = "against a local Prefect server: add --prefect-server (about 20 s more)"
    return result
