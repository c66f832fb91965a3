"""Who may see and do what: pure functions over plain facts, no I/O.

The API gathers the facts (the viewer's organisation, whether they are an
organisation admin, the roles they act in per process, whether they take part
in it) and asks these functions. The engine checks roles again on every change;
these functions decide what the API shows and refuses before it gets that far.

Two answers exist for "no": an object the viewer may not *see* is reported as
missing (404, so nobody learns what another organisation holds); an object the
viewer may see but not *change* is refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from roles.catalogue import MANAGING_ROLES, Role


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, as far as authorisation needs to know them."""

    person_id: int
    organisation_id: int
    is_org_admin: bool = False


@dataclass(frozen=True)
class ProcessFacts:
    """The viewer's relation to one process."""

    organisation_id: int
    roles: frozenset[str] = field(default_factory=frozenset)  # acting in now (delegations applied)
    involved: bool = False  # ever held a role in it, or was routed one of its tasks


@dataclass(frozen=True)
class TaskFacts:
    """Who may act on one task."""

    status: str
    assignee_id: int | None
    candidate_ids: frozenset[int]


def same_organisation(viewer: Viewer, organisation_id: int) -> bool:
    """Whether an object of ``organisation_id`` belongs to the viewer's organisation."""
    return viewer.organisation_id == organisation_id


def can_read_organisation(viewer: Viewer, organisation_id: int) -> bool:
    """Everyone reads their own organisation's structure and people; nobody reads another's."""
    return same_organisation(viewer, organisation_id)


def can_manage_structure(viewer: Viewer, organisation_id: int) -> bool:
    """Units, people, imports and API tokens: the organisation admin of that organisation."""
    return viewer.is_org_admin and same_organisation(viewer, organisation_id)


def can_edit_person(viewer: Viewer, organisation_id: int, person_id: int) -> bool:
    """An admin edits anyone in the organisation; a person edits their own preferences."""
    return can_manage_structure(viewer, organisation_id) or (
        same_organisation(viewer, organisation_id) and viewer.person_id == person_id
    )


def can_export_person(viewer: Viewer, organisation_id: int, person_id: int) -> bool:
    """Everything kept about a person (GDPR access): the person themselves, or the admin."""
    return can_edit_person(viewer, organisation_id, person_id)


def can_erase_person(viewer: Viewer, organisation_id: int) -> bool:
    """Anonymising a person (GDPR erasure) is the organisation admin's."""
    return can_manage_structure(viewer, organisation_id)


def can_see_process(viewer: Viewer, facts: ProcessFacts) -> bool:
    """People see the processes they take part in; the organisation admin sees them all."""
    if not same_organisation(viewer, facts.organisation_id):
        return False
    return viewer.is_org_admin or facts.involved or bool(facts.roles)


def can_start_process(viewer: Viewer, organisation_id: int) -> bool:
    """Starting a process (with its roster) is for the organisation admin."""
    return can_manage_structure(viewer, organisation_id)


