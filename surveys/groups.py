"""Mapping groups: managers in similar situations, fixed once and kept through steps 4-6 and re-runs.

Groups belong to the first process of a chain of re-runs (``scope_process_id``),
so a later cycle reuses them. The processledare may define them before answers
exist; otherwise the first mapping forms them from the unit hierarchy (one group
per B-level unit). Membership is only used to send invitations; results see a
group key and counts, never members.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Row, Select, and_, bindparam, delete, func, select
from sqlalchemy.orm import Session

from chefoskop.i18n import gettext
from chefoskop.seed import slugify
from models import (
    Invitation,
    MappingGroup,
    MappingGroupMember,
    Organisation,
    Person,
    Process,
    Response,
    Survey,
    Unit,
)
from surveys.errors import SurveyRefused

MANAGEMENT_KEY = "ledning"


def scope_process_id(session: Session, process_id: int) -> int:
    """The first process of ``process_id``'s chain of re-runs (the groups' owner)."""
    seen: set[int] = set()
    current = session.get(Process, process_id)
    while current.previous_process_id and current.id not in seen:
        seen.add(current.id)
        current = session.get(Process, current.previous_process_id)
    return current.id


def _chain(session: Session, scope_id: int) -> set[int]:
    ids, frontier = {scope_id}, {scope_id}
    while frontier:
        frontier = set(session.scalars(select(Process.id).where(
            Process.previous_process_id.in_(frontier)))) - ids
        ids |= frontier
    return ids


def groups_locked(session: Session, process_id: int) -> bool:
    """Whether any answer exists in the chain, which fixes the groups for good."""
    processes = _chain(session, scope_process_id(session, process_id))
    return bool(session.scalar(select(func.count(Response.id)).join(
        Survey, Survey.id == Response.survey_id).where(Survey.process_id.in_(processes))))


def mapping_groups(session: Session, process_id: int) -> list[MappingGroup]:
    """The process's mapping groups in order (manager groups first, then top management)."""
    return scope_groups(session, scope_process_id(session, process_id))


def _in_order(stmt: Select) -> Select:
    return stmt.order_by(MappingGroup.kind != "managers", MappingGroup.position, MappingGroup.id)


def scope_groups(session: Session, scope_id: int) -> list[MappingGroup]:
    """The mapping groups owned by ``scope_id`` (see ``scope_process_id``), in order."""
    return list(session.scalars(_in_order(select(MappingGroup).where(
        MappingGroup.process_id == scope_id))))


_GROUPS_WITH_INVITED = _in_order(
    select(MappingGroup.id, MappingGroup.key, MappingGroup.name, MappingGroup.kind,
           func.count(Invitation.id).label("invited"))
    .outerjoin(Invitation, and_(Invitation.group_id == MappingGroup.id,
                                Invitation.survey_id == bindparam("survey_id")))
    .where(MappingGroup.process_id == bindparam("scope_id"))
    .group_by(MappingGroup.id))


def groups_with_invited(conn: Session | Connection, scope_id: int, survey_id: int) -> list[Row]:
    """``scope_groups`` as rows (id, key, name, kind, invited): how many ``survey_id`` invited."""
    return list(conn.execute(_GROUPS_WITH_INVITED, {"scope_id": scope_id, "survey_id": survey_id}))


def _check(session: Session, organisation_id: int, groups: Mapping[str, Sequence[int]]) -> None:
    wanted = {p for members in groups.values() for p in members}
    known = set(session.scalars(select(Person.id).where(
        Person.id.in_(wanted), Person.organisation_id == organisation_id)))
    if wanted - known:
        raise SurveyRefused("unknown_person", id=min(wanted - known))
    seen: set[int] = set()
    for name, members in groups.items():
        if not members:
            raise SurveyRefused("group_empty", group=name)
        if seen & set(members):
            raise SurveyRefused("person_in_two_groups")
        seen |= set(members)


def define_mapping_groups(session: Session, process_id: int,
                          groups: Mapping[str, Sequence[int]]) -> list[MappingGroup]:
    """Set the manager groups (name -> person ids); refused once answers exist. Flushes."""
    if groups_locked(session, process_id):
        raise SurveyRefused("groups_locked")
    scope = scope_process_id(session, process_id)
    _check(session, session.get(Process, scope).organisation_id, groups)
    old = [g.id for g in mapping_groups(session, process_id) if g.kind == "managers"]
    made = [_add_group(session, scope, name, i, members) for i, (name, members)
            in enumerate(groups.items(), start=len(old))]
    if old:
        _repoint_invitations(session, old, {p: g.id for g in made for p in groups[g.name]})
        session.execute(delete(MappingGroupMember).where(MappingGroupMember.group_id.in_(old)))
        session.execute(delete(MappingGroup).where(MappingGroup.id.in_(old)))
    session.flush()
    return made


