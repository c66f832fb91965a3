"""Engine hooks: opening step 4, 5 or 6 sends out that step's mapping.

Listed in ``flows.steps.HOOK_MODULES`` so every worker registers these before it
opens a step. Each hook runs in the step's transaction, right after ``open_step``.
"""

from __future__ import annotations

from flows.engine.core import Context
from flows.steps import after_open
from models import StepInstance
from surveys.distribution import open_survey


@after_open(4)
@after_open(5)
@after_open(6)
def send_out_mapping(ctx: Context, step: StepInstance) -> None:
    """Create the step's survey and invitations when the step opens."""
    open_survey(ctx, step)
