"""A person's data over the API: export for themselves or the admin (logged), erasure by the
admin, refused while the person still holds a role in a running process."""

from __future__ import annotations

from sqlalchemy import func, select

from models import AuditEvent, Person
from tests import helpers
from tests.api.conftest import bearer


def _exports(session, person_id: int) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "person", AuditEvent.entity_id == person_id, AuditEvent.action == "exported"))


def test_a_person_exports_their_own_data_and_the_admin_anyones(client, world, session):
    chef = world.people["chef"]
    own = client.get(f"/api/v1/people/{chef.id}/export", headers=world.h("chef"))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["person"]["email"] == chef.email and body["roles"]
    assert client.get(f"/api/v1/people/{chef.id}/export", headers=world.h("admin")).status_code == 200
    assert _exports(session, chef.id) == 2  # each export is in the audit trail
    assert client.get(f"/api/v1/people/{chef.id}/export", headers=world.h("processledare")).status_code == 403
    assert client.get(f"/api/v1/people/{chef.id}/export", headers=world.h("foreign")).status_code == 404
    assert _exports(session, chef.id) == 2


def test_erasure_is_refused_while_a_role_is_held(client, world, session):
    chef = world.people["chef"]
    world.h("admin")
    client.get("/api/v1/tasks", headers=world.h("admin"))  # the token's first use is noted
    before = helpers.snapshot(session)
    r = client.post(f"/api/v1/people/{chef.id}/erase", headers=world.h("admin"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [("person_id", "holds_active_role")]
    assert "lämna över den först" in r.json()["errors"][0]["message"]  # in Swedish, the user's language
    assert helpers.snapshot(session) == before


def test_the_admin_erases_a_person_without_roles(client, world, session):
    created = client.post("/api/v1/people", headers=world.h("admin"),
                          json={"name": "Tilda Tillfällig", "email": "tilda@test.se"})
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    tilda_headers = bearer(session, session.get(Person, person_id))
    assert client.get("/api/v1/tasks", headers=tilda_headers).status_code == 200
    assert client.post(f"/api/v1/people/{person_id}/erase", headers=world.h("chef")).status_code == 403
    r = client.post(f"/api/v1/people/{person_id}/erase", headers=world.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["name"].startswith("Borttagen person") and "tilda" not in r.json()["email"]
    assert client.get("/api/v1/tasks", headers=tilda_headers).status_code == 401  # tokens went with it
    session.expire_all()
    kept = select(func.count()).select_from(Person).where(Person.email == "tilda@test.se")
    assert session.scalar(kept) == 0
    last = select(AuditEvent.action).where(AuditEvent.entity == "person", AuditEvent.entity_id == person_id)
    assert session.scalar(last.order_by(AuditEvent.id.desc())) == "erased"