def _add_group(session: Session, scope: int, name: str, position: int, members: Sequence[int],
               kind: str = "managers", key: str | None = None) -> MappingGroup:
    process = session.get(Process, scope)
    group = MappingGroup(organisation_id=process.organisation_id, process_id=scope,
                         key=key or f"{slugify(name)[:50] or 'grupp'}-{position + 1}",
                         name=name, kind=kind, position=position)
    session.add(group)
    session.flush()
    for person_id in sorted(set(members)):
        session.add(MappingGroupMember(group_id=group.id, person_id=person_id))
    session.flush()
    return group


def _repoint_invitations(session: Session, old_ids: list[int], new_group_of: dict[int, int]) -> None:
    """Invitations sent before the groups changed follow their person to the new group."""
    invitations = list(session.scalars(select(Invitation).where(Invitation.group_id.in_(old_ids))))
    missing = [i for i in invitations if i.person_id not in new_group_of]
    if missing:
        raise SurveyRefused("invited_not_grouped", count=len(missing))
    for invitation in invitations:
        invitation.group_id = new_group_of[invitation.person_id]
    session.flush()


def _placement(session: Session, group_ids: Sequence[int]) -> dict[int, int]:
    """Person id -> group id among ``group_ids``."""
    rows = session.execute(select(MappingGroupMember.person_id, MappingGroupMember.group_id).where(
        MappingGroupMember.group_id.in_(list(group_ids))))
    return {person_id: group_id for person_id, group_id in rows}


def default_grouping(session: Session, person_ids: Sequence[int], locale: str) -> dict[str, list[int]]:
    """One group per B-level unit above each manager's unit; the rest in one more group."""
    groups: dict[str, list[int]] = {}
    for person in session.scalars(select(Person).where(Person.id.in_(person_ids)).order_by(Person.id)):
        unit = session.get(Unit, person.unit_id) if person.unit_id else None
        while unit is not None and unit.level == "C" and unit.parent_id:
            unit = session.get(Unit, unit.parent_id)
        name = unit.name if unit is not None and unit.level == "B" else gettext(locale, "Other managers")
        groups.setdefault(name, []).append(person.id)
    return groups


def ensure_groups(session: Session, process: Process, chef_ids: Sequence[int],
                  management_ids: Sequence[int]) -> dict[int, int]:
    """Person id -> group id for everyone invited, creating groups only where none exist."""
    scope = scope_process_id(session, process.id)
    locale = session.get(Organisation, process.organisation_id).locale
    managers = [g for g in mapping_groups(session, process.id) if g.kind == "managers"]
    if not managers:
        managers = define_mapping_groups(session, process.id,
                                         default_grouping(session, chef_ids, locale))
    known = _placement(session, [g.id for g in managers])
    placed = {pid: known[pid] for pid in chef_ids if pid in known}
    newcomers = [pid for pid in chef_ids if pid not in known]
    for name, members in default_grouping(session, newcomers, locale).items():
        target = next((g for g in managers if g.name == name), None)
        if target is None:
            target = _add_group(session, scope, name, len(managers), [])
            managers.append(target)
        for pid in members:
            session.add(MappingGroupMember(group_id=target.id, person_id=pid))
            placed[pid] = target.id
    if management_ids:
        placed.update(_management(session, process, scope, management_ids, locale))
    session.flush()
    return placed


def _management(session: Session, process: Process, scope: int, management_ids: Sequence[int],
                locale: str) -> dict[int, int]:
    group = next((g for g in mapping_groups(session, process.id) if g.kind == "management"), None)
    if group is None:
        group = _add_group(session, scope, gettext(locale, "Top management"), 0, [],
                           kind="management", key=MANAGEMENT_KEY)
    members = set(_placement(session, [group.id]))
    for pid in sorted(set(management_ids) - members):
        session.add(MappingGroupMember(group_id=group.id, person_id=pid))
    return {pid: group.id for pid in management_ids}
