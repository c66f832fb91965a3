"""Development areas, plan changes and history, follow-up, evaluation, cycles and downloads over the API."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select

from flows import engine
from models import Action, ActionPlan, DevelopmentArea
from tests import helpers
from tests.api.conftest import World
from tests.api.test_plans import AREA, consultation_body, risk_body, step8  # noqa: F401

P = "/api/v1"


def ctx(w: World, actor: str):
    return helpers.ctx_for(w.session, w.people[actor].id, w.now)


def adopted_plan(w: World, *, started: bool = True) -> tuple[ActionPlan, Action]:
    """A workplace plan from the area, adopted after its consultation, with one approved action."""
    chef = w.people["chef"]
    plan = engine.create_plan(ctx(w, "chef"), w.process_id, level="C", owner_id=chef.id,
                              title="Plan för enheten", unit_id=chef.unit_id)
    today = w.now.date()
    action = engine.add_action(ctx(w, "chef"), plan.id, engine.ActionFields(
        development_area=AREA, goal="Högst 30 per chef", description="Dela upp enheten",
        responsible_id=chef.id, start_date=today + timedelta(days=1), end_date=today + timedelta(days=90)))
    engine.record_risk_assessment(ctx(w, "chef"), action.id, **risk_body(w))
    gate = engine.actions.risk_gate(ctx(w, "chef"), action)
    engine.decide_gate(ctx(w, "processagare"), gate.id, "approve")
    consultation = engine.actions.plan_gate(ctx(w, "chef"), plan)
    engine.record_consultation(ctx(w, "processledare"), consultation.id,
                               **{**consultation_body(w), "held_on": w.now.date()})
    engine.adopt_plan(ctx(w, "chef"), plan.id)
    if started:
        engine.start_action(ctx(w, "chef"), action.id)
    w.session.commit()
    return plan, action


@pytest.fixture
def areas8(step8) -> World:  # noqa: F811
    """Step 8 with one development area recorded for the chef's workplace (by the step-8 walk)."""
    return step8


def fields_of(r) -> dict[str, str]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return {e["field"]: e["reason"] for e in r.json()["errors"]}


def test_development_areas_are_recorded_changed_and_withdrawn(client, step8):  # noqa: F811
    w, h = step8, step8.h("processledare")
    listed = client.get(f"{P}/processes/{w.process_id}/development-areas", headers=h)
    assert listed.status_code == 200 and [a["title"] for a in listed.json()["areas"]] == [AREA]
    assert isinstance(listed.json()["suggestions"], list)
    chef = w.people["chef"]
    bad = client.post(f"{P}/processes/{w.process_id}/development-areas", headers=h, json={"areas": [
        {"title": "Ok", "level": "C", "unit_id": chef.unit_id},
        {"title": "  ", "level": "X"}]})
    assert bad.status_code == 422 and {"areas.1.title", "areas.1.level"} <= set(fields_of(bad))
    other = client.post(f"{P}/processes/{w.process_id}/development-areas", headers=h, json={"areas": [
        {"title": "Fel enhet", "level": "C", "unit_id": 2_000_000_000}]})
    assert other.status_code == 422 and fields_of(other) == {"areas.0.unit_id": "not_found"}
    assert len(client.get(f"{P}/processes/{w.process_id}/development-areas",
                          headers=h).json()["areas"]) == 1  # nothing half-saved
    made = client.post(f"{P}/processes/{w.process_id}/development-areas", headers=h, json={"areas": [
        {"title": "Ledarskap", "level": "C", "unit_id": chef.unit_id, "goal": "Mål"}]})
    assert made.status_code == 201, made.text
    area = made.json()[0]
    assert client.post(f"{P}/processes/{w.process_id}/development-areas", headers=w.h("chef"),
                       json={"areas": [{"title": "X", "level": "C"}]}).status_code == 403
    changed = client.put(f"{P}/development-areas/{area['id']}", headers=h, json={
        "title": "Ny titel", "level": "C", "unit_id": chef.unit_id, "expected_version": area["version"]})
    assert changed.status_code == 200 and changed.json()["title"] == "Ny titel"
    stale = client.put(f"{P}/development-areas/{area['id']}", headers=h, json={
        "title": "Igen", "level": "C", "expected_version": area["version"]})
    assert stale.status_code == 409
    blank = client.post(f"{P}/development-areas/{area['id']}/withdraw", headers=h, json={"reason": " "})
    assert blank.status_code == 422 and fields_of(blank) == {"reason": "required"}
    gone = client.post(f"{P}/development-areas/{area['id']}/withdraw", headers=h, json={"reason": "Klar"})
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    again = client.post(f"{P}/development-areas/{area['id']}/withdraw", headers=h, json={"reason": "Klar"})
    assert again.status_code == 409
    foreign = w.h("foreign")
    assert client.put(f"{P}/development-areas/{area['id']}", headers=foreign,
                      json={"title": "X", "level": "C"}).status_code == 404
    assert client.get(f"{P}/processes/{w.process_id}/development-areas",
                      headers=foreign).status_code == 404


