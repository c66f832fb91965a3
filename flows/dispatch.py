"""Starting step flows once the change that queued the steps is committed.

The person whose decision queued a step never waits for its flow: the caller
commits, then calls ``start_step_flows``. How the flow runs follows
``settings.flow_mode``:

- ``direct``: the step logic runs inline without Prefect (tests, the CLI, tiny
  installations). It is synchronous whatever ``wait`` says, so tests are
  deterministic; opening a step takes milliseconds.
- ``embedded``: the Prefect flow runs in this process, against the server named
  by PREFECT_API_URL or Prefect's own ephemeral server. ``wait=False`` runs it
  in a daemon thread; if the process dies first, the steps stay queued and
  ``run_pending_steps`` picks them up. Flows start only once the API answers its
  health check (``wait_for_prefect_api``): Prefect marks its temporary server
  running before it answers, so a second flow started while it boots (the serve
  loop's catch-up beside a person's decision) would fail with "Failed to reach API".
- ``deployment``: a flow run of the deployment in prefect.yaml is created
  (``run_deployment``) and a worker runs it. ``wait=False`` returns as soon as the
  run exists; ``wait=True`` waits up to ``DEPLOYMENT_WAIT_SECONDS`` for it to end.

Importing this module sets Prefect's offline defaults (no analytics, DO_NOT_TRACK,
PREFECT_HOME in the data folder) unless the environment already sets them.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from chefoskop.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "chefoskop"
DEPLOYMENT_WAIT_SECONDS = 600.0
HEALTH_POLL_SECONDS = 0.2  # between health checks of a temporary server that is starting
_PREFECT_API_CHECK = threading.Lock()  # one check (and one start of the temporary server) at a time


class PrefectNotReady(RuntimeError):
    """Prefect's API did not answer its health check in time; the steps stay queued."""


def configure_prefect_environment(settings: Settings | None = None) -> None:
    """Default Prefect to offline use with its home (and database) in our data folder."""
    before = {k: os.environ.get(k) for k in ("PREFECT_HOME", "DO_NOT_TRACK")}
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not os.environ.get("PREFECT_HOME"):
        data_dir = (settings or get_settings()).data_dir
        os.environ["PREFECT_HOME"] = str((data_dir / "prefect").resolve())
    # Prefect's own SQLite database lives there; it cannot create the folder itself.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    changed = any(os.environ.get(k) != v for k, v in before.items())
    if changed and "prefect.context" in sys.modules:
        # Prefect read its settings when it was imported; let it read them again.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


configure_prefect_environment()


def deployment_name(step_no: int) -> str:
    """The full ``flow/deployment`` name of step ``step_no``'s deployment."""
    from flows.opening import step_flow_name

    return f"{step_flow_name(step_no)}/{DEPLOYMENT_NAME}"


def start_step_flows(step_ids_by_number: Mapping[int, list[int]], *, wait: bool = False) -> None:
    """Run the flows that open the given queued steps; call only after committing."""
    work = {n: sorted(set(ids)) for n, ids in sorted(step_ids_by_number.items()) if ids}
    if not work:
        return
    mode = get_settings().flow_mode
    if mode == "direct":
        _run_direct(work)
    elif mode == "deployment":
        _run_deployments(work, wait=wait)
    elif wait:
        _run_embedded(work)
    else:
        # The thread sees the caller's context variables, such as Prefect's settings.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run,
            args=(_run_embedded_logged, work),
            name="chefoskop-step-flows",
            daemon=True,
        ).start()


def start_queued(queued: list[tuple[int, int]], *, wait: bool = False) -> None:
    """Start flows for ``(step_no, step_id)`` pairs such as an engine ``Context.queued``."""
    grouped: dict[int, list[int]] = {}
    for step_no, step_id in queued:
        grouped.setdefault(step_no, []).append(step_id)
    start_step_flows(grouped, wait=wait)


def run_pending_steps(*, wait: bool = True) -> dict[int, list[int]]:
    """Dispatch every queued step, grouped by step number (catch-up after a crash)."""
    from chefoskop.db import unit_of_work
    from flows.definition import load_definition
    from flows.engine import queued_step_ids

    with unit_of_work() as session:
        work = {s.number: queued_step_ids(session, s.number) for s in load_definition().steps}
    work = {n: ids for n, ids in work.items() if ids}
    start_step_flows(work, wait=wait)
    return work


def _run_direct(work: Mapping[int, list[int]]) -> None:
    from flows.opening import run_step

    for step_no, ids in work.items():
        run_step(step_no, ids)


def _prefect_client():
    """Prefect's synchronous client; with no PREFECT_API_URL, getting it starts Prefect's
    temporary server (and, for the caller that starts it, waits for its health check)."""
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _prefect_api_configured() -> bool:
    """Whether PREFECT_API_URL names a server (someone else's to run) rather than the temporary one."""
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def _prefect_startup_timeout() -> float:
    """How long Prefect itself gives its temporary server to start."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    return float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())


def wait_for_prefect_api() -> None:
    """Return once the Prefect API the embedded flows use answers its health check
    (``api_healthcheck``); raise ``PrefectNotReady`` otherwise.

    One caller at a time: the first starts Prefect's temporary server, if none is configured,
    and the others wait here instead of reaching a server that is still starting. A temporary
    server is checked until Prefect's own start-up timeout; a configured one once (it is up or
    it is not; waiting for it is not ours to do).
    """
    with _PREFECT_API_CHECK, _prefect_client() as client:
        deadline = time.monotonic() + _prefect_startup_timeout()
        while (error := client.api_healthcheck()) is not None:
            if _prefect_api_configured() or time.monotonic() >= deadline:
                raise PrefectNotReady(f"Prefect's API at {client.api_url} is not ready: {error}")
            time.sleep(HEALTH_POLL_SECONDS)


def _run_embedded(work: Mapping[int, list[int]]) -> None:
    wait_for_prefect_api()
    from flows.steps import STEP_FLOWS

    for step_no, ids in work.items():
        STEP_FLOWS[step_no](step_ids=ids)


def _run_embedded_logged(work: Mapping[int, list[int]]) -> None:
    try:
        _run_embedded(work)
    except PrefectNotReady as exc:  # starting still: the steps stay queued for the next catch-up
        log.info("steps %s stay queued: %s; run_pending_steps opens them", dict(work), exc)
    except Exception:  # a background thread has no caller to tell; the steps stay queued
        log.exception("step flows %s failed; run_pending_steps will retry", dict(work))


def _run_deployments(work: Mapping[int, list[int]], *, wait: bool) -> None:
    from prefect.deployments import run_deployment

    for step_no, ids in work.items():
        run = run_deployment(
            name=deployment_name(step_no),
            parameters={"step_ids": ids},
            timeout=DEPLOYMENT_WAIT_SECONDS if wait else 0,
            poll_interval=1,
            as_subflow=False,
            _sync=True,  # also from inside an event loop (an async API handler)
        )
        log.info("created flow run %s for step %s: %s", run.id, step_no, ids)
