"""The engine: the one door through which every process state change passes.

Every public function takes a ``Context`` (session, actor, time), checks the
pure rules, applies the change, writes one audit event per state change and
any outbox rows, and flushes. The caller commits, then starts the flows of
the steps listed in ``ctx.queued``.
"""

from flows.engine.actions import (
    ActionFields,
    add_action,
    adopt_plan,
    change_action,
    create_plan,
    finish_action,
    record_risk_assessment,
    start_action,
)
from flows.engine.areas import (
    AreaFields,
    change_development_area,
    plan_areas,
    plan_history,
    record_development_areas,
    suggested_areas,
    update_plan,
    withdraw_development_area,
)
from flows.engine.core import SYSTEM, Actor, Context, record, transition
from flows.engine.cycle import cycle_history, evaluate_process, start_new_cycle
from flows.engine.followup import (
    ReviewFields,
    cancel_follow_up,
    plan_follow_ups,
    record_follow_up,
    schedule_follow_up,
)
from flows.engine.followup_sweep import follow_up_reminders
from flows.engine.gates import cancel_process, decide_gate, record_consultation
from flows.engine.notify import task_payload as _task_payload
from flows.engine.queries import current_gates, queued_step_ids
from flows.engine.roster import (
    assign_role,
    delegate,
    end_assignment,
    expire_delegations,
    reroute,
    revoke_delegation,
)
from flows.engine.steps import RoleSpec, open_step, start_process
from flows.engine.tasks import claim, complete, reassign, unclaim


def task_payload(session, task) -> dict:
    """The notification payload of ``task`` (for the sweep and other callers)."""
    return _task_payload(Context(session), task)


__all__ = [
    "SYSTEM", "ActionFields", "Actor", "Context", "RoleSpec", "add_action", "adopt_plan",
    "assign_role", "cancel_process", "change_action", "claim", "complete", "create_plan",
    "current_gates", "decide_gate", "delegate", "end_assignment", "expire_delegations",
    "finish_action", "open_step",
    "queued_step_ids", "reassign", "record", "record_consultation", "record_risk_assessment",
    "reroute", "revoke_delegation", "start_action", "start_process", "task_payload",
    "transition", "unclaim",
    "AreaFields", "ReviewFields", "cancel_follow_up", "change_development_area", "cycle_history",
    "evaluate_process", "follow_up_reminders", "plan_areas", "plan_follow_ups", "plan_history",
    "record_development_areas", "record_follow_up", "schedule_follow_up", "start_new_cycle",
    "suggested_areas", "update_plan", "withdraw_development_area",
]
