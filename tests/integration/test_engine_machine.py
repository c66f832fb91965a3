"""Hypothesis state machines over the real engine and database.

Random people do random things (allowed or not), and the right people do the
work that waits (finish the phase, decide or record the waiting gate). After
every step: no step is closed while one of its gates is unmet, no action is under
way without an approved risk assessment of its current content, and every status
change has exactly one audit event: the events of each object chain from its old
status to its new one, and no audit event claims a change that did not happen.
The test functions then check that steps really closed during the run.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from flows import engine
from flows.errors import EngineError
from models import (
    Action,
    ActionPlan,
    AuditEvent,
    Gate,
    Person,
    Process,
    RiskAssessment,
    RoleAssignment,
    StepInstance,
    Task,
)
from tests.helpers import NOW, ctx_for, form_data, open_queued, start, walk_to

RISK = {"risk": "Stress", "likelihood": 2, "consequence": 3, "measure": "Avlastning"}
TRACKED = {"process": Process, "step": StepInstance, "task": Task, "gate": Gate, "plan": ActionPlan,
           "action": Action}
MACHINE_SETTINGS = settings(max_examples=10, stateful_step_count=30, deadline=None,
                            suppress_health_check=list(HealthCheck))
# Each ActionMachine example first walks a process to step 8 (about 2 s): fewer of them.
ACTION_MACHINE_SETTINGS = settings(MACHINE_SETTINGS, max_examples=5, stateful_step_count=25)

# What the machines reached across a run (steps closed, processes cancelled, actions started)
# and where the current step stood at each check; the test functions assert on them.
REACHED: Counter[str] = Counter()
CHECKS_BY_POSITION: Counter[str] = Counter()


class EngineMachine(RuleBasedStateMachine):
    """Shared set-up, actions and invariants; subclasses choose where the process starts."""

    session = None  # set by the test function
    start_at_step = 1

    @initialize()
    def begin(self):
        self.s = self.session
        self.started = start(self.s, managers=2, seed=11)
        if self.start_at_step > 1:
            walk_to(self.s, self.started.process_id, self.start_at_step)
        self.pid = self.started.process_id
        self.people = list(self.s.scalars(select(Person.id).where(
            Person.organisation_id == self.started.org.organisation.id).order_by(Person.id)))
        self.statuses = self._statuses()
        self.last_event = self.s.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) or 0

    def _statuses(self) -> dict:
        found = {}
        for name, model in TRACKED.items():
            column = model.id if model is Process else model.process_id
            for obj_id, status in self.s.execute(select(model.id, model.status).where(column == self.pid)):
                found[(name, obj_id)] = status
        return found

    def _try(self, call):
        try:
            ctx = call()
            self.s.commit()
            if ctx is not None:
                open_queued(self.s, ctx.queued)
                self.s.commit()
        except EngineError:
            self.s.rollback()

    def _pick(self, data, rows):
        return data.draw(st.sampled_from(rows)) if rows else None

    @rule(data=st.data())
    def someone_completes_a_task(self, data):
        task = self._pick(data, list(self.s.scalars(select(Task).where(
            Task.process_id == self.pid, Task.status.in_(("open", "claimed"))).order_by(Task.id))))
        if task is None:
            return
        who = data.draw(st.sampled_from([c.person_id for c in task.candidates] + self.people[:3]))

        def act():
            ctx = ctx_for(self.s, who)
            engine.complete(ctx, task.id, form_data(self.s, task))
            return ctx
        self._try(act)

    def _holders(self, role: str) -> list[int]:
        return [p for p in self.s.scalars(select(RoleAssignment.person_id).where(
            RoleAssignment.process_id == self.pid, RoleAssignment.role == role)
            .order_by(RoleAssignment.id)) if p]

    def _waiting_gate(self) -> Gate | None:
        return self.s.scalars(select(Gate).where(
            Gate.process_id == self.pid, Gate.step_id.is_not(None), Gate.status == "open")
            .order_by(Gate.id)).first()

    def _decide_as_decider(self, gate: Gate, approve: bool) -> None:
        holders = self._holders(gate.requirements.get("decider") or "processledare")

        def act():
            ctx = ctx_for(self.s, holders[0])
            if gate.kind == "consultation":  # recorded, never approved or rejected
                engine.record_consultation(ctx, gate.id, subject="Samverkan", held_on=NOW.date(),
                                           participants=["Vision"], outcome="Samverkat")
            else:
                engine.decide_gate(ctx, gate.id, "approve" if approve else "reject",
                                   reason=None if approve else "Komplettera")
            return ctx
        self._try(act)

    @rule()
    def the_role_holders_finish_the_phase(self):
        """Every live task completed by the person it is for, one call each; when the step waits
        for a gate instead, its decider approves it (a processledare records a consultation).

        With no arguments this is the rule Hypothesis's simplest example repeats, so every run
        walks at least one process through its steps along with the random ones.
        """
        tasks = list(self.s.scalars(select(Task).where(
            Task.process_id == self.pid, Task.status.in_(("open", "claimed"))).order_by(Task.id)))
        for task in tasks:
            who = task.assignee_id or task.candidates[0].person_id

            def act(task=task, who=who):
                ctx = ctx_for(self.s, who)
                engine.complete(ctx, task.id, form_data(self.s, task))
                return ctx
            self._try(act)
        gate = None if tasks else self._waiting_gate()
        if gate is not None:
            self._decide_as_decider(gate, approve=True)

    @rule(approve=st.sampled_from((True, True, True, False)), withdraw=st.integers(0, 3))
    def the_decider_decides_the_waiting_gate(self, approve, withdraw):
        """The holder of the decider role decides the step's waiting gate (a processledare records
        a consultation); mostly approvals, and the order is withdrawn only now and then."""
        gate = self._waiting_gate()
        if gate is not None:
            self._decide_as_decider(gate, approve=approve or (gate.kind == "order" and withdraw > 0))

    @rule(data=st.data(), approve=st.booleans(), withdraw=st.integers(0, 3))
    def someone_decides_a_gate(self, data, approve, withdraw):
        gate = self._pick(data, list(self.s.scalars(select(Gate).where(
            Gate.process_id == self.pid, Gate.status == "open").order_by(Gate.id))))
        if gate is None:
            return
        if gate.kind == "order" and withdraw:
            approve = True  # a rejected order cancels the process: keep most examples going
        holders = list(self.s.scalars(select(RoleAssignment.person_id).where(
            RoleAssignment.process_id == self.pid,
            RoleAssignment.role == (gate.requirements.get("decider") or "processledare"))))
        who = data.draw(st.sampled_from([p for p in holders if p] + self.people[:2]))

        def act():
            ctx = ctx_for(self.s, who)
            if gate.kind == "consultation":
                engine.record_consultation(ctx, gate.id, subject="Samverkan", held_on=NOW.date(),
                                           participants=["Vision"], outcome="Samverkat")
            else:
                engine.decide_gate(ctx, gate.id, "approve" if approve else "reject",
                                   reason=None if approve else "Komplettera")
            return ctx
        self._try(act)

    @invariant()
    def where_the_process_stands(self):
        if not hasattr(self, "pid"):
            return
        process = self.s.get(Process, self.pid)
        step = self.s.scalars(select(StepInstance).where(
            StepInstance.process_id == self.pid, StepInstance.step_no == process.current_step_no)).one()
        CHECKS_BY_POSITION[process.status if process.status != "running" else
                           step.phase if step.status == "open" else step.status] += 1

    @invariant()
    def no_step_closed_with_an_unmet_gate(self):
        for step in self.s.scalars(select(StepInstance).where(
                StepInstance.process_id == self.pid, StepInstance.status == "closed")):
            newest = {}
            for g in self.s.scalars(select(Gate).where(Gate.step_id == step.id).order_by(Gate.iteration)):
                newest[g.key] = g.status
            assert all(status == "approved" for status in newest.values()), (step.step_no, newest)

    @invariant()
    def no_action_under_way_without_an_approved_assessment(self):
        for action in self.s.scalars(select(Action).where(
                Action.process_id == self.pid, Action.status == "in_progress")):
            gate = self.s.scalars(select(Gate).where(Gate.action_id == action.id)
                                  .order_by(Gate.id.desc())).first()
            revisions = set(self.s.scalars(select(RiskAssessment.action_revision).where(
                RiskAssessment.gate_id == gate.id)))
            assert gate.status == "approved" and action.revision in revisions

    @invariant()
    def every_status_change_has_exactly_one_audit_event(self):
        if not hasattr(self, "statuses"):
            return
        self.s.expire_all()
        now = self._statuses()
        changed = {k: (self.statuses.get(k), v) for k, v in now.items() if self.statuses.get(k) != v}
        events = self.s.scalars(select(AuditEvent).where(
            AuditEvent.id > self.last_event, AuditEvent.process_id == self.pid,
            AuditEvent.entity.in_(TRACKED)).order_by(AuditEvent.id)).all()
        moves: dict[tuple, list[AuditEvent]] = {}
        for e in events:
            if e.from_state != e.to_state and e.action != "phase":
                moves.setdefault((e.entity, e.entity_id), []).append(e)
        assert set(changed) <= set(moves), set(changed) - set(moves)
        for (entity, _), (_, new) in changed.items():
            if (entity, new) in (("step", "closed"), ("process", "cancelled"), ("process", "completed"),
                                 ("action", "in_progress")):
                REACHED[f"{entity} {new}"] += 1
        for key, chain in moves.items():
            old, new = self.statuses.get(key), now.get(key)
            states = [chain[0].from_state] + [e.to_state for e in chain]
            links_ok = all(a.to_state == b.from_state for a, b in zip(chain, chain[1:], strict=False))
            assert links_ok and states[0] == old and states[-1] == new, (key, old, new, states)
        self.statuses = now
        self.last_event = max([self.last_event, *(e.id for e in events)])


class ActionMachine(EngineMachine):
    """The same, from step 8, with plans and actions."""

    start_at_step = 8

    def _assessed(self, action: Action) -> bool:
        """The newest risk gate of ``action`` holds an assessment of its current revision."""
        gate = self.s.scalars(select(Gate.id).where(Gate.action_id == action.id)
                              .order_by(Gate.id.desc())).first()
        return self.s.scalar(select(RiskAssessment.id).where(
            RiskAssessment.gate_id == gate, RiskAssessment.action_revision == action.revision)) is not None

    def _unit_of(self, person_id: int, role: str) -> int | None:
        return self.s.scalars(select(RoleAssignment.unit_id).where(
            RoleAssignment.process_id == self.pid, RoleAssignment.role == role,
            RoleAssignment.person_id == person_id)).first()

    def _sensible(self) -> str:
        """What the plan's owner would do next with the newest action."""
        action = self.s.scalars(select(Action).where(Action.process_id == self.pid)
                                .order_by(Action.id.desc())).first()
        return {None: "action", "planned": "assess",
                "risk_pending": "approve" if action and self._assessed(action) else "assess",
                "approved": "start", "in_progress": "change"}.get(action and action.status, "action")

    def _work_on_action(self, op: str) -> None:
        chef = self.started.person("chef")
        owner = self.started.person("processagare")
        plan = self.s.scalars(select(ActionPlan).where(ActionPlan.process_id == self.pid)).first()
        action = self.s.scalars(select(Action).where(Action.process_id == self.pid)
                                .order_by(Action.id.desc())).first()
        rep = self.s.get(Person, self.started.person("skyddsombud")).name
        fields = engine.ActionFields(development_area="Stöd", goal="Mål", description=f"Gör {op}",
                                     responsible_id=chef, start_date=NOW.date(),
                                     end_date=NOW.date() + timedelta(days=30))

        def act():
            ctx = ctx_for(self.s, owner if op in ("approve", "reject") else chef)
            if op == "plan" or plan is None:
                engine.create_plan(ctx, self.pid, level="C", owner_id=chef, title="Plan",
                                   unit_id=self._unit_of(chef, "chef"))
            elif op == "action" or action is None:
                engine.add_action(ctx, plan.id, fields)
            elif op == "assess":
                engine.record_risk_assessment(ctx, action.id, risks=[RISK], participants=["Chef", rep],
                                              safety_representative=rep, conclusion="OK")
            elif op in ("approve", "reject"):
                gate = self.s.scalars(select(Gate).where(Gate.action_id == action.id)
                                      .order_by(Gate.id.desc())).first()
                engine.decide_gate(ctx, gate.id, op, reason="Oklart" if op == "reject" else None)
            elif op == "start":
                engine.start_action(ctx, action.id)
            else:
                engine.change_action(ctx, action.id, fields)
            return ctx
        self._try(act)

    @rule()
    def the_owner_moves_the_action_on(self):
        """Plan, action, assessment, approval, start, change: the next of these, as its owner.

        With no arguments this is the rule Hypothesis's simplest example repeats."""
        self._work_on_action(self._sensible())

    @rule(op=st.sampled_from(("sensible", "sensible", "plan", "action", "assess", "approve", "reject",
                              "start", "change")))
    def someone_works_on_an_action(self, op):
        self._work_on_action(self._sensible() if op == "sensible" else op)


def _run(machine: type[EngineMachine], session, machine_settings: settings) -> Counter[str]:
    REACHED.clear()
    CHECKS_BY_POSITION.clear()
    machine.session = session
    run_state_machine_as_test(machine, settings=machine_settings)
    print(f"\n{machine.__name__}: {dict(REACHED)}; checks by position {dict(CHECKS_BY_POSITION)}")
    return REACHED


def test_engine_state_machine(session):
    reached = _run(EngineMachine, session, MACHINE_SETTINGS)
    # Not vacuous: steps really closed (only through the processägare's approval).
    assert reached["step closed"] >= 1, reached


def test_action_state_machine(session):
    reached = _run(ActionMachine, session, ACTION_MACHINE_SETTINGS)
    # Not vacuous: actions really started (only after an approved risk assessment).
    assert reached["action in_progress"] >= 1, reached
