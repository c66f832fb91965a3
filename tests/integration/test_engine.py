"""The engine on a real database: gates, loops, refusals that leave nothing behind, audit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from flows import engine
from flows.errors import (
    GateUnmet,
    IllegalTransition,
    InvalidData,
    NotRoleHolder,
    StaleVersion,
    UnknownRole,
)
from models import AuditEvent, Gate, OutboxMessage, Process, StepInstance, Task
from tests.helpers import (
    NOW,
    ctx_for,
    finish_phase_tasks,
    form_data,
    gate,
    live_tasks,
    snapshot,
    start,
    step,
)


def _refused(session, call, error):
    """Run ``call``; it must raise ``error`` and leave every table as it was."""
    before = snapshot(session)
    with pytest.raises(error) as info:
        call()
    session.rollback()
    assert snapshot(session) == before
    return info.value


def test_start_queues_step_one_and_audits_every_creation(session):
    s = start(session)
    process = session.get(Process, s.process_id)
    assert process.status == "running" and process.definition_version == 1
    statuses = [st.status for st in process.steps]
    assert statuses == ["open"] + ["pending"] * 8
    created = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.process_id == s.process_id, AuditEvent.entity == "step",
        AuditEvent.action == "created"))
    assert created == 9


def test_order_gate_waits_for_the_bestallare_before_any_task(session):
    s = start(session)
    order = gate(session, s.process_id, 1, "order")
    assert order.status == "open" and live_tasks(session, s.process_id) == []
    waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "gate_waiting")).all()
    assert {m.recipient_id for m in waiting} == {s.person("bestallare")}
    err = _refused(session, lambda: engine.decide_gate(
        ctx_for(session, s.person("processagare")), order.id, "approve"), NotRoleHolder)
    assert err.params == {"role": "bestallare"}
    engine.decide_gate(ctx_for(session, s.person("bestallare")), order.id, "approve")
    session.commit()
    assert {t.activity_key for t in live_tasks(session, s.process_id)} == {"appoint_roles", "process_plan"}


def _through_order(session, s):
    engine.decide_gate(ctx_for(session, s.person("bestallare")), gate(session, s.process_id, 1, "order").id,
                       "approve")
    session.commit()


def test_rejected_order_cancels_the_process(session):
    s = start(session)
    ctx = ctx_for(session, s.person("bestallare"))
    engine.decide_gate(ctx, gate(session, s.process_id, 1, "order").id, "reject", reason="Ingen budget")
    session.commit()
    assert session.get(Process, s.process_id).status == "cancelled"


def test_consultation_gate_needs_a_record_not_a_decision(session):
    s = start(session)
    _through_order(session, s)
    finish_phase_tasks(session, s.process_id)
    finish_phase_tasks(session, s.process_id)
    session.commit()
    consult = gate(session, s.process_id, 1, "samverkan_design")
    assert consult.status == "open"
    assert step(session, s.process_id, 1).phase == "analys"
    assert live_tasks(session, s.process_id) == []
    leader = ctx_for(session, s.person("processledare"))
    _refused(session, lambda: engine.decide_gate(
        ctx_for(session, s.person("processagare")), consult.id, "approve"), IllegalTransition)
    err = _refused(session, lambda: engine.record_consultation(
        leader, consult.id, subject=" ", held_on=NOW.date() + timedelta(days=3), participants=[],
        outcome=""), InvalidData)
    assert err.params["errors"] == {"subject": "required", "outcome": "required",
                                    "participants": "required", "held_on": "in_future"}
    engine.record_consultation(leader, consult.id, subject="Upplägg", held_on=NOW.date(),
                               participants=["Vision", "Kommunal"], outcome="Samverkat")
    session.commit()
    assert [t.activity_key for t in live_tasks(session, s.process_id)] == ["decide_design"]


def test_rejection_reopens_the_named_work_with_the_reason_and_loops_back(session):
    s = start(session)
    _through_order(session, s)
    finish_phase_tasks(session, s.process_id)
    finish_phase_tasks(session, s.process_id)
    leader = ctx_for(session, s.person("processledare"))
    engine.record_consultation(leader, gate(session, s.process_id, 1, "samverkan_design").id,
                               subject="x", held_on=NOW.date(), participants=["A"], outcome="ok")
    finish_phase_tasks(session, s.process_id)
    session.commit()
    approval = gate(session, s.process_id, 1, "step_approval")
    owner = ctx_for(session, s.person("processagare"))
    _refused(session, lambda: engine.decide_gate(owner, approval.id, "reject", reason="  "), InvalidData)
    engine.decide_gate(owner, approval.id, "reject", reason="Målen är för vaga")
    session.commit()
    st = step(session, s.process_id, 1)
    assert (st.status, st.phase, st.iteration) == ("open", "forbered", 2)
    reopened = live_tasks(session, s.process_id)
    assert [(t.activity_key, t.reopen_reason) for t in reopened] == [("process_plan", "Målen är för vaga")]
    pending = session.scalars(select(Task).where(Task.status == "pending")).all()
    assert [t.activity_key for t in pending] == ["needs_inventory"]
    # Going round again: the consultation must be recorded anew before the decision.
    finish_phase_tasks(session, s.process_id)
    finish_phase_tasks(session, s.process_id)
    session.commit()
    again = gate(session, s.process_id, 1, "samverkan_design")
    assert again.iteration == 2 and again.status == "open"
    engine.record_consultation(leader, again.id, subject="x", held_on=NOW.date(), participants=["A"],
                               outcome="ok")
    assert live_tasks(session, s.process_id) == []  # decide_design was already done and not reopened
    engine.decide_gate(owner, gate(session, s.process_id, 1, "step_approval").id, "approve")
    session.commit()
    assert step(session, s.process_id, 1).status == "closed"
    assert step(session, s.process_id, 2).status == "queued"


def test_stale_version_and_wrong_person_are_refused_without_change(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "process_plan")[0]
    leader = ctx_for(session, s.person("processledare"))
    err = _refused(session, lambda: engine.complete(leader, task.id, form_data(session, task),
                                                    expected_version=task.version - 1), StaleVersion)
    assert err.params["current"] == task.version
    _refused(session, lambda: engine.complete(ctx_for(session, s.person("chef")), task.id,
                                              form_data(session, task)), NotRoleHolder)
    err = _refused(session, lambda: engine.complete(leader, task.id, {"purpose": "x"}), InvalidData)
    assert err.params["errors"] == {"goals": "required", "scope": "required"}
    engine.complete(leader, task.id, form_data(session, task), expected_version=task.version)
    session.commit()
    _refused(session, lambda: engine.complete(leader, task.id, {}), IllegalTransition)


def test_unknown_and_missing_roles_are_refused(session):
    s = start(session)
    org_id = s.org.organisation.id
    roster = [*s.org.roster, engine.RoleSpec(role="kung", person_id=s.person("chef"))]
    ctx = ctx_for(session, s.person("processledare"))
    err = _refused(session, lambda: engine.start_process(ctx, org_id, "Ny", roster), UnknownRole)
    assert err.params == {"role": "kung"}
    partial = [r for r in s.org.roster if r.role != "processagare"]
    err = _refused(session, lambda: engine.start_process(ctx, org_id, "Ny", partial), InvalidData)
    assert err.params["errors"]["roster"] == "missing:processagare"


def test_claim_then_only_the_claimer_completes(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "process_plan")[0]
    first, second = s.person("processledare", 0), s.person("processledare", 1)
    engine.claim(ctx_for(session, first), task.id)
    session.commit()
    from flows.errors import Conflict

    _refused(session, lambda: engine.claim(ctx_for(session, second), task.id), Conflict)
    _refused(session, lambda: engine.complete(ctx_for(session, second), task.id,
                                              form_data(session, task)), NotRoleHolder)
    engine.unclaim(ctx_for(session, first), task.id)
    engine.claim(ctx_for(session, second), task.id)
    session.commit()
    assert session.get(Task, task.id).assignee_id == second


def test_delegation_routes_the_gate_to_the_delegate_for_its_period(session):
    s = start(session)
    bestallare, owner = s.person("bestallare"), s.person("processagare")
    ctx = ctx_for(session, bestallare)
    engine.delegate(ctx, s.process_id, "bestallare", owner, starts_at=NOW - timedelta(hours=1),
                    ends_at=NOW + timedelta(days=10), reason="Delegerat till processägaren")
    session.commit()
    order = gate(session, s.process_id, 1, "order")
    _refused(session, lambda: engine.decide_gate(ctx_for(session, bestallare), order.id, "approve"),
             NotRoleHolder)
    later = ctx_for(session, bestallare, NOW + timedelta(days=11))
    engine.decide_gate(later, order.id, "approve")  # the delegation has ended by itself
    session.rollback()
    engine.decide_gate(ctx_for(session, owner), order.id, "approve")
    session.commit()
    assert gate(session, s.process_id, 1, "order").decided_by_id == owner


def test_open_tasks_follow_new_role_holders(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "process_plan")[0]
    leaders = {s.person("processledare", 0), s.person("processledare", 1)}
    assert {c.person_id for c in task.candidates} == leaders
    from models import RoleAssignment

    gone = session.scalars(select(RoleAssignment).where(
        RoleAssignment.process_id == s.process_id, RoleAssignment.person_id == s.person("processledare", 1),
        RoleAssignment.role == "processledare")).one()
    owner = ctx_for(session, s.person("processagare"))
    engine.end_assignment(owner, gone.id)
    newcomer = s.person("stabschef", 0)
    engine.assign_role(owner, s.process_id, engine.RoleSpec(role="processledare", person_id=newcomer))
    session.commit()
    session.refresh(task)
    assert {c.person_id for c in task.candidates} == {s.person("processledare", 0), newcomer}
    assert task.route_version > 1


def test_every_status_change_has_exactly_one_audit_event(session):
    s = start(session)
    _through_order(session, s)
    finish_phase_tasks(session, s.process_id)
    session.commit()
    rows = session.execute(select(AuditEvent.entity, AuditEvent.entity_id, AuditEvent.from_state,
                                  AuditEvent.to_state, func.count()).group_by(
        AuditEvent.entity, AuditEvent.entity_id, AuditEvent.from_state, AuditEvent.to_state)
        .where(AuditEvent.action != "phase")).all()
    assert all(n == 1 for *_, n in rows)
    for task in session.scalars(select(Task).where(Task.process_id == s.process_id)):
        trail = session.scalars(select(AuditEvent.to_state).where(
            AuditEvent.entity == "task", AuditEvent.entity_id == task.id).order_by(AuditEvent.id)).all()
        assert trail[-1] == task.status
    step_one = step(session, s.process_id, 1)
    trail = session.scalars(select(AuditEvent.to_state).where(
        AuditEvent.entity == "step", AuditEvent.entity_id == step_one.id,
        AuditEvent.action != "phase").order_by(AuditEvent.id)).all()
    assert trail == ["pending", "queued", "open"]


def test_audit_events_cannot_be_changed_or_deleted(session):
    from models import AuditIsAppendOnly

    s = start(session)
    event = session.scalars(select(AuditEvent).where(AuditEvent.process_id == s.process_id)).first()
    event.action = "forged"
    with pytest.raises(AuditIsAppendOnly):
        session.flush()
    session.rollback()
    session.delete(session.get(AuditEvent, event.id))
    with pytest.raises(AuditIsAppendOnly):
        session.flush()


def test_actions_start_only_after_an_approved_risk_assessment(session):
    s = start(session, managers=3)
    from tests.helpers import walk_to

    walk_to(session, s.process_id, 8)
    owner, chef = s.person("processagare"), s.person("chef")
    ctx = ctx_for(session, chef)
    from models import RoleAssignment

    unit_id = session.scalar(select(RoleAssignment.unit_id).where(
        RoleAssignment.person_id == chef, RoleAssignment.role == "chef"))
    plan = engine.create_plan(ctx, s.process_id, level="C", owner_id=chef, unit_id=unit_id,
                              title="Arbetsplatsens plan")
    fields = engine.ActionFields(development_area="Administrativt stöd", goal="Mer tid",
                                 description="Inför assistent", responsible_id=chef,
                                 start_date=NOW.date(), end_date=NOW.date() + timedelta(days=90))
    action = engine.add_action(ctx, plan.id, fields)
    session.commit()
    err = _refused(session, lambda: engine.start_action(ctx, action.id), GateUnmet)
    assert err.params == {"gate": "risk_assessment"}
    gate_id = session.scalar(select(Gate.id).where(Gate.action_id == action.id))
    _refused(session, lambda: engine.decide_gate(ctx_for(session, owner), gate_id, "approve"), GateUnmet)
    _refused(session, lambda: engine.adopt_plan(ctx, plan.id), GateUnmet)
    from tests.plans.support import assessment

    engine.record_risk_assessment(ctx, action.id, **assessment(session, s.process_id))
    session.commit()
    _refused(session, lambda: engine.decide_gate(ctx, gate_id, "approve"), NotRoleHolder)
    engine.decide_gate(ctx_for(session, owner), gate_id, "approve")
    engine.start_action(ctx, action.id)
    session.commit()
    # A change to the action needs a new assessment before it goes on.
    changed = engine.ActionFields(**{**fields.__dict__, "description": "Två assistenter"})
    engine.change_action(ctx, action.id, changed)
    session.commit()
    from models import Action

    assert session.get(Action, action.id).status == "risk_pending"
    err = _refused(session, lambda: engine.start_action(ctx, action.id), GateUnmet)
    assert err.params == {"gate": "risk_assessment"}


def test_bad_action_fields_name_each_field(session):
    s = start(session, managers=3)
    from tests.helpers import walk_to

    walk_to(session, s.process_id, 8)
    chef = s.person("chef")
    ctx = ctx_for(session, chef)
    from tests.plans.support import unit_of

    plan = engine.create_plan(ctx, s.process_id, level="C", owner_id=chef, title="Plan",
                              unit_id=unit_of(session, s.process_id, chef, "chef"))
    session.commit()
    bad = engine.ActionFields(development_area="", goal="x", description="y", responsible_id=999999,
                              start_date=date(2027, 3, 1), end_date=date(2027, 2, 1),
                              follow_up_date=date(2020, 1, 1))
    err = _refused(session, lambda: engine.add_action(ctx, plan.id, bad), InvalidData)
    assert err.params["errors"] == {"development_area": "required", "responsible_id": "not_found",
                                    "end_date": "before_start", "follow_up_date": "in_past"}
    err = _refused(session, lambda: engine.create_plan(ctx_for(session, chef), s.process_id, level="A",
                                                       owner_id=chef, title="A-plan"), NotRoleHolder)
    assert err.params == {"role": "ledning"}


def test_open_step_is_refused_twice(session):
    s = start(session)
    st = step(session, s.process_id, 1)
    _refused(session, lambda: engine.open_step(ctx_for(session, None), st.id), IllegalTransition)
    assert session.get(StepInstance, st.id).status == "open"


def test_an_ended_delegation_sends_open_tasks_back(session):
    s = start(session)
    _through_order(session, s)
    task = live_tasks(session, s.process_id, "appoint_roles")[0]
    owner, stand_in = s.person("processagare"), s.person("stabschef")
    engine.delegate(ctx_for(session, owner), s.process_id, "processagare", stand_in,
                    starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(days=5))
    session.commit()
    session.refresh(task)
    assert {c.person_id for c in task.candidates} == {stand_in}
    assert engine.expire_delegations(ctx_for(session, None, NOW + timedelta(days=1))) == 0
    assert engine.expire_delegations(ctx_for(session, None, NOW + timedelta(days=6))) == 1
    session.commit()
    session.refresh(task)
    assert {c.person_id for c in task.candidates} == {owner}
    trail = session.scalars(select(AuditEvent.action).where(AuditEvent.entity == "delegation")).all()
    assert trail == ["delegated", "expired"]
