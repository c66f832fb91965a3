"""Human tasks: creation from activities, routing to role holders, claim and completion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import bindparam, select, update

from chefoskop.settings import get_settings
from flows.calendar import add_working_days, local_date
from flows.definition import ActivitySpec
from flows.engine.core import Context, check_version, create_all, record, transition
from flows.engine.notify import invited_ids, people, send, send_invite, task_payload
from flows.engine.queries import get, load_task, people_by_id, step_spec
from flows.errors import Conflict, InvalidData, NotRoleHolder
from flows.rules import OPEN_TASK_STATES
from models import Process, StepInstance, Task, TaskCandidate
from roles.resolve import RoleData, resolve, resolve_person, unit_holders


def due_date_for(ctx: Context, activity: ActivitySpec) -> date:
    """The due date of a task opened now: the activity's offset in Swedish working days."""
    return add_working_days(local_date(ctx.now, get_settings().timezone), activity.due_days)


def _candidate_sets(
    data: RoleData, activity: ActivitySpec, ctx: Context
) -> list[tuple[int | None, dict[int, str]]]:
    """One (holder, candidates) pair per task to create for ``activity``."""
    if activity.assignment == "each":
        now = ctx.now
        holders = unit_holders(data, activity.role, now) or resolve(data, activity.role, now)
        return [(pid, resolve_person(data, activity.role, pid, ctx.now)) for pid in sorted(holders)]
    return [(None, resolve(data, activity.role, ctx.now))]


def create_tasks(ctx: Context, process: Process, step: StepInstance,
                 activities: Sequence[ActivitySpec], *, iteration: int, status: str,
                 reason: str | None = None) -> dict[str, list[Task]]:
    """Create the task(s) of each of ``activities`` in one flush; open ones are routed and announced."""
    data = ctx.role_data(process.id)
    created: dict[str, list[Task]] = {}
    for activity in activities:
        tasks = created[activity.key] = []
        for holder_id, candidates in _candidate_sets(data, activity, ctx):
            if not candidates:
                raise NotRoleHolder(f"nobody holds role {activity.role}", role=activity.role)
            task = Task(process_id=process.id, step_id=step.id, activity_key=activity.key,
                        phase=activity.phase, kind=activity.kind, role=activity.role,
                        iteration=iteration, status=status, holder_id=holder_id,
                        reopen_reason=reason, created_at=ctx.now)
            task.candidates = [TaskCandidate(person_id=p, via=via) for p, via in candidates.items()]
            if status == "open":
                task.due_date = due_date_for(ctx, activity)
            tasks.append(task)
    everything = [t for tasks in created.values() for t in tasks]
    create_all(ctx, everything, "task", status, organisation_id=process.organisation_id,
               process_id=process.id,
               data=lambda t: {"activity": t.activity_key, "iteration": t.iteration})
    if status == "open":
        _announce(ctx, process, [(t, a) for a in activities for t in created[a.key]])
    return created


def route_of(data: RoleData, task: Task, now: datetime) -> dict[int, str]:
    """Who acts for the task's role at ``now``: for its holder (per-holder work), else everyone."""
    if task.holder_id is not None:
        return resolve_person(data, task.role, task.holder_id, now)
    return resolve(data, task.role, now)


def open_pending(ctx: Context, process: Process, task: Task, activity: ActivitySpec) -> None:
    """Make a pending task actionable: re-route it to today's holders and announce it."""
    set_candidates(task, route_of(ctx.role_data(process.id), task, ctx.now))
    task.due_date = due_date_for(ctx, activity)
    transition(ctx, task, "task", "open", organisation_id=process.organisation_id,
               process_id=process.id)
    _announce(ctx, process, [(task, activity)])


