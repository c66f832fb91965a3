"""Pure rules of the engine: legal transitions, gates, phases and actions. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flows.errors import GateUnmet, IllegalTransition

POSITIONS: tuple[str, ...] = ("forbered", "aktivitet", "analys", "close")

# entity -> from_state -> allowed to_states. None is "does not exist yet".
TRANSITIONS: Mapping[str, Mapping[str | None, frozenset[str]]] = {
    "process": {
        None: frozenset({"running"}),
        "running": frozenset({"completed", "cancelled"}),
    },
    "step": {
        None: frozenset({"pending"}),
        "pending": frozenset({"queued"}),
        "queued": frozenset({"open"}),
        "open": frozenset({"closed"}),
    },
    "task": {
        None: frozenset({"pending", "open"}),
        "pending": frozenset({"open", "cancelled"}),
        "open": frozenset({"claimed", "completed", "cancelled"}),
        "claimed": frozenset({"open", "claimed", "completed", "cancelled"}),
    },
    "gate": {
        None: frozenset({"pending", "open"}),
        "pending": frozenset({"open", "cancelled"}),
        "open": frozenset({"approved", "rejected", "cancelled"}),
    },
    "plan": {
        None: frozenset({"draft"}),
        "draft": frozenset({"adopted"}),
        "adopted": frozenset({"closed"}),
    },
    "action": {
        None: frozenset({"planned"}),
        "planned": frozenset({"risk_pending", "dropped"}),
        "risk_pending": frozenset({"approved", "dropped"}),
        "approved": frozenset({"in_progress", "risk_pending", "dropped"}),
        "in_progress": frozenset({"done", "risk_pending", "dropped"}),
    },
    "role_assignment": {None: frozenset({"active"}), "active": frozenset({"ended"})},
    "delegation": {None: frozenset({"active"}), "active": frozenset({"revoked", "expired"})},
}

OPEN_TASK_STATES = frozenset({"open", "claimed"})
LIVE_TASK_STATES = frozenset({"pending", "open", "claimed"})


def check_transition(entity: str, from_state: str | None, to_state: str) -> None:
    """Raise IllegalTransition unless ``entity`` may go from ``from_state`` to ``to_state``."""
    allowed = TRANSITIONS.get(entity, {}).get(from_state, frozenset())
    if to_state not in allowed:
        raise IllegalTransition(
            f"{entity} cannot go from {from_state} to {to_state}",
            entity=entity,
            from_state=from_state,
            to_state=to_state,
        )


def position_index(position: str) -> int:
    """Order of a phase or 'close' within a step."""
    return POSITIONS.index(position)


def next_position(position: str) -> str | None:
    """The position after ``position``, or None after 'close'."""
    i = position_index(position)
    return POSITIONS[i + 1] if i + 1 < len(POSITIONS) else None


@dataclass(frozen=True)
class GateView:
    """What the rules need to know about one gate."""

    key: str
    before: str
    status: str


def unmet_gates(gates: Iterable[GateView], position: str) -> list[str]:
    """Keys of the gates guarding ``position`` that are not approved."""
    return sorted(g.key for g in gates if g.before == position and g.status != "approved")


def require_gates(gates: Iterable[GateView], position: str) -> None:
    """Raise GateUnmet naming the first unmet gate guarding ``position``."""
    unmet = unmet_gates(gates, position)
    if unmet:
        raise GateUnmet(f"gate {unmet[0]} is not approved", gate=unmet[0], position=position)


def phase_complete(latest_task_status_by_activity: Mapping[str, Iterable[str]]) -> bool:
    """True when every activity of a phase has tasks and all its live tasks are done.

    The mapping gives, per activity, the statuses of its tasks in the newest
    iteration that has any.
    """
    for statuses in latest_task_status_by_activity.values():
        statuses = list(statuses)
        if not statuses or any(s in LIVE_TASK_STATES for s in statuses):
            return False
        if not any(s == "completed" for s in statuses):
            return False
    return True


def reopen_position(reopened_phases: Iterable[str]) -> str:
    """The phase a step returns to when work in ``reopened_phases`` is reopened."""
    return min(reopened_phases, key=position_index)


def gates_to_renew(gate_positions: Mapping[str, str], back_to: str) -> list[str]:
    """Keys of gates to pass again after the step went back to phase ``back_to``."""
    cut = position_index(back_to)
    return sorted(k for k, before in gate_positions.items() if position_index(before) > cut)


def action_may_start(
    action_status: str, assessment_gate_status: str | None, assessed_revision: int | None,
    revision: int,
) -> bool:
    """An action starts only with an approved risk assessment of its current revision."""
    return (
        action_status == "approved"
        and assessment_gate_status == "approved"
        and assessed_revision == revision
    )


def require_action_may_start(
    action_status: str, assessment_gate_status: str | None, assessed_revision: int | None,
    revision: int,
) -> None:
    """Raise GateUnmet unless the action may start."""
    if not action_may_start(action_status, assessment_gate_status, assessed_revision, revision):
        raise GateUnmet(
            "the action has no approved risk assessment of its current content",
            gate="risk_assessment",
        )
