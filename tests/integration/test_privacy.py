"""Export and erasure of a person's data; survey aggregates stay as they were."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chefoskop.privacy import erase_person, export_person
from flows import engine
from flows.errors import InvalidData
from models import AuditEvent, Person, Process
from tests.helpers import ctx_for, start


def test_export_names_the_persons_roles_and_actions(session):
    s = start(session)
    data = export_person(session, s.person("processledare"))
    assert data["person"]["email"] == s.org.by_role["processledare"][0].email
    assert {r["role"] for r in data["roles"]} == {"processledare"}
    assert any(e["action"] == "started" for e in data["actions_taken"])


def test_a_role_holder_in_a_running_process_cannot_be_erased(session):
    s = start(session)
    with pytest.raises(InvalidData) as info:
        erase_person(ctx_for(session, None), s.person("chef"))
    assert info.value.params["errors"] == {"person_id": "holds_active_role"}


def test_erasure_anonymises_and_keeps_the_history(session):
    s = start(session)
    chef = s.person("chef")
    original = (s.org.by_role["chef"][0].name, s.org.by_role["chef"][0].email)
    engine.cancel_process(ctx_for(session, None), session.get(Process, s.process_id), "test")
    session.commit()
    erased = erase_person(ctx_for(session, None), chef)
    session.commit()
    person = session.get(Person, chef)
    assert person.name == f"Borttagen person {chef}" and not person.active
    assert "@invalid.invalid" in person.email and person.password_hash is None
    trail = session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity == "person", AuditEvent.entity_id == erased.id)).all()
    assert trail == ["erased"]
    exported = export_person(session, chef)
    assert not any(part in str(exported) for part in original)
