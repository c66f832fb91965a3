"""The content rules of plans and actions: what a risk assessment and a plan's consultation must
hold, the owner's mandate for the plan's unit, what counts as a change, and when a plan may be
adopted. Every refusal names the field (or the gate) and saves nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from chefoskop.seed import build_organisation
from flows import engine
from flows.engine import actions as engine_actions
from flows.engine.actions import plan_gate, risk_gate
from flows.errors import GateUnmet, IllegalTransition, InvalidData, NotRoleHolder
from models import Action, AuditEvent, Gate, Person, RiskAssessment, RoleAssignment, Unit
from roles.mandate import covers, mandate_units, owner_unit, plan_mandate
from roles.resolve import Assignment, DelegationView, RoleData
from tests.helpers import NOW, ctx_for, start, walk_to
from tests.plans.support import (
    RISK,
    assessment,
    consultation,
    refused_saving_nothing,
    unit_of,
    workplace_plan,
)

TODAY = NOW.date()


def _plan_with_action(session, managers: int = 3):
    s, chef, ctx, plan = workplace_plan(session, managers)
    action = engine.add_action(ctx, plan.id, _fields(chef))
    session.commit()
    return s, plan, action


def _fields(responsible: int, **changes) -> engine.ActionFields:
    values = dict(
        development_area="Stöd",
        goal="Mer tid för ledarskap",
        description="Inför administrativt stöd",
        responsible_id=responsible,
        start_date=TODAY,
        end_date=TODAY + timedelta(days=60),
        expected_effect="Mindre administration",
        cost_estimate=1000.0,
        follow_up_date=TODAY + timedelta(days=30),
    )
    return engine.ActionFields(**{**values, **changes})


def _stored(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def _events(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent))


def _approve_and_start(session, s, action_id: int, actor: int) -> None:
    action = session.get(Action, action_id)
    engine.record_risk_assessment(ctx_for(session, actor), action.id, **assessment(session, s.process_id))
    gate = risk_gate(engine.Context(session), action)
    engine.decide_gate(ctx_for(session, s.person("processagare")), gate.id, "approve")
    engine.start_action(ctx_for(session, actor), action.id)
    session.commit()


def test_a_risk_assessment_names_each_risk_fully_and_a_skyddsombud_takes_part(session):
    s, plan, action = _plan_with_action(session)
    chef = s.person("chef")
    ctx = ctx_for(session, chef)
    rep = session.get(Person, s.person("skyddsombud")).name
    cases = [
        ({"risks": []}, {"risks": "required"}),
        (
            {"risks": [{"risk": " "}]},
            {
                "risks.0.risk": "required",
                "risks.0.likelihood": "required",
                "risks.0.consequence": "required",
                "risks.0.measure": "required",
            },
        ),
        (
            {"risks": [RISK, {**RISK, "consequence": 0, "measure": ""}]},
            {"risks.1.consequence": "invalid", "risks.1.measure": "required"},
        ),
        ({"participants": []}, {"participants": "required"}),
        ({"participants": ["Chef"]}, {"safety_representative": "not_a_participant"}),
        (
            {"participants": ["Chef", "Kim Okänd"], "safety_representative": "Kim Okänd"},
            {"safety_representative": "not_a_safety_representative"},
        ),
        (
            {"safety_representative": " ", "conclusion": ""},
            {"safety_representative": "required", "conclusion": "required"},
        ),
    ]
    for change, expected in cases:
        err = refused_saving_nothing(
            session,
            lambda c=change: engine.record_risk_assessment(
                ctx, action.id, **assessment(session, s.process_id, **c)
            ),
            InvalidData,
        )
        assert err.params["errors"] == expected, change
    # Someone with no part in the plan may not record it; a skyddsombud of the process may.
    refused_saving_nothing(
        session,
        lambda: engine.record_risk_assessment(
            ctx_for(session, s.person("bestallare")), action.id, **assessment(session, s.process_id)
        ),
        NotRoleHolder,
    )
    other_rep = s.person("skyddsombud", 1)
    row = engine.record_risk_assessment(
        ctx_for(session, other_rep),
        action.id,
        **assessment(
            session,
            s.process_id,
            risks=[{**RISK, "risk": " Oro ", "ignored": "x"}],
            participants=["Chef", f"  {rep.upper()} "],  # the same name, written differently
        ),
    )
    session.commit()
    assert row.recorded_by_id == other_rep and row.participants == ["Chef", rep.upper()]
    assert row.risks == [{"risk": "Oro", "likelihood": 2, "consequence": 2, "measure": "Information på APT"}]
    # Approval stays with the gate's decider (the processägare), not with the skyddsombud.
    gate = risk_gate(engine.Context(session), action)
    refused_saving_nothing(
        session, lambda: engine.decide_gate(ctx_for(session, other_rep), gate.id, "approve"), NotRoleHolder
    )
    engine.decide_gate(ctx_for(session, s.person("processagare")), gate.id, "approve")
    session.commit()


def test_without_skyddsombud_in_the_process_the_named_representative_must_still_take_part(session):
    s, plan, action = _plan_with_action(session)
    leader = ctx_for(session, s.person("processledare"))
    for row_id in session.scalars(
        select(RoleAssignment.id).where(
            RoleAssignment.process_id == s.process_id, RoleAssignment.role == "skyddsombud"
        )
    ).all():
        engine.end_assignment(leader, row_id)
    session.commit()
    ctx = ctx_for(session, s.person("chef"))
    regional = "Eva Berg, regionalt skyddsombud"
    err = refused_saving_nothing(
        session,
        lambda: engine.record_risk_assessment(
            ctx,
            action.id,
            **assessment(session, s.process_id, participants=["Chef"], safety_representative=regional),
        ),
        InvalidData,
    )
    assert err.params["errors"] == {"safety_representative": "not_a_participant"}
    engine.record_risk_assessment(
        ctx,
        action.id,
        **assessment(session, s.process_id, participants=["Chef", regional], safety_representative=regional),
    )
    session.commit()
    assert session.scalar(select(RiskAssessment.safety_representative)) == regional


def test_a_plan_owner_needs_the_level_role_for_the_plans_own_unit(session):
    s = start(session, managers=3)
    walk_to(session, s.process_id, 8)
    chef, other = s.person("chef"), s.person("chef", 1)
    head, director = s.person("chefers_chef"), s.person("ledning")
    mine, theirs = (unit_of(session, s.process_id, p, "chef") for p in (chef, other))
    b_unit = unit_of(session, s.process_id, head, "chefers_chef")
    ctx = ctx_for(session, s.person("processledare"))

    def plan(level, owner, unit_id):
        return engine.create_plan(
            ctx, s.process_id, level=level, owner_id=owner, unit_id=unit_id, title="Plan"
        )

    for level, owner in (("C", chef), ("B", head)):
        err = refused_saving_nothing(session, lambda lv=level, o=owner: plan(lv, o, None), InvalidData)
        assert err.params["errors"] == {"unit_id": "required"}
    err = refused_saving_nothing(session, lambda: plan("C", chef, theirs), InvalidData)
    assert err.params["errors"] == {"owner_id": "no_unit_mandate"}  # another chef's workplace
    err = refused_saving_nothing(session, lambda: plan("C", chef, b_unit), InvalidData)
    assert err.params["errors"] == {"unit_id": "level"}
    refused_saving_nothing(session, lambda: plan("B", chef, b_unit), NotRoleHolder)  # no B-level role
    build_organisation(session, "Grannkommunen", 1, seed=3)
    session.commit()
    foreign = session.scalar(
        select(Unit.id).where(Unit.organisation_id != s.org.organisation.id, Unit.level == "C")
    )
    err = refused_saving_nothing(session, lambda: plan("C", chef, foreign), InvalidData)
    assert err.params["errors"] == {"unit_id": "not_found"}
    mine_plan = plan("C", chef, mine)
    plan("B", head, b_unit)
    plan("A", director, None)  # the overall plan may leave out its (top) unit
    session.commit()
    # A new owner needs the mandate for the plan's unit too.
    err = refused_saving_nothing(
        session, lambda: engine.update_plan(ctx, mine_plan.id, owner_id=other), InvalidData
    )
    assert err.params["errors"] == {"owner_id": "no_unit_mandate"}
    refused_saving_nothing(
        session, lambda: engine.update_plan(ctx, mine_plan.id, owner_id=head), NotRoleHolder
    )
    engine.update_plan(ctx, mine_plan.id, owner_id=chef, title="Samma ägare, ny titel")
    session.commit()


def _data(assignments, delegations=()) -> RoleData:
    return RoleData(tuple(assignments), {7: (3,)}, tuple(delegations))


def test_mandate_follows_the_assignments_unit_and_delegations():
    t0, t1, later = (
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2027, 6, 1, tzinfo=UTC),
    )
    chef1 = Assignment("chef", 1, None, 10, t0, None)
    chef2 = Assignment("chef", 2, None, 11, t0, None)
    ended = Assignment("chef", 1, None, 12, t0, datetime(2027, 1, 15, tzinfo=UTC))
    unscoped = Assignment("chef", 4, None, None, t0, None)
    by_body = Assignment("ledning", None, 7, 1, t0, None)
    away = DelegationView("chef", 2, 5, t0, t1, None)
    data = _data([chef1, chef2, ended, unscoped, by_body], [away])
    now = datetime(2027, 2, 1, tzinfo=UTC)
    assert mandate_units(data, "chef", 1, now) == {10}  # the ended assignment gives nothing
    assert mandate_units(data, "chef", 2, now) == set()  # delegated away for now...
    assert mandate_units(data, "chef", 5, now) == {11}  # ...to the stand-in, with the unit
    assert mandate_units(data, "chef", 2, later) == {11}
    assert mandate_units(data, "ledning", 3, now) == {1}  # through a body
    assert plan_mandate(data, "C", 10, 1, now) is None
    assert plan_mandate(data, "C", 11, 1, now) == "no_unit_mandate"
    assert plan_mandate(data, "C", None, 1, now) == "no_unit_mandate"
    assert plan_mandate(data, "C", 10, 4, now) == "no_unit_mandate"  # unscoped names no workplace
    assert plan_mandate(data, "B", 10, 1, now) == "no_role"
    assert covers("A", None, {None}) and covers("A", 1, {None}) and covers("A", 1, {1})
    assert not covers("A", 2, {1}) and not covers("B", None, {None})
    assert owner_unit(data, "C", 1, now) == 10 and owner_unit(data, "C", 4, now) is None


def test_what_counts_as_a_change_of_an_action(session):
    s, plan, action = _plan_with_action(session)
    chef, other = s.person("chef"), s.person("chef", 1)
    ctx = ctx_for(session, chef)
    base = _fields(chef)
    # Planned, resubmitted as it is (text with stray spaces too): nothing happens.
    before, gate_before = _events(session), risk_gate(engine.Context(session), action).id
    same = engine.change_action(ctx, action.id, _fields(chef, goal="  Mer tid för ledarskap "))
    session.commit()
    assert (same.revision, _events(session), risk_gate(engine.Context(session), action).id) == (
        1,
        before,
        gate_before,
    )
    _approve_and_start(session, s, action.id, chef)
    assert session.get(Action, action.id).status == "in_progress"
    before = _events(session)
    engine.change_action(ctx, action.id, base)
    session.commit()
    assert _events(session) == before and session.get(Action, action.id).status == "in_progress"
    # Moving only the follow-up date keeps the revision and the approved assessment.
    moved = TODAY + timedelta(days=45)
    engine.change_action(ctx, action.id, _fields(chef, follow_up_date=moved))
    session.commit()
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.entity, event.action, event.from_state, event.to_state) == (
        "action",
        "changed",
        "in_progress",
        "in_progress",
    )
    assert event.data == {
        "revision": 1,
        "reassess": False,
        "fields": ["follow_up_date"],
        "before": {"follow_up_date": (TODAY + timedelta(days=30)).isoformat()},
        "after": {"follow_up_date": moved.isoformat()},
    }
    assert session.get(Action, action.id).status == "in_progress" and _events(session) == before + 1
    # What is done, for what, by whom, when and with what means: each needs a new assessment.
    changes = {
        "development_area": "Annat stöd",
        "goal": "Ännu mer tid",
        "description": "Anställ en assistent",
        "responsible_id": other,
        "start_date": TODAY + timedelta(days=1),
        "end_date": TODAY + timedelta(days=90),
        "expected_effect": "Färre sena kvällar",
        "cost_estimate": 2500.5,
    }
    assert set(changes) == engine_actions.REASSESSED_FIELDS
    current = {**base.__dict__, "follow_up_date": moved}
    for name, value in changes.items():
        row = session.get(Action, action.id)
        revision, old_gate = row.revision, risk_gate(engine.Context(session), row)
        old_value = getattr(row, name)
        current[name] = value
        engine.change_action(ctx_for(session, row.responsible_id), action.id, engine.ActionFields(**current))
        session.commit()
        row = session.get(Action, action.id)
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "action").order_by(AuditEvent.id.desc())
        ).first()
        assert (row.status, row.revision) == ("risk_pending", revision + 1), name
        assert event.data["before"] == {name: _stored(old_value)} and event.data["after"] == {
            name: _stored(value)
        }
        assert event.data["reassess"] is True and (event.from_state, event.to_state) == (
            "in_progress",
            "risk_pending",
        )
        assert session.get(Gate, old_gate.id).status == "approved"
        assert risk_gate(engine.Context(session), row).status == "open"
        refused_saving_nothing(
            session, lambda r=row: engine.start_action(ctx_for(session, r.responsible_id), r.id), GateUnmet
        )
        _approve_and_start(session, s, action.id, row.responsible_id)
    # A done or dropped action is not changed any more.
    engine.finish_action(ctx, action.id, result="Klart")
    dropped = engine.add_action(ctx, plan.id, base)
    engine.finish_action(ctx, dropped.id, result="Behövs inte", dropped=True)
    session.commit()
    for row_id in (action.id, dropped.id):
        err = refused_saving_nothing(
            session,
            lambda r=row_id: engine.change_action(ctx, r, _fields(chef, goal="Sent")),
            IllegalTransition,
        )
        assert err.params["from_state"] in ("done", "dropped")
    # Nor by someone with no part in it.
    fresh = engine.add_action(ctx, plan.id, base)
    session.commit()
    refused_saving_nothing(
        session,
        lambda: engine.change_action(
            ctx_for(session, s.person("bestallare")), fresh.id, _fields(chef, goal="X")
        ),
        NotRoleHolder,
    )


def test_a_plan_is_adopted_with_actions_after_a_complete_consultation(session):
    s, chef, ctx, plan = workplace_plan(session)
    leader = ctx_for(session, s.person("processledare"))
    session.commit()
    gate = plan_gate(engine.Context(session), plan)
    for change, expected in (
        ({"body_id": None, "opinions": " "}, {"body_id": "required", "opinions": "unions_views"}),
        ({"body_id": 2_000_000_000}, {"body_id": "not_found"}),
    ):
        err = refused_saving_nothing(
            session,
            lambda c=change: engine.record_consultation(
                leader, gate.id, **consultation(session, s.process_id, "Plan", TODAY, **c)
            ),
            InvalidData,
        )
        assert err.params["errors"] == expected
    # No veto: the unions' objection is recorded and the gate passes all the same.
    engine.record_consultation(
        leader,
        gate.id,
        **consultation(
            session,
            s.process_id,
            "Plan",
            TODAY,
            opinions="Kommunal invänder.",
            outcome="Arbetsgivaren går vidare",
        ),
    )
    session.commit()
    err = refused_saving_nothing(session, lambda: engine.adopt_plan(ctx, plan.id), GateUnmet)
    assert err.params == {"gate": "plan_actions"}  # a plan holds actions
    action = engine.add_action(ctx, plan.id, _fields(chef))
    engine.finish_action(ctx, action.id, result="Strök den", dropped=True)
    session.commit()
    err = refused_saving_nothing(session, lambda: engine.adopt_plan(ctx, plan.id), GateUnmet)
    assert err.params == {"gate": "plan_actions"}  # dropped actions do not count
    engine.add_action(ctx, plan.id, _fields(chef))
    engine.adopt_plan(ctx, plan.id)
    session.commit()
    assert plan.status == "adopted"
    refused_saving_nothing(session, lambda: engine.adopt_plan(ctx, plan.id), IllegalTransition)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_each_plan_gate_refusal_says_what_is_missing(lang):
    from api.messages import GATE_DETAILS, problem_text

    generic = problem_text(lang, "gate_unmet")[1]
    details = {gate: problem_text(lang, "gate_unmet", gate=gate)[1] for gate in GATE_DETAILS}
    assert generic not in details.values() and len(set(details.values())) == len(details)
    assert problem_text(lang, "gate_unmet", gate="some_step_gate")[1] == generic
    words = {
        "sv": {
            "risk_assessment": "riskbedömning",
            "plan_consultation": "samverkan",
            "plan_actions": "åtgärder",
        },
        "en": {
            "risk_assessment": "risk assessment",
            "plan_consultation": "samverkan consultation",
            "plan_actions": "no actions",
        },
    }[lang]
    for gate, word in words.items():
        assert word in details[gate], (gate, details[gate])
