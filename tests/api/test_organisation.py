"""The organisation, its units, people and bodies over the API."""

from __future__ import annotations


def test_own_organisation_only(client, world):
    h = world.h("chef")
    orgs = client.get("/api/v1/organisations", headers=h).json()
    assert [o["id"] for o in orgs] == [world.people["chef"].organisation_id]
    assert client.get(f"/api/v1/organisations/{orgs[0]['id']}", headers=h).status_code == 200
    foreign_org = world.people["foreign"].organisation_id
    assert client.get(f"/api/v1/organisations/{foreign_org}", headers=h).status_code == 404


def test_units_read_by_all_managed_by_the_admin(client, world):
    h, admin = world.h("chef"), world.h("admin")
    units = client.get("/api/v1/units", headers=h).json()
    top = next(u for u in units if u["level"] == "A")
    assert {u["level"] for u in client.get("/api/v1/units", headers=h,
                                           params={"level": "C"}).json()} == {"C"}
    body = {"code": "B9", "name": "Ny förvaltning", "level": "B", "parent_id": top["id"]}
    assert client.post("/api/v1/units", headers=h, json=body).status_code == 403
    created = client.post("/api/v1/units", headers=admin, json=body)
    assert created.status_code == 201
    dup = client.post("/api/v1/units", headers=admin, json=body)
    assert dup.status_code == 422 and dup.json()["errors"][0] == {
        "field": "code", "reason": "taken", "message": "Kod: Värdet används redan."}
    child = client.post("/api/v1/units", headers=admin,
                        json={"code": "C99", "name": "Enhet", "level": "C",
                              "parent_id": created.json()["id"]}).json()
    upward = client.patch(f"/api/v1/units/{created.json()['id']}", headers=admin,
                          json={"parent_id": child["id"]})
    assert upward.status_code == 422 and upward.json()["errors"][0]["reason"] == "parent_level"
    renamed = client.patch(f"/api/v1/units/{child['id']}", headers=admin, json={"name": "Nytt namn"})
    assert renamed.json()["name"] == "Nytt namn"
    assert client.get(f"/api/v1/units/{child['id']}", headers=world.h("foreign")).status_code == 404


def test_people_managed_by_the_admin(client, world):
    admin = world.h("admin")
    page = client.get("/api/v1/people", headers=world.h("chef"), params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["total"] > 10
    found = client.get("/api/v1/people", headers=world.h("chef"), params={"q": "ada"}).json()
    assert [p["name"] for p in found["items"]] == ["Ada Admin"]
    body = {"name": "Nina Ny", "email": "nina.ny@test.se", "title": "Enhetschef"}
    assert client.post("/api/v1/people", headers=world.h("chef"), json=body).status_code == 403
    created = client.post("/api/v1/people", headers=admin, json=body)
    assert created.status_code == 201 and created.json()["locale"] == "sv"
    taken = client.post("/api/v1/people", headers=admin, json={**body, "email": "NINA.NY@test.se"})
    assert taken.status_code == 422 and taken.json()["errors"][0]["reason"] == "taken"
    bad = client.post("/api/v1/people", headers=admin, json={**body, "email": "nina@"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["reason"] == "invalid_email"
    pid = created.json()["id"]
    assert client.post(f"/api/v1/people/{pid}/password", headers=admin,
                       json={"password": "kort"}).status_code == 422
    assert client.post(f"/api/v1/people/{pid}/password", headers=admin,
                       json={"password": "ett långt lösenord"}).status_code == 204
    assert client.post("/api/v1/auth/login", json={
        "email": "nina.ny@test.se", "password": "ett långt lösenord"}).status_code == 200
    assert client.get(f"/api/v1/people/{pid}", headers=world.h("foreign")).status_code == 404


def test_a_person_changes_only_their_own_preferences(client, world):
    chef = world.people["chef"]
    mine = client.patch(f"/api/v1/people/{chef.id}", headers=world.h("chef"),
                        json={"locale": "en", "digest": True})
    assert mine.status_code == 200 and mine.json()["locale"] == "en"
    assert client.patch(f"/api/v1/people/{chef.id}", headers=world.h("chef"),
                        json={"is_org_admin": True}).status_code == 403
    other = world.people["processledare"]
    assert client.patch(f"/api/v1/people/{other.id}", headers=world.h("chef"),
                        json={"locale": "en"}).status_code == 403
    admin = client.patch(f"/api/v1/people/{other.id}", headers=world.h("admin"),
                         json={"title": "HR-chef", "active": False})
    assert admin.json()["active"] is False
    assert client.get("/api/v1/tasks", headers=world.h("processledare")).status_code == 401
    null = client.patch(f"/api/v1/people/{chef.id}", headers=world.h("admin"), json={"name": None})
    assert null.status_code == 422


def test_bodies(client, world):
    bodies = client.get("/api/v1/bodies", headers=world.h("samverkan")).json()
    assert [b["name"] for b in bodies] == ["Central samverkansgrupp"]
    assert world.people["samverkan"].id in {m["person_id"] for m in bodies[0]["members"]}
    assert client.get("/api/v1/bodies", headers=world.h("foreign")).json()[0]["id"] != bodies[0]["id"]
