"""Action plans, actions and risk assessments over the API (a process walked to step 8)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import AuditEvent, Person, RoleAssignment, Unit
from tests import helpers
from tests.api.conftest import Clock, World, bearer, build_world, world_from_template

AREA = "Arbetsbelastning i hemtjänsten"


def walk_to_step_8(session: Session) -> World:
    """The standard world walked, everything approved, to step 8, with a development area for the
    chef's workplace."""
    from flows import engine

    built = build_world(session)
    helpers.walk_to(session, built.process_id, 8)
    chef, leader = built.people["chef"], built.people["processledare"]
    last = session.scalar(select(func.max(AuditEvent.at)))
    engine.record_development_areas(helpers.ctx_for(session, leader.id, last), built.process_id, [
        engine.AreaFields(title=AREA, level="C", goal="Hållbar belastning", unit_id=chef.unit_id)])
    session.commit()
    return built


@pytest.fixture
def step8(session, api_clock: Clock) -> World:
    """The world with its process walked (approving everything) to step 8."""
    world = world_from_template(session, "step8", walk_to_step_8)
    last = session.scalar(select(func.max(AuditEvent.at)))
    world.now = api_clock.now = last + timedelta(days=1)
    return world


def plan_area(world: World, plan_id: int) -> str:
    """The title of a development area the plan was made for (actions must name one)."""
    from flows.engine.areas import plan_areas

    world.session.expire_all()
    return plan_areas(world.session, plan_id)[0].title


def action_body(world: World, plan_id: int, **changes) -> dict:
    today = world.now.date()
    return {"development_area": plan_area(world, plan_id), "goal": "Högst 30 per chef",
            "description": "Dela upp enheten i två", "responsible_id": world.people["chef"].id,
            "start_date": (today + timedelta(days=30)).isoformat(),
            "end_date": (today + timedelta(days=120)).isoformat(),
            "follow_up_date": (today + timedelta(days=150)).isoformat(),
            "cost_estimate": 125000.0, **changes}


def safety_rep(world: World) -> str:
    """The name of a skyddsombud of the world's process."""
    from models import Person, RoleAssignment

    return world.session.get(Person, world.session.scalar(select(RoleAssignment.person_id).where(
        RoleAssignment.process_id == world.process_id, RoleAssignment.role == "skyddsombud")
        .order_by(RoleAssignment.id))).name


def risk_body(world: World, **changes) -> dict:
    rep = safety_rep(world)
    return {"risks": [{"risk": "Oro i arbetsgruppen", "likelihood": 3, "consequence": 2,
                       "measure": "Tät information"}],
            "participants": ["Enhetschef", rep], "safety_representative": rep,
            "conclusion": "Acceptabel risk med åtgärder", **changes}


def samverkan_body_id(world: World) -> int:
    from models import RoleAssignment

    return world.session.scalar(select(RoleAssignment.body_id).where(
        RoleAssignment.process_id == world.process_id, RoleAssignment.role == "samverkan"))


def consultation_body(world: World, **changes) -> dict:
    return {"subject": "Handlingsplan", "held_on": world.now.date().isoformat(),
            "participants": ["Vision"], "outcome": "Samverkad", "opinions": "Inga invändningar",
            "body_id": samverkan_body_id(world), **changes}


def make_plan(client, world: World) -> dict:
    chef = world.people["chef"]
    r = client.post(f"/api/v1/processes/{world.process_id}/plans", headers=world.h("processledare"),
                    json={"level": "C", "owner_id": chef.id, "title": "Plan för enheten",
                          "unit_id": chef.unit_id})
    assert r.status_code == 201, r.text
    return r.json()


def test_plans_need_step_8(client, world):
    chef = world.people["chef"]
    r = client.post(f"/api/v1/processes/{world.process_id}/plans", headers=world.h("processledare"),
                    json={"level": "C", "owner_id": chef.id, "title": "För tidigt"})
    assert r.status_code == 409 and r.json()["code"] == "gate_unmet"