def can_manage_process(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Roles, delegations, task routing and surveys: the processledare or processägare."""
    return same_organisation(viewer, facts.organisation_id) and bool(facts.roles & MANAGING_ROLES)


def can_manage_surveys(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Sending and following surveys is part of running the process."""
    return can_manage_process(viewer, facts)


def can_cancel_process(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Stopping a process: its processägare or its beställare."""
    return same_organisation(viewer, facts.organisation_id) and bool(
        facts.roles & {Role.PROCESSAGARE, Role.BESTALLARE}
    )


def can_decide_gate(viewer: Viewer, facts: ProcessFacts, decider: str | None) -> bool:
    """Only someone acting in the gate's decider role (its holder or a delegate in force)."""
    return (
        decider is not None
        and same_organisation(viewer, facts.organisation_id)
        and decider in facts.roles
    )


def can_record_consultation(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Consultations are recorded by the people running the process."""
    return can_manage_process(viewer, facts)


def can_act_on_task(viewer: Viewer, task: TaskFacts) -> bool:
    """The assignee acts on a claimed task; any candidate on an unclaimed open one."""
    if task.status not in ("open", "claimed"):
        return False
    if task.assignee_id is not None:
        return task.assignee_id == viewer.person_id
    return viewer.person_id in task.candidate_ids


def can_claim_task(viewer: Viewer, task: TaskFacts) -> bool:
    """A candidate may claim an open task nobody has taken."""
    return task.status == "open" and task.assignee_id is None and viewer.person_id in task.candidate_ids


def can_reassign_task(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Handing a task to someone else is managing the process."""
    return can_manage_process(viewer, facts)


# --- sessions opened from a task's e-mail link ------------------------------------------
# The signed link in a task mail signs its person in for that one task only: a *link
# session*. These functions decide what such a session may do, how long it lives and what
# following a link does to a session the browser already has. The API names the action
# of each route it lets through (``api.deps``); everything not named is refused.

LINK_TASK_STATES = frozenset({"pending", "open", "claimed"})  # a link opens only while live
LINK_TASK_ACTIONS = frozenset({"view_task", "claim_task", "unclaim_task", "complete_task"})
LINK_SESSION_ACTIONS = frozenset({"sign_out", "read_session"})  # about the session itself


@dataclass(frozen=True)
class LinkScope:
    """What a link session is bound to: one task, routed as it was when the link was followed."""

    task_id: int
    route_version: int


def may_use_task_link(person_id: int, task: TaskFacts) -> bool:
    """A task link works while its task is live and its person may act on it: the assignee,
    or a candidate while nobody has claimed it."""
    if task.status not in LINK_TASK_STATES:
        return False
    if task.assignee_id is not None:
        return task.assignee_id == person_id
    return person_id in task.candidate_ids


def link_session_alive(person_id: int, scope: LinkScope, task: TaskFacts | None,
                       route_version: int | None) -> bool:
    """A link session works while its task is live, still its person's to act on, and routed
    as when the link was followed: completing, cancelling, reassigning or rerouting the task
    (each bumps its route version) ends it for good."""
    return (task is not None and route_version == scope.route_version
            and may_use_task_link(person_id, task))


def link_session_permits(scope_task_id: int, action: str | None, task_id: int | None) -> bool:
    """A link session may see, claim, give back and complete its own task, and see and end
    itself; nothing else (no other task, no list, no process, no change of anything else)."""
    if action in LINK_SESSION_ACTIONS:
        return True
    return action in LINK_TASK_ACTIONS and task_id is not None and task_id == scope_task_id


def on_task_link(link_person_id: int, signed_in_person_id: int | None,
                 signed_in_by_link: bool) -> str:
    """What following a task link does to the browser's current session.

    ``"keep"``: the link's person is already signed in fully; go to the task in that session
    (a link never downgrades it). ``"ask"``: someone else is signed in fully; their session
    is left alone and they are asked to sign out first (a link never silently swaps whose
    browser this is). ``"start"``: no session, or only a link session (anyone's): replace it
    with a link session for this task.
    """
    if signed_in_person_id is None or signed_in_by_link:
        return "start"
    return "keep" if signed_in_person_id == link_person_id else "ask"


def can_manage_plan(viewer: Viewer, facts: ProcessFacts, owner_id: int) -> bool:
    """A plan's owner, or the people running the process, work on its actions."""
    return same_organisation(viewer, facts.organisation_id) and (
        viewer.person_id == owner_id or can_manage_process(viewer, facts)
    )


def can_read_audit(viewer: Viewer, facts: ProcessFacts | None) -> bool:
    """The admin reads the organisation's audit; the people running a process read its own."""
    if facts is None:
        return viewer.is_org_admin
    if not same_organisation(viewer, facts.organisation_id):
        return False
    return viewer.is_org_admin or can_manage_process(viewer, facts)


def can_read_timeline(viewer: Viewer, facts: ProcessFacts) -> bool:
    """Everyone who sees a process sees what happened in it."""
    return can_see_process(viewer, facts)


def can_manage_outbox(viewer: Viewer, organisation_id: int) -> bool:
    """Failed and undeliverable mail is the organisation admin's to look at and retry."""
    return can_manage_structure(viewer, organisation_id)


def can_delegate(viewer: Viewer, facts: ProcessFacts, from_person_id: int | None) -> bool:
    """One's own role may be delegated by oneself; someone else's only by the processägare."""
    if not same_organisation(viewer, facts.organisation_id):
        return False
    if from_person_id is None or from_person_id == viewer.person_id:
        return bool(facts.roles)
    return Role.PROCESSAGARE in facts.roles


def can_revoke_delegation(viewer: Viewer, facts: ProcessFacts, from_person_id: int,
                          to_person_id: int) -> bool:
    """Either party ends a delegation early, or the processägare does."""
    if not same_organisation(viewer, facts.organisation_id):
        return False
    return viewer.person_id in (from_person_id, to_person_id) or Role.PROCESSAGARE in facts.roles


def can_adopt_plan(viewer: Viewer, facts: ProcessFacts, owner_id: int) -> bool:
    """A plan is adopted by its owner or by the processägare."""
    return same_organisation(viewer, facts.organisation_id) and (
        viewer.person_id == owner_id or Role.PROCESSAGARE in facts.roles
    )


def can_work_on_action(viewer: Viewer, facts: ProcessFacts, owner_id: int, responsible_id: int) -> bool:
    """An action is assessed, started and finished by its plan's owner, its responsible person,
    or the people running the process."""
    return same_organisation(viewer, facts.organisation_id) and (
        viewer.person_id in (owner_id, responsible_id) or can_manage_process(viewer, facts)
    )


def can_evaluate_process(viewer: Viewer, facts: ProcessFacts) -> bool:
    """The evaluation that ends step 9 is the processägare's."""
    return same_organisation(viewer, facts.organisation_id) and Role.PROCESSAGARE in facts.roles


def can_start_cycle(viewer: Viewer, facts: ProcessFacts) -> bool:
    """A new cycle of a completed process: its processägare or its beställare."""
    return can_cancel_process(viewer, facts)


def can_record_risk_assessment(viewer: Viewer, facts: ProcessFacts, owner_id: int,
                               responsible_id: int) -> bool:
    """A risk assessment is recorded by whoever works on the action, or by a safety representative
    (skyddsombud) of the process; approving it stays with the gate's decider."""
    return can_work_on_action(viewer, facts, owner_id, responsible_id) or (
        same_organisation(viewer, facts.organisation_id) and Role.SKYDDSOMBUD in facts.roles
    )
