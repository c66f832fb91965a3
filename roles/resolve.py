"""Resolving a role in a process to the people who hold it now (pure core, thin loader)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Assignment:
    """A role held by a person or a body, optionally scoped to a unit."""

    role: str
    person_id: int | None
    body_id: int | None
    unit_id: int | None
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True)
class DelegationView:
    """A role handed from one person to another for a period."""

    role: str
    from_person_id: int
    to_person_id: int
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None
    status: str = "active"

    def in_force(self, now: datetime) -> bool:
        """Whether the delegation applies at ``now``.

        A ``pending`` delegation (one that starts later) is not in force, even past its
        start, until the sweep activates it and routes its open tasks to the delegate:
        until then the inbox, claims and decisions all keep to the delegating person.
        """
        return (self.status != "pending" and self.revoked_at is None
                and self.starts_at <= now < self.ends_at)


@dataclass(frozen=True)
class RoleData:
    """Everything needed to resolve roles in one process."""

    assignments: tuple[Assignment, ...]
    body_members: Mapping[int, tuple[int, ...]]
    delegations: tuple[DelegationView, ...]


def _in_force(a: Assignment, now: datetime) -> bool:
    return a.valid_from <= now and (a.valid_to is None or now < a.valid_to)


def direct_holders(data: RoleData, role: str, now: datetime) -> dict[int, str]:
    """People holding ``role`` directly or through a body, before delegations."""
    found: dict[int, str] = {}
    for a in data.assignments:
        if a.role != role or not _in_force(a, now):
            continue
        if a.person_id is not None:
            found[a.person_id] = "direct"
        elif a.body_id is not None:
            for member in data.body_members.get(a.body_id, ()):
                found.setdefault(member, "body")
    return found


def apply_delegations(
    holders: Mapping[int, str], delegations: Iterable[DelegationView], role: str, now: datetime
) -> dict[int, str]:
    """Replace each holder who has delegated ``role`` (in force now) by the delegate."""
    result = dict(holders)
    for d in delegations:
        if d.role == role and d.in_force(now) and d.from_person_id in holders:
            result.pop(d.from_person_id, None)
            result.setdefault(d.to_person_id, "delegation")
    return result


def resolve(data: RoleData, role: str, now: datetime) -> dict[int, str]:
    """People who act in ``role`` at ``now``, mapped to how they hold it."""
    return apply_delegations(direct_holders(data, role, now), data.delegations, role, now)


def resolve_person(data: RoleData, role: str, person_id: int, now: datetime) -> dict[int, str]:
    """Who acts for ``person_id`` in ``role`` at ``now`` (the delegate while one is in force)."""
    return apply_delegations({person_id: "direct"}, data.delegations, role, now)


def roles_of(data: RoleData, person_id: int, now: datetime) -> set[str]:
    """Every role ``person_id`` acts in at ``now``."""
    roles = {a.role for a in data.assignments}
    return {r for r in roles if person_id in resolve(data, r, now)}


def unit_holders(data: RoleData, role: str, now: datetime) -> dict[int, int | None]:
    """Directly assigned people of ``role`` mapped to their unit scope (for per-holder work)."""
    return {
        a.person_id: a.unit_id
        for a in data.assignments
        if a.role == role and a.person_id is not None and _in_force(a, now)
    }


def load_role_data(session: Session, process_id: int) -> RoleData:
    """Read the role assignments, body members and delegations of one process (two queries)."""
    from models import BodyMember, Delegation, RoleAssignment

    rows = session.execute(
        select(RoleAssignment.id, RoleAssignment.role, RoleAssignment.person_id,
               RoleAssignment.body_id, RoleAssignment.unit_id, RoleAssignment.valid_from,
               RoleAssignment.valid_to, BodyMember.person_id)
        .outerjoin(BodyMember, BodyMember.body_id == RoleAssignment.body_id)
        .where(RoleAssignment.process_id == process_id)
        .order_by(RoleAssignment.id)
    ).all()
    assignments: dict[int, Assignment] = {}
    members: dict[int, list[int]] = {}
    for row_id, role, person_id, body_id, unit_id, valid_from, valid_to, member_id in rows:
        if row_id not in assignments:
            assignments[row_id] = Assignment(role, person_id, body_id, unit_id, valid_from, valid_to)
        if member_id is not None and member_id not in members.setdefault(body_id, []):
            members[body_id].append(member_id)
    delegations = tuple(
        DelegationView(*d)
        for d in session.execute(select(
            Delegation.role, Delegation.from_person_id, Delegation.to_person_id,
            Delegation.starts_at, Delegation.ends_at, Delegation.revoked_at, Delegation.status,
        ).where(Delegation.process_id == process_id).order_by(Delegation.id))
    )
    return RoleData(tuple(assignments.values()), {k: tuple(v) for k, v in members.items()},
                    delegations)


def load_role_data_for(session: Session, process_id: int, person_id: int) -> RoleData:
    """The part of a process's role data that decides ``person_id``'s roles.

    The assignments and bodies of the person and of everyone who delegated to
    them, and the delegations to or from the person: ``roles_of`` (and
    ``resolve`` for this person) answers as it does on ``load_role_data``.
    """
    return load_role_data_for_processes(session, [process_id], person_id)[process_id]


def load_role_data_for_processes(session: Session, process_ids: Iterable[int],
                                 person_id: int) -> dict[int, RoleData]:
    """``load_role_data_for`` of several processes at once (three queries in all).

    The bodies read are those of the person and of anyone who delegated to them in
    any of the processes: a superset for some processes, which changes no answer for
    this person (a delegator's assignment without a delegation to them in that process
    makes nobody else act in it).
    """
    from models import BodyMember, Delegation, RoleAssignment

    ids = sorted(set(process_ids))
    if not ids:
        return {}
    delegations: dict[int, list[DelegationView]] = {pid: [] for pid in ids}
    for pid, *fields in session.execute(select(
            Delegation.process_id, Delegation.role, Delegation.from_person_id, Delegation.to_person_id,
            Delegation.starts_at, Delegation.ends_at, Delegation.revoked_at, Delegation.status,
    ).where(Delegation.process_id.in_(ids),
            or_(Delegation.to_person_id == person_id, Delegation.from_person_id == person_id))
            .order_by(Delegation.id)):
        delegations[pid].append(DelegationView(*fields))
    people = {person_id} | {d.from_person_id for found in delegations.values() for d in found
                            if d.to_person_id == person_id}
    members: dict[int, list[int]] = {}
    for body_id, member_id in session.execute(select(BodyMember.body_id, BodyMember.person_id)
                                              .where(BodyMember.person_id.in_(people))):
        members.setdefault(body_id, []).append(member_id)
    assignments: dict[int, list[Assignment]] = {pid: [] for pid in ids}
    for pid, *fields in session.execute(select(
            RoleAssignment.process_id, RoleAssignment.role, RoleAssignment.person_id,
            RoleAssignment.body_id, RoleAssignment.unit_id, RoleAssignment.valid_from,
            RoleAssignment.valid_to,
    ).where(RoleAssignment.process_id.in_(ids),
            or_(RoleAssignment.person_id.in_(people), RoleAssignment.body_id.in_(list(members))))
            .order_by(RoleAssignment.id)):
        assignments[pid].append(Assignment(*fields))
    bodies = {k: tuple(v) for k, v in members.items()}
    return {pid: RoleData(tuple(assignments[pid]), bodies, tuple(delegations[pid])) for pid in ids}


def holders(session: Session, process_id: int, role: str, now: datetime) -> list:
    """The Person rows acting in ``role`` of ``process_id`` at ``now``, ordered by id."""
    from models import Person

    ids = resolve(load_role_data(session, process_id), role, now)
    if not ids:
        return []
    return list(session.scalars(select(Person).where(Person.id.in_(ids)).order_by(Person.id)))
