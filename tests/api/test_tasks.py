"""Tasks over the API: inbox with filters and paging, the form, claim, complete, reassign,
and Idempotency-Key on POSTs."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from models import AuditEvent, IdempotencyRecord
from tests import helpers


def test_inbox_shows_my_open_tasks_by_due_date(client, world):
    r = client.get("/api/v1/tasks", headers=world.h("processledare"))
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1 and page["limit"] == 50 and page["offset"] == 0
    (item,) = page["items"]
    assert item["activity_key"] == "process_plan" and item["title"].startswith("Skriv processplan")
    owner = client.get("/api/v1/tasks", headers=world.h("processagare")).json()
    assert [t["activity_key"] for t in owner["items"]] == ["appoint_roles"]
    assert client.get("/api/v1/tasks", headers=world.h("chef")).json()["total"] == 0
    assert client.get("/api/v1/tasks", headers=world.h("foreign")).json()["total"] == 0


def test_inbox_filters_and_paging(client, world):
    h = world.h("processledare")
    task = world.task("process_plan")
    mine = client.get("/api/v1/tasks", headers=h, params={"process_id": world.process_id})
    assert mine.json()["total"] == 1
    assert client.get("/api/v1/tasks", headers=h, params={"process_id": 999}).json()["total"] == 0
    later = (task.due_date + timedelta(days=1)).isoformat()
    assert client.get("/api/v1/tasks", headers=h, params={"due_before": later}).json()["total"] == 1
    assert client.get("/api/v1/tasks", headers=h,
                      params={"due_before": task.due_date.isoformat()}).json()["total"] == 0
    assert client.get("/api/v1/tasks", headers=h, params={"status": "completed"}).json()["total"] == 0
    page = client.get("/api/v1/tasks", headers=h, params={"limit": 1, "offset": 1}).json()
    assert page["items"] == [] and page["total"] == 1


def test_task_with_its_form(client, world):
    task = world.task("process_plan")
    r = client.get(f"/api/v1/tasks/{task.id}", headers={**world.h("processledare"),
                                                        "Accept-Language": "en"})
    body = r.json()
    assert [f["key"] for f in body["fields"]] == ["purpose", "goals", "scope"]
    assert body["fields"][0] == {"key": "purpose", "type": "textarea", "required": True,
                                 "label": "Purpose"}
    assert body["may_claim"] and body["may_complete"] and body["may_reassign"]
    assert body["title"] == "Write the process plan: purpose, goals, scope and timeline"


def test_claim_unclaim_and_complete(client, world):
    h = world.h("processledare")
    task = world.task("process_plan")
    claimed = client.post(f"/api/v1/tasks/{task.id}/claim", headers=h,
                          json={"expected_version": task.version}).json()
    assert claimed["status"] == "claimed" and claimed["assignee_id"] == world.people["processledare"].id
    other = client.post(f"/api/v1/tasks/{task.id}/claim", json={}, headers=world.h("processagare"))
    assert other.status_code == 403
    back = client.post(f"/api/v1/tasks/{task.id}/unclaim", headers=h).json()
    assert back["status"] == "open" and back["assignee_id"] is None
    done = client.post(f"/api/v1/tasks/{task.id}/complete", headers=h, json={
        "data": {"purpose": "Bättre villkor", "goals": "Färre per chef", "scope": "Alla"},
        "expected_version": back["version"]})
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert done.json()["data"]["purpose"] == "Bättre villkor"
    again = client.post(f"/api/v1/tasks/{task.id}/complete", headers=h,
                        json={"data": {}, "expected_version": done.json()["version"]})
    assert again.status_code == 409


def test_claim_conflict_between_candidates(client, world, session):
    task = world.task("process_plan")
    leaders = [c.person_id for c in task.candidates]
    assert len(leaders) == 2
    from models import Person

    first, second = (session.get(Person, pid) for pid in leaders)
    world.people["leader2"] = second
    assert client.post(f"/api/v1/tasks/{task.id}/claim", json={},
                       headers=world.h("processledare" if first.id == world.people["processledare"].id
                                       else "leader2")).status_code == 200
    loser = "leader2" if first.id == world.people["processledare"].id else "processledare"
    r = client.post(f"/api/v1/tasks/{task.id}/claim", json={}, headers=world.h(loser))
    assert r.status_code == 409 and r.json()["code"] == "conflict"


def test_reassign_by_the_processledare(client, world):
    task = world.task("appoint_roles")
    chef = world.people["chef"]
    r = client.post(f"/api/v1/tasks/{task.id}/reassign", headers=world.h("processledare"),
                    json={"to_person_id": chef.id, "expected_version": task.version})
    assert r.status_code == 200 and r.json()["assignee_id"] == chef.id
    assert client.get("/api/v1/tasks", headers=world.h("chef")).json()["total"] == 1
    bad = client.post(f"/api/v1/tasks/{task.id}/reassign", headers=world.h("processledare"),
                      json={"to_person_id": world.people["foreign"].id,
                            "expected_version": r.json()["version"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to_person_id"
    refused = client.post(f"/api/v1/tasks/{task.id}/reassign", headers=world.h("chef"),
                          json={"to_person_id": chef.id, "expected_version": r.json()["version"]})
    assert refused.status_code == 403


def _audit_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent))


def test_idempotent_retry_returns_the_first_answer(client, world, session):
    task = world.task("process_plan")
    h = {**world.h("processledare"), "Idempotency-Key": "complete-plan-1"}
    body = {"data": {"purpose": "a", "goals": "b", "scope": "c"}, "expected_version": task.version}
    first = client.post(f"/api/v1/tasks/{task.id}/complete", json=body, headers=h)
    events = _audit_count(session)
    retry = client.post(f"/api/v1/tasks/{task.id}/complete", json=body, headers=h)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry.headers["idempotent-replayed"] == "true"
    assert _audit_count(session) == events  # nothing happened twice
    other = client.post(f"/api/v1/tasks/{task.id}/complete", headers=h,
                        json={**body, "data": {"purpose": "changed", "goals": "b", "scope": "c"}})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_mismatch"


def test_idempotency_keys_belong_to_one_person(client, world):
    task = world.task("process_plan")
    body = {"expected_version": task.version}
    r1 = client.post(f"/api/v1/tasks/{task.id}/claim", json=body,
                     headers={**world.h("processledare"), "Idempotency-Key": "k"})
    r2 = client.post(f"/api/v1/tasks/{task.id}/claim", json=body,
                     headers={**world.h("processagare"), "Idempotency-Key": "k"})
    assert r1.status_code == 200 and r2.status_code == 403


def test_a_failed_request_releases_its_key(client, world, session):
    task = world.task("process_plan")
    h = {**world.h("processledare"), "Idempotency-Key": "retry-after-fix"}
    url = f"/api/v1/tasks/{task.id}/complete"
    bad = client.post(url, headers=h, json={"data": {}, "expected_version": task.version})
    assert bad.status_code == 422
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0
    good = client.post(url, headers=h, json={"data": {"purpose": "a", "goals": "b", "scope": "c"},
                                             "expected_version": task.version})
    assert good.status_code == 200


def test_a_concurrent_duplicate_is_409(client, world, session, api_clock):
    """A request still running under the key (its record in progress) makes a duplicate wait."""
    from api import idempotency

    task = world.task("process_plan")
    url = f"/api/v1/tasks/{task.id}/claim"
    same_request = hashlib.sha256(f"POST {url}?\n".encode() + b"{}").hexdigest()
    session.add(IdempotencyRecord(person_id=world.people["processledare"].id, key="in-flight",
                                  request_hash=same_request, state="in_progress",
                                  created_at=api_clock.now))
    session.commit()
    h = {**world.h("processledare"), "Idempotency-Key": "in-flight"}
    r = client.post(url, json={}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "idempotency_in_progress"
    api_clock.advance(seconds=idempotency.ABANDONED_AFTER.total_seconds() + 60)
    assert client.post(url, json={}, headers=h).status_code == 200  # an abandoned key is taken over


def test_process_task_list(client, world):
    assert client.get(f"/api/v1/processes/{world.process_id}/tasks",
                      headers=world.h("foreign")).status_code == 404
    r = client.get(f"/api/v1/processes/{world.process_id}/tasks", headers=world.h("processledare"),
                   params={"status": ["open", "claimed"]})
    assert {t["activity_key"] for t in r.json()["items"]} == {"appoint_roles", "process_plan"}


def test_completing_the_last_work_moves_the_step_on(client, world):
    h = world.h("processagare")
    helpers.finish_phase_tasks(world.session, world.process_id)
    world.session.commit()
    r = client.get(f"/api/v1/processes/{world.process_id}", headers=h).json()
    assert r["steps"][0]["phase"] == "aktivitet"


def test_a_form_key_the_activity_does_not_have_is_refused_naming_it(client, world, session):
    """The engine keeps only the activity's own fields: anything else is refused, not stored."""
    task = world.task("process_plan")
    url = f"/api/v1/tasks/{task.id}/complete"
    body = {"data": {"purpose": "a", "goals": "b", "scope": "c", "bogus": 1},
            "expected_version": task.version}
    r = client.post(url, json=body, headers={**world.h("processledare"), "Accept-Language": "en"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_data"
    (error,) = r.json()["errors"]
    assert error["field"] == "data.bogus" and error["reason"] == "unknown_field"
    assert error["message"] == "bogus: This field is not expected."
    swedish = client.post(url, json=body, headers={**world.h("processledare"), "Accept-Language": "sv"})
    assert swedish.json()["errors"][0]["message"] == "bogus: Fältet förväntas inte här."
    session.expire_all()
    assert world.task("process_plan").status == "open"  # nothing was stored
    good = client.post(url, json={**body, "data": {"purpose": "a", "goals": "b", "scope": "c"}},
                       headers=world.h("processledare"))
    assert good.status_code == 200 and good.json()["data"] == {"purpose": "a", "goals": "b", "scope": "c"}
