"""The audit trail, the outbox of failed mail and API tokens over the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import OutboxMessage, OutboxStatus


def test_audit_filters_and_paging(client, world, api_clock):
    h = world.h("admin")
    everything = client.get("/api/v1/audit", headers=h).json()
    assert everything["total"] > 10
    assert all(e["process_id"] in (world.process_id, None) for e in everything["items"])
    gates = client.get("/api/v1/audit", headers=h, params={"entity": "gate", "action": "approve"}).json()
    assert gates["total"] == 1 and gates["items"][0]["actor_id"] == world.people["bestallare"].id
    by_person = client.get("/api/v1/audit", headers=h,
                           params={"person_id": world.people["bestallare"].id}).json()
    assert by_person["total"] >= 1
    window = {"since": (api_clock.now - timedelta(days=1)).isoformat(),
              "until": (api_clock.now - timedelta(hours=2)).isoformat()}
    assert client.get("/api/v1/audit", headers=h, params=window).json()["total"] == 0
    page = client.get("/api/v1/audit", headers=h, params={"limit": 3, "offset": 3}).json()
    assert len(page["items"]) == 3 and page["items"][0]["id"] == everything["items"][3]["id"]


def test_audit_is_for_the_admin_and_the_people_running_a_process(client, world):
    pid = world.process_id
    assert client.get("/api/v1/audit", headers=world.h("processagare")).status_code == 403
    assert client.get("/api/v1/audit", headers=world.h("processagare"),
                      params={"process_id": pid}).status_code == 200
    assert client.get("/api/v1/audit", headers=world.h("chef"),
                      params={"process_id": pid}).status_code == 403
    assert client.get("/api/v1/audit", headers=world.h("foreign"),
                      params={"process_id": pid}).status_code == 404
    foreign = client.get("/api/v1/audit", headers=world.h("foreign")).json()
    assert all(e["process_id"] != pid for e in foreign["items"])


def _fail_some_mail(session, world) -> list[int]:
    rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    ours = [r for r in rows if r.organisation_id == world.people["chef"].organisation_id]
    theirs = [r for r in rows if r.organisation_id != world.people["chef"].organisation_id]
    ours[0].status, ours[0].last_error = OutboxStatus.DEAD, "550 no such user"
    ours[1].status = OutboxStatus.FAILED
    theirs[0].status = OutboxStatus.DEAD
    session.commit()
    return [ours[0].id, ours[1].id, theirs[0].id]


def test_outbox_lists_and_retries_only_our_failed_mail(client, world, session):
    dead, failed, foreign_dead = _fail_some_mail(session, world)
    h = world.h("admin")
    assert client.get("/api/v1/outbox", headers=world.h("processagare")).status_code == 403
    listed = client.get("/api/v1/outbox", headers=h).json()
    assert {r["id"] for r in listed["items"]} == {dead, failed}
    assert [r["id"] for r in client.get("/api/v1/outbox", headers=h,
                                        params={"status": "dead"}).json()["items"]] == [dead]
    assert client.post(f"/api/v1/outbox/{foreign_dead}/retry", headers=h).status_code == 404
    one = client.post(f"/api/v1/outbox/{dead}/retry", headers=h)
    assert one.json() == {"retried": 1}
    rest = client.post("/api/v1/outbox/retry", headers=h, json={})
    assert rest.json() == {"retried": 1}
    session.expire_all()
    assert session.get(OutboxMessage, dead).status == OutboxStatus.PENDING
    assert session.get(OutboxMessage, foreign_dead).status == OutboxStatus.DEAD
    assert client.post("/api/v1/outbox/retry", headers=h, json={"ids": [foreign_dead]}).json() == {
        "retried": 0}


def test_api_tokens_made_by_the_admin(client, world):
    h = world.h("admin")
    chef = world.people["chef"]
    assert client.post("/api/v1/api-tokens", headers=world.h("chef"),
                       json={"name": "mine"}).status_code == 403
    r = client.post("/api/v1/api-tokens", headers=h,
                    json={"name": "HR-system", "person_id": chef.id, "expires_in_days": 30})
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith(created["prefix"] + "_")
    assert client.get("/api/v1/auth/session", headers={
        "Authorization": f"Bearer {created['token']}"}).json()["person"]["id"] == chef.id
    listed = client.get("/api/v1/api-tokens", headers=h).json()
    assert "token" not in listed[-1] and listed[-1]["name"] == "HR-system"
    foreign = client.post("/api/v1/api-tokens", headers=h,
                          json={"name": "x", "person_id": world.people["foreign"].id})
    assert foreign.status_code == 422
    assert client.delete(f"/api/v1/api-tokens/{created['id']}", headers=h).status_code == 204
    assert client.get("/api/v1/auth/session", headers={
        "Authorization": f"Bearer {created['token']}"}).status_code == 401
    assert client.delete(f"/api/v1/api-tokens/{created['id']}",
                         headers=world.h("foreign")).status_code == 404


def test_health_needs_no_sign_in(client):
    assert client.get("/api/v1/health").json() == {"status": "ok"}
