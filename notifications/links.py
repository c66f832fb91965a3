"""Links in e-mails: signed, personal task links and the plain pages mails point to.

A task token names one task, one person and the task's route version, nothing
more. It proves only that we sent that link to that person; the web layer must
still check the route version and the task's status against the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from chefoskop.settings import get_settings

SALT = "task-link"


class LinkError(Exception):
    """A task link that cannot be used."""


class LinkInvalid(LinkError):
    """The token was not made by us, was altered, or is malformed."""


class LinkExpired(LinkError):
    """The token is genuine but older than the allowed age."""


@dataclass(frozen=True)
class TaskLink:
    """What a valid task token grants: one person's access to one task version."""

    task_id: int
    person_id: int
    route_version: int


def _serializer(secret_key: str | None) -> URLSafeTimedSerializer:
    secret = secret_key or get_settings().secret_key.get_secret_value()
    return URLSafeTimedSerializer(secret, salt=SALT)


def make_task_token(
    task_id: int, person_id: int, route_version: int, *, secret_key: str | None = None
) -> str:
    """A signed, timestamped token for one person's link to one task."""
    return _serializer(secret_key).dumps([int(task_id), int(person_id), int(route_version)])


def read_task_token(
    token: str, max_age_seconds: int | None = None, *, secret_key: str | None = None
) -> TaskLink:
    """Verify a task token; raises LinkExpired or LinkInvalid."""
    if max_age_seconds is None:
        max_age_seconds = get_settings().link_max_age_days * 86400
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise LinkExpired("task link has expired") from exc
    except BadSignature as exc:
        raise LinkInvalid("task link is not valid") from exc
    if not (isinstance(data, list) and len(data) == 3 and all(type(v) is int for v in data)):
        raise LinkInvalid("task link has an unexpected shape")
    return TaskLink(*data)


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def task_url(base_url: str, token: str) -> str:
    """The address of a personal task link."""
    return f"{_base(base_url)}/t/{token}"


def gate_url(base_url: str, gate_id: int) -> str:
    """The page where a gate is reviewed (requires signing in)."""
    return f"{_base(base_url)}/gates/{int(gate_id)}"


def process_url(base_url: str, process_id: int) -> str:
    """The overview page of a process (requires signing in)."""
    return f"{_base(base_url)}/processes/{int(process_id)}"
