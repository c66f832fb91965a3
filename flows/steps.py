"""The nine step flows, the sweep, and the delivery and digest flows (Prefect 3).

A step flow does the automated work of opening a step and ends; it never waits
for a person (human waits live in our database, see flows/README.md). Each flow
takes a list of step instance ids (default: every queued step of its number),
opens them in batches, one Prefect task and one database transaction per batch,
through the engine's ``open_step``. Work that later capabilities must do right
after a step opens (such as sending out a survey) registers in ``AFTER_OPEN``.

``run_step`` is the same work without Prefect (flow_mode ``direct``).
"""

from __future__ import annotations

from flows.dispatch import configure_prefect_environment

configure_prefect_environment()  # before Prefect reads its settings on import

import importlib  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import asdict  # noqa: E402

from prefect import Flow, flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from sqlalchemy.orm.exc import StaleDataError  # noqa: E402

from chefoskop import clock  # noqa: E402
from chefoskop.db import get_sessionmaker, unit_of_work  # noqa: E402
from chefoskop.settings import get_settings  # noqa: E402
from flows.batch import item_scope, lock_for_batch  # noqa: E402
from flows.definition import StepSpec, load_definition  # noqa: E402
from flows.engine import open_step, queued_step_ids  # noqa: E402
from flows.engine.core import Actor, Context  # noqa: E402
from flows.errors import IllegalTransition  # noqa: E402
from flows.sweep import run_sweep  # noqa: E402
from models import StepInstance  # noqa: E402

log = logging.getLogger(__name__)

BATCH_SIZE = 50
StepHook = Callable[[Context, StepInstance], None]

# step number -> functions run right after a step of that number opens, in the
# same transaction, in registration order. Register with ``after_open`` at import
# time of a module named in HOOK_MODULES (imported before any step opens, so a
# fresh worker process registers them too).
# A prefect.yaml entrypoint (flows/steps.py:step_1_flow) loads this file a second
# time under another module name; that copy shares the package module's registry.
_PACKAGE = None if __name__ == "flows.steps" else importlib.import_module("flows.steps")
AFTER_OPEN: dict[int, list[StepHook]] = {} if _PACKAGE is None else _PACKAGE.AFTER_OPEN
HOOK_MODULES: list[str] = ["surveys.hooks"] if _PACKAGE is None else _PACKAGE.HOOK_MODULES


def after_open(step_no: int) -> Callable[[StepHook], StepHook]:
    """Decorator: run the function whenever a step numbered ``step_no`` has just opened."""

    def register(hook: StepHook) -> StepHook:
        hooks = AFTER_OPEN.setdefault(step_no, [])
        if hook not in hooks:
            hooks.append(hook)
        return hook

    return register


def load_hook_modules() -> None:
    """Import every module in HOOK_MODULES so its ``after_open`` hooks are registered."""
    for name in HOOK_MODULES:
        importlib.import_module(name)


def step_flow_name(step_no: int) -> str:
    """The Prefect flow name of step ``step_no``, e.g. ``step-4-krav-resurser``."""
    step = load_definition().step(step_no)
    return f"step-{step.number}-{step.key.replace('_', '-')}"


def _chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class StepsNotOpened(RuntimeError):
    """Some steps of a batch failed to open; the others were committed, these stay queued."""


def open_batch(step_no: int, step_ids: list[int]) -> list[int]:
    """Open the queued steps ``step_ids`` (of number ``step_no``) in one transaction."""
    load_hook_modules()
    opened: list[int] = []
    failed: dict[int, str] = {}
    with unit_of_work() as session:
        lock_for_batch(session)
        ctx = Context(session, Actor(label=f"flow:step-{step_no}"), clock.now())
        for step_id in step_ids:
            try:
                if _open_one(ctx, step_no, step_id):
                    opened.append(step_id)
            except Exception as exc:  # its savepoint is undone; the batch goes on
                log.exception("step %s (number %s) failed to open", step_id, step_no)
                failed[step_id] = f"{type(exc).__name__}: {exc}"
    if failed:  # after the commit: the flow run fails visibly and Prefect retries these
        raise StepsNotOpened(f"step {step_no}: not opened, still queued: {failed}")
    return opened


def _open_one(ctx: Context, step_no: int, step_id: int) -> bool:
    try:
        with item_scope(ctx.session):
            current = ctx.session.get(StepInstance, step_id)
            if current is None or current.step_no != step_no or current.status != "queued":
                log.info("step %s is not a queued step %s; skipped", step_id, step_no)
                return False
            step = open_step(ctx, step_id)
            for hook in AFTER_OPEN.get(step_no, ()):
                hook(ctx, step)
    except (StaleDataError, IllegalTransition):
        log.info("step %s was opened by someone else meanwhile; skipped", step_id)
        return False
    return True


def _queued(step_no: int) -> list[int]:
    with unit_of_work() as session:
        return list(queued_step_ids(session, step_no))


def run_step(
    step_no: int, step_ids: list[int] | None = None, batch_size: int = BATCH_SIZE
) -> list[int]:
    """Open the given (default: all queued) steps of number ``step_no`` without Prefect."""
    ids = _queued(step_no) if step_ids is None else list(step_ids)
    opened: list[int] = []
    failures: list[str] = []
    for chunk in _chunks(ids, batch_size):
        try:
            opened += open_batch(step_no, chunk)
        except StepsNotOpened as exc:  # the other batches still run
            failures.append(str(exc))
    if failures:
        raise StepsNotOpened("; ".join(failures))
    return opened


open_batch_task = task(
    open_batch, name="open-steps", retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE
)


def make_step_flow(step: StepSpec) -> Flow:
    """Build the Prefect flow that opens queued steps numbered ``step.number``."""

    def run(step_ids: list[int] | None = None) -> list[int]:
        ids = _queued(step.number) if step_ids is None else list(step_ids)
        opened: list[int] = []
        failures: list[str] = []
        for chunk in _chunks(ids, BATCH_SIZE):
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
