"""Errors are RFC 9457 problems naming the field, in Swedish or English; never a 500."""

from __future__ import annotations

import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "errors", "params"}


def problem(r, status: int) -> dict:
    """Check the problem+json shape and return its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status and body["type"].startswith("urn:chefoskop:problem:")
    return body


def test_form_errors_name_each_field_in_swedish_and_english(client, world):
    task = world.task("process_plan")
    url = f"/api/v1/tasks/{task.id}/complete"
    body = {"data": {"purpose": " ", "goals": "Mål"}, "expected_version": task.version}
    sv = problem(client.post(url, json=body, headers=world.h("processledare")), 422)
    assert sv["title"] == "Begäran innehåller fel"
    fields = {e["field"]: e for e in sv["errors"]}
    assert set(fields) == {"data.purpose", "data.scope"}
    assert fields["data.purpose"]["reason"] == "required"
    assert fields["data.purpose"]["message"] == "Syfte: Fältet måste fyllas i."
    en = problem(client.post(url, json=body, headers={**world.h("processledare"),
                                                      "Accept-Language": "en-GB,en;q=0.9"}), 422)
    assert en["title"] == "The request has errors"
    assert {e["field"]: e["message"] for e in en["errors"]}["data.scope"] == "Scope: This field is required."
    assert world.task("process_plan").status == "open"


def test_schema_validation_names_the_fields(client, world):
    url = "/api/v1/units"
    body = {"code": "", "name": "x" * 201, "level": "D", "colour": "red"}
    sv = problem(client.post(url, json=body, headers=world.h("admin")), 422)
    assert sv["code"] == "validation"
    reasons = {e["field"]: e["reason"] for e in sv["errors"]}
    assert reasons == {"code": "required", "name": "too_long", "level": "not_allowed",
                       "colour": "unknown_field"}
    messages = {e["field"]: e["message"] for e in sv["errors"]}
    assert messages["level"] == "Nivå: Värdet är inte ett av de tillåtna."
    en = problem(client.post(url, json=body, headers={**world.h("admin"), "Accept-Language": "en"}), 422)
    assert {e["field"]: e["message"] for e in en["errors"]}["level"] == \
        "Level: This value is not one of the allowed choices."


def test_nested_fields_and_query_parameters_are_named(client, world):
    body = {"name": "P", "roster": [{"role": "processagare"}, {"role": "x", "person_id": "abc"}]}
    r = problem(client.post("/api/v1/processes", json=body, headers=world.h("admin")), 422)
    assert {(e["field"], e["reason"]) for e in r["errors"]} == {("roster.1.person_id", "not_an_integer")}
    q = problem(client.get("/api/v1/tasks?limit=0&due_before=tomorrow", headers=world.h("chef")), 422)
    assert {e["field"] for e in q["errors"]} == {"limit", "due_before"}


@pytest.mark.parametrize("payload", [
    b"{not json", b"[]", b'"text"', b"null", b'{"data": {"a": NaN}, "expected_version": 1}',
    b'{"data": {"a": "\\u0000"}, "expected_version": 1}',
    b'{"data": {}, "expected_version": 99999999999999999999999}',
])
def test_malformed_bodies_are_422_not_500(client, world, payload):
    task = world.task("process_plan")
    r = client.post(f"/api/v1/tasks/{task.id}/complete", content=payload,
                    headers={**world.h("processledare"), "Content-Type": "application/json"})
    problem(r, 422)


def test_json_document_limits(client, world):
    task = world.task("process_plan")
    deep: dict = {}
    node = deep
    for _ in range(12):
        node["x"] = {}
        node = node["x"]
    r = client.post(f"/api/v1/tasks/{task.id}/complete", headers=world.h("processledare"),
                    json={"data": deep, "expected_version": task.version})
    assert problem(r, 422)["errors"][0] == {
        "field": "data", "reason": "too_large",
        "message": "Formulärdata: Värdet är för stort eller för djupt nästlat."}


def test_out_of_range_ids_and_naive_times(client, world):
    h = world.h("admin")
    assert problem(client.get("/api/v1/tasks/99999999999", headers=h), 422)["errors"][0]["field"] == "task_id"
    assert problem(client.get("/api/v1/tasks/0", headers=h), 422)
    r = client.get("/api/v1/audit", params={"since": "2027-01-01T00:00:00"}, headers=h)
    assert problem(r, 422)["errors"][0] == {
        "field": "since", "reason": "not_a_datetime",
        "message": "Från: Ange datum och tid med tidszon."}


def test_missing_objects_and_routes(client, world):
    h = world.h("chef")
    assert problem(client.get("/api/v1/tasks/987654", headers=h), 404)["code"] == "not_found"
    assert problem(client.get("/api/v1/nowhere", headers=h), 404)["code"] == "not_found"
    assert problem(client.delete("/api/v1/tasks", headers=h), 405)["code"] == "method_not_allowed"


def test_stale_version_is_409(client, world):
    task = world.task("process_plan")
    h = world.h("processledare")
    seen = task.version
    assert client.post(f"/api/v1/tasks/{task.id}/claim", headers=h).status_code == 200  # a change
    body = {"data": {"purpose": "a", "goals": "b", "scope": "c"}, "expected_version": seen}
    r = problem(client.post(f"/api/v1/tasks/{task.id}/complete", json=body, headers=h), 409)
    assert r["code"] == "stale_version"
    assert r["params"]["current"] == seen + 1 and r["params"]["expected"] == seen
    assert world.task("process_plan").status == "claimed"


def test_oversized_bodies_are_refused(client, world, app):
    limit = app.state.settings.upload_max_bytes * 3 + 200_000
    r = client.post("/api/v1/units", content=b"x" * (limit + 1), headers={
        **world.h("admin"), "Content-Type": "application/json"})
    assert problem(r, 413)["code"] == "payload_too_large"


def test_security_headers_on_every_response(client, world):
    for r in (client.get("/api/v1/health"), client.get("/api/v1/tasks"), client.get("/openapi.json")):
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


def test_engine_refusals_become_problems(client, world):
    gate = world.gate(1, "order")  # already approved
    r = client.post(f"/api/v1/gates/{gate.id}/decide", headers=world.h("bestallare"),
                    json={"decision": "approve", "expected_version": gate.version})
    assert problem(r, 409)["code"] == "illegal_transition"