def test_plan_with_an_action_through_risk_assessment_to_done(client, step8):
    world = step8
    plan = make_plan(client, world)
    assert plan["status"] == "draft" and plan["gate"]["kind"] == "consultation"
    chef_h, owner_h = world.h("chef"), world.h("processagare")
    action = client.post(f"/api/v1/plans/{plan['id']}/actions", headers=chef_h,
                         json=action_body(world, plan["id"]))
    assert action.status_code == 201, action.text
    a = action.json()
    assert a["status"] == "planned" and a["gate"]["key"] == "risk_assessment"
    early = client.post(f"/api/v1/actions/{a['id']}/start", headers=chef_h, json={})
    assert early.status_code == 409 and early.json()["code"] == "gate_unmet"
    early = early.json()
    assert early["params"]["gate"] == "risk_assessment" and "riskbedömning" in early["detail"]
    risk = client.post(f"/api/v1/actions/{a['id']}/risk-assessments", headers=chef_h, json=risk_body(world))
    assert risk.status_code == 201, risk.text
    gate_id = a["gate"]["id"]
    gate = client.get(f"/api/v1/gates/{gate_id}", headers=owner_h).json()
    assert gate["risk_assessments"][0]["safety_representative"] == safety_rep(world)
    assert gate["may_decide"] is True
    assert client.post(f"/api/v1/gates/{gate_id}/decide", headers=chef_h, json={
        "decision": "approve", "expected_version": gate["version"]}).status_code == 403
    ok = client.post(f"/api/v1/gates/{gate_id}/decide", headers=owner_h,
                     json={"decision": "approve", "expected_version": gate["version"]})
    assert ok.status_code == 200, ok.text
    started = client.post(f"/api/v1/actions/{a['id']}/start", headers=chef_h, json={})
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    done = client.post(f"/api/v1/actions/{a['id']}/finish", headers=chef_h,
                       json={"result": "Två enheter från 1 oktober"})
    assert done.json()["status"] == "done" and done.json()["result"] == "Två enheter från 1 oktober"
    listed = client.get(f"/api/v1/actions/{a['id']}/risk-assessments", headers=world.h("samverkan"))
    assert len(listed.json()) == 1


