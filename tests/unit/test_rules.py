"""Pure rules: transitions, gates, phases and actions, with Hypothesis (no database)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from flows import rules
from flows.definition import load_definition
from flows.errors import GateUnmet, IllegalTransition
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


class StepMachine(RuleBasedStateMachine):
    """A step of the shipped definition driven only through the pure rules.

    Random completions, gate decisions and close attempts; the step never closes
    while one of its gates is unmet, and a rejection always takes it back.
    """

    def __init__(self) -> None:
        super().__init__()
        self.spec = load_definition().step(1)
        self.position = "forbered"
        self.gates = {g.key: "pending" for g in self.spec.gates}
        self.done: set[str] = set()
        self.closed = False

    def _views(self):
        return [GateView(k, self.spec.gate(k).before, s) for k, s in self.gates.items()]

    def _phase_keys(self):
        return [a.key for a in self.spec.activities_in(self.position)] if self.position != "close" else []

    @precondition(lambda self: not self.closed and self.position != "close")
    @rule(data=st.data())
    def complete_a_task(self, data):
        keys = [k for k in self._phase_keys() if k not in self.done]
        if keys and not rules.unmet_gates(self._views(), self.position):
            self.done.add(data.draw(st.sampled_from(keys)))

    @precondition(lambda self: not self.closed)
    @rule(approve=st.booleans())
    def decide_a_gate(self, approve):
        waiting = [k for k, s in self.gates.items()
                   if s != "approved" and self.spec.gate(k).before == self.position]
        if not waiting:
            return
        key = waiting[0]
        if approve or not self.spec.gate(key).reopens:
            self.gates[key] = "approved"
            return
        gate = self.spec.gate(key)
        back = rules.reopen_position(self.spec.activity(k).phase for k in gate.reopens)
        positions = {g.key: g.before for g in self.spec.gates}
        for k in rules.gates_to_renew(positions, back):
            self.gates[k] = "pending"
        self.done -= set(gate.reopens)
        self.position = back

    @precondition(lambda self: not self.closed)
    @rule()
    def try_to_move_on(self):
        if rules.unmet_gates(self._views(), self.position):
            with pytest.raises(GateUnmet):
                rules.require_gates(self._views(), self.position)
            return
        if self.position == "close":
            rules.require_gates(self._views(), "close")
            self.closed = True
        elif rules.phase_complete({k: ["completed"] if k in self.done else ["open"]
                                   for k in self._phase_keys()}):
            self.position = rules.next_position(self.position)

    @rule()
    def a_closed_step_cannot_reopen(self):
        if self.closed:
            with pytest.raises(IllegalTransition):
                rules.check_transition("step", "closed", "open")

    @invariant()
    def closed_only_with_every_gate_approved(self):
        if self.closed:
            assert all(s == "approved" for s in self.gates.values())
            assert self.done >= {a.key for a in self.spec.activities}


StepMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestStepMachine = StepMachine.TestCase
