"""Typed errors the engine raises when it refuses a change.

Each error carries a stable ``code`` and the ``params`` that name the cause, so
the API and pages can render a message in the user's language.
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Base of every refusal by the engine; the database is left unchanged."""

    code = "engine_error"
    status = 400

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.params = params


class NotFound(EngineError):
    """The object does not exist (or is not visible to the actor)."""

    code = "not_found"
    status = 404


class IllegalTransition(EngineError):
    """The object is not in a state from which this change is allowed."""

    code = "illegal_transition"
    status = 409


class GateUnmet(EngineError):
    """A gate that guards this change has not been passed."""

    code = "gate_unmet"
    status = 409


class UnknownRole(EngineError):
    """The role is not in the catalogue."""

    code = "unknown_role"
    status = 422


class NotRoleHolder(EngineError):
    """The actor does not hold the role the change needs."""

    code = "not_role_holder"
    status = 403


class StaleVersion(EngineError):
    """The object changed since the client read it."""

    code = "stale_version"
    status = 409


class Conflict(EngineError):
    """Someone else got there first (e.g. claimed the task)."""

    code = "conflict"
    status = 409


class InvalidData(EngineError):
    """Submitted data failed validation; ``params['errors']`` maps field -> reason code."""

    code = "invalid_data"
    status = 422
