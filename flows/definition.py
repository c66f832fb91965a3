"""The process definition: the nine steps as versioned, validated data."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from roles.catalogue import ALL_ROLES

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
Phase = Literal["forbered", "aktivitet", "analys"]
PHASES: tuple[str, ...] = ("forbered", "aktivitet", "analys")


class Text(BaseModel):
    """A text in Swedish and English."""

    model_config = ConfigDict(frozen=True)
    sv: str
    en: str

    def get(self, locale: str) -> str:
        """The text in ``locale``, Swedish when the locale is unknown."""
        return self.en if locale == "en" else self.sv


class FieldSpec(BaseModel):
    """One field of an activity's form."""

    model_config = ConfigDict(frozen=True)
    key: str
    type: Literal["text", "textarea", "date", "number"] = "text"
    required: bool = False
    label: Text


class ActivitySpec(BaseModel):
    """An activity of a step: a human task for a role in one phase."""

    model_config = ConfigDict(frozen=True)
    key: str
    phase: Phase
    role: str
    due_days: int = Field(ge=0, le=250)
    kind: Literal["task", "meeting"] = "task"
    assignment: Literal["shared", "each"] = "shared"
    participants: tuple[str, ...] = ()
    title: Text
    fields: tuple[FieldSpec, ...] = ()


class GateSpec(BaseModel):
    """A gate: a condition to meet before a phase starts or the step closes."""

    model_config = ConfigDict(frozen=True)
    key: str
    kind: Literal["order", "approval", "consultation", "risk_assessment"]
    decider: str | None = None
    before: Literal["forbered", "aktivitet", "analys", "close"] = "close"
    reopens: tuple[str, ...] = ()
    title: Text

    @model_validator(mode="after")
    def _decider_matches_kind(self) -> GateSpec:
        if self.kind in ("order", "approval", "risk_assessment") and not self.decider:
            raise ValueError(f"gate {self.key}: a {self.kind} gate needs a decider role")
        if self.kind == "consultation" and self.decider:
            raise ValueError(f"gate {self.key}: a consultation is recorded, not decided")
        if self.kind == "consultation" and self.reopens:
            # Samverkan has no veto: the record is the requirement, so nothing can reject it.
            raise ValueError(f"gate {self.key}: a consultation has no veto, so it reopens nothing")
        return self


class StepSpec(BaseModel):
    """One of the nine steps."""

    model_config = ConfigDict(frozen=True)
    number: int = Field(ge=1)
    key: str
    part: Literal["start", "kunskaper", "metoder"]
    title: Text
    gates: tuple[GateSpec, ...]
    activities: tuple[ActivitySpec, ...]

    def activities_in(self, phase: str) -> tuple[ActivitySpec, ...]:
        """The activities of one phase, in definition order."""
        return tuple(a for a in self.activities if a.phase == phase)

    def gates_before(self, position: str) -> tuple[GateSpec, ...]:
        """The gates that guard the start of ``position`` (a phase or 'close')."""
        return tuple(g for g in self.gates if g.before == position)

    def activity(self, key: str) -> ActivitySpec:
        """The activity named ``key``."""
        return next(a for a in self.activities if a.key == key)

    def gate(self, key: str) -> GateSpec:
        """The gate named ``key``."""
        return next(g for g in self.gates if g.key == key)

    @model_validator(mode="after")
    def _consistent(self) -> StepSpec:
        keys = [a.key for a in self.activities]
        if len(set(keys)) != len(keys):
            raise ValueError(f"step {self.number}: activity keys repeat")
        if len({g.key for g in self.gates}) != len(self.gates):
            raise ValueError(f"step {self.number}: gate keys repeat")
        for gate in self.gates:
            unknown = set(gate.reopens) - set(keys)
            if unknown:
                raise ValueError(f"step {self.number}, gate {gate.key}: reopens unknown {sorted(unknown)}")
            order = ("forbered", "aktivitet", "analys", "close")
            late = [k for k in gate.reopens
                    if order.index(self.activity(k).phase) >= order.index(gate.before)]
            if late:
                raise ValueError(f"step {self.number}, gate {gate.key}: reopened work {late} "
                                 "must come before the gate")
            if gate.kind == "approval" and gate.before != "forbered" and not gate.reopens:
                raise ValueError(f"step {self.number}, gate {gate.key}: must name the work it reopens")
        if not any(g.kind == "approval" and g.before == "close" for g in self.gates):
            raise ValueError(f"step {self.number}: needs an approval gate before close")
        for phase in PHASES:
            if not self.activities_in(phase):
                raise ValueError(f"step {self.number}: phase {phase} has no activity")
        return self


class ProcessDefinition(BaseModel):
    """The whole method: steps in order plus the gates on plans and actions."""

    model_config = ConfigDict(frozen=True)
    key: str
    version: int = Field(ge=1)
    phases: tuple[Phase, ...]
    roles: tuple[str, ...]
    steps: tuple[StepSpec, ...]
    action_gates: tuple[GateSpec, ...]
    plan_gates: tuple[GateSpec, ...]

    def step(self, number: int) -> StepSpec:
        """The step numbered ``number``."""
        return self.steps[number - 1]

    @property
    def last_step_no(self) -> int:
        """The number of the final step."""
        return self.steps[-1].number

    @model_validator(mode="after")
    def _consistent(self) -> ProcessDefinition:
        if self.phases != PHASES:
            raise ValueError(f"phases must be {list(PHASES)}")
        if [s.number for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("steps must be numbered 1..n in order")
        unknown = set(self.roles) - ALL_ROLES
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}")
        for step in self.steps:
            for a in step.activities:
                for role in (a.role, *a.participants):
                    if role not in self.roles:
                        raise ValueError(f"step {step.number}, {a.key}: unknown role {role}")
            for g in step.gates:
                if g.decider and g.decider not in self.roles:
                    raise ValueError(f"step {step.number}, gate {g.key}: unknown role {g.decider}")
        return self


def parse_definition(text: str) -> ProcessDefinition:
    """Parse and validate a definition from YAML text."""
    return ProcessDefinition.model_validate(yaml.safe_load(text))


@cache
def load_definition(key: str = "chefoskopet", version: int | None = None) -> ProcessDefinition:
    """Load a shipped definition; the newest version when ``version`` is None."""
    if version is None:
        version = latest_version(key)
    path = DEFINITIONS_DIR / f"{key}-v{version}.yaml"
    if not path.exists():
        raise LookupError(f"no definition {key} version {version}")
    definition = parse_definition(path.read_text(encoding="utf-8"))
    if (definition.key, definition.version) != (key, version):
        raise ValueError(f"{path.name} declares {definition.key} v{definition.version}")
    return definition


def latest_version(key: str) -> int:
    """The highest shipped version of definition ``key``."""
    versions = [int(p.stem.rsplit("-v", 1)[1]) for p in DEFINITIONS_DIR.glob(f"{key}-v*.yaml")]
    if not versions:
        raise LookupError(f"no definition {key}")
    return max(versions)
