"""Who holds which role: assignments, delegations, and re-routing open tasks when they change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flows.engine.core import Context, create, record, transition
from flows.engine.queries import get
from flows.errors import InvalidData, NotRoleHolder, UnknownRole
from models import Body, Delegation, Person, Process, RoleAssignment, Unit
from roles.catalogue import is_known_role
from roles.resolve import direct_holders, resolve, resolve_person


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
    """Hand a role to someone for a period; it ends by itself at ``ends_at``."""
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
    row.status = "active"
    create(ctx, row, "delegation", "active", organisation_id=process.organisation_id,
           process_id=process.id, action="delegated",
           data={"role": role, "from": source, "to": to_person_id})
    ctx.roles_changed(process.id)
    reroute(ctx, process, {role})
    return row


def revoke_delegation(ctx: Context, delegation_id: int) -> Delegation:
    """End a delegation early; tasks return to the role's holder."""
    row = get(ctx.session, Delegation, delegation_id)
    process = get(ctx.session, Process, row.process_id)
    if ctx.actor.person_id not in (row.from_person_id, row.to_person_id):
        require_role(ctx, process, ("processagare",))
    if row.status != "active":
        raise InvalidData("the delegation has already ended", errors={"id": row.status})
    row.revoked_at = ctx.now
    transition(ctx, row, "delegation", "revoked", organisation_id=process.organisation_id,
               process_id=process.id)
    ctx.roles_changed(process.id)
    reroute(ctx, process, {row.role})
    return row


def expire_delegations(ctx: Context) -> int:
    """Close delegations whose period is over and send their open tasks back; returns how many."""
    from sqlalchemy import select

    due = ctx.session.scalars(select(Delegation).where(
        Delegation.status == "active", Delegation.ends_at <= ctx.now).order_by(Delegation.id)).all()
    for row in due:
        process = get(ctx.session, Process, row.process_id)
        transition(ctx, row, "delegation", "expired", organisation_id=process.organisation_id,
                   process_id=process.id)
        ctx.roles_changed(process.id)
        reroute(ctx, process, {row.role})
    return len(due)


def reroute(ctx: Context, process: Process, roles: set[str]) -> int:
    """Route the open tasks of ``roles`` to whoever acts in them now; returns tasks changed."""
    from flows.engine.notify import people, send, task_payload
    from flows.engine.tasks import open_tasks_of_process, set_candidates

    data = ctx.role_data(process.id)
    changed = 0
    for task in open_tasks_of_process(ctx, process.id):
        if task.role not in roles:
            continue
        if task.holder_id is not None:
            candidates = resolve_person(data, task.role, task.holder_id, ctx.now)
        else:
            candidates = resolve(data, task.role, ctx.now)
        before = {c.person_id for c in task.candidates}
        if task.assignee_id is not None and task.assignee_id in candidates:
            continue
        if not candidates or not set_candidates(task, candidates):
            continue
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
        changed += 1
    return changed

