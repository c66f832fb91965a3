"""Importing units, people and role holders from CSV and XLSX: all rows valid, or nothing."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from models import Person, RoleAssignment, Unit
from tests import helpers

UNITS = "code;name;level;parent_code\nNA;Norra förvaltningen;B;A1\nNA1;Hemtjänst Norr;C;NA\n"
PEOPLE = ("name,email,unit_code,title\nLisa Lund,lisa.lund@test.se,NA1,Enhetschef\n"
          "Omar Ek,omar.ek@test.se,NA,Verksamhetschef\n")
ROLES = "role,email,unit_code\nchef,lisa.lund@test.se,NA1\n"


def post(client, world, files: dict, **data):
    upload = {k: (f"{k}.csv" if k != "workbook" else "book.xlsx", v) for k, v in files.items()}
    return client.post("/api/v1/imports/structure", headers=world.h("admin"), files=upload,
                       data={k: str(v) for k, v in data.items()})


def workbook(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def make_admin_processledare(client, world) -> None:
    """Role holders are imported by someone who runs the process; let the admin do so too."""
    r = client.post(f"/api/v1/processes/{world.process_id}/roles", headers=world.h("processagare"),
                    json={"role": "processledare", "person_id": world.people["admin"].id})
    assert r.status_code == 201


def test_csv_import_of_units_people_and_roles(client, world, session):
    make_admin_processledare(client, world)
    r = post(client, world, {"units": UNITS.encode(), "people": PEOPLE.encode(),
                             "roles": ROLES.encode()}, process_id=world.process_id)
    assert r.status_code == 200, r.text
    assert r.json() == {"dry_run": False, "units_created": 2, "units_updated": 0,
                        "people_created": 2, "people_updated": 0, "roles_assigned": 1}
    session.expire_all()
    na1 = session.scalar(select(Unit).where(Unit.code == "NA1"))
    assert na1.parent.code == "NA" and na1.parent.parent.code == "A1"
    lisa = session.scalar(select(Person).where(Person.email == "lisa.lund@test.se"))
    assert lisa.unit_id == na1.id and lisa.title == "Enhetschef"
    assert session.scalar(select(RoleAssignment).where(RoleAssignment.person_id == lisa.id)).role == "chef"
    again = post(client, world, {"units": UNITS.encode(), "people": PEOPLE.encode(),
                                 "roles": ROLES.encode()}, process_id=world.process_id)
    assert again.json()["units_updated"] == 2 and again.json()["roles_assigned"] == 0


def test_xlsx_import_with_swedish_sheet_and_column_names(client, world, session):
    data = workbook({
        "Enheter": [["Kod", "Namn", "Nivå", "Överordnad"], ["NX", "Östra", "B", "A1"],
                    ["NX1", "Förskola Öst", "C", "NX"], [None, None, None, None]],
        "Personer": [["Namn", "E-post", "Enhet", "Titel"], ["Åsa Öberg", "asa@test.se", "NX1", None]],
    })
    r = post(client, world, {"workbook": data})
    assert r.status_code == 200, r.text
    assert r.json()["units_created"] == 2 and r.json()["people_created"] == 1
    session.expire_all()
    assert session.scalar(select(Person).where(Person.email == "asa@test.se")).name == "Åsa Öberg"


def test_every_error_is_listed_and_nothing_is_imported(client, world, session):
    make_admin_processledare(client, world)
    world.h("admin")
    before = helpers.snapshot(session)
    units = ("code,name,level,parent_code\nQ1,Ett,B,A1\nQ1,Dubblett,B,A1\nQ2,,D,\n"
             "Q3,Tre,C,ZZ\nQ4,Fyra,B,Q5\nQ5,Fem,C,Q4\n")
    people = ("name,email,unit_code,title\nUtan Post,,Q1,\nFel Post,inte-en-adress,Q1,\n"
              "Ok Person,ok@test.se,NOPE,\n,also-bad,,\n")
    roles = "role,email\nkung,ok@test.se\nchef,okand@test.se\n"
    r = post(client, world, {"units": units.encode(), "people": people.encode(),
                             "roles": roles.encode()}, process_id=world.process_id)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "import_invalid"
    found = {(e["sheet"], e["row"], e["column"], e["reason"]) for e in body["errors"]}
    assert found == {
        ("units", 3, "code", "duplicate"), ("units", 4, "name", "required"),
        ("units", 4, "level", "not_allowed"),
        ("units", 5, "parent_code", "unknown_parent"), ("units", 6, "parent_code", "parent_level"),
        ("units", 7, "parent_code", "cycle"), ("people", 2, "email", "required"),
        ("people", 3, "email", "invalid_email"), ("people", 4, "unit_code", "unknown_unit"),
        ("people", 5, "name", "required"), ("people", 5, "email", "invalid_email"),
        # ok@test.se is in the upload (its own row is wrong about the unit): not unknown here.
        ("roles", 2, "role", "unknown_role"), ("roles", 3, "email", "unknown_person"),
    }
    assert all(e["message"] for e in body["errors"])
    assert helpers.snapshot(session) == before


def test_missing_columns_and_unreadable_files(client, world):
    r = post(client, world, {"people": b"name,mail\nA,a@b.se\n"})
    assert r.status_code == 422
    assert [(e["column"], e["reason"], e["row"]) for e in r.json()["errors"]] == [
        ("email", "missing_column", 1)]
    junk = post(client, world, {"workbook": b"PK\x03\x04 not really a zip"})
    assert junk.status_code == 422 and junk.json()["errors"][0]["reason"] == "unreadable"
    no_sheets = post(client, world, {"workbook": workbook({"Blad1": [["a"], ["b"]]})})
    assert no_sheets.json()["errors"][0]["reason"] == "no_sheets"
    nothing = client.post("/api/v1/imports/structure", headers=world.h("admin"), data={"dry_run": "1"})
    assert nothing.status_code == 422 and nothing.json()["errors"][0]["field"] == "file"


def test_dry_run_and_roles_need_a_process(client, world, session):
    client.get("/api/v1/tasks", headers=world.h("admin"))  # the token's first use is noted
    before = helpers.snapshot(session)
    dry = post(client, world, {"units": UNITS.encode()}, dry_run="true")
    assert dry.json()["dry_run"] is True and dry.json()["units_created"] == 2
    assert helpers.snapshot(session) == before
    r = post(client, world, {"roles": ROLES.encode()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "process_id"


def test_import_limits_and_permissions(client, world, app):
    limit = app.state.settings.upload_max_bytes
    big = b"code,name,level\n" + b"X,Y,C\n" * (limit // 6 + 1)
    assert post(client, world, {"units": big}).status_code == 413
    refused = client.post("/api/v1/imports/structure", headers=world.h("processagare"),
                          files={"units": ("u.csv", UNITS.encode())})
    assert refused.status_code == 403
    roles_without_running_it = post(client, world, {"roles": ROLES.encode()},
                                    process_id=world.process_id)
    assert roles_without_running_it.status_code == 403


def _errors(response) -> set[tuple]:
    assert response.status_code == 422 and response.json()["code"] == "import_invalid", response.text
    return {(e["sheet"], e["row"], e["column"], e["reason"]) for e in response.json()["errors"]}


def test_a_row_with_a_missing_field_is_still_checked_for_unknown_references(client, world):
    """A row's missing or malformed cell does not hide what is wrong in its other cells."""
    make_admin_processledare(client, world)
    units = "code,name,level,parent_code\nQ7,,C,NOPE\nQ8,Åtta,D,NOPE\n"
    people = ("name,email,unit_code\n,x@test.se,NOPE\nFel Post,inte-en-adress,NOPE\n"
              "Lång Enhet,lang@test.se," + "X" * 61 + "\n")
    roles = "role,email,unit_code\n,nobody@test.se,NOPE\nkung,,\n"
    r = post(client, world, {"units": units.encode(), "people": people.encode(),
                             "roles": roles.encode()}, process_id=world.process_id)
    assert _errors(r) == {
        ("units", 2, "name", "required"), ("units", 2, "parent_code", "unknown_parent"),
        ("units", 3, "level", "not_allowed"), ("units", 3, "parent_code", "unknown_parent"),
        ("people", 2, "name", "required"), ("people", 2, "unit_code", "unknown_unit"),
        ("people", 3, "email", "invalid_email"), ("people", 3, "unit_code", "unknown_unit"),
        ("people", 4, "unit_code", "too_long"),  # too long to look up: one error, not two
        ("roles", 2, "role", "required"), ("roles", 2, "email", "unknown_person"),
        ("roles", 2, "unit_code", "unknown_unit"),
        ("roles", 3, "role", "unknown_role"), ("roles", 3, "email", "person_xor_body"),
    }


