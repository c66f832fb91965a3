"""The audit trail, the outbox of failed mail, and API tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Query, Response
from pydantic import AwareDatetime
from sqlalchemy import func, select

from api.access import require, visible_process
from api.deps import EngineCtx, PagingDep, PathId, SessionDep, ViewerDep
from api.present import audit_out
from api.problems import invalid, not_found
from api.routing import api_router
from api.security.tokens import mint_token
from flows.engine import record
from models import ApiToken, AuditEvent, OutboxMessage, OutboxStatus, Person
from models.schemas.admin import OutboxOut, RetryIn, RetryOut
from models.schemas.auth import ApiTokenCreated, ApiTokenIn, ApiTokenOut
from models.schemas.common import Page
from models.schemas.process import AuditEventOut
from roles import permissions as perm

router = api_router("admin")
QueryId = Annotated[int | None, Query(ge=1, le=2_147_483_647)]
Word = Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")]
UNDELIVERED = (OutboxStatus.FAILED, OutboxStatus.DEAD)


@router.get("/audit", response_model=Page[AuditEventOut])
def audit(db: SessionDep, viewer: ViewerDep, page: PagingDep, process_id: QueryId = None,
          person_id: QueryId = None, entity: Word = None, entity_id: QueryId = None,
          action: Word = None, since: AwareDatetime | None = None,
          until: AwareDatetime | None = None) -> Page[AuditEventOut]:
    """Recorded changes, newest first: the admin's whole organisation, or one process's."""
    facts = visible_process(db, viewer, process_id)[1] if process_id is not None else None
    require(perm.can_read_audit(viewer, facts))
    stmt = select(AuditEvent).where(AuditEvent.organisation_id == viewer.organisation_id)
    for column, value in ((AuditEvent.process_id, process_id), (AuditEvent.actor_id, person_id),
                          (AuditEvent.entity, entity), (AuditEvent.entity_id, entity_id),
                          (AuditEvent.action, action)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.at < until)
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(db.scalars(stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                           .limit(page.limit).offset(page.offset)))
    return Page[AuditEventOut](items=audit_out(db, rows), total=total, limit=page.limit,
                               offset=page.offset)


@router.get("/outbox", response_model=Page[OutboxOut])
def outbox(db: SessionDep, viewer: ViewerDep, page: PagingDep,
           status: Annotated[list[Literal["failed", "dead"]] | None, Query()] = None) -> Page[OutboxOut]:
    """Mail that failed or was given up on (organisation admin)."""
    require(perm.can_manage_outbox(viewer, viewer.organisation_id))
    stmt = select(OutboxMessage).where(OutboxMessage.organisation_id == viewer.organisation_id,
                                       OutboxMessage.status.in_(status or UNDELIVERED))
    total = db.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(page.limit).offset(page.offset))
    return Page[OutboxOut](items=[OutboxOut.model_validate(r) for r in rows], total=total,
                           limit=page.limit, offset=page.offset)


def _retry(db, viewer, ids: list[int] | None, ctx) -> int:
    from notifications.sender import retry_dead

    stmt = select(OutboxMessage.id).where(OutboxMessage.organisation_id == viewer.organisation_id,
                                          OutboxMessage.status.in_(UNDELIVERED))
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(ids))
    own = list(db.scalars(stmt))
    count = retry_dead(db, own, now=ctx.now) if own else 0
    if count:
        record(ctx, organisation_id=viewer.organisation_id, process_id=None, entity="outbox",
               entity_id=own[0], action="retried", from_state=None, to_state="pending",
               data={"ids": own[:100], "count": count})
    return count


@router.post("/outbox/retry", response_model=RetryOut)
def retry(body: RetryIn, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> RetryOut:
    """Queue failed and dead mail again (all of the organisation's, or the rows named)."""
    require(perm.can_manage_outbox(viewer, viewer.organisation_id))
    return RetryOut(retried=_retry(db, viewer, body.ids, ctx))


@router.post("/outbox/{message_id}/retry", response_model=RetryOut)
def retry_one(message_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> RetryOut:
    """Queue one failed or dead message again."""
    require(perm.can_manage_outbox(viewer, viewer.organisation_id))
    row = db.get(OutboxMessage, message_id)
    if row is None or row.organisation_id != viewer.organisation_id:
        raise not_found()
    return RetryOut(retried=_retry(db, viewer, [row.id], ctx))


@router.get("/api-tokens", response_model=list[ApiTokenOut])
def list_tokens(db: SessionDep, viewer: ViewerDep) -> list[ApiToken]:
    """The organisation's API tokens (organisation admin); secrets are never shown again."""
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    return list(db.scalars(select(ApiToken).where(ApiToken.organisation_id == viewer.organisation_id)
                           .order_by(ApiToken.id)))


@router.post("/api-tokens", response_model=ApiTokenCreated, status_code=201)
def create_token(body: ApiTokenIn, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> ApiTokenCreated:
    """Make an API token for an integration, acting as a person (organisation admin)."""
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    person_id = body.person_id or viewer.person_id
    person = db.get(Person, person_id)
    if person is None or person.organisation_id != viewer.organisation_id or not person.active:
        raise invalid("person_id", "not_found")
    token, prefix, digest = mint_token()
    expires = ctx.now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row = ApiToken(organisation_id=viewer.organisation_id, person_id=person.id, name=body.name.strip(),
                   prefix=prefix, token_hash=digest, created_by_id=viewer.person_id,
                   created_at=ctx.now, expires_at=expires)
    db.add(row)
    db.flush()
    record(ctx, organisation_id=viewer.organisation_id, process_id=None, entity="api_token",
           entity_id=row.id, action="created", from_state=None, to_state="active",
           data={"person_id": person.id})
    return ApiTokenCreated(**ApiTokenOut.model_validate(row).model_dump(), token=token)


@router.delete("/api-tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(token_id: PathId, db: SessionDep, viewer: ViewerDep, ctx: EngineCtx) -> Response:
    """Revoke an API token at once (organisation admin)."""
    require(perm.can_manage_structure(viewer, viewer.organisation_id))
    row = db.get(ApiToken, token_id)
    if row is None or row.organisation_id != viewer.organisation_id:
        raise not_found()
    if row.revoked_at is None:
        row.revoked_at = ctx.now
        record(ctx, organisation_id=viewer.organisation_id, process_id=None, entity="api_token",
               entity_id=row.id, action="revoked", from_state="active", to_state="revoked")
    return Response(status_code=204)

