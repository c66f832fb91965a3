"""``chefoskop simulate`` end to end in a subprocess; its summary matches the database; resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from flows import rules
from models import (
    Action,
    ActionPlan,
    AuditEvent,
    Gate,
    Organisation,
    OutboxMessage,
    Process,
    SimulationRun,
    StepInstance,
    Task,
)
from notifications.sink import list_messages

# The objects with a status, by the entity name their audit events carry.
STATUSED = {"process": Process, "step": StepInstance, "task": Task, "gate": Gate, "plan": ActionPlan,
            "action": Action}


def _command(database_url: str, tmp_path, seed: int, *options: str,
             organisations: int = 2, managers: int = 5) -> tuple[list[str], dict]:
    env = {**os.environ, "CHEFOSKOP_DATABASE_URL": database_url, "CHEFOSKOP_FLOW_MODE": "direct",
           "CHEFOSKOP_DATA_DIR": str(tmp_path / f"data-{seed}"), "CHEFOSKOP_SINK_PORT": "0"}
    return ([sys.executable, "-m", "chefoskop_cli.main", "simulate", "--organisations", str(organisations),
             "--managers", str(managers), "--seed", str(seed), "--json", *options], env)


def _simulate(database_url: str, tmp_path, seed: int, *options: str, **size: int) -> dict:
    command, env = _command(database_url, tmp_path, seed, *options, **size)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    if "--resume" not in options:
        assert "organisation 2/2" in done.stderr  # progress goes to stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_simulate_two_organisations_matches_the_database(session, database_url, tmp_path):
    summary = _simulate(database_url, tmp_path, seed=5)
    assert summary["processes_started"] == summary["processes_completed"] == 2
    assert summary["steps_completed"] == 18
    assert summary["gates_rejected"] >= 2  # at least one rejection per process
    orgs = session.scalars(select(Organisation.id).where(Organisation.name.like("Simulerad%"))).all()
    pids = select(Process.id).where(Process.organisation_id.in_(orgs))

    def n(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where))

    assert summary["tasks_created"] == n(Task, Task.process_id.in_(pids))
    assert summary["tasks_completed"] == n(Task, Task.process_id.in_(pids), Task.status == "completed")
    assert summary["gates_passed"] == n(Gate, Gate.process_id.in_(pids), Gate.status == "approved")
    assert summary["gates_rejected"] == n(Gate, Gate.process_id.in_(pids), Gate.status == "rejected")
    assert summary["audit_events"] == n(AuditEvent, AuditEvent.organisation_id.in_(orgs))
    assert n(StepInstance, StepInstance.process_id.in_(pids), StepInstance.status != "closed") == 0
    assert summary["mails_delivered"] > summary["tasks_created"] // 2
    # Every notification the engine and the sweep wrote could be rendered and was delivered.
    stuck = session.scalars(select(OutboxMessage.kind).where(
        OutboxMessage.organisation_id.in_(orgs), OutboxMessage.status.not_in(("sent", "digested")))).all()
    assert stuck == []
    assert {"task_assigned", "task_reminder", "escalation", "meeting_invite"} <= set(summary["notifications"])
    assert summary["surveys"] == 6 and summary["survey_responses"] > 0  # three mappings each
    assert set(summary["plans_by_level"]) == {"A", "B", "C"}
    assert summary["risk_assessments"] >= summary["actions_done"] > 0
    assert summary["follow_up_meetings_held"] >= sum(summary["plans_by_level"].values())
    assert len(summary["reports"]) == 2 and all(p.endswith(".pdf") for p in summary["reports"])
    # No step closed with a gate that is not approved (the newest row of each gate).
    for step_id, key in session.execute(select(Gate.step_id, Gate.key).where(
            Gate.process_id.in_(pids), Gate.step_id.is_not(None)).distinct()):
        newest = session.scalars(select(Gate.status).where(Gate.step_id == step_id, Gate.key == key)
                                 .order_by(Gate.iteration.desc())).first()
        assert newest == "approved"
    _check_independently(session, orgs)

    again = _simulate(database_url, tmp_path, seed=5)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("seconds", "reports")}  # noqa: E731
    assert strip(again) == strip(summary)


def _check_independently(session, orgs: list[int]) -> None:
    """What the summary cannot vouch for itself: read straight from the rows, not by its queries."""
    processes = session.execute(select(Process.id, Process.status).where(
        Process.organisation_id.in_(orgs))).all()
    assert len(processes) == 2 and {status for _, status in processes} == {"completed"}
    for pid, _ in processes:
        # Nine steps, each closed once.
        steps = session.execute(select(StepInstance.step_no, StepInstance.status)
                                .where(StepInstance.process_id == pid)).all()
        assert sorted(steps) == [(n, "closed") for n in range(1, 10)], steps
        # Every task done; none left open, pending or cancelled.
        assert set(session.scalars(select(Task.status).where(Task.process_id == pid))) == {"completed"}
        # A step gate was rejected and then passed: a newer iteration of the same step and key
        # was approved after the rejection, and the step went back for it (a reopened task).
        gates = session.execute(select(Gate.step_id, Gate.key, Gate.iteration, Gate.status,
                                       Gate.decided_at, Gate.reason)
                                .where(Gate.process_id == pid, Gate.step_id.is_not(None))).all()
        rejected = [g for g in gates if g.status == "rejected"]
        assert rejected, f"process {pid} had no rejection"
        for r in rejected:
            assert r.reason, "a rejection names its reason"
            assert any(g.step_id == r.step_id and g.key == r.key and g.iteration > r.iteration
                       and g.status == "approved" and g.decided_at >= r.decided_at for g in gates), r
            assert session.scalar(select(func.count()).select_from(Task).where(
                Task.step_id == r.step_id, Task.iteration > r.iteration,
                Task.reopen_reason == r.reason)) > 0, r

    # Every status has its audit trail: the events of each object chain from nothing to its
    # present status, one legal link at a time, and nothing in the trail claims another state.
    trail: dict[tuple[str, int], list[tuple[str | None, str | None]]] = {}
    for entity, entity_id, from_state, to_state in session.execute(select(
            AuditEvent.entity, AuditEvent.entity_id, AuditEvent.from_state, AuditEvent.to_state)
            .where(AuditEvent.organisation_id.in_(orgs), AuditEvent.entity.in_(STATUSED),
                   AuditEvent.action != "phase").order_by(AuditEvent.id)):
        trail.setdefault((entity, entity_id), []).append((from_state, to_state))
    current = {}
    pids = [pid for pid, _ in processes]
    for entity, model in STATUSED.items():
        column = model.id if model is Process else model.process_id
        current |= {(entity, i): status for i, status in session.execute(
            select(model.id, model.status).where(column.in_(pids)))}
    assert set(trail) == set(current), set(trail) ^ set(current)
    for key, chain in trail.items():
        assert chain[0][0] is None and chain[-1][1] == current[key], (key, chain)
        for (_, to_state), (from_state, nxt) in zip(chain, chain[1:], strict=False):
            assert to_state == from_state, (key, chain)
            if from_state != nxt:  # (a change of content or assignee keeps its status)
                rules.check_transition(key[0], from_state, nxt)
    # Counted from the rows alone: a process starts and completes (2 events); a step is created,
    # queued, opened and closed (4); a gate is created, opened if it guards a step and was
    # reached (its opened_at), and settled unless it still waits.
    changes = Counter(key[0] for key, chain in trail.items() for a, b in chain if a != b)
    assert changes["process"] == 2 * 2 and changes["step"] == 2 * 9 * 4
    expected_gate_events = sum(
        1 + (step_id is not None and opened_at is not None) + (status not in ("pending", "open"))
        for step_id, opened_at, status in session.execute(
            select(Gate.step_id, Gate.opened_at, Gate.status).where(Gate.process_id.in_(pids))))
    assert changes["gate"] == expected_gate_events


@pytest.mark.slow
def test_a_killed_simulation_resumes_to_its_end(session, database_url, tmp_path):
    size = {"organisations": 1, "managers": 3}
    command, env = _command(database_url, tmp_path, 4, "--resume", **size)
    running = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    days = 0
    while running.poll() is None and days < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
        session.commit()  # a fresh read each time
        days = session.scalar(select(func.max(SimulationRun.days))) or 0
    running.send_signal(signal.SIGKILL)
    assert running.wait() == -signal.SIGKILL, "the simulation ended before it was killed"
    killed = session.scalars(select(SimulationRun)).one()
    assert killed.status == "running" and killed.days >= 20 and len(killed.process_ids) == 1

    summary = _simulate(database_url, tmp_path, 4, "--resume", **size)
    assert summary["processes_started"] == summary["processes_completed"] == 1
    assert summary["steps_completed"] == 9 and summary["simulated_working_days"] > killed.days
    session.commit()
    session.expire_all()  # read what the resumed run wrote
    run = session.scalars(select(SimulationRun)).one()  # resumed, not started again
    assert (run.status, run.starts, run.days) == ("completed", 2, summary["simulated_working_days"])
    # Every row went out once; the sink of each start kept each Message-ID once.
    rows = session.execute(select(OutboxMessage.message_id, OutboxMessage.status).where(
        OutboxMessage.organisation_id.in_(run.organisation_ids))).all()
    assert {status for _, status in rows} <= {"sent", "digested"}
    stored = Counter(m.message_id for m in list_messages(tmp_path / "data-4" / "mail"))
    assert set(stored) == {mid for mid, status in rows if status == "sent"}
    assert max(stored.values()) == 1

    again = _simulate(database_url, tmp_path, 4, "--resume", **size)  # an ended run is only summarised
    assert {k: v for k, v in again.items() if k != "seconds"} == {
        k: v for k, v in summary.items() if k != "seconds"}
    session.commit()
    assert session.scalars(select(SimulationRun.starts)).one() == 2  # a column read is always fresh
