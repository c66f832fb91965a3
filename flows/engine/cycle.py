"""The end of step 9 (an evaluation of the process) and a new cycle that keeps the history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.engine.core import Context, create, record, transition
from flows.engine.queries import get
from flows.engine.roster import require_role
from flows.engine.steps import RoleSpec, start_process
from flows.errors import Conflict, GateUnmet, IllegalTransition, InvalidData
from models import (
    ActionPlan,
    FollowUpMeeting,
    Process,
    ProcessEvaluation,
    RoleAssignment,
    StepInstance,
    Task,
)

FOLLOW_UP_STEP_NO = 9


def plans_without_follow_up(session: Session, process_id: int) -> list[int]:
    """Ids of the process's adopted plans that have had no follow-up meeting yet."""
    held = select(FollowUpMeeting.plan_id).where(FollowUpMeeting.status == "held")
    return list(session.scalars(select(ActionPlan.id).where(
        ActionPlan.process_id == process_id, ActionPlan.status == "adopted",
        ActionPlan.id.not_in(held)).order_by(ActionPlan.id)))


def evaluate_process(ctx: Context, process_id: int, *, what_worked: str, what_to_change: str,
                     before_after: str = "", next_cycle: str = "") -> ProcessEvaluation:
    """Record the evaluation that ends step 9; every adopted plan must have been followed up."""
    process = get(ctx.session, Process, process_id, lock=True)
    require_role(ctx, process, ("processagare",))
    step = ctx.session.scalars(select(StepInstance).where(
        StepInstance.process_id == process.id, StepInstance.step_no == FOLLOW_UP_STEP_NO)).one()
    if step.status != "open":
        raise GateUnmet("the process is evaluated in step 9", gate="step_9_open")
    errors = {name: "required" for name, value in (("what_worked", what_worked),
                                                   ("what_to_change", what_to_change))
              if not value or not value.strip()}
    if errors:
        raise InvalidData("the evaluation is incomplete", errors=errors)
    missing = plans_without_follow_up(ctx.session, process.id)
    if missing:
        raise GateUnmet("every adopted plan needs a follow-up meeting first", gate="follow_up_meeting",
                        plan_ids=missing)
    row = ProcessEvaluation(process_id=process.id, what_worked=what_worked.strip(),
                            what_to_change=what_to_change.strip(), before_after=(before_after or "").strip(),
                            next_cycle=(next_cycle or "").strip(), recorded_by_id=ctx.actor.person_id,
                            recorded_at=ctx.now)
    return create(ctx, row, "process_evaluation", "recorded", organisation_id=process.organisation_id,
                  process_id=process.id, action="recorded")


def evaluation_form_data(evaluation: ProcessEvaluation) -> dict:
    """The data to complete step 9's ``evaluate_process`` task with, built from the evaluation."""
    parts = [evaluation.what_worked, evaluation.what_to_change, evaluation.before_after,
             evaluation.next_cycle]
    return {"evaluation": "\n\n".join(p for p in parts if p)}


def evaluation_task(session: Session, process_id: int) -> Task | None:
    """Step 9's live ``evaluate_process`` task, if it is open."""
    return session.scalars(select(Task).where(
        Task.process_id == process_id, Task.activity_key == "evaluate_process",
        Task.status.in_(("open", "claimed"))).order_by(Task.id.desc())).first()


def _roster(ctx: Context, process: Process) -> list[RoleSpec]:
    rows = ctx.session.scalars(select(RoleAssignment).where(
        RoleAssignment.process_id == process.id).order_by(RoleAssignment.id))
    return [RoleSpec(role=r.role, person_id=r.person_id, body_id=r.body_id, unit_id=r.unit_id)
            for r in rows if r.valid_to is None or r.valid_to > ctx.now]


def start_new_cycle(ctx: Context, process_id: int, *, name: str | None = None) -> Process:
    """Start the next cycle of a completed process: same roster, linked, history kept; plans closed."""
    previous = get(ctx.session, Process, process_id, lock=True)
    require_role(ctx, previous, ("bestallare", "processagare"))
    if previous.status != "completed":
        raise IllegalTransition("a new cycle starts after the process is completed", entity="process",
                                from_state=previous.status, to_state="completed")
    taken = ctx.session.scalar(select(Process.id).where(Process.previous_process_id == previous.id))
    if taken is not None:
        raise Conflict("a next cycle already exists", id=taken)
    title = (name or previous.name).strip()
    process = start_process(ctx, previous.organisation_id, title, _roster(ctx, previous),
                            definition_key=previous.definition_key)
    process.previous_process_id, process.cycle = previous.id, previous.cycle + 1
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="process",
           entity_id=process.id, action="new_cycle", from_state="running", to_state="running",
           data={"previous_process_id": previous.id, "cycle": process.cycle})
    for plan in ctx.session.scalars(select(ActionPlan).where(
            ActionPlan.process_id == previous.id, ActionPlan.status == "adopted")):
        transition(ctx, plan, "plan", "closed", organisation_id=previous.organisation_id,
                   process_id=previous.id, data={"next_process_id": process.id})
    return process


def cycle_history(session: Session, process_id: int) -> list[Process]:
    """The chain of cycles this process belongs to, oldest first (following previous_process_id)."""
    chain = [get(session, Process, process_id)]
    while chain[0].previous_process_id is not None:
        chain.insert(0, get(session, Process, chain[0].previous_process_id))
    following = session.scalar(select(Process).where(Process.previous_process_id == chain[-1].id))
    while following is not None:
        chain.append(following)
        following = session.scalar(select(Process).where(Process.previous_process_id == following.id))
    return chain