def test_a_unit_in_the_upload_is_known_even_when_its_own_row_is_wrong(client, world):
    """References point at the row that is wrong, not at every row that names it."""
    units = "code,name,level,parent_code\nNB,,B,A1\nNB1,Barn,C,NB\n"
    people = "name,email,unit_code\nPer Son,per@test.se,NB1\n"
    r = post(client, world, {"units": units.encode(), "people": people.encode()})
    assert _errors(r) == {("units", 2, "name", "required")}


def test_errors_name_the_sheet_as_the_user_called_it(client, world, session):
    before = helpers.snapshot(session)
    data = workbook({
        "Enheter": [["Kod", "Namn", "Nivå", "Överordnad"], ["NX", "", "B", "NOPE"]],
        "Personer": [["Namn", "E-post", "Enhet"], ["Åsa Öberg", "inte-en-adress", "NX"]],
    })
    r = post(client, world, {"workbook": data})
    assert _errors(r) == {("Enheter", 2, "name", "required"), ("Enheter", 2, "parent_code", "unknown_parent"),
                          ("Personer", 2, "email", "invalid_email")}
    twice = post(client, world, {"workbook": workbook({
        "Enheter": [["Kod", "Namn", "Nivå"], ["NX", "Östra", "B"]],
        "units": [["code", "name", "level"], ["NY", "Västra", "B"]]})})
    assert twice.status_code == 422
    assert [(e["sheet"], e["reason"]) for e in twice.json()["errors"]] == [("units", "duplicate_sheet")]
    csv_named = post(client, world, {"units": b"code,name,level\nZ1,,B\n"})
    assert _errors(csv_named) == {("units", 2, "name", "required")}  # a CSV is named by its field
    world.h("admin")
    session.expire_all()
    assert {k: v for k, v in helpers.snapshot(session).items() if k != "api_token"} == {
        k: v for k, v in before.items() if k != "api_token"}


@pytest.mark.parametrize("flag", [0x1, 0x20])  # an encrypted entry; "compressed patched data"
def test_a_workbook_zipfile_cannot_open_is_unreadable_not_a_500(client, world, flag):
    data = bytearray(workbook({"Enheter": [["Kod", "Namn", "Nivå"], ["NX", "Östra", "B"]]}))
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # every entry of the central directory says so
        data[at + 8] |= flag
        at = data.find(b"PK\x01\x02", at + 4)
    r = post(client, world, {"workbook": bytes(data)})
    assert r.status_code == 422 and r.json()["errors"][0]["reason"] == "unreadable"
