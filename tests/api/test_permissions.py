"""The pure permission functions, without a database: examples and Hypothesis properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from roles import permissions as perm
from roles.catalogue import ALL_ROLES
from roles.permissions import ProcessFacts, TaskFacts, Viewer

roles = st.frozensets(st.sampled_from(sorted(ALL_ROLES)))
viewers = st.builds(Viewer, person_id=st.integers(1, 20), organisation_id=st.integers(1, 3),
                    is_org_admin=st.booleans())
facts = st.builds(ProcessFacts, organisation_id=st.integers(1, 3), roles=roles, involved=st.booleans())
tasks = st.builds(TaskFacts, status=st.sampled_from(["pending", "open", "claimed", "completed"]),
                  assignee_id=st.none() | st.integers(1, 20),
                  candidate_ids=st.frozensets(st.integers(1, 20)))

PROCESS_CHECKS = [perm.can_see_process, perm.can_manage_process, perm.can_manage_surveys,
                  perm.can_cancel_process, perm.can_record_consultation, perm.can_reassign_task,
                  perm.can_read_timeline, perm.can_read_audit]


@given(viewers, facts, st.sampled_from(sorted(ALL_ROLES)), st.integers(1, 20), st.integers(1, 20))
def test_nobody_acts_on_another_organisations_process(viewer, f, decider, owner, responsible):
    if f.organisation_id == viewer.organisation_id:
        return
    assert not any(check(viewer, f) for check in PROCESS_CHECKS)
    assert not perm.can_decide_gate(viewer, f, decider)
    assert not perm.can_manage_plan(viewer, f, owner)
    assert not perm.can_adopt_plan(viewer, f, owner)
    assert not perm.can_work_on_action(viewer, f, owner, responsible)
    assert not perm.can_delegate(viewer, f, None)
    assert not perm.can_revoke_delegation(viewer, f, viewer.person_id, responsible)


@given(viewers, st.integers(1, 3), st.integers(1, 20))
def test_structure_is_the_admins_of_that_organisation(viewer, org, person):
    same = org == viewer.organisation_id
    assert perm.can_read_organisation(viewer, org) == same
    assert perm.can_manage_structure(viewer, org) == (same and viewer.is_org_admin)
    assert perm.can_manage_outbox(viewer, org) == (same and viewer.is_org_admin)
    assert perm.can_edit_person(viewer, org, person) == (
        same and (viewer.is_org_admin or person == viewer.person_id))


@given(viewers, facts, st.none() | st.sampled_from(sorted(ALL_ROLES)))
def test_only_someone_acting_in_the_decider_role_decides(viewer, f, decider):
    expected = (decider is not None and f.organisation_id == viewer.organisation_id
                and decider in f.roles)
    assert perm.can_decide_gate(viewer, f, decider) == expected


@given(viewers, facts)
def test_who_sees_a_process(viewer, f):
    expected = f.organisation_id == viewer.organisation_id and (
        viewer.is_org_admin or f.involved or bool(f.roles))
    assert perm.can_see_process(viewer, f) == expected
    if perm.can_manage_process(viewer, f):
        assert perm.can_see_process(viewer, f)


@given(viewers, tasks)
def test_claiming_implies_acting_and_closed_tasks_are_closed(viewer, task):
    if perm.can_claim_task(viewer, task):
        assert perm.can_act_on_task(viewer, task)
    if task.status not in ("open", "claimed"):
        assert not perm.can_act_on_task(viewer, task)
    if task.assignee_id is not None and task.assignee_id != viewer.person_id:
        assert not perm.can_act_on_task(viewer, task)


def test_examples():
    owner = Viewer(1, 10)
    process = ProcessFacts(10, frozenset({"processagare"}), involved=True)
    assert perm.can_decide_gate(owner, process, "processagare")
    assert not perm.can_decide_gate(owner, process, "bestallare")
    assert perm.can_cancel_process(owner, process)
    leader = ProcessFacts(10, frozenset({"processledare"}), involved=True)
    assert perm.can_manage_process(Viewer(2, 10), leader)
    assert not perm.can_cancel_process(Viewer(2, 10), leader)
    admin = Viewer(3, 10, is_org_admin=True)
    assert perm.can_see_process(admin, ProcessFacts(10))
    assert not perm.can_manage_process(admin, ProcessFacts(10))
    assert perm.can_read_audit(admin, None) and not perm.can_read_audit(owner, None)
    assert perm.can_delegate(Viewer(4, 10), leader, None)
    assert not perm.can_delegate(Viewer(4, 10), leader, 99)
    assert perm.can_delegate(owner, process, 99)
