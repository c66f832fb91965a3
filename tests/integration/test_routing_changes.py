"""Routing after the roster changes: delegations that start later, reassigned tasks, meeting
invites that follow their participants, and the inbox through a body or a delegation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from api.routes.tasks import inbox_query
from chefoskop.settings import get_settings
from flows import engine
from flows.engine.notify import send_invite
from flows.engine.roster import activate_delegations
from flows.errors import InvalidData, NotRoleHolder
from flows.sweep import run_sweep
from models import AuditEvent, BodyMember, Delegation, OutboxMessage, Person, Process, Task
from notifications.render import render
from roles.permissions import Viewer
from roles.resolve import load_role_data, resolve, roles_of
from tests.helpers import NOW, ctx_for, finish_phase_tasks, gate, live_tasks, open_queued, start, walk_to

DAY = timedelta(days=1)


def _through_order(session, s):
    engine.decide_gate(ctx_for(session, s.person("bestallare")), gate(session, s.process_id, 1, "order").id,
                       "approve")
    session.commit()


def _inbox(session, person_id: int, now) -> set[int]:
    """Ids of the open and claimed tasks in ``person_id``'s inbox at ``now`` (the API's query)."""
    person = session.get(Person, person_id)
    viewer = Viewer(person_id=person.id, organisation_id=person.organisation_id)
    stmt = inbox_query(session, viewer, now).where(Task.status.in_(("open", "claimed")))
    return set(session.scalars(stmt.with_only_columns(Task.id)))


def _mails(session, kind: str, task_id: int | None = None) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    if task_id is not None:
        stmt = stmt.where(OutboxMessage.task_id == task_id)
    return list(session.scalars(stmt))


def _candidates(session, task: Task) -> dict[int, str]:
    session.refresh(task)
    return {c.person_id: c.via for c in task.candidates}


# Delegations that start later


def test_a_delegation_that_starts_later_takes_effect_when_the_sweep_activates_it(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, stand_in = s.person("processagare"), s.person("stabschef")
    row = engine.delegate(ctx_for(session, owner), s.process_id, "processagare", stand_in,
                          starts_at=NOW + 2 * DAY, ends_at=NOW + 5 * DAY, reason="Semester")
    session.commit()
    assert row.status == "pending"
    assert _candidates(session, task) == {owner: "direct"}
    assert [m.recipient_id for m in _mails(session, "task_assigned", task.id)] == [owner]

    # Its start has passed but no sweep has run: the owner still acts, in the inbox and in a claim.
    due = NOW + 2 * DAY + timedelta(hours=1)
    data = load_role_data(session, s.process_id)
    assert "processagare" in roles_of(data, owner, due)
    assert "processagare" not in roles_of(data, stand_in, due)
    assert task.id in _inbox(session, owner, due) and task.id not in _inbox(session, stand_in, due)
    with pytest.raises(NotRoleHolder):
        engine.claim(ctx_for(session, stand_in, due), task.id)
    session.rollback()

    run_sweep(due, get_settings())
    session.expire_all()
    assert session.get(Delegation, row.id).status == "active"
    assert _candidates(session, task) == {stand_in: "delegation"}
    told = [m.recipient_id for m in _mails(session, "task_assigned", task.id)]
    assert told == [owner, stand_in]
    assert task.id in _inbox(session, stand_in, due) and task.id not in _inbox(session, owner, due)
    engine.claim(ctx_for(session, stand_in, due), task.id)
    session.commit()
    assert session.get(Task, task.id).assignee_id == stand_in
    # A second sweep changes nothing and sends nothing.
    assert activate_delegations(ctx_for(session, None, due + DAY)) == 0
    assert len(_mails(session, "task_assigned", task.id)) == 2


def test_a_pending_delegation_can_be_revoked_and_then_never_starts(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, stand_in = s.person("processagare"), s.person("stabschef")
    row = engine.delegate(ctx_for(session, owner), s.process_id, "processagare", stand_in,
                          starts_at=NOW + 2 * DAY, ends_at=NOW + 5 * DAY)
    session.commit()
    assert row.status == "pending"
    engine.revoke_delegation(ctx_for(session, stand_in), row.id)
    session.commit()
    assert row.status == "revoked" and row.revoked_at == NOW
    with pytest.raises(InvalidData):
        engine.revoke_delegation(ctx_for(session, owner), row.id)
    session.rollback()
    assert activate_delegations(ctx_for(session, None, NOW + 3 * DAY)) == 0
    session.commit()
    assert _candidates(session, task) == {owner: "direct"}
    assert [m.recipient_id for m in _mails(session, "task_assigned", task.id)] == [owner]


def test_a_pending_delegation_whose_period_passed_unswept_expires_without_starting(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, stand_in = s.person("processagare"), s.person("stabschef")
    row = engine.delegate(ctx_for(session, owner), s.process_id, "processagare", stand_in,
                          starts_at=NOW + DAY, ends_at=NOW + 2 * DAY)
    session.commit()
    assert row.status == "pending"
    run_sweep(NOW + 3 * DAY, get_settings())
    session.expire_all()
    assert session.get(Delegation, row.id).status == "expired"
    trail = session.execute(select(AuditEvent.action, AuditEvent.from_state, AuditEvent.to_state).where(
        AuditEvent.entity == "delegation", AuditEvent.entity_id == row.id).order_by(AuditEvent.id)).all()
    assert [tuple(t) for t in trail] == [("delegated", None, "pending"), ("expired", "pending", "expired")]
    assert _candidates(session, task) == {owner: "direct"}
    assert [m.recipient_id for m in _mails(session, "task_assigned", task.id)] == [owner]


def test_a_hand_over_between_two_stand_ins_routes_the_tasks_once(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, first, second = s.person("processagare"), s.person("stabschef", 0), s.person("stabschef", 1)
    ctx = ctx_for(session, owner)
    engine.delegate(ctx, s.process_id, "processagare", first, starts_at=NOW, ends_at=NOW + 2 * DAY)
    engine.delegate(ctx, s.process_id, "processagare", second, starts_at=NOW + 2 * DAY,
                    ends_at=NOW + 4 * DAY)
    session.commit()
    run_sweep(NOW + 2 * DAY + timedelta(hours=1), get_settings())
    session.expire_all()
    assert _candidates(session, task) == {second: "delegation"}
    assert [m.recipient_id for m in _mails(session, "task_assigned", task.id)] == [owner, first, second]


# Reassigned tasks


def test_a_reassigned_task_stays_with_its_assignee_when_the_role_changes(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "process_plan")[0]
    leader, owner, chef = s.person("processledare"), s.person("processagare"), s.person("chef")
    engine.reassign(ctx_for(session, leader), task.id, chef)
    session.commit()
    newcomer = s.person("stabschef")
    engine.assign_role(ctx_for(session, owner), s.process_id,
                       engine.RoleSpec(role="processledare", person_id=newcomer))
    session.commit()
    session.refresh(task)
    assert (task.status, task.assignee_id) == ("claimed", chef)
    assert _candidates(session, task) == {chef: "reassigned"}
    assert [m.recipient_id for m in _mails(session, "task_assigned", task.id)][-1] == chef
    assert newcomer not in {m.recipient_id for m in _mails(session, "task_assigned", task.id)}
    assert task.id in _inbox(session, chef, NOW) and task.id not in _inbox(session, newcomer, NOW)

    # Someone no longer active cannot keep it: the next change sends it back to the role.
    session.get(Person, chef).active = False
    session.commit()
    sent = len(_mails(session, "task_assigned", task.id))
    engine.assign_role(ctx_for(session, owner), s.process_id,
                       engine.RoleSpec(role="processledare", person_id=s.person("stabschef", 1)))
    session.commit()
    session.refresh(task)
    assert (task.status, task.assignee_id) == ("open", None)
    holders = {s.person("processledare", 0), s.person("processledare", 1), newcomer, s.person("stabschef", 1)}
    assert set(_candidates(session, task)) == holders
    assert {m.recipient_id for m in _mails(session, "task_assigned", task.id)[sent:]} == holders


# Meeting invites


def _workshop(session):
    """A process in step 2 with its workshop (a meeting task) open."""
    s = start(session, managers=3)
    walk_to(session, s.process_id, 2)
    queued = finish_phase_tasks(session, s.process_id, NOW + 20 * DAY)
    open_queued(session, queued, NOW + 20 * DAY)
    session.commit()
    (task,) = live_tasks(session, s.process_id, "workshop_1")
    return s, task


def _invites(session, task: Task, sequence: int) -> list[OutboxMessage]:
    return [m for m in _mails(session, "meeting_invite", task.id) if m.payload["sequence"] == sequence]


def _event(row: OutboxMessage):
    mail = render(row.kind, row.locale, row.payload, base_url="http://x", recipient_id=row.recipient_id)
    calendar = Calendar.from_ical(mail.ics)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def _attendees(session, s, task: Task) -> set[int]:
    """The workshop's leaders (its candidates) and everyone in its participant roles."""
    data = load_role_data(session, s.process_id)
    ids = set(_candidates(session, task))
    for role in ("ledning", "processagare"):
        ids |= set(resolve(data, role, NOW + 30 * DAY))
    return ids


