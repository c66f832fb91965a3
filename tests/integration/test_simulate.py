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

from models import AuditEvent, Gate, Organisation, OutboxMessage, Process, SimulationRun, StepInstance, Task
from notifications.sink import list_messages


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

    again = _simulate(database_url, tmp_path, seed=5)
    strip = lambda d: {k: v for k, v in d.items() if k not in ("seconds", "reports")}  # noqa: E731
    assert strip(again) == strip(summary)


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
