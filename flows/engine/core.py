"""The engine's one door: every state change passes ``transition`` or ``record``.

Both check the change against the pure rules, apply it and add exactly one
audit event, in the caller's transaction. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from chefoskop import clock
from flows import rules
from flows.errors import StaleVersion
from models import AuditEvent


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a person, or a named automated part (``label``)."""

    person_id: int | None = None
    label: str = "system"

    @classmethod
    def person(cls, person_id: int) -> Actor:
        """An actor that is a person."""
        return cls(person_id=person_id, label="person")


SYSTEM = Actor()


@dataclass
class Context:
    """What every engine call needs: the session, the actor and the time."""

    session: Session
    actor: Actor = SYSTEM
    now: datetime = field(default_factory=clock.now)
    # Steps this call queued; the caller starts their flows after it commits.
    queued: list[tuple[int, int]] = field(default_factory=list)


def record(
    ctx: Context,
    *,
    organisation_id: int,
    process_id: int | None,
    entity: str,
    entity_id: int,
    action: str,
    from_state: str | None,
    to_state: str | None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add the audit event of one state change."""
    event = AuditEvent(
        at=ctx.now,
        organisation_id=organisation_id,
        process_id=process_id,
        actor_id=ctx.actor.person_id,
        actor_label=ctx.actor.label,
        entity=entity,
        entity_id=entity_id,
        action=action,
        from_state=from_state,
        to_state=to_state,
        data=data,
    )
    ctx.session.add(event)
    return event


def transition(
    ctx: Context,
    obj: Any,
    entity: str,
    to_state: str,
    *,
    organisation_id: int,
    process_id: int | None,
    action: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move ``obj.status`` to ``to_state`` if the rules allow it, with its audit event."""
    from_state = obj.status
    rules.check_transition(entity, from_state, to_state)
    obj.status = to_state
    ctx.session.flush()
    record(
        ctx,
        organisation_id=organisation_id,
        process_id=process_id,
        entity=entity,
        entity_id=obj.id,
        action=action or to_state,
        from_state=from_state,
        to_state=to_state,
        data=data,
    )


def check_version(obj: Any, expected: int | None, entity: str) -> None:
    """Refuse when the client's ``expected`` version is not the current one."""
    if expected is not None and obj.version != expected:
        raise StaleVersion(
            f"{entity} {obj.id} is at version {obj.version}, not {expected}",
            entity=entity,
            id=obj.id,
            current=obj.version,
            expected=expected,
        )
