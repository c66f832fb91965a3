"""Scenario 2: inboxes under load from 100 concurrent clients, against a bare endpoint.

Set-up (not timed): processes walked through the engine until step 4's survey
tasks are open for every manager (about 33 per process), and an API token for
each manager. uvicorn serves ``bench.inbox_app:create`` on 127.0.0.1 in its own
process. Ours: each request picks a manager at random and fetches the inbox;
one time in five that client's next request completes the task it found. Baseline: ``GET /bench/bare`` on
the same server at the same concurrency.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import httpx
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from api.security.tokens import mint_token
from bench.common import Config, Sample, ScenarioResult, alternate, compare, percentile
from bench.database import BenchDatabase
from bench.load import LoadResult, run_load, wait_idle
from bench.walk import NOW, Walker
from models import ApiToken, Person, RoleAssignment, StepInstance
from notifications.sink import free_port

MS = 1000.0
MANAGERS = 33
COMPLETE_SHARE = 0.2


def survey_open(s: Session, ids: list[int]) -> set[int]:
    """Processes whose step 4 has reached its survey phase."""
    return set(s.scalars(select(StepInstance.process_id).where(
        StepInstance.process_id.in_(ids), StepInstance.step_no == 4,
        StepInstance.status == "open", StepInstance.phase == "aktivitet")))


def build(engine: Engine, processes: int) -> list[str]:
    """Walk the processes to their open survey tasks; a token per manager."""
    walker = Walker(engine)
    walker.run(processes, MANAGERS, until=survey_open)
    tokens, rows = [], []
    with Session(engine) as s:
        chefs = s.scalars(select(Person).join(RoleAssignment, RoleAssignment.person_id == Person.id)
                          .where(RoleAssignment.role == "chef",
                                 RoleAssignment.process_id.in_(walker.process_ids))).all()
        for person in chefs:
            token, prefix, digest = mint_token()
            tokens.append(token)
            rows.append({"organisation_id": person.organisation_id, "person_id": person.id,
                         "name": "bench", "prefix": prefix, "token_hash": digest, "created_at": NOW})
        s.execute(insert(ApiToken), rows)
        s.commit()
    return tokens


class Server:
    """uvicorn with the bench app in a child process."""

    def __init__(self, database_url: str, app: str = "bench.inbox_app:create") -> None:
        self.database_url, self.app = database_url, app
        self.restarts = 0
        self.start()

    def start(self) -> None:
        """Start uvicorn on a free port and wait until it answers."""
        self.port = free_port()
        env = {**os.environ, "CHEFOSKOP_DATABASE_URL": self.database_url, "CHEFOSKOP_FLOW_MODE": "direct"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "critical", "--no-access-log"], env=env,
            stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/bench/bare", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        """Terminate the child (kill it when it still waits for stuck requests after 10 s)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def settle(self) -> float:
        """Wait for the backlog of the last run to clear; restart when it does not within 10 s."""
        waited = wait_idle(self.url, "/bench/bare", limit=10.0)
        if waited >= 10.0:
            self.stop()
            self.start()
            self.restarts += 1
        return waited


def inbox_request(tokens: list[str]):
    """A random manager fetches the inbox; one time in five the next request completes its task."""
    async def request(http: httpx.AsyncClient, rng: random.Random, state: dict) -> tuple[str, int]:
        if "complete" in state:
            headers, task = state.pop("complete")
            r = await http.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                                json={"data": {}, "expected_version": task["version"]})
            return "complete", r.status_code
        headers = {"Authorization": f"Bearer {rng.choice(tokens)}"}
        r = await http.get("/api/v1/tasks", headers=headers)
        items = r.json().get("items", []) if r.status_code == 200 else []
        if items and rng.random() < COMPLETE_SHARE:
            state["complete"] = (headers, items[0])
        return "inbox", r.status_code
    return request


async def bare_request(http: httpx.AsyncClient, rng: random.Random, state: dict) -> tuple[str, int]:
    """The baseline request."""
    r = await http.get("/bench/bare")
    return "bare", r.status_code


def sample(load: LoadResult, server: Server) -> Sample:
    """Requests per second (successful ones) and latencies of one load run, then a drain."""
    lat = load.all_latencies
    ok = sum(n for status, n in load.statuses.items() if status in (200, 201))
    drained = server.settle()
    return Sample(ok, load.seconds, lat, {"drain_seconds": drained, "requests": len(lat),
        "statuses": dict(load.statuses),
        "by_label_p50_ms": {k: percentile(v, 50) * MS for k, v in load.latencies.items()}})


def failed_share(x: Sample) -> float:
    """Percentage of requests that did not succeed."""
    total = x.extra["requests"]
    return 100.0 * (total - x.count) / total if total else 0.0


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Alternate ours and bare under the same load, ``cfg.reps`` (at most 3) times each."""
    processes = 300 if cfg.full else 30
    seconds = 20.0 if cfg.full else 6.0
    engine = db.fresh()
    tokens = build(engine, processes)
    server = Server(engine.url.render_as_string(hide_password=False))
    try:
        request = inbox_request(tokens)
        run_load(server.url, bare_request, clients=10, seconds=1)  # warm-up
        s = alternate(min(3, cfg.reps), {
            "ours": lambda: sample(run_load(server.url, request, seconds=seconds), server),
            "bare": lambda: sample(run_load(server.url, bare_request, seconds=seconds), server),
        })
    finally:
        server.stop()
    ours, bare = s["ours"], s["bare"]
    name = "2 inbox"
    rows = [compare(name, "successful requests/s (100 clients)", "1/s", [x.rate for x in ours],
                    [x.rate for x in bare], "bare endpoint", (">=", 0.5)),
            compare(name, "failed or timed out (>10 s)", "%", [failed_share(x) for x in ours],
                    [failed_share(x) for x in bare], "bare endpoint")]
    for q, goal in ((50, None), (95, ("<=", 2.0)), (99, None)):
        rows.append(compare(name, f"p{q} latency", "ms", [x.pct(q) * MS for x in ours],
                            [x.pct(q) * MS for x in bare], "bare endpoint", goal))
    details = {"server_restarts": server.restarts, "processes": processes,
               "open_tasks_at_start": len(tokens), "seconds_per_run": seconds,
               "ours": [x.extra for x in ours], "bare": [x.extra for x in bare]}
    return ScenarioResult(name, rows, details)
