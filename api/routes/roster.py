"""Who holds which role in a process: assignments and delegations, changed through the engine."""

from __future__ import annotations

from sqlalchemy import select

from api.access import managed_process, require, visible_assignment, visible_delegation, visible_process
from api.deps import EngineCtx, PathId, SessionDep, ViewerDep
from api.present import assignments_out, delegation_out
from api.routing import api_router
from flows import engine
from models import Delegation, RoleAssignment
from models.schemas.process import DelegationIn, DelegationOut, RoleAssignmentOut, RoleHolderIn
from roles import permissions as perm

router = api_router("roles")


@router.get("/processes/{process_id}/roles", response_model=list[RoleAssignmentOut])
def list_assignments(process_id: PathId, db: SessionDep, viewer: ViewerDep,
                     ctx: EngineCtx, active: bool | None = None) -> list[RoleAssignmentOut]:
    """The process's role roster (optionally only the assignments in force)."""
    process, _ = visible_process(db, viewer, process_id)
    rows = list(db.scalars(select(RoleAssignment).where(RoleAssignment.process_id == process.id)
                           .order_by(RoleAssignment.role, RoleAssignment.id)))
    out = assignments_out(db, rows, ctx.now)
    return [a for a in out if active is None or a.active == active]


@router.post("/processes/{process_id}/roles", response_model=RoleAssignmentOut, status_code=201)
def assign_role(process_id: PathId, body: RoleHolderIn, db: SessionDep, viewer: ViewerDep,
                ctx: EngineCtx) -> RoleAssignmentOut:
    """Give a role to a person or a body (processledare, processägare); open tasks follow."""
    process, _ = managed_process(db, viewer, process_id)
    spec = engine.RoleSpec(body.role, body.person_id, body.body_id, body.unit_id)
    row = engine.assign_role(ctx, process.id, spec)
    return assignments_out(db, [row], ctx.now)[0]


@router.post("/role-assignments/{assignment_id}/end", response_model=RoleAssignmentOut)
def end_assignment(assignment_id: PathId, db: SessionDep, viewer: ViewerDep,
                   ctx: EngineCtx) -> RoleAssignmentOut:
    """End a role assignment now (processledare, processägare)."""
    row, process, facts = visible_assignment(db, viewer, assignment_id)
    require(perm.can_manage_process(viewer, facts))
    engine.end_assignment(ctx, row.id)
    return assignments_out(db, [row], ctx.now)[0]


@router.get("/processes/{process_id}/delegations", response_model=list[DelegationOut])
def list_delegations(process_id: PathId, db: SessionDep, viewer: ViewerDep,
                     ctx: EngineCtx) -> list[DelegationOut]:
    """Delegations of roles in the process, newest first."""
    process, _ = visible_process(db, viewer, process_id)
    rows = db.scalars(select(Delegation).where(Delegation.process_id == process.id)
                      .order_by(Delegation.starts_at.desc(), Delegation.id.desc()))
    return [delegation_out(r, ctx.now) for r in rows]


@router.post("/processes/{process_id}/delegations", response_model=DelegationOut, status_code=201)
def delegate(process_id: PathId, body: DelegationIn, db: SessionDep, viewer: ViewerDep,
             ctx: EngineCtx) -> DelegationOut:
    """Hand one's role (or, as processägare, someone's) to another person for a period."""
    process, facts = visible_process(db, viewer, process_id)
    require(perm.can_delegate(viewer, facts, body.from_person_id))
    row = engine.delegate(ctx, process.id, body.role, body.to_person_id, starts_at=body.starts_at,
                          ends_at=body.ends_at, reason=(body.reason or "").strip() or None,
                          from_person_id=body.from_person_id)
    return delegation_out(row, ctx.now)


@router.post("/delegations/{delegation_id}/revoke", response_model=DelegationOut)
def revoke_delegation(delegation_id: PathId, db: SessionDep, viewer: ViewerDep,
                      ctx: EngineCtx) -> DelegationOut:
    """End a delegation early (either party, or the processägare)."""
    row, _, facts = visible_delegation(db, viewer, delegation_id)
    require(perm.can_revoke_delegation(viewer, facts, row.from_person_id, row.to_person_id))
    engine.revoke_delegation(ctx, row.id)
    return delegation_out(row, ctx.now)
