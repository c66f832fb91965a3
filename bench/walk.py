"""Walking whole Chefoskopet processes through the engine's one door, one transaction per act.

Each act is what a click or a step flow does: one engine call and a commit. The
driver finds the next acts in a separate read transaction (not timed), as a
client would read its inbox; only the engine call and its commit are timed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.capture import StatementLog
from chefoskop.seed import build_organisation
from flows import engine
from flows.engine.queries import step_spec
from models import AuditEvent, Gate, OutboxMessage, Process, StepInstance, Task
from roles.resolve import holders

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday in the past: roles are in force now
REJECT_REASON = "Underlaget behöver kompletteras innan beslut."
Act = tuple[str, int | None, Callable[[engine.Context], None]]
Until = Callable[[Session, list[int]], set[int]]  # which of these processes are far enough


@dataclass
class WalkResult:
    """What one walk did and how long each act took."""

    durations: list[float] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    processes: int = 0
    audit_events: int = 0
    outbox_rows: int = 0
    seconds: float = 0.0


class Walker:
    """Drives ``processes`` organisations of ``managers`` managers each to the end."""

    def __init__(self, db: Engine, log: StatementLog | None = None) -> None:
        self.db = db
        self.log = log
        self.rejected: set[int] = set()
        self.seeded: list[tuple[int, int, list]] = []
        self.process_ids: list[int] = []

    def _commit(self, session: Session, timed: bool) -> None:
        session.commit()
        if self.log:
            self.log.end(timed=timed)

    def seed(self, processes: int, managers: int, seed: int = 1) -> list[tuple[int, int, list]]:
        """Build the organisations (setup, not timed); returns (org id, starter, roster)."""
        out = []
        for i in range(processes):
            with Session(self.db, expire_on_commit=False) as s:
                org = build_organisation(s, f"Benchkommun {seed}-{i + 1}", managers, seed=seed * 1000 + i)
                out.append((org.organisation.id, org.by_role["processledare"][0].id, org.roster))
                self._commit(s, timed=False)
        self.seeded = out
        return out

    def start_all(self) -> list[int]:
        """Start a process in every seeded organisation; returns the queued step-1 ids (setup)."""
        queued: list[int] = []
        for org_id, starter, roster in self.seeded:
            with Session(self.db, expire_on_commit=False) as s:
                ctx = engine.Context(s, engine.Actor.person(starter), NOW)
                engine.start_process(ctx, org_id, "Chefoskopet", roster)
                queued += [step_id for _, step_id in ctx.queued]
                self._commit(s, timed=False)
        return queued

    def act(self, result: WalkResult, kind: str, person_id: int | None,
            call: Callable[[engine.Context], object]) -> None:
        """One timed act: an engine call as ``person_id`` and its commit."""
        before = self.log.sent if self.log else 0
        started = time.perf_counter()
        with Session(self.db, expire_on_commit=False) as s:
            actor = engine.Actor.person(person_id) if person_id else engine.SYSTEM
            call(engine.Context(s, actor, NOW))
            self._commit(s, timed=True)
        result.durations.append(time.perf_counter() - started)
        if self.log:
            result.statements.append(self.log.sent - before)
        result.kinds[kind] += 1
        result.order.append(kind)

    def run(self, processes: int, managers: int, seed: int = 1, until: Until | None = None) -> WalkResult:
        """Seed, start every process and walk each to completion (or until ``until`` holds)."""
        seeded = self.seed(processes, managers, seed)
        result = WalkResult(processes=processes)
        started = time.perf_counter()
        ids: list[int] = []
        for org_id, starter, roster in seeded:
            self.act(result, "start", starter, lambda ctx, o=org_id, r=roster: ids.append(
                engine.start_process(ctx, o, "Chefoskopet", r).id))
        running = list(ids)
        while running:
            for pid in running:
                for kind, who, call in self.plan(pid):
                    self.act(result, kind, who, call)
            running = self._running(ids, until)
        self.process_ids = ids
        result.seconds = time.perf_counter() - started
        self._count(result, ids)
        return result

    def _running(self, ids: list[int], until: Until | None) -> list[int]:
        with Session(self.db) as s:
            running = list(s.scalars(select(Process.id).where(
                Process.id.in_(ids), Process.status == "running").order_by(Process.id)))
            if until is not None:
                done = until(s, running)
                running = [pid for pid in running if pid not in done]
            self._commit(s, timed=False)
        return running

    def _count(self, result: WalkResult, ids: list[int]) -> None:
        with Session(self.db) as s:
            result.audit_events = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.process_id.in_(ids))) or 0
            result.outbox_rows = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.process_id.in_(ids))) or 0
            self._commit(s, timed=False)

    def plan(self, pid: int) -> list[Act]:
        """The acts due in process ``pid`` now, read in one transaction (not timed)."""
        with Session(self.db) as s:
            acts = self._open_steps(s, pid) or (self._tasks(s, pid) + self._gates(s, pid))
            self._commit(s, timed=False)
        return acts

    def _open_steps(self, s: Session, pid: int) -> list[Act]:
        steps = s.scalars(select(StepInstance.id).where(
            StepInstance.process_id == pid, StepInstance.status == "queued"))
        return [("open_step", None, lambda ctx, i=i: engine.open_step(ctx, i)) for i in steps]

    def _tasks(self, s: Session, pid: int) -> list[Act]:
        acts: list[Act] = []
        process = s.get(Process, pid)
        for task in s.scalars(select(Task).where(
                Task.process_id == pid, Task.status.in_(("open", "claimed"))).order_by(Task.id)):
            step = s.get(StepInstance, task.step_id)
            spec = step_spec(process, step).activity(task.activity_key)
            data = {f.key: f"{f.label.sv}: svar" for f in spec.fields}
            who = task.assignee_id or task.candidates[0].person_id
            acts.append(("complete", who, lambda ctx, i=task.id, d=data: engine.complete(ctx, i, d)))
        return acts

    def _gates(self, s: Session, pid: int) -> list[Act]:
        acts: list[Act] = []
        for gate in s.scalars(select(Gate).where(Gate.process_id == pid, Gate.status == "open")
                              .order_by(Gate.id)):
            if gate.kind == "consultation":
                leader = holders(s, pid, "processledare", NOW)[0].id
                acts.append(("consult", leader, lambda ctx, g=gate.id: engine.record_consultation(
                    ctx, g, subject="Samverkan inför beslut", held_on=NOW.date(),
                    participants=["Vision", "Kommunal"], outcome="Samverkat utan invändningar.")))
                continue
            decider = holders(s, pid, gate.requirements["decider"], NOW)[0].id
            step_no = s.get(StepInstance, gate.step_id).step_no
            if gate.key == "step_approval" and step_no == 1 and pid not in self.rejected:
                self.rejected.add(pid)
                acts.append(("reject", decider, lambda ctx, g=gate.id: engine.decide_gate(
                    ctx, g, "reject", reason=REJECT_REASON)))
            else:
                acts.append(("approve", decider, lambda ctx, g=gate.id: engine.decide_gate(
                    ctx, g, "approve")))
        return acts