def test_plan_update_and_history(client, areas8):
    w = areas8
    plan, _ = adopted_plan(w)
    h = w.h("chef")
    r = client.patch(f"{P}/plans/{plan.id}", headers=h, json={"title": "Ny plan",
                                                               "expected_version": plan.version})
    assert r.status_code == 200 and r.json()["title"] == "Ny plan"
    stale = client.patch(f"{P}/plans/{plan.id}", headers=h, json={"title": "X", "expected_version": 1})
    assert stale.status_code == 409
    blank = client.patch(f"{P}/plans/{plan.id}", headers=h, json={"title": ""})
    assert blank.status_code == 422 and fields_of(blank) == {"title": "required"}
    assert client.patch(f"{P}/plans/{plan.id}", headers=w.h("samverkan"), json={"title": "X"}
                        ).status_code == 403
    history = client.get(f"{P}/plans/{plan.id}/history", headers=h)
    assert history.status_code == 200
    actions = [(e["entity"], e["action"]) for e in history.json()]
    assert ("plan", "changed") in actions and ("risk_assessment", "recorded") in actions
    assert any(e["entity"] == "action" for e in history.json())
    assert client.get(f"{P}/plans/{plan.id}/history", headers=w.h("foreign")).status_code == 404


def test_follow_up_is_scheduled_and_recorded_with_five_questions(client, areas8):
    w = areas8
    plan, action = adopted_plan(w)
    h, today = w.h("chef"), w.now.date()
    past = client.post(f"{P}/plans/{plan.id}/follow-ups", headers=h,
                       json={"on": (today - timedelta(days=1)).isoformat()})
    assert past.status_code == 422 and fields_of(past) == {"on": "in_past"}
    meeting = client.post(f"{P}/plans/{plan.id}/follow-ups", headers=h,
                          json={"on": (today + timedelta(days=14)).isoformat(), "location": "Rum 1"})
    assert meeting.status_code == 201, meeting.text
    assert meeting.json()["status"] == "scheduled"
    record = {"held_on": today.isoformat(), "participants": ["Chef", "Skyddsombud"],
              "next_follow_up_on": (today + timedelta(days=90)).isoformat(), "reviews": []}
    missing = client.post(f"{P}/plans/{plan.id}/follow-ups/record", headers=h, json=record)
    assert missing.status_code == 422 and fields_of(missing) == {"reviews": "missing_reviews"}
    assert str(action.id) in missing.json()["errors"][0]["message"]
    wrong = client.post(f"{P}/plans/{plan.id}/follow-ups/record", headers=h, json={
        **record, "reviews": [{"action_id": action.id, "carried_out": "kanske", "intended_effect": "yes",
                               "served_goals": "yes", "learned": "x"}]})
    assert wrong.status_code == 422 and "reviews.0.carried_out" in fields_of(wrong)
    review = {"action_id": action.id, "carried_out": "yes", "intended_effect": "partly",
              "served_goals": "yes", "learned": "Mindre grupper hjälper", "other_effects": "Färre sjuk"}
    held = client.post(f"{P}/plans/{plan.id}/follow-ups/record", headers=h,
                       json={**record, "reviews": [review]})
    assert held.status_code == 201, held.text
    body = held.json()
    assert body["status"] == "held" and body["reviews"][0]["learned"] == "Mindre grupper hjälper"
    listed = client.get(f"{P}/plans/{plan.id}/follow-ups", headers=w.h("samverkan")).json()
    assert [m["status"] for m in listed] == ["held", "scheduled"]
    assert client.get(f"{P}/plans/{plan.id}/follow-ups", headers=w.h("foreign")).status_code == 404


