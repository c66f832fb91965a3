"""A real Prefect server and worker: a step deployment run opens the step in our database.

Starts ``prefect server start`` on a free port with its own PREFECT_HOME, creates
the ``process`` work pool, registers deployments, starts ``prefect worker start``
in the repository root with CHEFOSKOP_DATABASE_URL pointing at the test database,
and dispatches a queued step in flow_mode ``deployment``. Every wait is bounded;
every subprocess is stopped in ``finally``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import get_settings
from flows import engine
from flows.dispatch import DEPLOYMENT_NAME, start_queued
from models import Organisation, Person, StepInstance

pytestmark = [pytest.mark.prefect_server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
ROLES = ("bestallare", "processagare", "processledare", "ledning", "chefers_chef", "chef")


def _fastapi_drops_null_defaults() -> bool:
    """FastAPI 0.151+ validates an explicit JSON null instead of using the default."""
    import fastapi

    major, minor = (int(x) for x in fastapi.__version__.split(".")[:2])
    return (major, minor) >= (0, 151)


@dataclass
class Server:
    """A running Prefect server and the environment its clients need."""

    api_url: str
    env: dict[str, str]
    logs: Path
    started_in: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own venv's prefect
            [PREFECT, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    """Stop ``proc`` and everything it started (its own process group)."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _base_env(home: Path, database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CHEFOSKOP_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_UI_ENABLED="false",
        # No scheduled sweep/deliver runs while the test runs.
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        CHEFOSKOP_ENVIRONMENT="test",
        CHEFOSKOP_DATABASE_URL=database_url,
        CHEFOSKOP_DATA_DIR=str(data_dir),
    )
    return env


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory, database_url: str) -> Iterator[Server]:
    """``prefect server start`` on a free port with a fresh PREFECT_HOME."""
    tmp = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    env = _base_env(tmp / "home", database_url, tmp / "data")
    logs = tmp / "server.log"
    started = time.monotonic()
    proc = _start(["server", "start", "--host", "127.0.0.1", "--port", str(port)], env, logs)
    try:
        api = f"http://127.0.0.1:{port}/api"
        deadline = started + 120
        while True:
            assert proc.poll() is None, f"server exited:\n{_tail(logs)}"
            assert time.monotonic() < deadline, f"server not healthy in 120 s:\n{_tail(logs)}"
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        server = Server(api, {**env, "PREFECT_API_URL": api}, tmp, time.monotonic() - started)
        done = _run(["work-pool", "create", "process", "--type", "process"], server.env, 60)
        assert done.returncode == 0, done.stdout + done.stderr
        yield server
    finally:
        _stop(proc)


def _queue_one_process(factory: sessionmaker[Session]) -> list[tuple[int, int]]:
    with factory() as s, s.begin():
        org = Organisation(name="Serverkommun", slug="serverkommun")
        s.add(org)
        s.flush()
        people = {r: Person(organisation_id=org.id, name=r, email=f"{r}@s.se") for r in ROLES}
        s.add_all(people.values())
        s.flush()
        roster = [engine.RoleSpec(r, person_id=p.id) for r, p in people.items()]
        ctx = engine.Context(s, engine.Actor.person(people["bestallare"].id))
        engine.start_process(ctx, org.id, "Serverprocessen", roster)
        return ctx.queued


def _step_status(factory: sessionmaker[Session], step_id: int) -> str:
    with factory() as s:
        return s.scalar(select(StepInstance.status).where(StepInstance.id == step_id))


def test_a_deployment_run_on_a_worker_opens_the_step(
    prefect_server: Server, session_factory, monkeypatch
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.steps import step_1_flow

    monkeypatch.chdir(ROOT)  # the entrypoint is recorded relative to the working directory
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        step_1_flow.to_deployment(
            name=DEPLOYMENT_NAME, work_pool_name="process", job_variables={"working_dir": str(ROOT)}
        ).apply()
        log = prefect_server.logs / "worker.log"
        worker_started = time.monotonic()
        worker = _start(["worker", "start", "--pool", "process", "--type", "process"],
                        prefect_server.env, log)
        try:
            [(step_no, step_id)] = _queue_one_process(session_factory)
            monkeypatch.setenv("CHEFOSKOP_FLOW_MODE", "deployment")
            get_settings.cache_clear()
            dispatched = time.monotonic()
            start_queued([(step_no, step_id)], wait=False)
            returned_in = time.monotonic() - dispatched
            assert returned_in < 5, "creating the flow run must not wait for it"
            deadline = dispatched + 120
            while _step_status(session_factory, step_id) != "open":
                assert worker.poll() is None, f"worker exited:\n{_tail(log)}"
                assert time.monotonic() < deadline, f"step not opened in 120 s:\n{_tail(log)}"
                time.sleep(0.5)
            opened_in = time.monotonic() - dispatched
        finally:
            _stop(worker)
    print(
        f"\nprefect server healthy in {prefect_server.started_in:.1f}s (fresh home); "
        f"run_deployment returned in {returned_in:.2f}s; step open {opened_in:.1f}s after "
        f"dispatch ({dispatched - worker_started:.1f}s after the worker was started)"
    )


@pytest.mark.xfail(
    _fastapi_drops_null_defaults(),
    strict=True,
    reason="prefect 3.8.8's client sends null limits that FastAPI >= 0.151 refuses (HTTP 422)",
)
def test_prefect_deploy_all_registers_every_deployment(prefect_server: Server) -> None:
    expected = _declared_deployments()
    assert len(expected) == 13  # nine steps, sweep, deliver, digest, survey aggregation
    done = _run(["--no-prompt", "deploy", "--all"], prefect_server.env, 300)
    assert done.returncode == 0, _tail_text(done.stdout + done.stderr)
    listed = _run(["deployment", "ls"], {**prefect_server.env, "COLUMNS": "300"}, 60)
    assert listed.returncode == 0, _tail_text(listed.stdout + listed.stderr)
    for name in expected:
        assert name in listed.stdout, (name, _tail_text(listed.stdout))
    # What the server holds, read from its API: each deployment of prefect.yaml once, on the
    # process pool, with the schedules declared there.
    flows = {f["id"]: f["name"] for f in _api(prefect_server, "flows/filter")}
    registered = {f"{flows[d['flow_id']]}/{d['name']}": d for d in _api(prefect_server, "deployments/filter")}
    assert set(registered) == set(expected)
    for name, crons in expected.items():
        assert registered[name]["work_pool_name"] == "process", name
        assert sorted(s["schedule"]["cron"] for s in registered[name]["schedules"]) == crons, name


def _declared_deployments() -> dict[str, list[str]]:
    """``"<flow name>/<deployment name>"`` -> cron schedules, for every deployment in prefect.yaml."""
    import importlib

    import yaml

    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    found: dict[str, list[str]] = {}
    for d in declared:
        path, function = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        name = f"{getattr(module, function).name}/{d['name']}"
        assert name not in found, f"{name} is declared twice"
        found[name] = sorted(s["cron"] for s in d.get("schedules") or [])
    return found


def _api(server: Server, path: str) -> list[dict]:
    answer = httpx.post(f"{server.api_url}/{path}", json={"limit": 200}, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _tail_text(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])