def _announce(ctx: Context, process: Process, opened: list[tuple[Task, ActivitySpec]]) -> None:
    """Tell the candidates of newly opened tasks, and invite to meetings (one read of the people)."""
    data = ctx.role_data(process.id)
    attendees = {task.id: _attendee_ids(data, task, activity, ctx.now)
                 for task, activity in opened if activity.kind == "meeting"}
    wanted = {c.person_id for task, _ in opened for c in task.candidates}
    found = people_by_id(ctx.session, wanted.union(*attendees.values()))
    ctx.keep(*found.values())
    for task, _activity in opened:
        recipients = [found[c] for c in sorted({c.person_id for c in task.candidates}) if c in found]
        send(ctx, "task_assigned", recipients, task_payload(ctx, task), process_id=process.id,
             task_id=task.id)
        if task.id in attendees:
            send_invite(ctx, task, [found[i] for i in sorted(attendees[task.id]) if i in found])


def _attendee_ids(data: RoleData, task: Task, activity: ActivitySpec, now: datetime) -> set[int]:
    """Who a meeting task invites: the people it is routed to and everyone in its participant roles."""
    ids = {c.person_id for c in task.candidates}
    for role in activity.participants:
        ids |= set(resolve(data, role, now))
    return ids


def update_invite(ctx: Context, process: Process, task: Task, roles: set[str] | None = None) -> bool:
    """Send a meeting task's invite again, one SEQUENCE on, when its attendees are no longer those
    of the last one; True when sent. With ``roles``, only a meeting involving one of them is looked at.

    Every current attendee gets the update (newcomers included); the outbox dedupe key names the
    sequence, so sending one version twice queues nothing.
    """
    activity = step_spec(process, get(ctx.session, StepInstance, task.step_id)).activity(task.activity_key)
    if roles is not None and not roles & {task.role, *activity.participants}:
        return False
    ids = _attendee_ids(ctx.role_data(process.id), task, activity, ctx.now)
    attendees = [p for p in people(ctx, ids) if p.active]
    if {p.id for p in attendees} == invited_ids(ctx, task):
        return False
    task.invite_sequence += 1
    send_invite(ctx, task, attendees)
    return True


def set_candidates(task: Task, candidates: dict[int, str]) -> bool:
    """Replace the task's candidates; True (and a new route version) when they changed."""
    current = {c.person_id: c.via for c in task.candidates}
    if current == candidates:
        return False
    task.candidates = [TaskCandidate(person_id=p, via=v) for p, v in candidates.items()]
    task.route_version += 1
    return True


def _may_act(task: Task, person_id: int | None) -> bool:
    if task.assignee_id is not None:
        return task.assignee_id == person_id
    return any(c.person_id == person_id for c in task.candidates)


