"""Dela värld's areas feed the plans; bad action input is refused naming the field, nothing saved."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from flows import engine
from flows.errors import GateUnmet, InvalidData
from models import DevelopmentArea
from tests.helpers import NOW, ctx_for, start, walk_to
from tests.plans.support import RISK, assessment, refused_saving_nothing, unit_of, workplace_plan


def test_areas_are_recorded_at_dela_varld_and_plans_start_from_them(session):
    s = start(session, managers=3)
    leader, chef, other = s.person("processledare"), s.person("chef"), s.person("chef", 1)
    refused_saving_nothing(
        session,
        lambda: engine.record_development_areas(
            ctx_for(session, leader), s.process_id, [engine.AreaFields("Tid", "A")]
        ),
        GateUnmet,
    )
    walk_to(session, s.process_id, 7)
    ctx = ctx_for(session, leader)
    chef_unit = unit_of(session, s.process_id, chef, "chef")
    top_unit = unit_of(session, s.process_id, s.person("ledning"), "ledning")
    err = refused_saving_nothing(
        session,
        lambda: engine.record_development_areas(
            ctx,
            s.process_id,
            [
                engine.AreaFields("Tid för ledarskap", "A"),
                engine.AreaFields("", "D"),
                engine.AreaFields("Stöd", "C", unit_id=top_unit),
                engine.AreaFields("Mandat", "B", owner_id=chef),
            ],
        ),
        InvalidData,
    )
    assert err.params["errors"] == {
        "areas.1.title": "required",
        "areas.1.level": "invalid",
        "areas.2.unit_id": "level",
        "areas.3.owner_id": "no_mandate",
    }
    engine.record_development_areas(
        ctx,
        s.process_id,
        [
            engine.AreaFields("Tid för ledarskap", "A", goal="Mer tid", priority=1),
            engine.AreaFields("Administrativt stöd", "C", unit_id=chef_unit, priority=2),
        ],
    )
    session.commit()
    assert isinstance(engine.suggested_areas(session, s.process_id), list)
    walk_to(session, s.process_id, 8)
    plan = engine.create_plan(
        ctx_for(session, chef),
        s.process_id,
        level="C",
        owner_id=chef,
        unit_id=chef_unit,
        title="Arbetsplatsens plan",
    )
    session.commit()
    assert [a.title for a in engine.plan_areas(session, plan.id)] == ["Administrativt stöd"]
    err = refused_saving_nothing(
        session,
        lambda: engine.create_plan(
            ctx_for(session, other),
            s.process_id,
            level="C",
            owner_id=other,
            title="Annan plan",
            unit_id=unit_of(session, s.process_id, other, "chef"),
        ),
        InvalidData,
    )
    assert err.params["errors"] == {"level": "no_development_area"}
    fields = engine.ActionFields(
        development_area="Något annat",
        goal="Mål",
        description="Gör",
        responsible_id=chef,
        start_date=NOW.date(),
        end_date=NOW.date(),
    )
    err = refused_saving_nothing(
        session, lambda: engine.add_action(ctx_for(session, chef), plan.id, fields), InvalidData
    )
    assert err.params["errors"] == {"development_area": "not_a_plan_area"}
    area = session.scalar(select(DevelopmentArea).where(DevelopmentArea.level == "C"))
    engine.change_development_area(
        ctx, area.id, engine.AreaFields("Administrativt stöd", "C", goal="Ny", unit_id=chef_unit)
    )
    engine.update_plan(ctx_for(session, chef), plan.id, title="Arbetsplatsens handlingsplan")
    session.commit()
    history = engine.plan_history(session, plan.id)
    assert [(h.entity, h.action) for h in history][:3] == [
        ("plan", "created"),
        ("gate", "created"),
        ("plan", "changed"),
    ]
    assert history[-1].data["after"]["title"] == "Arbetsplatsens handlingsplan"
    assert history[0].actor_name is not None


def test_bad_action_input_names_each_field_and_saves_nothing(session):
    s, chef, ctx, plan = workplace_plan(session)
    session.commit()
    cases = [
        (
            {"responsible_id": None, "start_date": None, "end_date": None},
            {"responsible_id": "required", "start_date": "required", "end_date": "required"},
        ),
        ({"end_date": NOW.date() - timedelta(days=1)}, {"end_date": "before_start"}),
        ({"follow_up_date": date(2026, 12, 31)}, {"follow_up_date": "in_past"}),
        ({"goal": " ", "cost_estimate": -1.0}, {"goal": "required", "cost_estimate": "negative"}),
        (  # a follow-up before the action has even started
            {"start_date": NOW.date() + timedelta(days=10), "follow_up_date": NOW.date() + timedelta(days=5)},
            {"follow_up_date": "before_action_start"},
        ),
    ]
    good = dict(
        development_area="Stöd",
        goal="Mål",
        description="Gör",
        responsible_id=chef,
        start_date=NOW.date(),
        end_date=NOW.date() + timedelta(days=10),
    )
    for change, expected in cases:
        fields = engine.ActionFields(**{**good, **change})
        err = refused_saving_nothing(
            session, lambda f=fields: engine.add_action(ctx, plan.id, f), InvalidData
        )
        assert err.params["errors"] == expected
    action = engine.add_action(ctx, plan.id, engine.ActionFields(**good))
    session.commit()
    err = refused_saving_nothing(
        session,
        lambda: engine.change_action(ctx, action.id, engine.ActionFields(**{**good, "start_date": None})),
        InvalidData,
    )
    assert err.params["errors"] == {"start_date": "required"}
    err = refused_saving_nothing(
        session,
        lambda: engine.record_risk_assessment(
            ctx, action.id, **assessment(session, s.process_id, risks=[{**RISK, "likelihood": 9}])
        ),
        InvalidData,
    )
    assert err.params["errors"] == {"risks.0.likelihood": "invalid"}
    err = refused_saving_nothing(session, lambda: engine.start_action(ctx, action.id), GateUnmet)
    assert err.params == {"gate": "risk_assessment"}
