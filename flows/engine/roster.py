"""Who holds which role: assignments, delegations, and re-routing open tasks when they change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from flows import rules
from flows.engine.core import Context, create, record, transition
from flows.engine.queries import get
from flows.errors import IllegalTransition, InvalidData, NotRoleHolder, UnknownRole
from models import Body, Delegation, Person, Process, RoleAssignment, Task, Unit
from roles.catalogue import is_known_role
from roles.resolve import RoleData, direct_holders, resolve

# flows.rules knows a delegation as active -> revoked | expired. One that starts later is
# stored "pending": ``activate_delegations`` (run by the sweep) puts it in force when its
# period has begun; revoked before that, or its period over unswept, it never starts.
# Until then it is not in force anywhere (roles.resolve.DelegationView.in_force).
DELEGATION_TRANSITIONS: dict[str | None, frozenset[str]] = {
    **rules.TRANSITIONS["delegation"],
    None: rules.TRANSITIONS["delegation"][None] | {"pending"},
    "pending": frozenset({"active", "revoked", "expired"}),
}


def require_role(ctx: Context, process: Process, roles: Iterable[str]) -> str:
    """The first of ``roles`` the actor acts in now; NotRoleHolder when none."""
    roles = tuple(roles)
    if ctx.actor.person_id is None:
        return "system"
    data = ctx.role_data(process.id)
    for role in roles:
        if ctx.actor.person_id in resolve(data, role, ctx.now):
            return role
    raise NotRoleHolder(f"this needs the role {roles[0]}", role=roles[0])


def _check_member(ctx: Context, process: Process, model: type, obj_id: int, field: str):
    obj = ctx.session.get(model, obj_id)
    if obj is None or obj.organisation_id != process.organisation_id:
        raise InvalidData(f"unknown {field}", errors={field: "not_found"})
    return obj


def add_assignment(ctx: Context, process: Process, entry) -> RoleAssignment:
    """Give a role to a person or a body (no re-routing; see ``assign_role``)."""
    if not is_known_role(entry.role):
        raise UnknownRole(f"unknown role {entry.role}", role=entry.role)
    if (entry.person_id is None) == (entry.body_id is None):
        raise InvalidData("give a person or a body", errors={"person_id": "person_xor_body"})
    if entry.person_id is not None:
        _check_member(ctx, process, Person, entry.person_id, "person_id")
    if entry.body_id is not None:
        _check_member(ctx, process, Body, entry.body_id, "body_id")
    if entry.unit_id is not None:
        _check_member(ctx, process, Unit, entry.unit_id, "unit_id")
    row = RoleAssignment(process_id=process.id, role=entry.role, person_id=entry.person_id,
                         body_id=entry.body_id, unit_id=entry.unit_id, valid_from=ctx.now)
    create(ctx, row, "role_assignment", "active", organisation_id=process.organisation_id,
           process_id=process.id, action="assigned",
           data={"role": entry.role, "person_id": entry.person_id, "body_id": entry.body_id})
    ctx.roles_changed(process.id)
    return row


def assign_role(ctx: Context, process_id: int, entry) -> RoleAssignment:
    """Give a role in a running process; its open tasks are routed anew."""
    process = get(ctx.session, Process, process_id)
    require_role(ctx, process, ("processagare", "processledare"))
    row = add_assignment(ctx, process, entry)
    reroute(ctx, process, {entry.role})
    return row


def end_assignment(ctx: Context, assignment_id: int) -> RoleAssignment:
    """End a role assignment now; open tasks of that role follow the remaining holders."""
    row = get(ctx.session, RoleAssignment, assignment_id)
    process = get(ctx.session, Process, row.process_id)
    require_role(ctx, process, ("processagare", "processledare"))
    if row.valid_to is not None:
        raise InvalidData("the assignment has already ended", errors={"id": "ended"})
    row.valid_to = ctx.now
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id,
           entity="role_assignment", entity_id=row.id, action="ended", from_state="active",
           to_state="ended", data={"role": row.role})
    ctx.roles_changed(process.id)
    reroute(ctx, process, {row.role})
    return row


def delegate(ctx: Context, process_id: int, role: str, to_person_id: int, *,
             starts_at: datetime, ends_at: datetime, reason: str | None = None,
             from_person_id: int | None = None) -> Delegation:
    """Hand a role to someone for a period; it ends by itself at ``ends_at``.

    A period that starts later is stored ``pending`` and takes effect when the sweep
    activates it (``activate_delegations``).
    """
    process = get(ctx.session, Process, process_id)
    source = from_person_id or ctx.actor.person_id
    if source is None:
        raise InvalidData("who delegates?", errors={"from_person_id": "required"})
    if source != ctx.actor.person_id:
        require_role(ctx, process, ("processagare",))
    if not is_known_role(role):
        raise UnknownRole(f"unknown role {role}", role=role)
    if ends_at <= starts_at:
        raise InvalidData("the period ends before it starts", errors={"ends_at": "before_start"})
    if ends_at <= ctx.now:
        raise InvalidData("the period is already over", errors={"ends_at": "in_past"})
    _check_member(ctx, process, Person, to_person_id, "to_person_id")
    if to_person_id == source:
        raise InvalidData("a role cannot be delegated to oneself", errors={"to_person_id": "self"})
    if source not in direct_holders(ctx.role_data(process.id), role, ctx.now):
        raise NotRoleHolder(f"the delegating person does not hold {role}", role=role)
    row = Delegation(process_id=process.id, role=role, from_person_id=source,
                     to_person_id=to_person_id, starts_at=starts_at, ends_at=ends_at,
                     reason=reason, created_by_id=ctx.actor.person_id)
    _move_delegation(ctx, row, "pending" if starts_at > ctx.now else "active", "delegated",
                     data={"role": role, "from": source, "to": to_person_id})
    return row


def revoke_delegation(ctx: Context, delegation_id: int) -> Delegation:
    """End a delegation early, or call off one that has not started; tasks return to the holder."""
    row = get(ctx.session, Delegation, delegation_id)
    process = get(ctx.session, Process, row.process_id)
    if ctx.actor.person_id not in (row.from_person_id, row.to_person_id):
        require_role(ctx, process, ("processagare",))
    if row.status not in ("active", "pending"):
        raise InvalidData("the delegation has already ended", errors={"id": row.status})
    row.revoked_at = ctx.now
    _move_delegation(ctx, row, "revoked")
    return row


def activate_delegations(ctx: Context) -> int:
    """Put in force the pending delegations whose period has begun (their open tasks go to
    the delegates, who are told); returns how many."""
    due = _due_delegations(ctx, Delegation.status == "pending", Delegation.starts_at <= ctx.now,
                           Delegation.ends_at > ctx.now)
    for row in due:
        _move_delegation(ctx, row, "active", "activated")
    return len(due)


def expire_delegations(ctx: Context) -> int:
    """Close delegations whose period is over and send their open tasks back; returns how many.

    A pending delegation whose whole period passed before any sweep expires without starting.
    """
    due = _due_delegations(ctx, Delegation.status.in_(("active", "pending")),
                           Delegation.ends_at <= ctx.now)
    for row in due:
        _move_delegation(ctx, row, "expired")
    return len(due)


def _due_delegations(ctx: Context, *criteria) -> list[Delegation]:
    """Delegations matching ``criteria``, locked; rows another sweep holds are left to it."""
    return list(ctx.session.scalars(select(Delegation).where(*criteria).order_by(Delegation.id)
                                    .with_for_update(skip_locked=True)))


def _move_delegation(ctx: Context, row: Delegation, to_state: str, action: str | None = None,
                     data: dict | None = None) -> None:
    """Put a delegation (new or stored) in ``to_state`` with its audit event, then route the
    open tasks of its role to whoever acts in it now."""
    from_state = row.status
    if to_state not in DELEGATION_TRANSITIONS.get(from_state, frozenset()):
        raise IllegalTransition(f"delegation cannot go from {from_state} to {to_state}",
                                entity="delegation", from_state=from_state, to_state=to_state)
    process = get(ctx.session, Process, row.process_id)
    row.status = to_state
    ctx.session.add(row)
    ctx.session.flush()
    record(ctx, organisation_id=process.organisation_id, process_id=process.id,
           entity="delegation", entity_id=row.id, action=action or to_state,
           from_state=from_state, to_state=to_state, data=data)
    ctx.roles_changed(process.id)
    reroute(ctx, process, {row.role})


def reroute(ctx: Context, process: Process, roles: set[str]) -> int:
    """Route the open tasks of ``roles`` to whoever acts in them now; returns tasks changed.

    A reassigned task stays with its assignee (``_keeps_reassignment``). Meetings that
    involve one of ``roles`` send their invite again when their attendees changed.
    """
    from flows.engine.tasks import open_tasks_of_process, update_invite

    data = ctx.role_data(process.id)
    changed = 0
    for task in open_tasks_of_process(ctx, process.id):
        if task.role in roles and _route(ctx, process, data, task):
            changed += 1
        if task.kind == "meeting":
            update_invite(ctx, process, task, roles)
    return changed


def _route(ctx: Context, process: Process, data: RoleData, task: Task) -> bool:
    """Route one open task anew; True when its candidates changed (newcomers are told)."""
    from flows.engine.notify import people, send, task_payload
    from flows.engine.tasks import route_of, set_candidates

    if _keeps_reassignment(ctx, task):
        return False
    candidates = route_of(data, task, ctx.now)
    if task.assignee_id is not None and task.assignee_id in candidates:
        return False
    before = {c.person_id for c in task.candidates}
    if not candidates or not set_candidates(task, candidates):
        return False
    data_ = {"candidates": sorted(candidates)}
    if task.assignee_id is not None:
        task.assignee_id = None
        transition(ctx, task, "task", "open", organisation_id=process.organisation_id,
                   process_id=process.id, action="rerouted", data=data_)
    else:
        ctx.session.flush()
        record(ctx, organisation_id=process.organisation_id, process_id=process.id,
               entity="task", entity_id=task.id, action="rerouted", from_state=task.status,
               to_state=task.status, data=data_)
    newcomers = people(ctx, set(candidates) - before)
    send(ctx, "task_assigned", newcomers, task_payload(ctx, task), process_id=process.id,
         task_id=task.id)
    return True


def _keeps_reassignment(ctx: Context, task: Task) -> bool:
    """Whether ``task`` was reassigned to its assignee and stays theirs.

    The processledare's or processägare's choice outlasts later changes to the role's
    holders, as long as the person can still take tasks (is active: reassignment refuses
    anyone else). Someone made inactive or erased loses it to the role's holders.
    """
    if task.assignee_id is None:
        return False
    if not any(c.person_id == task.assignee_id and c.via == "reassigned" for c in task.candidates):
        return False
    person = ctx.session.get(Person, task.assignee_id)
    return person is not None and person.active
