"""Processes, steps, the timeline, role assignments and delegations over the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import Person, RoleAssignment
from tests.api.conftest import World


def roster_of(world: World) -> list[dict]:
    """A full roster from the people of the world's process."""
    assignments = world.session.scalars(select(RoleAssignment).where(
        RoleAssignment.process_id == world.process_id))
    return [{"role": a.role, "person_id": a.person_id, "body_id": a.body_id} for a in assignments]


def test_list_processes_by_visibility(client, world):
    mine = client.get("/api/v1/processes", headers=world.h("chef")).json()
    assert [p["id"] for p in mine["items"]] == [world.process_id] and mine["total"] == 1
    assert client.get("/api/v1/processes", headers=world.h("admin")).json()["total"] == 1
    theirs = client.get("/api/v1/processes", headers=world.h("foreign")).json()
    assert [p["id"] for p in theirs["items"]] == [world.foreign_process_id]
    assert client.get("/api/v1/processes", headers=world.h("chef"),
                      params={"status": "completed"}).json()["total"] == 0


def test_a_person_outside_the_process_does_not_see_it(client, world):
    outsider = Person(organisation_id=world.people["chef"].organisation_id, name="Olle Utanför",
                      email="olle@test.se")
    world.session.add(outsider)
    world.session.commit()
    world.people["outsider"] = outsider
    assert client.get("/api/v1/processes", headers=world.h("outsider")).json()["total"] == 0
    assert client.get(f"/api/v1/processes/{world.process_id}",
                      headers=world.h("outsider")).status_code == 404


def test_process_state_with_steps(client, world):
    r = client.get(f"/api/v1/processes/{world.process_id}", headers=world.h("processagare"))
    state = r.json()
    assert state["my_roles"] == ["ledning", "processagare", "samverkan"]
    assert len(state["steps"]) == 9 and state["steps"][0]["status"] == "open"
    assert state["steps"][0]["open_tasks"] == 2
    assert {g["key"] for g in state["steps"][0]["gates"]} == {"order", "samverkan_design", "step_approval"}
    steps = client.get(f"/api/v1/processes/{world.process_id}/steps", headers=world.h("chef")).json()
    assert [s["step_no"] for s in steps] == list(range(1, 10))
    detail = client.get(f"/api/v1/steps/{steps[0]['id']}", headers={**world.h("chef"),
                                                                    "Accept-Language": "en"}).json()
    assert detail["title"] == "Start and needs inventory"
    assert {a["key"] for a in detail["activities"]} >= {"process_plan", "needs_inventory"}
    assert {t["activity_key"] for t in detail["tasks"]} == {"appoint_roles", "process_plan"}
    foreign_step = client.get(f"/api/v1/steps/{steps[0]['id']}", headers=world.h("foreign"))
    assert foreign_step.status_code == 404


def test_start_a_process(client, world):
    body = {"name": "Chefoskopet 2028", "roster": roster_of(world)}
    refused = client.post("/api/v1/processes", headers=world.h("processagare"), json=body)
    assert refused.status_code == 403
    r = client.post("/api/v1/processes", headers=world.h("admin"), json=body)
    assert r.status_code == 201, r.text
    state = r.json()
    assert state["name"] == "Chefoskopet 2028" and state["status"] == "running"
    assert state["steps"][0]["status"] == "queued"  # its flow starts after the commit
    again = client.get(f"/api/v1/processes/{state['id']}", headers=world.h("admin")).json()
    assert again["steps"][0]["status"] == "open"


def test_start_refuses_a_bad_roster_naming_each_entry(client, world):
    foreign = world.people["foreign"]
    body = {"name": "X", "roster": [{"role": "kung", "person_id": foreign.id},
                                    {"role": "chef"}]}
    r = client.post("/api/v1/processes", headers=world.h("admin"), json=body)
    assert r.status_code == 422
    assert {(e["field"], e["reason"]) for e in r.json()["errors"]} == {
        ("roster.0.role", "unknown_role"), ("roster.0.person_id", "not_found"),
        ("roster.1.person_id", "person_xor_body")}
    missing = client.post("/api/v1/processes", headers=world.h("admin"),
                          json={"name": "X", "roster": roster_of(world)[:2]})
    assert missing.status_code == 422 and missing.json()["errors"][0]["reason"] == "missing_roles"


