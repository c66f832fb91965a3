"""Loading what the viewer may see: gathers the facts, asks ``roles.permissions``.

Every loader answers a missing object and an object the viewer may not see in
the same way (404), so nobody can probe another organisation's ids.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from api.problems import forbidden, not_found
from chefoskop import clock
from models import (
    Action,
    ActionPlan,
    BodyMember,
    Delegation,
    Gate,
    Person,
    Process,
    RoleAssignment,
    StepInstance,
    Task,
    TaskCandidate,
    Unit,
)
from roles import permissions as perm
from roles.permissions import ProcessFacts, TaskFacts, Viewer
from roles.resolve import load_role_data_for, roles_of


def involved_process_ids_query(person_id: int) -> Select:
    """Ids of processes the person takes or took part in (roles, bodies, delegations, tasks)."""
    bodies = select(BodyMember.body_id).where(BodyMember.person_id == person_id)
    return select(union(
        select(RoleAssignment.process_id).where(RoleAssignment.person_id == person_id),
        select(RoleAssignment.process_id).where(RoleAssignment.body_id.in_(bodies)),
        select(Delegation.process_id).where(Delegation.to_person_id == person_id),
        select(Task.process_id).where(Task.assignee_id == person_id),
        select(Task.process_id).join(TaskCandidate, TaskCandidate.task_id == Task.id)
        .where(TaskCandidate.person_id == person_id),
    ).subquery().c[0])


def process_facts(db: Session, viewer: Viewer, process: Process,
                  now: datetime | None = None) -> ProcessFacts:
    """The viewer's roles in and involvement with ``process``."""
    if not perm.same_organisation(viewer, process.organisation_id):
        return ProcessFacts(process.organisation_id)
    roles = roles_of(load_role_data_for(db, process.id, viewer.person_id), viewer.person_id,
                     now or clock.now())
    involved = db.scalar(
        select(Process.id).where(Process.id == process.id,
                                 Process.id.in_(involved_process_ids_query(viewer.person_id))))
    return ProcessFacts(process.organisation_id, frozenset(roles), involved is not None)


def visible_process(db: Session, viewer: Viewer, process_id: int) -> tuple[Process, ProcessFacts]:
    """The process and the viewer's facts; 404 unless the viewer may see it."""
    process = db.get(Process, process_id)
    if process is None or not perm.same_organisation(viewer, process.organisation_id):
        raise not_found()
    facts = process_facts(db, viewer, process)
    if not perm.can_see_process(viewer, facts):
        raise not_found()
    return process, facts


def managed_process(db: Session, viewer: Viewer, process_id: int) -> tuple[Process, ProcessFacts]:
    """A visible process the viewer runs (processledare/processägare); 403 otherwise."""
    process, facts = visible_process(db, viewer, process_id)
    if not perm.can_manage_process(viewer, facts):
        raise forbidden()
    return process, facts


def _visible_child(db: Session, viewer: Viewer, model: type, obj_id: int):
    obj = db.get(model, obj_id)
    if obj is None:
        raise not_found()
    process, facts = visible_process(db, viewer, obj.process_id)
    return obj, process, facts


def visible_step(db: Session, viewer: Viewer, step_id: int):
    """A step of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, StepInstance, step_id)


def visible_task(db: Session, viewer: Viewer, task_id: int):
    """A task of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, Task, task_id)


def visible_gate(db: Session, viewer: Viewer, gate_id: int):
    """A gate of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, Gate, gate_id)


def visible_plan(db: Session, viewer: Viewer, plan_id: int):
    """An action plan of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, ActionPlan, plan_id)


def visible_action(db: Session, viewer: Viewer, action_id: int):
    """An action of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, Action, action_id)


def visible_assignment(db: Session, viewer: Viewer, assignment_id: int):
    """A role assignment of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, RoleAssignment, assignment_id)


def visible_delegation(db: Session, viewer: Viewer, delegation_id: int):
    """A delegation of a visible process, with the process and the facts."""
    return _visible_child(db, viewer, Delegation, delegation_id)


def task_facts(task: Task) -> TaskFacts:
    """Who may act on ``task``."""
    return TaskFacts(task.status, task.assignee_id, frozenset(c.person_id for c in task.candidates))


def org_person(db: Session, viewer: Viewer, person_id: int) -> Person:
    """A person of the viewer's organisation; 404 for anyone else."""
    person = db.get(Person, person_id)
    if person is None or not perm.can_read_organisation(viewer, person.organisation_id):
        raise not_found()
    return person


def org_unit(db: Session, viewer: Viewer, unit_id: int) -> Unit:
    """A unit of the viewer's organisation; 404 for any other."""
    unit = db.get(Unit, unit_id)
    if unit is None or not perm.can_read_organisation(viewer, unit.organisation_id):
        raise not_found()
    return unit


def require(allowed: bool) -> None:
    """Refuse with 403 unless ``allowed``."""
    if not allowed:
        raise forbidden()
