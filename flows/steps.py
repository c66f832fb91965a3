"""The nine step flows, the sweep, and the delivery and digest flows (Prefect 3).

A step flow does the automated work of opening a step and ends; it never waits
for a person (human waits live in our database, see flows/README.md). Each flow
takes a list of step instance ids (default: every queued step of its number),
opens them in batches, one Prefect task and one database transaction per batch,
through the engine's ``open_step``. Work that later capabilities must do right
after a step opens (such as sending out a survey) registers in ``AFTER_OPEN``.

The step logic itself (``open_batch``, ``run_step``, the hook registry) lives in
``flows.opening``, which flow_mode ``direct`` uses without importing Prefect; import
it from there.
"""

from __future__ import annotations

from flows.dispatch import configure_prefect_environment

configure_prefect_environment()  # before Prefect reads its settings on import

import inspect  # noqa: E402
import logging  # noqa: E402
from dataclasses import asdict  # noqa: E402

from prefect import Flow, flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402

from chefoskop import clock  # noqa: E402
from chefoskop.db import get_sessionmaker, unit_of_work  # noqa: E402
from chefoskop.settings import get_settings  # noqa: E402
from flows.definition import StepSpec, load_definition  # noqa: E402
from flows.opening import (  # noqa: E402
    BATCH_SIZE,
    StepsNotOpened,
    chunks,
    open_batch,
    queued_ids,
    step_flow_name,
)
from flows.sweep import run_sweep  # noqa: E402

log = logging.getLogger(__name__)


open_batch_task = task(
    open_batch, name="open-steps", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE
)


def make_step_flow(step: StepSpec) -> Flow:
    """Build the Prefect flow that opens queued steps numbered ``step.number``."""

    def run(step_ids: list[int] | None = None) -> list[int]:
        ids = queued_ids(step.number) if step_ids is None else list(step_ids)
        opened: list[int] = []
        failures: list[str] = []
        for chunk in chunks(ids, BATCH_SIZE):
            state = open_batch_task(step.number, chunk, return_state=True)
            result = state.result(raise_on_failure=False)
            if state.is_completed():
                opened += result
            else:  # retried and still failing; the other batches still run
                failures.append(str(result))
        if failures:
            raise StepsNotOpened("; ".join(failures))
        return opened

    # Deployments name the flow by the module attribute it is bound to below.
    run.__name__ = run.__qualname__ = f"step_{step.number}_flow"
    run.__doc__ = f"Open queued instances of step {step.number} ({step.title.en})."
    return flow(name=step_flow_name(step.number), validate_parameters=True)(run)


STEP_FLOWS: dict[int, Flow] = {s.number: make_step_flow(s) for s in load_definition().steps}
STEP_NUMBERS: tuple[int, ...] = tuple(STEP_FLOWS)

step_1_flow = STEP_FLOWS[1]
step_2_flow = STEP_FLOWS[2]
step_3_flow = STEP_FLOWS[3]
step_4_flow = STEP_FLOWS[4]
step_5_flow = STEP_FLOWS[5]
step_6_flow = STEP_FLOWS[6]
step_7_flow = STEP_FLOWS[7]
step_8_flow = STEP_FLOWS[8]
step_9_flow = STEP_FLOWS[9]


class SweepFailures(RuntimeError):
    """Some tasks failed in a sweep; every other task's notices were committed."""


@flow(name="sweep")
def sweep_flow(batch_size: int = 500) -> dict[str, int]:
    """Queue due reminders, overdue notices and escalations (one transaction per batch)."""
    report = asdict(run_sweep(clock.now(), get_settings(), batch_size=batch_size))
    if report["failed"]:
        raise SweepFailures(f"sweep finished with failed tasks (see the log): {report}")
    return report


@flow(name="deliver")
async def deliver_flow() -> object:
    """Deliver pending outbox messages through the mail sender."""
    try:
        from notifications.sender import deliver_all
    except ImportError:
        log.warning("notifications.sender.deliver_all is not available; nothing delivered")
        return None
    result = deliver_all(get_sessionmaker(), get_settings())
    return await result if inspect.isawaitable(result) else result


@flow(name="digest")
def digest_flow() -> object:
    """Bundle held notifications into each recipient's daily digest."""
    from notifications.digest import build_digests

    with unit_of_work() as session:
        return build_digests(session, clock.now())