def test_timeline(client, world):
    r = client.get(f"/api/v1/processes/{world.process_id}/timeline", headers=world.h("chef"),
                   params={"limit": 5})
    page = r.json()
    assert page["total"] > 5 and len(page["items"]) == 5
    first = page["items"][0]
    assert first["entity"] == "process" and first["action"] == "started"
    assert first["actor_name"] == world.people["processledare"].name
    assert client.get(f"/api/v1/processes/{world.process_id}/timeline",
                      headers=world.h("foreign")).status_code == 404


def test_cancel_a_process(client, world):
    url = f"/api/v1/processes/{world.process_id}/cancel"
    assert client.post(url, headers=world.h("processledare"), json={"reason": "x"}).status_code == 403
    assert client.post(url, headers=world.h("processagare"), json={"reason": " "}).status_code == 422
    r = client.post(url, headers=world.h("processagare"), json={"reason": "Omorganisation"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert client.get("/api/v1/tasks", headers=world.h("processledare")).json()["total"] == 0
    again = client.post(url, headers=world.h("processagare"), json={"reason": "igen"})
    assert again.status_code == 409


def test_role_assignments(client, world):
    url = f"/api/v1/processes/{world.process_id}/roles"
    roster = client.get(url, headers=world.h("chef")).json()
    assert {"processagare", "processledare", "samverkan"} <= {a["role"] for a in roster}
    assert all(a["active"] for a in roster)
    newcomer = world.people["admin"]
    body = {"role": "processledare", "person_id": newcomer.id}
    assert client.post(url, headers=world.h("chef"), json=body).status_code == 403
    r = client.post(url, headers=world.h("processagare"), json=body)
    assert r.status_code == 201 and r.json()["person_name"] == "Ada Admin"
    task = world.task("process_plan")
    assert newcomer.id in {c.person_id for c in task.candidates}  # open tasks follow
    unknown = client.post(url, headers=world.h("processagare"), json={"role": "kung", "person_id": 1})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "role"
    end = client.post(f"/api/v1/role-assignments/{r.json()['id']}/end", headers=world.h("processledare"))
    assert end.status_code == 200 and end.json()["active"] is False
    assert client.post(f"/api/v1/role-assignments/{r.json()['id']}/end",
                       headers=world.h("processledare")).status_code == 422
    assert len(client.get(url, headers=world.h("chef"), params={"active": False}).json()) == 1


def test_delegations(client, world, api_clock):
    url = f"/api/v1/processes/{world.process_id}/delegations"
    leader, chef = world.people["processledare"], world.people["chef"]
    period = {"starts_at": api_clock.now.isoformat(),
              "ends_at": (api_clock.now + timedelta(days=7)).isoformat()}
    body = {"role": "processledare", "to_person_id": chef.id, "reason": "Semester", **period}
    r = client.post(url, headers=world.h("processledare"), json=body)
    assert r.status_code == 201 and r.json()["in_force"] is True
    assert r.json()["from_person_id"] == leader.id
    on_behalf = client.post(url, headers=world.h("chef"), json={**body, "from_person_id": leader.id})
    assert on_behalf.status_code == 403
    backwards = client.post(url, headers=world.h("processagare"), json={
        **body, "role": "processagare", "ends_at": period["starts_at"],
        "starts_at": period["ends_at"]})
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "ends_at"
    listed = client.get(url, headers=world.h("bestallare")).json()
    assert [d["id"] for d in listed] == [r.json()["id"]]
    assert client.post(f"/api/v1/delegations/{r.json()['id']}/revoke",
                       headers=world.h("bestallare")).status_code == 403
    revoked = client.post(f"/api/v1/delegations/{r.json()['id']}/revoke", headers=world.h("chef"))
    assert revoked.status_code == 200 and revoked.json()["in_force"] is False
