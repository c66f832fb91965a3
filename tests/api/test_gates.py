"""Gates over the API: requirements and evidence, reject with a reason, approve, consultations."""

from __future__ import annotations

from tests.api.conftest import finish_live_tasks, to_step_approval


def test_gate_list_and_detail(client, world):
    h = world.h("processagare")
    gates = client.get(f"/api/v1/processes/{world.process_id}/gates", headers=h).json()
    assert {g["key"]: g["status"] for g in gates} == {
        "order": "approved", "samverkan_design": "pending", "step_approval": "pending"}
    order = next(g for g in gates if g["key"] == "order")
    assert order["decider"] == "bestallare" and order["decision"] == "approve"
    assert order["title"] == "Beställning av processen"
    one = client.get(f"/api/v1/gates/{order['id']}", headers={**h, "Accept-Language": "en"}).json()
    assert one["title"] == "Order of the process" and one["step_no"] == 1
    opened = client.get(f"/api/v1/processes/{world.process_id}/gates", headers=h,
                        params={"status": "open"}).json()
    assert opened == []


def test_reject_needs_a_reason_and_reopens_the_work(client, world):
    to_step_approval(world)
    gate = world.gate(1, "step_approval")
    h = world.h("processagare")
    assert client.get(f"/api/v1/gates/{gate.id}", headers=h).json()["may_decide"] is True
    no_reason = client.post(f"/api/v1/gates/{gate.id}/decide", headers=h,
                            json={"decision": "reject", "expected_version": gate.version})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    r = client.post(f"/api/v1/gates/{gate.id}/decide", headers=h, json={
        "decision": "reject", "reason": "Målen är för vaga", "expected_version": gate.version,
        "evidence": {"note": "se protokoll"}})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["reason"] == "Målen är för vaga"
    inbox = client.get("/api/v1/tasks", headers=world.h("processledare")).json()["items"]
    reopened = [t for t in inbox if t["reopen_reason"] == "Målen är för vaga"]
    assert {t["activity_key"] for t in reopened} == {"process_plan"}


def test_approval_opens_the_next_step(client, world):
    to_step_approval(world)
    gate = world.gate(1, "step_approval")
    stale = client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("processagare"),
                        json={"decision": "approve", "expected_version": gate.version + 1})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    r = client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("processagare"),
                    json={"decision": "approve", "expected_version": gate.version})
    assert r.status_code == 200
    state = client.get(f"/api/v1/processes/{world.process_id}", headers=world.h("processledare")).json()
    assert state["current_step_no"] == 2
    assert [s["status"] for s in state["steps"][:2]] == ["closed", "open"]  # flow ran after commit


def test_only_the_decider_decides(client, world):
    to_step_approval(world)
    gate = world.gate(1, "step_approval")
    body = {"decision": "approve", "expected_version": gate.version}
    for actor in ("processledare", "bestallare", "chef", "admin"):
        r = client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h(actor), json=body)
        assert r.status_code == 403, actor
    assert client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("foreign"),
                       json=body).status_code == 404
    assert world.gate(1, "step_approval").status == "open"


def test_a_delegate_in_force_decides(client, world, api_clock):
    to_step_approval(world)
    gate = world.gate(1, "step_approval")
    owner, chef = world.people["processagare"], world.people["chef"]
    r = client.post(f"/api/v1/processes/{world.process_id}/delegations", headers=world.h("processagare"),
                    json={"role": "processagare", "to_person_id": chef.id,
                          "starts_at": api_clock.now.isoformat(),
                          "ends_at": (api_clock.now.replace(year=2028)).isoformat()})
    assert r.status_code == 201, r.text
    body = {"decision": "approve", "expected_version": world.gate(1, "step_approval").version}
    assert client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("processagare"),
                       json=body).status_code == 403
    assert client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("chef"),
                       json=body).status_code == 200
    assert owner.id != chef.id


def test_record_a_consultation(client, world):
    finish_live_tasks(world)
    finish_live_tasks(world)
    gate = world.gate(1, "samverkan_design")
    assert gate.status == "open"
    body = {"subject": "Syfte och upplägg", "held_on": "2027-01-28",
            "participants": ["Vision", "Kommunal"], "outcome": "Parterna tillstyrker",
            "opinions": "Vision vill följa tidsplanen"}
    decide = client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("processagare"),
                         json={"decision": "approve", "expected_version": gate.version})
    assert decide.status_code == 409  # a consultation is recorded, not decided
    assert client.post(f"/api/v1/gates/{gate.id}/consultations", headers=world.h("chef"),
                       json=body).status_code == 403
    future = client.post(f"/api/v1/gates/{gate.id}/consultations", headers=world.h("processledare"),
                         json={**body, "held_on": "2030-01-01"})
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "held_on"
    r = client.post(f"/api/v1/gates/{gate.id}/consultations", headers=world.h("processledare"),
                    json=body)
    assert r.status_code == 201 and r.json()["participants"] == ["Vision", "Kommunal"]
    shown = client.get(f"/api/v1/gates/{gate.id}", headers=world.h("samverkan")).json()
    assert shown["status"] == "approved" and shown["consultations"][0]["outcome"] == "Parterna tillstyrker"
    assert shown["evidence"] == {"consultation_id": r.json()["id"]}
