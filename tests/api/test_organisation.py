"""The organisation, its units, people and bodies over the API."""

from __future__ import annotations

import pytest
from sqlalchemy import select


def test_own_organisation_only(client, world):
    h = world.h("chef")
    orgs = client.get("/api/v1/organisations", headers=h).json()["items"]
    assert [o["id"] for o in orgs] == [world.people["chef"].organisation_id]
    assert client.get(f"/api/v1/organisations/{orgs[0]['id']}", headers=h).status_code == 200
    foreign_org = world.people["foreign"].organisation_id
    assert client.get(f"/api/v1/organisations/{foreign_org}", headers=h).status_code == 404


def test_units_read_by_all_managed_by_the_admin(client, world):
    h, admin = world.h("chef"), world.h("admin")
    units = client.get("/api/v1/units", headers=h).json()["items"]
    top = next(u for u in units if u["level"] == "A")
    assert {u["level"] for u in client.get("/api/v1/units", headers=h,
                                           params={"level": "C"}).json()["items"]} == {"C"}
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
    bodies = client.get("/api/v1/bodies", headers=world.h("samverkan")).json()["items"]
    assert [b["name"] for b in bodies] == ["Central samverkansgrupp"]
    assert world.people["samverkan"].id in {m["person_id"] for m in bodies[0]["members"]}
    theirs = client.get("/api/v1/bodies", headers=world.h("foreign")).json()["items"]
    assert theirs[0]["id"] != bodies[0]["id"]


LISTS = ("/api/v1/organisations", "/api/v1/units", "/api/v1/bodies", "/api/v1/people")


@pytest.mark.parametrize("path", LISTS)
def test_every_organisation_list_is_paged_like_the_others(client, world, path):
    """limit and offset as on the task inbox: a window of the items, the total of them all."""
    h = world.h("chef")
    everything = client.get(path, headers=h, params={"limit": 200})
    assert everything.status_code == 200, everything.text
    whole = everything.json()
    assert set(whole) == {"items", "total", "limit", "offset"}
    assert whole["total"] == len(whole["items"]) and whole["limit"] == 200 and whole["offset"] == 0
    ids = [item["id"] for item in whole["items"]]
    window = client.get(path, headers=h, params={"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in window["items"]] == ids[1:3]
    assert (window["total"], window["limit"], window["offset"]) == (whole["total"], 2, 1)
    assert client.get(path, headers=h).json()["limit"] == 50  # the default, as everywhere
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        refused = client.get(path, headers=h, params=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"


def test_units_honour_limit(client, world):
    """The audit's case: every unit came back however few were asked for."""
    h = world.h("chef")
    units = client.get("/api/v1/units", headers=h, params={"limit": 200}).json()["items"]
    assert len(units) > 2
    two = client.get("/api/v1/units", headers=h, params={"limit": 2}).json()
    assert len(two["items"]) == 2 and two["total"] == len(units)
    level_c = client.get("/api/v1/units", headers=h, params={"level": "C", "limit": 1}).json()
    assert len(level_c["items"]) == 1
    assert level_c["total"] == sum(1 for u in units if u["level"] == "C")


def test_openapi_documents_the_paging_of_every_list(app):
    paths = app.openapi()["paths"]
    for path in LISTS:
        get = paths[path]["get"]
        assert {"limit", "offset"} <= {p["name"] for p in get["parameters"]}, path
        schema = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].split("/")[-1].startswith("Page_"), (path, schema)


def test_the_demo_names_its_organisation_admin(session_factory, monkeypatch):
    """`chefoskop demo` marks who sees /admin and /audit for every process."""
    from typer.testing import CliRunner

    from chefoskop_cli import main as cli
    from models import Person

    monkeypatch.setattr(cli, "_prepare", lambda: None)  # the test database is migrated already
    result = CliRunner().invoke(cli.app, ["demo"])
    assert result.exit_code == 0, result.output
    with session_factory() as s:
        admins = s.scalars(select(Person).where(Person.is_org_admin.is_(True))).all()
    assert len(admins) == 1
    admin = admins[0]
    lines = result.output.splitlines()
    marked = [line for line in lines if "[admin]" in line]
    assert marked, result.output
    assert all(admin.email in line for line in marked)
    assert any(line.startswith("ledning") and line.endswith("[admin]") for line in marked)
    said = [line for line in marked if "/admin" in line and "/audit" in line]
    assert said and admin.name in said[0]
