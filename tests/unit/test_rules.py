"""Pure rules: transitions, gates, phases and actions, with Hypothesis (no database)."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from flows import rules
from flows.definition import load_definition
from flows.errors import EngineError, GateUnmet, IllegalTransition
from flows.rules import GateView

STATES = sorted({s for m in rules.TRANSITIONS.values() for k, v in m.items() for s in (v | {k}) if s})


@given(st.sampled_from(sorted(rules.TRANSITIONS)), st.sampled_from([None, *STATES]),
       st.sampled_from(STATES))
def test_check_transition_allows_exactly_the_table(entity, from_state, to_state):
    allowed = to_state in rules.TRANSITIONS[entity].get(from_state, frozenset())
    if allowed:
        rules.check_transition(entity, from_state, to_state)
    else:
        with pytest.raises(IllegalTransition) as info:
            rules.check_transition(entity, from_state, to_state)
        assert info.value.params == {"entity": entity, "from_state": from_state, "to_state": to_state}


def test_terminal_states_have_no_way_out():
    terminal = {"completed", "cancelled", "closed", "rejected", "done", "dropped", "ended", "revoked"}
    for entity, table in rules.TRANSITIONS.items():
        assert not terminal & set(table), entity
    assert "approved" not in rules.TRANSITIONS["gate"]


gate_views = st.lists(
    st.builds(GateView, key=st.text("abc", min_size=1, max_size=3),
              before=st.sampled_from(rules.POSITIONS),
              status=st.sampled_from(["pending", "open", "approved", "rejected", "cancelled"])),
    max_size=6,
)


@given(gate_views, st.sampled_from(rules.POSITIONS))
def test_unmet_gates_are_exactly_the_unapproved_ones_at_the_position(gates, position):
    unmet = rules.unmet_gates(gates, position)
    assert set(unmet) == {g.key for g in gates if g.before == position and g.status != "approved"}
    if unmet:
        with pytest.raises(GateUnmet) as info:
            rules.require_gates(gates, position)
        assert info.value.params["gate"] in unmet
    else:
        rules.require_gates(gates, position)


@given(st.dictionaries(st.text("xyz", min_size=1, max_size=2),
                       st.lists(st.sampled_from(["pending", "open", "claimed", "completed",
                                                 "cancelled"]), max_size=3), max_size=4))
def test_phase_complete_needs_every_activity_done(latest):
    done = rules.phase_complete(latest)
    expected = all(v and "completed" in v and not set(v) & rules.LIVE_TASK_STATES
                   for v in latest.values())
    assert done == expected


@given(st.lists(st.sampled_from(rules.POSITIONS[:3]), min_size=1, max_size=3),
       st.dictionaries(st.text("gk", min_size=1, max_size=2), st.sampled_from(rules.POSITIONS)))
def test_reopening_renews_every_gate_after_the_earliest_reopened_phase(phases, gates):
    back_to = rules.reopen_position(phases)
    assert rules.position_index(back_to) == min(rules.position_index(p) for p in phases)
    renewed = set(rules.gates_to_renew(gates, back_to))
    assert renewed == {k for k, b in gates.items() if rules.position_index(b) > rules.position_index(back_to)}


@given(st.sampled_from(["planned", "risk_pending", "approved", "in_progress"]),
       st.sampled_from([None, "open", "approved", "rejected"]),
       st.one_of(st.none(), st.integers(1, 3)), st.integers(1, 3))
def test_an_action_starts_only_with_an_approved_assessment_of_its_revision(status, gate, assessed, rev):
    ok = rules.action_may_start(status, gate, assessed, rev)
    assert ok == (status == "approved" and gate == "approved" and assessed == rev)



# --- The state machine: one step of the shipped definition, and in steps 8 and 9 the actions of
# its plans, driven only through the pure rules and the engine's algorithm mirrored in memory
# (flows/engine/steps.py advance/reopen/close_step, gates.py, actions.py). No database: every
# status lives in ``StepMachine.status`` and every change of one appends to ``StepMachine.audit``,
# the in-memory audit trail the third property is checked against.

# What the machine reached across a run, checked by ``test_step_machine`` after it: a machine
# that never closes a step or never starts an action proves nothing about either.
REACHED: Counter[str] = Counter()
CHECKS_BY_POSITION: Counter[str] = Counter()
ACTION_STEPS = (8, 9)  # plans and actions are made from step 8 (flows/engine/actions.py)


@dataclass(frozen=True)
class Event:
    """One entry of the in-memory audit trail."""

    entity: str
    entity_id: int
    from_state: str | None
    to_state: str


Row = tuple[str, int]  # (entity, id)


class StepMachine(RuleBasedStateMachine):
    """A step drawn from 1-9 (and its actions in steps 8-9) through the pure rules.

    Properties, after every rule: no step closes (nor any work starts) while a gate guarding it
    is unmet; no action is approved or under way without an approved risk assessment of its
    current revision; every state change has exactly one audit event (the trail replays to the
    present state, one legal transition per event) and a refused call changes nothing.
    """

    @initialize(number=st.integers(1, 9), each=st.integers(1, 3))
    def open_a_step(self, number: int, each: int) -> None:
        self.spec = load_definition().step(number)
        self.each = each  # tasks per activity assigned to "each" holder of its role
        self.status: dict[Row, str] = {}
        self.audit: list[Event] = []
        self.ids = itertools.count(1)
        self.checked = (0, {})  # audit length and statuses at the previous check
        self.phase: str | None = None
        self.phase_log: list[tuple[str | None, str]] = []
        self.gates: dict[str, Row] = {}  # gate key -> its newest row
        self.gate_key: dict[Row, str] = {}
        self.latest: dict[str, list[Row]] = {}  # activity key -> its tasks in the newest iteration
        self.task_phase: dict[Row, str] = {}
        self.gates_when_opened: dict[Row, dict[str, str]] = {}
        self.rejected = False
        # actions: row -> revision; risk gate rows per action, newest last; assessments
        self.revision: dict[Row, int] = {}
        self.risk_gates: dict[Row, list[Row]] = {}
        self.assessed: dict[Row, list[int]] = {}  # risk gate row -> revisions assessed on it
        self.process = self._create("process", "running")
        self.step = self._create("step", "pending")
        self._move(self.step, "queued")
        self._move(self.step, "open")  # open_step: open, create the gates, enter the first phase
        self._set_phase("forbered")
        for g in self.spec.gates:
            self._new_gate(g.key)
        self._advance()

    # -- the in-memory door: every status change passes here, with its one audit event --

    def _create(self, entity: str, to_state: str) -> Row:
        if entity in rules.TRANSITIONS:  # records (consultations, assessments) have no lifecycle
            rules.check_transition(entity, None, to_state)
        row = (entity, next(self.ids))
        self.status[row] = to_state
        self.audit.append(Event(entity, row[1], None, to_state))
        return row

    def _move(self, row: Row, to_state: str) -> None:
        rules.check_transition(row[0], self.status[row], to_state)
        self.audit.append(Event(row[0], row[1], self.status[row], to_state))
        self.status[row] = to_state

    def _set_phase(self, phase: str) -> None:
        self.phase_log.append((self.phase, phase))
        self.phase = phase

    def _new_gate(self, key: str) -> None:
        row = self._create("gate", "pending")
        self.gates[key] = row
        self.gate_key[row] = key

    def _views(self) -> list[GateView]:
        return [GateView(k, self.spec.gate(k).before, self.status[r]) for k, r in self.gates.items()]

    def _tasks_for(self, activity) -> int:
        return self.each if activity.assignment == "each" else 1

    def _running(self) -> bool:
        return self.status[self.process] == "running" and self.status[self.step] == "open"

    # -- the engine's algorithm (flows/engine/steps.py), over the in-memory state --

    def _advance(self) -> None:
        while self.status[self.step] == "open":
            position = self.phase
            if rules.unmet_gates(self._views(), position):
                for key, row in self.gates.items():
                    if self.spec.gate(key).before == position and self.status[row] == "pending":
                        self._move(row, "open")
                return
            if position == "close":
                self._close()
                return
            if not self._phase_done(position):
                return
            self._set_phase(rules.next_position(position))

    def _phase_done(self, phase: str) -> bool:
        for activity in self.spec.activities_in(phase):
            if activity.key not in self.latest:
                self.latest[activity.key] = [self._new_task(activity, "open")
                                             for _ in range(self._tasks_for(activity))]
            for row in self.latest[activity.key]:
                if self.status[row] == "pending":
                    self._move(row, "open")
                    self._opened(row)
        return rules.phase_complete({a.key: [self.status[r] for r in self.latest[a.key]]
                                     for a in self.spec.activities_in(phase)})

    def _new_task(self, activity, status: str) -> Row:
        row = self._create("task", status)
        self.task_phase[row] = activity.phase
        if status == "open":
            self._opened(row)
        return row

    def _opened(self, row: Row) -> None:
        self.gates_when_opened[row] = {k: self.status[g] for k, g in self.gates.items()}

    def _close(self) -> None:
        rules.require_gates(self._views(), "close")
        self._move(self.step, "closed")
        REACHED["closed"] += 1
        REACHED[f"closed step {self.spec.number}"] += 1
        if self.rejected:
            REACHED["closed after a rejection"] += 1
        if self.spec.number == load_definition().last_step_no:
            self._move(self.process, "completed")

    def _reopen(self, key: str) -> None:
        gate = self.spec.gate(key)
        back_to = rules.reopen_position(self.spec.activity(k).phase for k in gate.reopens)
        for k in gate.reopens:
            activity = self.spec.activity(k)
            self.latest[k] = [self._new_task(activity, "pending") for _ in range(self._tasks_for(activity))]
        for k in rules.gates_to_renew({g.key: g.before for g in self.spec.gates}, back_to):
            if self.status[self.gates[k]] in ("pending", "open"):
                self._move(self.gates[k], "cancelled")
            self._new_gate(k)
        self._set_phase(back_to)
        self._advance()

    def _cancel_process(self) -> None:
        for row, status in list(self.status.items()):
            if row[0] in ("task", "gate") and status in ("pending", "open", "claimed"):
                self._move(row, "cancelled")
        self._move(self.process, "cancelled")
        REACHED["cancelled"] += 1

    def _decide(self, row: Row, decision: str) -> None:
        """flows/engine/gates.py decide_gate: approve or reject an open gate, never a consultation."""
        key = self.gate_key[row]
        if self.spec.gate(key).kind == "consultation":
            raise IllegalTransition("a consultation gate passes when the consultation is recorded",
                                    entity="gate", from_state=self.status[row], to_state=decision)
        if self.status[row] != "open":
            raise IllegalTransition(f"gate {key} is {self.status[row]}", entity="gate",
                                    from_state=self.status[row], to_state=decision)
        self._move(row, "approved" if decision == "approve" else "rejected")
        if decision == "approve":
            self._advance()
        elif self.spec.gate(key).kind == "order":
            self._cancel_process()
        else:
            self.rejected = True
            REACHED["rejected"] += 1
            self._reopen(key)

    def _record_consultation(self, row: Row) -> None:
        """gates.py record_consultation: the record is what the gate waits for (no veto)."""
        key = self.gate_key[row]
        if self.spec.gate(key).kind != "consultation" or self.status[row] != "open":
            raise IllegalTransition("not an open consultation", entity="gate",
                                    from_state=self.status[row], to_state="approved")
        self._create("consultation", "recorded")
        self._move(row, "approved")
        REACHED["consultation recorded"] += 1
        self._advance()

    def _complete(self, row: Row) -> None:
        if row[0] != "task" or self.status[row] not in rules.OPEN_TASK_STATES:
            raise IllegalTransition("not an open task", entity="task",
                                    from_state=self.status.get(row), to_state="completed")
        self._move(row, "completed")
        self._advance()

    def _refused(self, call, *errors: type[EngineError]) -> EngineError:
        """``call`` must be refused with one of ``errors`` and change nothing."""
        before = (dict(self.status), len(self.audit), self.phase)
        with pytest.raises(errors or EngineError) as info:
            call()
        assert (self.status, len(self.audit), self.phase) == before
        return info.value

    def _pick(self, data, rows: list[Row]) -> Row | None:
        return data.draw(st.sampled_from(rows)) if rows else None

    def _rows(self, entity: str, *states: str) -> list[Row]:
        return sorted(r for r, s in self.status.items() if r[0] == entity and (not states or s in states))

    # -- rules: people act, allowed or not --

    @rule(data=st.data(), live=st.booleans())
    def someone_completes_a_task(self, data, live: bool) -> None:
        row = self._pick(data, (live and self._rows("task", *rules.OPEN_TASK_STATES)) or self._rows("task"))
        if row is None:
            return
        if self._running() and self.status[row] in rules.OPEN_TASK_STATES:
            self._complete(row)
        else:
            self._refused(lambda: self._complete(row), IllegalTransition)

    @rule(data=st.data())
    def someone_claims_a_task(self, data) -> None:
        row = self._pick(data, self._rows("task", "open"))
        if row is not None:
            self._move(row, "claimed")

    @precondition(lambda self: self._running())
    @rule()
    def the_whole_phase_is_done(self) -> None:
        """Every live task of the current phase completed, as its role holders would."""
        for row in self._rows("task", *rules.OPEN_TASK_STATES):
            if self.status[row] in rules.OPEN_TASK_STATES:  # an earlier completion may have moved on
                self._complete(row)

    @rule(decision=st.sampled_from(("approve", "approve", "approve", "reject")), cancel=st.integers(0, 3))
    def the_decider_decides_the_waiting_gate(self, decision: str, cancel: int) -> None:
        waiting = [r for k, r in self.gates.items()
                   if self.status[r] == "open" and self.spec.gate(k).kind != "consultation"]
        if not waiting:
            return
        if self.spec.gate(self.gate_key[waiting[0]]).kind == "order" and cancel:
            decision = "approve"  # a beställare seldom withdraws the order: most examples go on
        self._decide(waiting[0], decision)

    @rule(data=st.data(), decision=st.sampled_from(("approve", "reject")))
    def someone_decides_any_gate(self, data, decision: str) -> None:
        row = self._pick(data, sorted(self.gate_key))
        if row is None:
            return
        if self.spec.gate(self.gate_key[row]).kind == "consultation" or self.status[row] != "open":
            self._refused(lambda: self._decide(row, decision), IllegalTransition)
        else:
            self._decide(row, decision)

    @rule(data=st.data(), waiting=st.booleans())
    def a_consultation_is_recorded(self, data, waiting: bool) -> None:
        rows = sorted(self.gate_key)
        if waiting:
            rows = [r for r in rows if self.status[r] == "open"] or rows
        row = self._pick(data, rows)
        if row is None:
            return
        if self.spec.gate(self.gate_key[row]).kind == "consultation" and self.status[row] == "open":
            self._record_consultation(row)
        else:
            self._refused(lambda: self._record_consultation(row), IllegalTransition)

    @rule()
    def someone_tries_to_close_the_step(self) -> None:
        if self.status[self.step] == "closed":
            self._refused(lambda: self._move(self.step, "closed"), IllegalTransition)
            self._refused(lambda: self._move(self.step, "open"), IllegalTransition)
            return
        unmet = [g.key for g in self._views() if g.before == "close" and g.status != "approved"]
        if unmet:
            error = self._refused(lambda: rules.require_gates(self._views(), "close"), GateUnmet)
            assert error.params["gate"] in unmet

    # -- actions (steps 8 and 9): flows/engine/actions.py over the in-memory state --

    def _actions(self, *states: str) -> list[Row]:
        return self._rows("action", *states) if self.spec.number in ACTION_STEPS else []

    def _risk_gate(self, action: Row) -> Row:
        return self.risk_gates[action][-1]

    def _new_risk_gate(self, action: Row) -> None:
        self.risk_gates.setdefault(action, []).append(gate := self._create("gate", "open"))
        self.assessed[gate] = []

    def _assess(self, action: Row) -> None:
        if self.status[action] not in ("planned", "risk_pending"):
            raise IllegalTransition(f"action is {self.status[action]}", entity="action",
                                    from_state=self.status[action], to_state="risk_pending")
        self._create("risk_assessment", "recorded")
        self.assessed[self._risk_gate(action)].append(self.revision[action])
        if self.status[action] == "planned":
            self._move(action, "risk_pending")

    def _decide_risk(self, action: Row, decision: str) -> None:
        gate = self._risk_gate(action)
        if self.status[gate] != "open":
            raise IllegalTransition("the risk gate is not open", entity="gate",
                                    from_state=self.status[gate], to_state=decision)
        if decision == "approve" and self.revision[action] not in self.assessed[gate]:
            raise GateUnmet("no risk assessment of this version", gate="risk_assessment")
        if decision == "approve":
            rules.check_transition("action", self.status[action], "approved")  # before any change
            self._move(gate, "approved")
            self._move(action, "approved")
        else:
            self._move(gate, "rejected")
            self._new_risk_gate(action)

    def _start(self, action: Row) -> None:
        gate = self._risk_gate(action)
        assessed = self.assessed[gate][-1] if self.assessed[gate] else None
        rules.require_action_may_start(self.status[action], self.status[gate], assessed,
                                       self.revision[action])
        self._move(action, "in_progress")
        REACHED["action started"] += 1

    def _change(self, action: Row) -> None:
        if self.status[action] in ("done", "dropped"):
            raise IllegalTransition(f"action is {self.status[action]}", entity="action",
                                    from_state=self.status[action], to_state="changed")
        self.revision[action] += 1
        if self.status[action] in ("approved", "in_progress"):
            self._move(action, "risk_pending")
        old = self._risk_gate(action)
        if self.status[old] == "open":
            self._move(old, "cancelled")
        self._new_risk_gate(action)

    def _add_action(self) -> None:
        action = self._create("action", "planned")
        self.revision[action] = 1
        self._new_risk_gate(action)

    @precondition(lambda self: self.spec.number in ACTION_STEPS)
    @rule(data=st.data(), op=st.sampled_from(("next",) * 5 + ("add", "assess", "approve", "reject",
                                                               "start", "change", "finish", "drop")))
    def someone_works_on_an_action(self, data, op: str) -> None:
        """flows/engine/actions.py: add, assess, decide, start, change, finish or drop an action."""
        actions = self._actions()
        if op == "add" or not actions:
            if self._running():  # a plan's actions are made while step 8 or 9 runs
                self._add_action()
            return
        self._work_on(self._pick(data, actions), op)

    @precondition(lambda self: self.spec.number in ACTION_STEPS)
    @rule()
    def an_owner_moves_the_newest_action_on(self) -> None:
        """The next move on the newest action, or a new action when there is none or it ended.

        Without arguments this is the rule Hypothesis's simplest example repeats in steps 8-9."""
        actions = self._actions()
        if actions and self.status[actions[-1]] not in ("done", "dropped"):
            self._work_on(actions[-1], "next")
        elif self._running():
            self._add_action()

    def _work_on(self, action: Row, op: str) -> None:
        status = self.status[action]
        gate = self._risk_gate(action)
        if op == "next":  # what its owner would do next
            op = {"planned": "assess", "approved": "start", "in_progress": "finish",
                  "risk_pending": "assess" if self.revision[action] not in self.assessed[gate]
                  else "approve"}.get(status, "change")
        if op == "assess":
            if status in ("planned", "risk_pending"):
                self._assess(action)
            else:
                self._refused(lambda: self._assess(action), IllegalTransition)
        elif op in ("approve", "reject"):
            may = self.status[gate] == "open" and (
                op == "reject" or (self.revision[action] in self.assessed[gate]
                                   and status in rules.TRANSITIONS["action"]
                                   and "approved" in rules.TRANSITIONS["action"][status]))
            if may:
                self._decide_risk(action, op)
            else:
                self._refused(lambda: self._decide_risk(action, op), IllegalTransition, GateUnmet)
        elif op == "start":
            if status == "approved":
                self._start(action)
            else:
                self._refused(lambda: self._start(action), GateUnmet)
        elif op == "change":
            if status in ("done", "dropped"):
                self._refused(lambda: self._change(action), IllegalTransition)
            else:
                self._change(action)
        else:
            to_state = "done" if op == "finish" else "dropped"
            if to_state in rules.TRANSITIONS["action"].get(status, ()):
                self._move(action, to_state)
            else:
                self._refused(lambda: self._move(action, to_state), IllegalTransition)

    # -- the three properties --

    @invariant()
    def no_step_closes_and_no_work_starts_while_a_gate_is_unmet(self) -> None:
        CHECKS_BY_POSITION[self.status[self.step] if self.status[self.step] == "closed" else self.phase] += 1
        gates = {k: self.status[r] for k, r in self.gates.items()}
        if self.status[self.step] == "closed":
            assert self.phase == "close"
            assert all(s == "approved" for s in gates.values()), gates
            for activity in self.spec.activities:
                assert [self.status[r] for r in self.latest[activity.key]] == \
                    ["completed"] * self._tasks_for(activity), activity.key
        # A phase is entered only with every gate before it passed; its work opens only then.
        position = rules.position_index(self.phase)
        for key, status in gates.items():
            if rules.position_index(self.spec.gate(key).before) < position:
                assert status == "approved", (key, self.phase, gates)
        for row, phase in self.task_phase.items():
            if self.status[row] in rules.OPEN_TASK_STATES:
                assert phase == self.phase, (row, phase, self.phase)
        for row, seen in self.gates_when_opened.items():
            guarding = [k for k in seen
                        if rules.position_index(self.spec.gate(k).before)
                        <= rules.position_index(self.task_phase[row])]
            assert all(seen[k] == "approved" for k in guarding), (row, seen)

    @invariant()
    def no_action_goes_on_without_an_approved_assessment_of_its_revision(self) -> None:
        for action, revision in self.revision.items():
            if self.status[action] in ("approved", "in_progress"):
                gate = self._risk_gate(action)
                assert self.status[gate] == "approved", (action, self.status[gate])
                assert revision in self.assessed[gate], (action, revision, self.assessed[gate])
            # every older risk gate is settled: one open assessment question per action at most
            assert all(self.status[g] != "open" for g in self.risk_gates[action][:-1])

    @invariant()
    def every_state_change_has_exactly_one_audit_event(self) -> None:
        seen, before = self.checked
        moves: dict[Row, list[Event]] = {}
        for e in self.audit[seen:]:
            moves.setdefault((e.entity, e.entity_id), []).append(e)
        changed = {row for row, status in self.status.items() if before.get(row) != status}
        assert changed <= set(moves), changed - set(moves)
        for row, chain in moves.items():
            assert chain[0].from_state == before.get(row), (row, chain)
            assert all(a.to_state == b.from_state for a, b in itertools.pairwise(chain)), chain
            assert chain[-1].to_state == self.status[row], (row, chain)
        # The whole trail replays to the present, one legal transition per event.
        replayed: dict[Row, str] = {}
        for e in self.audit:
            row = (e.entity, e.entity_id)
            assert replayed.get(row) == e.from_state, e
            if e.entity in rules.TRANSITIONS:
                rules.check_transition(e.entity, e.from_state, e.to_state)
            replayed[row] = e.to_state
        assert replayed == self.status
        assert all(a[1] == b[0] for a, b in itertools.pairwise(self.phase_log))
        self.checked = (len(self.audit), dict(self.status))


