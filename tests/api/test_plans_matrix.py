"""The authorisation matrix of the plan and action routes, on one process walked to step 8."""

from __future__ import annotations

from sqlalchemy import select

from flows import engine
from models import Action, ActionPlan
from tests import helpers
from tests.api.conftest import World
from tests.api.test_matrix import IN_ORG, Case, only, run_case
from tests.api.test_plans import action_body, consultation_body, risk_body, step8  # noqa: F401

P = "/api/v1"
WORKERS = ("chef", "processledare", "processagare")  # plan owner / responsible, and the runners


def plan_id(w: World) -> int:
    return w.session.scalar(select(ActionPlan.id).order_by(ActionPlan.id))


def action(w: World) -> Action:
    w.session.expire_all()
    return w.session.scalar(select(Action).order_by(Action.id))


def _assess_and_approve(w: World) -> None:
    a = action(w)
    chef = w.people["chef"].id
    engine.record_risk_assessment(helpers.ctx_for(w.session, chef), a.id, **risk_body(w))
    gate = engine.actions.risk_gate(helpers.ctx_for(w.session, chef), a)
    engine.decide_gate(helpers.ctx_for(w.session, w.people["processagare"].id), gate.id, "approve")
    w.session.commit()


def _consulted(w: World) -> None:
    plan = w.session.get(ActionPlan, plan_id(w))
    gate = engine.actions.plan_gate(helpers.ctx_for(w.session, None), plan)
    ctx = helpers.ctx_for(w.session, w.people["processledare"].id, w.now)
    body = consultation_body(w)
    engine.record_consultation(ctx, gate.id, **{**body, "held_on": w.now.date()})
    w.session.commit()


def _plan_body(w: World) -> dict:
    chef = w.people["chef"]
    return {"level": "C", "owner_id": chef.id, "title": "Plan", "unit_id": chef.unit_id}


PLAN_CASES = [
    Case("plans", "GET", lambda w: f"{P}/processes/{w.process_id}/plans", IN_ORG,
         route="/api/v1/processes/{process_id}/plans"),
    Case("plan create", "POST", lambda w: f"{P}/processes/{w.process_id}/plans", only(*WORKERS),
         body=_plan_body, route="/api/v1/processes/{process_id}/plans"),
    Case("plan", "GET", lambda w: f"{P}/plans/{plan_id(w)}", IN_ORG, route="/api/v1/plans/{plan_id}"),
    Case("action add", "POST", lambda w: f"{P}/plans/{plan_id(w)}/actions", only(*WORKERS),
         body=lambda w: action_body(w, plan_id(w)), route="/api/v1/plans/{plan_id}/actions"),
    Case("action", "GET", lambda w: f"{P}/actions/{action(w).id}", IN_ORG,
         route="/api/v1/actions/{action_id}"),
    Case("action change", "PUT", lambda w: f"{P}/actions/{action(w).id}", only(*WORKERS),
         body=lambda w: {**action_body(w, plan_id(w), goal="Nytt mål"),
                         "expected_version": action(w).version},
         route="/api/v1/actions/{action_id}"),
    Case("risk assessments", "GET", lambda w: f"{P}/actions/{action(w).id}/risk-assessments", IN_ORG,
         route="/api/v1/actions/{action_id}/risk-assessments"),
    Case("risk assess", "POST", lambda w: f"{P}/actions/{action(w).id}/risk-assessments",
         only(*WORKERS), body=risk_body,
         route="/api/v1/actions/{action_id}/risk-assessments"),
    Case("action start", "POST", lambda w: f"{P}/actions/{action(w).id}/start", only(*WORKERS),
         body=lambda w: {}, prepare=_assess_and_approve, route="/api/v1/actions/{action_id}/start"),
    Case("action finish", "POST", lambda w: f"{P}/actions/{action(w).id}/finish", only(*WORKERS),
         body=lambda w: {"result": "Klart"}, route="/api/v1/actions/{action_id}/finish"),
    Case("plan adopt", "POST", lambda w: f"{P}/plans/{plan_id(w)}/adopt",
         only("chef", "processagare"), body=lambda w: {}, prepare=_consulted,
         route="/api/v1/plans/{plan_id}/adopt"),
]


def test_plan_routes_authorisation_matrix(client, step8):  # noqa: F811
    for case in PLAN_CASES:
        run_case(client, step8, case)
    step8.session.expire_all()
    assert step8.session.get(ActionPlan, plan_id(step8)).status == "adopted"
    assert action(step8).status == "done"
