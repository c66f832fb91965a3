"""The engine's one door: every state change passes ``create``, ``transition`` or ``record``.

Each checks the change against the pure rules where there are some, applies it
and adds exactly one audit event per row, in the caller's transaction. Nothing
here commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from chefoskop import clock
from flows import rules
from flows.errors import StaleVersion
from models import AuditEvent
from roles.resolve import RoleData, load_role_data

T = TypeVar("T")


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
    # process id -> (session generation, role data): see ``role_data``.
    _roles: dict[int, tuple[int, RoleData]] = field(default_factory=dict, repr=False)
    # Rows this call read and may read again: the session's identity map holds rows only
    # weakly, so without a reference here a second lookup would query again.
    _kept: list[Any] = field(default_factory=list, repr=False)

    def keep(self, *rows: Any) -> None:
        """Hold ``rows`` for the rest of this call (a later ``get`` of them needs no query)."""
        self._kept.extend(rows)

    def role_data(self, process_id: int) -> RoleData:
        """The role assignments, bodies and delegations of a process, read once per call.

        Engine functions that change assignments or delegations call ``roles_changed``;
        a commit or a rollback (savepoints included) of the session drops the cache too.
        """
        generation = self.session.info.get(_GENERATION, 0)
        cached = self._roles.get(process_id)
        if cached is not None and cached[0] == generation:
            return cached[1]
        data = load_role_data(self.session, process_id)
        self._roles[process_id] = (generation, data)
        return data

    def roles_changed(self, process_id: int) -> None:
        """Forget the cached role data of ``process_id`` (its roster has just changed)."""
        self._roles.pop(process_id, None)


_GENERATION = "chefoskop.engine.generation"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _next_generation(session: Session, *_: Any) -> None:
    """Cached reads of a Context do not outlive the transaction (or savepoint) they were made in."""
    session.info[_GENERATION] = session.info.get(_GENERATION, 0) + 1


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


def create(
    ctx: Context,
    obj: T,
    entity: str,
    to_state: str,
    *,
    organisation_id: int,
    process_id: int | None,
    action: str = "created",
    data: dict[str, Any] | None = None,
) -> T:
    """Add the new row ``obj`` in ``to_state``, flush it for its id, and record its audit event."""
    create_all(ctx, [obj], entity, to_state, organisation_id=organisation_id,
               process_id=process_id, action=action, data=data)
    return obj


def create_all(
    ctx: Context,
    objs: Sequence[Any],
    entity: str,
    to_state: str,
    *,
    organisation_id: int,
    process_id: int | None,
    action: str = "created",
    data: dict[str, Any] | Callable[[Any], dict[str, Any] | None] | None = None,
) -> None:
    """``create`` for several new rows of one kind: one flush, one audit event per row.

    An entity the rules know (task, gate, step, ...) must be allowed to start in
    ``to_state``; ``obj.status`` is not set here (the row is built with it).
    ``data`` may be a function of the row, for audit data that differs per row.
    """
    if entity in rules.TRANSITIONS:
        rules.check_transition(entity, None, to_state)
    if not objs:
        return
    ctx.session.add_all(objs)
    ctx.session.flush()
    for obj in objs:
        record(ctx, organisation_id=organisation_id, process_id=process_id, entity=entity,
               entity_id=obj.id, action=action, from_state=None, to_state=to_state,
               data=data(obj) if callable(data) else data)


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
    if obj.id is None:  # a new row: its id first
        ctx.session.flush()
    # The audit row goes out in the same flush as the change (one round trip fewer).
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
    ctx.session.flush()


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
