"""The shipped definition is valid, and broken definitions are refused with a reason."""

from __future__ import annotations

import copy

import pytest
import yaml
from pydantic import ValidationError

from flows.definition import DEFINITIONS_DIR, ProcessDefinition, load_definition, parse_definition

RAW = yaml.safe_load((DEFINITIONS_DIR / "chefoskopet-v1.yaml").read_text(encoding="utf-8"))


def test_nine_steps_in_order_with_three_phases_each():
    d = load_definition()
    assert [s.number for s in d.steps] == list(range(1, 10))
    for step in d.steps:
        assert {a.phase for a in step.activities} == {"forbered", "aktivitet", "analys"}


def test_every_step_closes_only_with_the_process_owner_approval():
    for step in load_definition().steps:
        closing = [g for g in step.gates_before("close") if g.kind == "approval"]
        assert closing and all(g.decider == "processagare" for g in closing)


def test_order_gate_guards_the_start():
    gate = load_definition().step(1).gate("order")
    assert (gate.kind, gate.decider, gate.before) == ("order", "bestallare", "forbered")


@pytest.mark.parametrize(("step", "before"), [(1, "analys"), (7, "analys"), (8, "analys")])
def test_samverkan_is_consulted_before_the_decisions(step, before):
    gates = load_definition().step(step).gates_before(before)
    assert any(g.kind == "consultation" for g in gates)


def test_actions_need_a_risk_assessment_decided_by_the_process_owner():
    (gate,) = load_definition().action_gates
    assert (gate.kind, gate.decider) == ("risk_assessment", "processagare")


def test_definition_is_cached_and_pinned_by_version():
    assert load_definition("chefoskopet", 1) is load_definition("chefoskopet", 1)
    with pytest.raises(LookupError):
        load_definition("chefoskopet", 99)


def _broken(mutate) -> dict:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    return raw


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["steps"][0]["activities"][0].update(role="kung"), "unknown role kung"),
        (lambda r: r["steps"][1]["gates"].clear(), "needs an approval gate before close"),
        (lambda r: r["steps"][2]["gates"][0].update(reopens=["nope"]), "reopens unknown"),
        (lambda r: r["steps"][3].update(number=7), "numbered 1..n"),
        (lambda r: r["steps"][0]["gates"][1].update(decider="processagare"), "recorded, not decided"),
        (lambda r: r["steps"][4]["activities"][0].update(due_days=-1), "greater than or equal"),
        (lambda r: r["steps"][1].update(activities=[a for a in r["steps"][1]["activities"]
                                                    if a["phase"] != "aktivitet"]), "phase aktivitet"),
        (lambda r: r["steps"][0]["gates"][1].update(kind="approval", decider="processagare",
                                                     reopens=["decide_design"]), "must come before"),
        (lambda r: r["steps"][0]["gates"][1].update(reopens=["process_plan"]), "reopens nothing"),
        (lambda r: r["steps"][0]["gates"][2].update(reopens=[]), "must name the work it reopens"),
    ],
)
def test_broken_definitions_are_refused_naming_the_cause(mutate, message):
    with pytest.raises(ValidationError) as info:
        ProcessDefinition.model_validate(_broken(mutate))
    assert message in str(info.value)


def test_parse_definition_round_trips_the_shipped_file():
    text = (DEFINITIONS_DIR / "chefoskopet-v1.yaml").read_text(encoding="utf-8")
    assert parse_definition(text) == load_definition()