def test_follow_up_needs_an_adopted_plan(client, areas8):
    w = areas8
    chef = w.people["chef"]
    plan = engine.create_plan(ctx(w, "chef"), w.process_id, level="C", owner_id=chef.id, title="Utkast",
                              unit_id=chef.unit_id)
    w.session.commit()
    r = client.post(f"{P}/plans/{plan.id}/follow-ups", headers=w.h("chef"),
                    json={"on": (w.now.date() + timedelta(days=3)).isoformat()})
    assert r.status_code == 409


def test_evaluation_and_new_cycle_refuse_too_early(client, areas8):
    w = areas8
    body = {"what_worked": "Samverkan", "what_to_change": "Tidplanen"}
    early = client.post(f"{P}/processes/{w.process_id}/evaluations", headers=w.h("processagare"), json=body)
    assert early.status_code == 409 and early.json()["code"] == "gate_unmet"
    blank = client.post(f"{P}/processes/{w.process_id}/evaluations", headers=w.h("processagare"),
                        json={"what_worked": "", "what_to_change": "x"})
    assert blank.status_code == 422 and "what_worked" in fields_of(blank)
    assert client.post(f"{P}/processes/{w.process_id}/evaluations", headers=w.h("chef"),
                       json=body).status_code == 403
    assert client.get(f"{P}/processes/{w.process_id}/evaluations",
                      headers=w.h("chef")).json() == []
    cycle = client.post(f"{P}/processes/{w.process_id}/next-cycle", headers=w.h("processagare"), json={})
    assert cycle.status_code == 409
    assert client.post(f"{P}/processes/{w.process_id}/next-cycle", headers=w.h("foreign"),
                       json={}).status_code == 404


def test_downloads_open(client, areas8):
    w = areas8
    plan, _ = adopted_plan(w)
    h = w.h("samverkan")
    pdf = client.get(f"{P}/plans/{plan.id}/export.pdf", headers=h)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    csv = client.get(f"{P}/plans/{plan.id}/export.csv", headers=h)
    assert csv.status_code == 200 and "Dela upp enheten" in csv.text
    xlsx = client.get(f"{P}/plans/{plan.id}/export.xlsx", headers=h)
    assert xlsx.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).sheetnames
    pack = client.get(f"{P}/processes/{w.process_id}/evidence-pack.pdf", headers=h)
    assert pack.status_code == 200 and pack.content.startswith(b"%PDF")
    for path in (f"/plans/{plan.id}/export.pdf", f"/processes/{w.process_id}/evidence-pack.pdf"):
        assert client.get(P + path, headers=w.h("foreign")).status_code == 404


def test_unknown_ids_are_404(client, areas8):
    h = areas8.h("processledare")
    for path in ("/plans/2000000000/history", "/plans/2000000000/follow-ups",
                 "/plans/2000000000/export.csv", "/processes/2000000000/evidence-pack.pdf",
                 "/processes/2000000000/development-areas"):
        assert client.get(P + path, headers=h).status_code == 404, path
    assert client.put(f"{P}/development-areas/2000000000", headers=h,
                      json={"title": "X", "level": "C"}).status_code == 404
    assert areas8.session.scalar(select(DevelopmentArea.id)) is not None
