"""Engine hooks: opening step 4, 5 or 6 sends out that step's mapping; the sweep follows it.

Listed in ``flows.opening.HOOK_MODULES`` so every worker registers these before it
opens a step or sweeps. ``send_out_mapping`` runs in the step's transaction, right
after ``open_step``. For the sweep (``flows.sweep_hooks``):

- ``answered_already`` (a notice filter): a respondent who has answered gets no
  reminder; who has is worked out from the stored answers, never stored before close.
- ``answer_task`` (no escalation): a respondent's lateness is told to nobody but
  themselves: escalating would tell the processägare and processledare who has not
  answered. They get their own reminders only.
- ``close_surveys_due`` (before the sweep): starts answering where answer tasks went
  out unseen, closes mappings past their close date (never one whose answering has not
  started), completes answer tasks left behind by a mapping closed early; after the
  commit, reshuffles open mappings' responses (``surveys.unlink``) and aggregates what
  closed (and any closed mapping whose aggregation never ran).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from chefoskop.db import unit_of_work
from flows.engine.core import Context
from flows.opening import after_open
from flows.sweep_hooks import BEFORE_SWEEP, NO_ESCALATION, NOTICE_FILTERS
from models import StepInstance, Task
from surveys.distribution import (
    MAPPING_OF_STEP,
    awaiting_answer,
    close_due_surveys,
    closed_not_aggregated,
    complete_leftover_tasks,
    open_survey,
    start_answering_due,
)
from surveys.unlink import shuffle_open_responses

RESPONDENT_ROLES = frozenset({"chef", "ledning"})


@after_open(4)
@after_open(5)
@after_open(6)
def send_out_mapping(ctx: Context, step: StepInstance) -> None:
    """Create the step's survey and invitations when the step opens."""
    open_survey(ctx, step)


def answered_already(session: Session, task: Task) -> bool:
    """A respondent's task needs no reminder once their answers are in."""
    return task.holder_id is not None and awaiting_answer(session, task.step_id, task.holder_id) is False


def answer_task(session: Session, task: Task) -> bool:
    """A respondent's answer task (steps 4-6, phase aktivitet): never escalated."""
    if task.phase != "aktivitet" or task.role not in RESPONDENT_ROLES:
        return False
    step = session.get(StepInstance, task.step_id)
    return step is not None and step.step_no in MAPPING_OF_STEP


def close_surveys_due(ctx: Context) -> Callable[[], None]:
    """Start, close and tidy mappings; after the commit, reshuffle and aggregate."""
    from surveys.aggregation import start_aggregation

    start_answering_due(ctx)
    closed = close_due_surveys(ctx)
    complete_leftover_tasks(ctx)
    ids = sorted(set(closed) | set(closed_not_aggregated(ctx.session)))

    def after() -> None:
        with unit_of_work() as session:
            shuffle_open_responses(session)
        if ids:
            start_aggregation(ids, wait=True)

    return after


if answered_already not in NOTICE_FILTERS:
    NOTICE_FILTERS.append(answered_already)
if answer_task not in NO_ESCALATION:
    NO_ESCALATION.append(answer_task)
if close_surveys_due not in BEFORE_SWEEP:
    BEFORE_SWEEP.append(close_surveys_due)
