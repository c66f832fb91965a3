"""Opening queued steps: the work of the step flows, without Prefect.

``run_step`` opens queued steps in batches, one database transaction per batch,
through the engine's ``open_step``, and runs the ``AFTER_OPEN`` hooks of each step
(work later capabilities do right after a step opens, such as sending out a
survey). ``flows.steps`` wraps ``open_batch`` in Prefect tasks and flows; flow_mode
``direct`` calls ``run_step`` and never imports Prefect.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterator

from sqlalchemy.orm.exc import StaleDataError

from chefoskop import clock
from chefoskop.db import unit_of_work
from flows.batch import item_scope, lock_for_batch
from flows.definition import load_definition
from flows.engine import open_step, queued_step_ids
from flows.engine.core import Actor, Context
from flows.errors import IllegalTransition
from models import StepInstance

log = logging.getLogger(__name__)

BATCH_SIZE = 50
StepHook = Callable[[Context, StepInstance], None]

# step number -> functions run right after a step of that number opens, in the
# same transaction, in registration order. Register with ``after_open`` at import
# time of a module named in HOOK_MODULES (imported before any step opens, so a
# fresh worker process registers them too).
# (A prefect.yaml entrypoint loads flows/steps.py a second time under another module
# name; both copies import this module by its name, so they share one registry.)
AFTER_OPEN: dict[int, list[StepHook]] = {}
HOOK_MODULES: list[str] = ["surveys.hooks"]


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


def chunks(ids: list[int], size: int) -> Iterator[list[int]]:
    """``ids`` in runs of at most ``size``."""
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


def queued_ids(step_no: int) -> list[int]:
    """Ids of every queued step numbered ``step_no``."""
    with unit_of_work() as session:
        return list(queued_step_ids(session, step_no))


def run_step(
    step_no: int, step_ids: list[int] | None = None, batch_size: int = BATCH_SIZE
) -> list[int]:
    """Open the given (default: all queued) steps of number ``step_no`` without Prefect."""
    ids = queued_ids(step_no) if step_ids is None else list(step_ids)
    opened: list[int] = []
    failures: list[str] = []
    for chunk in chunks(ids, batch_size):
        try:
            opened += open_batch(step_no, chunk)
        except StepsNotOpened as exc:  # the other batches still run
            failures.append(str(exc))
    if failures:
        raise StepsNotOpened("; ".join(failures))
    return opened
