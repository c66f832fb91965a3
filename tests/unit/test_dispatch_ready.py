"""Embedded flows wait for Prefect's API to answer its health check before they run.

Prefect starts its temporary server on first use and marks it running before it answers; a
second flow started meanwhile (the serve loop's tick beside a person's decision) failed with
"Failed to reach API". These tests stand in a fake Prefect for the real one: a server that
takes a moment to start, answering health checks only once it has, and step flows that talk
to it as Prefect's engine does.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import types

import pytest

from chefoskop.settings import get_settings
from flows import dispatch

START_SECONDS = 0.4


class FakeServer:
    """Prefect's temporary server: ``running`` at once, healthy only after it has started."""

    def __init__(self, start_seconds: float | None = START_SECONDS) -> None:
        self.start_seconds = start_seconds
        self.running = False
        self.healthy = threading.Event()
        self.starts = 0

    def start(self) -> None:
        if self.running:  # as Prefect's SubprocessASGIServer.start: a second caller goes straight on
            return
        self.running = True
        self.starts += 1
        if self.start_seconds is not None:
            time.sleep(self.start_seconds)  # the subprocess starting up
            self.healthy.set()


class FakeClient:
    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.api_url = "http://127.0.0.1:8123/api"

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def api_healthcheck(self) -> Exception | None:
        return None if self.server.healthy.is_set() else ConnectionError("connection refused")


@pytest.fixture
def prefect(monkeypatch: pytest.MonkeyPatch):
    """A fake Prefect behind flows.dispatch, in flow mode ``embedded``; yields the server and the
    record of what each flow found."""
    server = FakeServer()
    runs: list[str] = []

    def client() -> FakeClient:  # no API configured: the client starts the temporary server
        server.start()
        return FakeClient(server)

    def step_flow(step_ids: list[int]) -> None:
        with client() as c:  # what Prefect's flow engine does first
            if c.api_healthcheck() is not None:
                runs.append("Failed to reach API")
                raise RuntimeError(f"Failed to reach API at {c.api_url}")
        runs.append("ran")

    monkeypatch.setattr(dispatch, "_prefect_client", client)
    monkeypatch.setattr(dispatch, "_prefect_api_configured", lambda: False)
    monkeypatch.setitem(sys.modules, "flows.steps",
                        types.SimpleNamespace(STEP_FLOWS={n: step_flow for n in range(1, 10)}))
    monkeypatch.setenv("CHEFOSKOP_FLOW_MODE", "embedded")
    get_settings.cache_clear()
    yield types.SimpleNamespace(server=server, runs=runs)
    get_settings.cache_clear()


def test_flows_started_while_prefect_starts_wait_for_its_health_check(prefect) -> None:
    """The tick's catch-up beside a person's decision: both find a healthy API."""
    errors: list[BaseException] = []

    def dispatch_one(step_no: int) -> None:
        try:
            dispatch.start_step_flows({step_no: [step_no]}, wait=True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatch_one, args=(n,)) for n in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and prefect.runs == ["ran", "ran", "ran"]
    assert prefect.server.starts == 1


def test_a_background_flow_waits_too(prefect, caplog) -> None:
    caplog.set_level(logging.INFO, logger="flows.dispatch")
    dispatch.start_step_flows({1: [11]}, wait=False)
    dispatch.start_step_flows({2: [12]}, wait=True)
    deadline = time.monotonic() + 10
    while len(prefect.runs) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert prefect.runs == ["ran", "ran"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_prefect_not_ready_in_time_leaves_the_steps_queued_quietly(prefect, monkeypatch, caplog) -> None:
    prefect.server.start_seconds = None  # it never answers
    monkeypatch.setattr(dispatch, "_prefect_startup_timeout", lambda: 0.3)
    caplog.set_level(logging.INFO, logger="flows.dispatch")
    dispatch._run_embedded_logged({1: [21]})  # the thread behind a person's decision
    assert prefect.runs == []  # no flow ran against an API that does not answer
    (record,) = [r for r in caplog.records if r.name == "flows.dispatch"]
    assert record.levelno == logging.INFO and "not ready" in record.getMessage()
    assert record.exc_info is None  # no traceback for a server that is starting
    with pytest.raises(dispatch.PrefectNotReady):  # a caller that waits is told
        dispatch.start_step_flows({1: [21]}, wait=True)


def test_a_configured_prefect_server_is_checked_once_without_waiting(prefect, monkeypatch) -> None:
    prefect.server.start_seconds = None
    monkeypatch.setattr(dispatch, "_prefect_api_configured", lambda: True)
    monkeypatch.setattr(dispatch, "_prefect_startup_timeout", lambda: 30.0)
    started = time.monotonic()
    with pytest.raises(dispatch.PrefectNotReady):
        dispatch.wait_for_prefect_api()
    assert time.monotonic() - started < 5  # someone else runs that server: no waiting on it
    prefect.server.healthy.set()
    dispatch.wait_for_prefect_api()
