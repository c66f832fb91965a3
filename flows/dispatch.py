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
  ``run_pending_steps`` picks them up.
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
from collections.abc import Mapping
from pathlib import Path

from chefoskop.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "chefoskop"
DEPLOYMENT_WAIT_SECONDS = 600.0


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


def _run_embedded(work: Mapping[int, list[int]]) -> None:
    from flows.steps import STEP_FLOWS

    for step_no, ids in work.items():
        STEP_FLOWS[step_no](step_ids=ids)


def _run_embedded_logged(work: Mapping[int, list[int]]) -> None:
    try:
        _run_embedded(work)
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
