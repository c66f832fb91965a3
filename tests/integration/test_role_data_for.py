"""``load_role_data_for`` (one person's part of a process's role data) gives the same roles."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from flows import engine
from models import Person
from roles.resolve import load_role_data, load_role_data_for, load_role_data_for_processes, roles_of
from tests.helpers import NOW, ctx_for, start


def _with_delegations(session, seed: int):
    s = start(session, managers=4, seed=seed)
    owner, orderer = s.person("processagare"), s.person("bestallare")
    leader, other_leader = s.person("processledare", 0), s.person("processledare", 1)
    chef, staff = s.person("chef", 0), s.person("stabschef", 0)
    day = timedelta(days=1)
    # The owner also sits in the samverkan body; one delegation runs to them, one from them.
    engine.delegate(ctx_for(session, orderer), s.process_id, "bestallare", owner,
                    starts_at=NOW - day, ends_at=NOW + 10 * day)
    engine.delegate(ctx_for(session, owner), s.process_id, "processagare", staff,
                    starts_at=NOW + 2 * day, ends_at=NOW + 5 * day)
    engine.delegate(ctx_for(session, leader), s.process_id, "processledare", chef,
                    starts_at=NOW - day, ends_at=NOW + 3 * day)
    revoked = engine.delegate(ctx_for(session, other_leader), s.process_id, "processledare", chef,
                              starts_at=NOW - day, ends_at=NOW + 3 * day)
    engine.revoke_delegation(ctx_for(session, other_leader), revoked.id)
    session.commit()
    return s


def test_every_person_has_the_same_roles_as_from_all_role_data(session):
    processes = [_with_delegations(session, seed) for seed in (3, 4)]
    for s in processes:
        everyone = list(session.scalars(select(Person.id).where(
            Person.organisation_id == s.org.organisation.id)))
        full = load_role_data(session, s.process_id)
        assert full.delegations and full.body_members
        for when in (NOW, NOW + timedelta(days=3), NOW + timedelta(days=6), NOW + timedelta(days=20)):
            for person_id in everyone:
                part = load_role_data_for(session, s.process_id, person_id)
                assert roles_of(part, person_id, when) == roles_of(full, person_id, when), (
                    s.process_id, person_id, when)
    # Read for both processes at once (the inbox's way), each process answers the same.
    pids = [p.process_id for p in processes]
    full = {pid: load_role_data(session, pid) for pid in pids}
    people = set(session.scalars(select(Person.id)))
    for person_id in people:
        together = load_role_data_for_processes(session, pids, person_id)
        assert set(together) == set(pids)
        for pid in pids:
            for when in (NOW, NOW + timedelta(days=3)):
                assert roles_of(together[pid], person_id, when) == roles_of(full[pid], person_id, when)
    s = processes[0]
    owner, chef, leader = s.person("processagare"), s.person("chef", 0), s.person("processledare", 0)
    assert {"bestallare", "samverkan", "processagare"} <= roles_of(
        load_role_data_for(session, s.process_id, owner), owner, NOW)
    assert "processledare" in roles_of(load_role_data_for(session, s.process_id, chef), chef, NOW)
    assert "processledare" not in roles_of(load_role_data_for(session, s.process_id, leader), leader, NOW)
    # A person of one organisation acts in nothing in the other's process.
    first, second = processes
    assert roles_of(load_role_data_for(session, second.process_id, first.person("processagare")),
                    first.person("processagare"), NOW) == set()