def test_a_meeting_invite_follows_new_participants_with_the_same_uid_and_a_new_sequence(session):
    s, task = _workshop(session)
    first = _invites(session, task, 0)
    assert first and task.invite_sequence == 0
    assert {m.recipient_id for m in first} == _attendees(session, s, task)
    uid = first[0].payload["uid"]

    when = NOW + 30 * DAY
    owner, chef = s.person("processagare"), s.person("chef")
    engine.assign_role(ctx_for(session, owner, when), s.process_id,
                       engine.RoleSpec(role="ledning", person_id=chef))
    session.commit()
    session.refresh(task)
    assert task.invite_sequence == 1
    second = _invites(session, task, 1)
    assert {m.recipient_id for m in second} == _attendees(session, s, task) == \
        {m.recipient_id for m in first} | {chef}
    assert {m.payload["uid"] for m in second} == {uid}
    assert all(m.dedupe_key and ":1:" in m.dedupe_key for m in second)
    calendar, event = _event(second[0])
    assert str(calendar["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)

    # Routing again without a change, or queueing this version again, sends nothing more.
    before = len(_mails(session, "meeting_invite", task.id))
    attendees = [session.get(Person, m.recipient_id) for m in second]
    assert send_invite(ctx_for(session, None, when), task, attendees) == 0
    engine.reroute(ctx_for(session, None, when), session.get(Process, s.process_id),
                   {"ledning", "processledare", "processagare"})
    session.commit()
    assert len(_mails(session, "meeting_invite", task.id)) == before

    # A reassignment changes who runs it: another update, to the new set.
    engine.reassign(ctx_for(session, s.person("processledare"), when), task.id, s.person("stabschef"))
    session.commit()
    session.refresh(task)
    assert task.invite_sequence == 2
    third = _invites(session, task, 2)
    assert s.person("stabschef") in {m.recipient_id for m in third}
    assert s.person("processledare") not in {m.recipient_id for m in third}


def test_a_delegated_meeting_role_sends_the_update_when_the_delegation_starts(session):
    s, task = _workshop(session)
    when = NOW + 30 * DAY
    owner, stand_in = s.person("processagare"), s.person("stabschef")
    engine.delegate(ctx_for(session, owner, when), s.process_id, "processagare", stand_in,
                    starts_at=when + DAY, ends_at=when + 5 * DAY)
    session.commit()
    assert session.get(Task, task.id).invite_sequence == 0
    activate_delegations(ctx_for(session, None, when + DAY))
    session.commit()
    session.refresh(task)
    assert task.invite_sequence == 1
    assert stand_in in {m.recipient_id for m in _invites(session, task, 1)}


def test_rescheduling_a_follow_up_meeting_keeps_the_uid_and_sends_sequence_one(session):
    from tests.plans.support import adopted_plan, later

    s = start(session, managers=3)
    walk_to(session, s.process_id, 8)
    now = later(session)
    chef, leader, owner = s.person("chef"), s.person("processledare"), s.person("processagare")
    plan = adopted_plan(session, s.process_id, chef, leader, owner, now)
    ctx = ctx_for(session, leader, now)
    meeting = engine.schedule_follow_up(ctx, plan.id, on=now.date() + 14 * DAY)
    session.commit()
    engine.schedule_follow_up(ctx_for(session, leader, now), plan.id, on=now.date() + 21 * DAY,
                              location="Rum 2")
    session.commit()
    rows = [m for m in _mails(session, "meeting_invite") if m.payload["uid"].startswith("follow-up-")]
    by_sequence = {seq: [m for m in rows if m.payload["sequence"] == seq] for seq in (0, 1)}
    assert len(by_sequence[0]) == len(by_sequence[1]) == len(meeting.participant_ids)
    (uid,) = {m.payload["uid"] for m in rows}
    calendar, event = _event(by_sequence[1][0])
    assert str(calendar["METHOD"]) == "REQUEST"
    assert (str(event["UID"]), int(event["SEQUENCE"])) == (uid, 1)
    assert str(event["LOCATION"]) == "Rum 2"


# The inbox through a body and through a delegation in force


def test_a_body_member_finds_the_task_in_the_inbox_and_claims_it(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "process_plan")[0]
    body = s.org.samverkan
    member = session.scalars(select(BodyMember.person_id).where(
        BodyMember.body_id == body.id, BodyMember.person_id != s.person("processagare"))).first()
    assert task.id not in _inbox(session, member, NOW)
    engine.assign_role(ctx_for(session, s.person("processagare")), s.process_id,
                       engine.RoleSpec(role="processledare", body_id=body.id))
    session.commit()
    assert _candidates(session, task)[member] == "body"
    assert task.id in _inbox(session, member, NOW)
    engine.claim(ctx_for(session, member), task.id)
    session.commit()
    assert session.get(Task, task.id).assignee_id == member
    assert task.id in _inbox(session, member, NOW)
    assert task.id not in _inbox(session, s.person("processledare", 1), NOW)


def test_a_delegate_in_force_finds_the_task_in_the_inbox_and_claims_it(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, stand_in = s.person("processagare"), s.person("chef")
    engine.delegate(ctx_for(session, owner), s.process_id, "processagare", stand_in,
                    starts_at=NOW, ends_at=NOW + 5 * DAY)
    session.commit()
    assert task.id in _inbox(session, stand_in, NOW) and task.id not in _inbox(session, owner, NOW)
    with pytest.raises(NotRoleHolder):
        engine.claim(ctx_for(session, owner), task.id)
    session.rollback()
    engine.claim(ctx_for(session, stand_in), task.id)
    session.commit()
    assert session.get(Task, task.id).assignee_id == stand_in
