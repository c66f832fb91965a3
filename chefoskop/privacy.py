"""A person's personal data: export (GDPR access) and erasure (GDPR erasure).

Erasure anonymises the person row instead of deleting it, so the audit trail and
the process history keep their shape ("a person decided this gate") without
naming anyone. Survey answers are already stored apart from identity; erasure
replaces the person's link secrets, so nothing can join an answer back to them
any more, and every aggregate stays exactly as it was.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from flows.engine.core import Context, record
from flows.engine.queries import get
from flows.errors import InvalidData
from models import AuditEvent, Delegation, OutboxMessage, Person, Process, RoleAssignment, Task
from models.auth import ApiToken, LoginAttempt, WebSession
from models.surveys import Invitation


def export_person(session: Session, person_id: int) -> dict:
    """Everything chefoskop keeps about one person, as plain JSON-ready data."""
    person = get(session, Person, person_id)
    assignments = session.scalars(select(RoleAssignment).where(RoleAssignment.person_id == person_id))
    delegations = session.scalars(select(Delegation).where(
        or_(Delegation.from_person_id == person_id, Delegation.to_person_id == person_id)))
    tasks = session.scalars(select(Task).where(
        or_(Task.assignee_id == person_id, Task.completed_by_id == person_id)).order_by(Task.id))
    events = session.scalars(select(AuditEvent).where(AuditEvent.actor_id == person_id)
                             .order_by(AuditEvent.id))
    invitations = session.scalars(select(Invitation).where(Invitation.person_id == person_id))
    return {
        "person": {"id": person.id, "name": person.name, "email": person.email, "title": person.title,
                   "unit_id": person.unit_id, "locale": person.locale, "digest": person.digest,
                   "active": person.active, "created_at": person.created_at.isoformat()},
        "roles": [{"process_id": a.process_id, "role": a.role, "unit_id": a.unit_id,
                   "valid_from": a.valid_from.isoformat(),
                   "valid_to": a.valid_to.isoformat() if a.valid_to else None} for a in assignments],
        "delegations": [{"process_id": d.process_id, "role": d.role, "from": d.from_person_id,
                         "to": d.to_person_id, "starts_at": d.starts_at.isoformat(),
                         "ends_at": d.ends_at.isoformat(), "status": d.status} for d in delegations],
        "tasks": [{"id": t.id, "process_id": t.process_id, "activity": t.activity_key,
                   "status": t.status, "data": t.data} for t in tasks],
        "actions_taken": [{"at": e.at.isoformat(), "entity": e.entity, "entity_id": e.entity_id,
                           "action": e.action, "to_state": e.to_state} for e in events],
        "survey_invitations": [{"survey_id": i.survey_id, "answered": i.answered} for i in invitations],
    }


def erase_person(ctx: Context, person_id: int) -> Person:
    """Anonymise a person who holds no role in a running process; aggregates are untouched."""
    person = get(ctx.session, Person, person_id)
    active_roles = ctx.session.scalar(select(RoleAssignment.id).join(
        Process, Process.id == RoleAssignment.process_id).where(
        RoleAssignment.person_id == person_id, RoleAssignment.valid_to.is_(None),
        Process.status == "running").limit(1))
    if active_roles is not None:
        raise InvalidData("the person still holds a role in a running process; hand it over first",
                          errors={"person_id": "holds_active_role"})
    old_email = person.email
    person.name = f"Borttagen person {person.id}"
    person.email = f"erased-{person.id}@invalid.invalid"
    person.title = None
    person.password_hash = None
    person.digest = False
    person.active = False
    for invitation in ctx.session.scalars(select(Invitation).where(Invitation.person_id == person_id)):
        invitation.nonce = secrets.token_hex(16)  # the old link and its answer hash lead nowhere now
    for row in ctx.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_id == person_id)):
        row.recipient_email = person.email
        row.payload = {**row.payload, "recipient_name": person.name}
        if row.status in ("pending", "held", "failed", "dead"):
            row.status = "failed"
            row.last_error = "recipient erased"
    ctx.session.execute(delete(WebSession).where(WebSession.person_id == person_id))
    ctx.session.execute(delete(ApiToken).where(ApiToken.person_id == person_id))
    ctx.session.execute(delete(LoginAttempt).where(LoginAttempt.account == old_email))
    ctx.session.flush()
    record(ctx, organisation_id=person.organisation_id, process_id=None, entity="person",
           entity_id=person.id, action="erased", from_state="active", to_state="erased")
    return person
