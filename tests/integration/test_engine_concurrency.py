"""Concurrent claims and decisions: exactly one wins, the rest get a conflict."""

from __future__ import annotations

import threading
from functools import partial

from sqlalchemy import func, select

from flows import engine
from flows.errors import Conflict, IllegalTransition, StaleVersion
from models import AuditEvent, Task
from tests.helpers import ctx_for, gate, live_tasks, start


def _race(session_factory, calls):
    """Run each call in its own thread and session at the same moment; collect outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(call):
        with session_factory() as s:
            barrier.wait()
            try:
                call(s)
                s.commit()
                result = "won"
            except (Conflict, StaleVersion, IllegalTransition) as exc:
                s.rollback()
                result = type(exc).__name__
            except Exception as exc:  # noqa: BLE001 - database-level conflicts count as losses
                s.rollback()
                result = f"db:{type(exc).__name__}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_of_many_concurrent_claims_exactly_one_wins(session, session_factory):
    s = start(session, managers=12)
    engine.decide_gate(ctx_for(session, s.person("bestallare")),
                       gate(session, s.process_id, 1, "order").id, "approve")
    session.commit()
    task = live_tasks(session, s.process_id, "process_plan")[0]
    claimers = [s.person("processledare", 0), s.person("processledare", 1)] * 5

    def claim(who, db):
        engine.claim(ctx_for(db, who), task.id)

    outcomes = _race(session_factory, [partial(claim, p) for p in claimers])
    assert outcomes.count("won") == 1, outcomes
    assert all(o in ("won", "Conflict") for o in outcomes), outcomes
    session.expire_all()
    claimed = session.get(Task, task.id)
    assert claimed.status == "claimed" and claimed.assignee_id in claimers
    events = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "task", AuditEvent.entity_id == task.id, AuditEvent.action == "claimed"))
    assert events == 1


def test_of_concurrent_gate_decisions_exactly_one_is_kept(session, session_factory):
    s = start(session)
    order = gate(session, s.process_id, 1, "order")
    who = s.person("bestallare")
    decisions = ["approve", "reject"] * 4

    def decide(decision, db):
        engine.decide_gate(ctx_for(db, who), order.id, decision, reason="Nej",
                           expected_version=order.version)

    outcomes = _race(session_factory, [partial(decide, d) for d in decisions])
    assert outcomes.count("won") == 1, outcomes
    session.expire_all()
    events = session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity == "gate", AuditEvent.entity_id == order.id,
        AuditEvent.action.in_(("approve", "reject"))))
    assert events == 1
