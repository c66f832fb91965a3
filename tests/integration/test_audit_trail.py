"""The audit trail is append-only in the database itself, not only through the ORM."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from models import AuditEvent
from tests.helpers import start


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_core_statements_cannot_change_or_delete_audit_events(session, statement):
    """A Core UPDATE or DELETE bypasses the ORM's guard; the database's triggers refuse it."""
    s = start(session)
    session.commit()
    mine = AuditEvent.process_id == s.process_id
    before = session.execute(select(func.count(), func.min(AuditEvent.action)).where(mine)).one()
    assert before[0] > 0
    change = (update(AuditEvent).where(mine).values(action="forged") if statement == "update"
              else delete(AuditEvent).where(mine))
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(change)
    session.rollback()
    assert session.execute(select(func.count(), func.min(AuditEvent.action)).where(mine)).one() == before
    # Adding stays possible: the trail grows as the process goes on.
    session.add(AuditEvent(organisation_id=s.org.organisation.id, process_id=s.process_id, entity="process",
                           entity_id=s.process_id, action="note"))
    session.commit()
    assert session.scalar(select(func.count()).where(mine)) == before[0] + 1