def test_changing_an_action_needs_a_new_assessment(client, step8):
    world = step8
    plan = make_plan(client, world)
    a = client.post(f"/api/v1/plans/{plan['id']}/actions", headers=world.h("chef"),
                    json=action_body(world, plan["id"])).json()
    changed = client.put(f"/api/v1/actions/{a['id']}", headers=world.h("chef"),
                         json={**action_body(world, plan["id"], goal="Högst 25 per chef"),
                               "expected_version": a["version"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["revision"] == 2 and body["gate"]["id"] != a["gate"]["id"]
    stale = client.put(f"/api/v1/actions/{a['id']}", headers=world.h("chef"),
                       json={**action_body(world, plan["id"]), "expected_version": a["version"]})
    assert stale.status_code == 409
    invalid = client.put(f"/api/v1/actions/{a['id']}", headers=world.h("chef"), json={
        **action_body(world, plan["id"], end_date="2027-01-01"), "expected_version": body["version"]})
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["field"] == "end_date"
    outsider = client.put(f"/api/v1/actions/{a['id']}", headers=world.h("bestallare"),
                          json={**action_body(world, plan["id"]), "expected_version": body["version"]})
    assert outsider.status_code == 403


def test_plan_is_adopted_after_its_consultation(client, step8):
    world = step8
    plan = make_plan(client, world)
    adopt = client.post(f"/api/v1/plans/{plan['id']}/adopt", headers=world.h("chef"),
                        json={"expected_version": plan["version"]})
    assert adopt.status_code == 409 and adopt.json()["code"] == "gate_unmet"
    assert adopt.json()["params"]["gate"] == "plan_actions"  # an empty plan is not adopted
    added = client.post(f"/api/v1/plans/{plan['id']}/actions", headers=world.h("chef"),
                        json=action_body(world, plan["id"]))
    assert added.status_code == 201, added.text
    adopt = client.post(f"/api/v1/plans/{plan['id']}/adopt",
                        headers=world.h("chef") | {"Accept-Language": "en"}, json={})
    assert adopt.status_code == 409 and adopt.json()["params"]["gate"] == "plan_consultation"
    assert "no recorded samverkan consultation" in adopt.json()["detail"]
    gate_url = f"/api/v1/gates/{plan['gate']['id']}/consultations"
    incomplete = client.post(gate_url, headers=world.h("processledare"),
                             json=consultation_body(world, opinions="", body_id=None))
    assert incomplete.status_code == 422
    messages = {e["field"]: e["message"] for e in incomplete.json()["errors"]}
    assert messages == {"body_id": "Organ: Fältet måste fyllas i.",
                        "opinions": "Synpunkter: Dokumentera de fackliga organisationernas synpunkter, "
                                    "även om de inte hade några invändningar."}
    consult = client.post(gate_url, headers=world.h("processledare"), json=consultation_body(world))
    assert consult.status_code == 201, consult.text
    assert client.post(f"/api/v1/plans/{plan['id']}/adopt", headers=world.h("processledare"),
                       json={}).status_code == 403
    adopted = client.post(f"/api/v1/plans/{plan['id']}/adopt", headers=world.h("chef"), json={})
    assert adopted.status_code == 200 and adopted.json()["status"] == "adopted"
    plans = client.get(f"/api/v1/processes/{world.process_id}/plans", headers=world.h("samverkan")).json()
    assert [p["status"] for p in plans] == ["adopted"]
    detail = client.get(f"/api/v1/plans/{plan['id']}", headers=world.h("chef")).json()
    assert len(detail["actions"]) == 1 and detail["gate"]["status"] == "approved"


def test_plan_owner_must_hold_the_level_role(client, step8):
    world = step8
    r = client.post(f"/api/v1/processes/{world.process_id}/plans", headers=world.h("processledare"),
                    json={"level": "A", "owner_id": world.people["chef"].id, "title": "Fel ägare"})
    assert r.status_code == 403 and r.json()["code"] == "not_role_holder"


def test_plan_owner_needs_the_role_for_the_plans_unit(client, step8):
    world = step8
    chef = world.people["chef"]
    url = f"/api/v1/processes/{world.process_id}/plans"
    body = {"level": "C", "owner_id": chef.id, "title": "Plan"}
    missing = client.post(url, headers=world.h("processledare"), json=body)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "unit_id"
    other = world.session.scalar(select(Unit.id).where(
        Unit.organisation_id == chef.organisation_id, Unit.level == "C", Unit.id != chef.unit_id))
    r = client.post(url, headers=world.h("processledare") | {"Accept-Language": "en"},
                    json={**body, "unit_id": other})
    assert r.status_code == 422 and r.json()["errors"] == [{
        "field": "owner_id", "reason": "no_unit_mandate",
        "message": "Owner: The owner holds no mandate for this unit: the plan belongs to the manager "
                   "of the unit."}]


def test_risk_assessment_content_and_who_records_it(client, step8):
    world = step8
    plan = make_plan(client, world)
    a = client.post(f"/api/v1/plans/{plan['id']}/actions", headers=world.h("chef"),
                    json=action_body(world, plan["id"])).json()
    url = f"/api/v1/actions/{a['id']}/risk-assessments"
    empty = client.post(url, headers=world.h("chef"), json=risk_body(world, risks=[], participants=[]))
    assert empty.status_code == 422
    assert {(e["field"], e["reason"]) for e in empty.json()["errors"]} == {
        ("risks", "required"), ("participants", "required")}
    partial = client.post(url, headers=world.h("chef"), json=risk_body(world, risks=[{"risk": "Oro"}]))
    assert partial.status_code == 422
    assert {e["field"]: e["message"] for e in partial.json()["errors"]} == {
        "risks.0.likelihood": "Sannolikhet: Fältet måste fyllas i.",
        "risks.0.consequence": "Konsekvens: Fältet måste fyllas i.",
        "risks.0.measure": "Åtgärd mot risken: Fältet måste fyllas i."}
    absent = client.post(url, headers=world.h("chef"), json=risk_body(world, participants=["Enhetschef"]))
    assert absent.status_code == 422 and absent.json()["errors"] == [{
        "field": "safety_representative", "reason": "not_a_participant",
        "message": "Skyddsombud: Skyddsombudet måste vara en av deltagarna."}]
    stranger = client.post(url, headers=world.h("chef"), json=risk_body(
        world, participants=["Enhetschef", "Kim Okänd"], safety_representative="Kim Okänd"))
    assert stranger.status_code == 422
    assert stranger.json()["errors"][0]["reason"] == "not_a_safety_representative"
    # A skyddsombud of the process records it; the bestallare (no part in the plan) may not.
    assert client.post(url, headers=world.h("bestallare"), json=risk_body(world)).status_code == 403
    rep_id = world.session.scalar(select(RoleAssignment.person_id).where(
        RoleAssignment.process_id == world.process_id, RoleAssignment.role == "skyddsombud"))
    rep_h = bearer(world.session, world.session.get(Person, rep_id))
    recorded = client.post(url, headers=rep_h, json=risk_body(world))
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["recorded_by_id"] == rep_id
