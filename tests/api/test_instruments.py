"""An organisation's own instruments over the API: listed beside the shipped ones, imported
from YAML, refused with every problem named (path, line, reason) and nothing stored."""

from __future__ import annotations

from sqlalchemy import func, select

from models import AuditEvent, OrganisationInstrument
from surveys.loader import INSTRUMENTS_DIR
from tests import helpers
from tests.surveys.test_instruments import BROKEN, EXPECTED

OFFICIAL = (INSTRUMENTS_DIR / "1_krav_resurser.yaml").read_text(encoding="utf-8")
OWN = OFFICIAL.replace("version: 1\n", "version: 2\n", 1).replace(
    "  sv: Krav och resurser i chefsuppdraget", "  sv: Våra krav och resurser", 1)


def upload(client, world, actor: str, text: str | bytes, **form):
    data = text.encode() if isinstance(text, str) else text
    return client.post("/api/v1/instruments", headers=world.h(actor),
                       files={"file": ("instrument.yaml", data, "application/yaml")},
                       data={k: str(v) for k, v in form.items()})


def listed(client, world, actor: str = "processledare") -> dict[tuple[str, int, str], bool]:
    r = client.get("/api/v1/instruments", headers=world.h(actor))
    assert r.status_code == 200, r.text
    return {(i["key"], i["version"], i["source"]): i["in_use"] for i in r.json()}


def test_shipped_instruments_are_listed_and_in_use(client, world):
    found = listed(client, world)
    assert len(found) == 3 and all(found.values())
    assert all(source == "shipped" for _, _, source in found)


def test_an_own_version_replaces_the_shipped_one(client, world, session):
    r = upload(client, world, "admin", OWN)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["key"], body["version"], body["title"], body["in_use"]) == (
        "krav_resurser", 2, "Våra krav och resurser", True)
    found = listed(client, world)
    assert found[("krav_resurser", 2, "organisation")] is True
    assert found[("krav_resurser", 1, "shipped")] is False
    events = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "instrument", AuditEvent.action == "imported"))
    assert events == 1
    # The foreign organisation still uses the shipped one.
    assert listed(client, world, "foreign")[("krav_resurser", 1, "shipped")] is True


def test_a_broken_file_is_refused_with_every_problem_named_and_nothing_stored(client, world, session):
    world.h("admin")
    client.get("/api/v1/instruments", headers=world.h("admin"))  # the token's first use is noted
    before = helpers.snapshot(session)
    r = upload(client, world, "admin", BROKEN)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "instrument_invalid" and body["title"] == "Instrumentfilen har fel"
    assert {(e["field"], e["reason"]) for e in body["errors"]} == EXPECTED
    assert all(e["row"] >= 1 and e["message"].startswith(e["field"]) for e in body["errors"])
    english = client.post("/api/v1/instruments", headers={**world.h("admin"), "Accept-Language": "en"},
                          files={"file": ("i.yaml", BROKEN.encode())}).json()
    assert english["title"] == "The instrument file has errors"
    assert {e["message"] for e in english["errors"]} != {e["message"] for e in body["errors"]}
    assert helpers.snapshot(session) == before


def test_unreadable_and_oversize_files(client, world, app):
    assert upload(client, world, "admin", b"\xff\xfe\x00bad").json()["errors"][0]["reason"] == "unreadable"
    syntax = upload(client, world, "admin", "key: [unclosed\n").json()
    assert syntax["errors"][0]["reason"] == "yaml_syntax" and syntax["errors"][0]["row"] >= 1
    limit = app.state.settings.upload_max_bytes
    assert upload(client, world, "admin", b"#" * (limit + 1)).status_code == 413


def test_who_may_import(client, world, session):
    assert upload(client, world, "chef", OWN).status_code == 403
    assert upload(client, world, "processledare", OWN).status_code == 403  # not without the process
    assert upload(client, world, "foreign", OWN, process_id=world.process_id).status_code == 404
    assert upload(client, world, "chef", OWN, process_id=world.process_id).status_code == 403
    assert session.scalar(select(func.count()).select_from(OrganisationInstrument)) == 0
    assert upload(client, world, "processledare", OWN, process_id=world.process_id).status_code == 201
    assert client.get("/api/v1/instruments").status_code == 401