class PlanStepMachine(StepMachine):
    """The same in steps 8 and 9 only, where plans' actions are assessed, started and changed."""

    @initialize(number=st.sampled_from(ACTION_STEPS), each=st.integers(1, 3))
    def open_a_step(self, number: int, each: int) -> None:
        super().open_a_step(number, each)


STEP_MACHINE_SETTINGS = settings(max_examples=60, stateful_step_count=100, deadline=None)


def _run(machine: type[StepMachine]) -> Counter[str]:
    REACHED.clear()
    CHECKS_BY_POSITION.clear()
    run_state_machine_as_test(machine, settings=STEP_MACHINE_SETTINGS)
    print(f"\n{machine.__name__}: {dict(REACHED)}; checks by position {dict(CHECKS_BY_POSITION)}")
    return REACHED


def test_step_machine() -> None:
    reached = _run(StepMachine)
    # Not vacuous: steps really closed (a run closes 10-40 steps of 3-7 different numbers).
    assert reached["closed"] >= 3, reached
    assert CHECKS_BY_POSITION["close"] + CHECKS_BY_POSITION["closed"] > 0, CHECKS_BY_POSITION


def test_plan_step_machine() -> None:
    reached = _run(PlanStepMachine)
    # Not vacuous: actions really started (100-200 per run; the closes are test_step_machine's).
    assert reached["action started"] >= 1, reached
