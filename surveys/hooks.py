"""Engine hooks: opening step 4, 5 or 6 sends out that step's mapping.

Listed in ``flows.opening.HOOK_MODULES`` so every worker registers these before it
opens a step. Each hook runs in the step's transaction, right after ``open_step``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from flows.engine.core import Context
from flows.opening import after_open
from flows.sweep_hooks import BEFORE_SWEEP, NOTICE_FILTERS
from models import StepInstance, Task
from surveys.distribution import awaiting_answer, close_due_surveys, open_survey


@after_open(4)
@after_open(5)
@after_open(6)
def send_out_mapping(ctx: Context, step: StepInstance) -> None:
    """Create the step's survey and invitations when the step opens."""
    open_survey(ctx, step)


def answered_already(session: Session, task: Task) -> bool:
    """A respondent's task needs no reminder once their answers are in."""
    return task.holder_id is not None and awaiting_answer(session, task.step_id, task.holder_id) is False


def close_surveys_due(ctx: Context) -> Callable[[], None] | None:
    """Close surveys whose closing time passed; aggregate them once that is committed."""
    from surveys.aggregation import start_aggregation

    ids = close_due_surveys(ctx)
    return (lambda: start_aggregation(ids, wait=True)) if ids else None


if answered_already not in NOTICE_FILTERS:
    NOTICE_FILTERS.append(answered_already)
if close_surveys_due not in BEFORE_SWEEP:
    BEFORE_SWEEP.append(close_surveys_due)
