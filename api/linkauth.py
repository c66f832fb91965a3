"""Checking a signed task link against the database before it signs anyone in.

The token proves only that we sent the link to that person. The task must
still be live, and the person must still be the one to act on it: the
assignee, or a candidate while nobody has claimed it. When the task's route
version has moved on (it was rerouted or reassigned) the link is refused
unless the person may still act on the task.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from api.problems import ApiProblem
from models import Person, Task
from notifications.links import LinkExpired, LinkInvalid, read_task_token

LIVE = ("pending", "open", "claimed")


def _may_act(task: Task, person_id: int) -> bool:
    if task.assignee_id is not None:
        return task.assignee_id == person_id
    return any(c.person_id == person_id for c in task.candidates)


def check_task_link(db: Session, request: Request, token: str) -> tuple[Person, Task]:
    """The person and task of a usable link; a problem naming why otherwise."""
    try:
        link = read_task_token(token)
    except LinkExpired:
        raise ApiProblem(410, "link_expired") from None
    except LinkInvalid:
        raise ApiProblem(400, "link_invalid") from None
    person = db.get(Person, link.person_id)
    task = db.get(Task, link.task_id)
    if person is None or task is None or not person.active:
        raise ApiProblem(400, "link_invalid")
    request.state.locale = person.locale
    if task.status not in LIVE:
        raise ApiProblem(410, "task_closed")
    if not _may_act(task, person.id):
        raise ApiProblem(409, "task_reassigned")
    return person, task