def claim(ctx: Context, task_id: int, *, expected_version: int | None = None) -> Task:
    """Take a task: a conditional update, so of two claims at once exactly one wins."""
    task, process, _ = load_task(ctx, task_id)
    check_version(task, expected_version, "task")
    if task.status != "open" or task.assignee_id is not None:
        raise Conflict(f"task {task_id} is already taken", id=task_id, status=task.status)
    if not any(c.person_id == ctx.actor.person_id for c in task.candidates):
        raise NotRoleHolder("you do not hold this task's role", role=task.role)
    won = ctx.session.execute(
        update(Task)
        .where(Task.id == task.id, Task.version == task.version, Task.status == "open",
               Task.assignee_id.is_(None))
        .values(status="claimed", assignee_id=ctx.actor.person_id, version=Task.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if won != 1:
        raise Conflict(f"task {task_id} was claimed by someone else", id=task_id)
    ctx.session.refresh(task)
    record(ctx, organisation_id=process.organisation_id, process_id=process.id, entity="task",
           entity_id=task.id, action="claimed", from_state="open", to_state="claimed",
           data={"assignee_id": ctx.actor.person_id})
    return task


def unclaim(ctx: Context, task_id: int, *, expected_version: int | None = None) -> Task:
    """Give a claimed task back to its role's holders."""
    task, process, _ = load_task(ctx, task_id)
    check_version(task, expected_version, "task")
    if task.status != "claimed" or task.assignee_id != ctx.actor.person_id:
        raise Conflict("only the person who claimed the task can give it back", id=task_id)
    task.assignee_id = None
    transition(ctx, task, "task", "open", organisation_id=process.organisation_id,
               process_id=process.id, action="unclaimed")
    return task


def validate_form(activity: ActivitySpec, data: dict | None) -> dict:
    """Check submitted form data against the activity's fields; InvalidData names each field.

    Only the activity's own fields are kept: a key the form does not have is refused
    (``unknown_field``), never stored beside the answers.
    """
    data = dict(data or {})
    errors: dict[str, str] = {}
    known = {f.key for f in activity.fields}
    for key in sorted(str(k) for k in data if k not in known)[:20]:  # name a few, not thousands
        errors[key[:100]] = "unknown_field"
    for f in activity.fields:
        value = data.get(f.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                errors[f.key] = "required"
            continue
        if f.type == "number" and not isinstance(value, int | float):
            errors[f.key] = "not_a_number"
        elif f.type == "date":
            try:
                date.fromisoformat(str(value))
            except ValueError:
                errors[f.key] = "not_a_date"
        elif f.type in ("text", "textarea") and not isinstance(value, str):
            errors[f.key] = "not_text"
        elif isinstance(value, str) and len(value) > 20000:
            errors[f.key] = "too_long"
    if errors:
        raise InvalidData("the form has errors", errors=errors)
    return data


_OTHER_OPEN_TASK = select(Task.id).where(
    Task.step_id == bindparam("step_id"), Task.phase == bindparam("phase"),
    Task.id != bindparam("task_id"), Task.status.in_(sorted(OPEN_TASK_STATES))).limit(1)


def complete(ctx: Context, task_id: int, data: dict | None = None, *,
             expected_version: int | None = None) -> Task:
    """Complete a task with its form data, then let the step move on."""
    from flows.engine.steps import activity_of, advance

    task, process, step = load_task(ctx, task_id)
    check_version(task, expected_version, "task")
    if task.status not in OPEN_TASK_STATES:
        from flows.errors import IllegalTransition

        raise IllegalTransition(f"task {task_id} is {task.status}", entity="task",
                                from_state=task.status, to_state="completed")
    if not _may_act(task, ctx.actor.person_id) and ctx.actor.person_id is not None:
        raise NotRoleHolder("you are not assigned to this task", role=task.role)
    task.data = validate_form(activity_of(process, step, task.activity_key), data)
    task.completed_at = ctx.now
    task.completed_by_id = ctx.actor.person_id
    task.assignee_id = task.assignee_id or ctx.actor.person_id
    transition(ctx, task, "task", "completed", organisation_id=process.organisation_id,
               process_id=process.id)
    # While other work of the same phase is still open the step cannot move on; skipping
    # advance here keeps a completion O(1) instead of reloading the whole phase (bench: growth).
    still_open = ctx.session.scalar(_OTHER_OPEN_TASK, {"step_id": step.id, "phase": task.phase,
                                                       "task_id": task.id})
    if still_open is None:
        advance(ctx, process, step)
    return task


def reassign(ctx: Context, task_id: int, to_person_id: int, *,
             expected_version: int | None = None) -> Task:
    """Hand a task to someone else (processledare or processägare only)."""
    from flows.engine.roster import require_role
    from models import Person

    task, process, _ = load_task(ctx, task_id)
    check_version(task, expected_version, "task")
    require_role(ctx, process, ("processledare", "processagare"))
    target = get(ctx.session, Person, to_person_id)
    if target.organisation_id != process.organisation_id or not target.active:
        raise InvalidData("the person cannot take tasks here", errors={"to_person_id": "invalid"})
    if task.status not in OPEN_TASK_STATES:
        raise Conflict(f"task {task_id} is {task.status}", id=task_id)
    previous = task.assignee_id
    task.assignee_id = target.id
    set_candidates(task, {target.id: "reassigned"})
    transition(ctx, task, "task", "claimed", organisation_id=process.organisation_id,
               process_id=process.id, action="reassigned",
               data={"from": previous, "to": target.id})
    send(ctx, "task_assigned", [target], task_payload(ctx, task), process_id=process.id,
         task_id=task.id)
    if task.kind == "meeting":
        update_invite(ctx, process, task)
    return task


def open_tasks_of_process(ctx: Context, process_id: int) -> list[Task]:
    """Open and claimed tasks of a process (for re-routing)."""
    return list(ctx.session.scalars(
        select(Task).where(Task.process_id == process_id, Task.status.in_(OPEN_TASK_STATES))
    ))
