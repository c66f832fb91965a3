"""Mapping groups: formed from the unit hierarchy by default, checked, and fixed once answers exist."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Invitation, MappingGroup, Survey, Unit
from surveys.errors import SurveyRefused
from surveys.groups import define_mapping_groups, groups_locked, mapping_groups
from surveys.links import make_token
from surveys.respond import save_answers
from tests.surveys.conftest import advance_until, until_step_open


def test_groups_default_to_the_b_units_and_lock_once_answers_exist(world_factory, session_factory):
    world, f = world_factory(managers=16), session_factory
    advance_until(world, until_step_open(4))
    with f() as s, s.begin():
        groups = mapping_groups(s, world.process_id)
        b_units = set(s.scalars(select(Unit.name).where(Unit.level == "B")))
        assert {g.name for g in groups} == b_units and len(groups) == 2
        survey = s.scalars(select(Survey)).one()
        invited = {i.person_id: i.group_id for i in s.scalars(select(Invitation))}
        assert set(invited) == set(world.by_role["chef"])
        chefs = sorted(world.by_role["chef"])
        regrouped = define_mapping_groups(s, world.process_id, {"Norr": chefs[:9], "Söder": chefs[9:]})
        new_ids = {g.id for g in regrouped}
        assert {i.group_id for i in s.scalars(select(Invitation))} == new_ids  # invitations follow
        assert len(s.scalars(select(MappingGroup)).all()) == 2
        invitation = s.scalars(select(Invitation).order_by(Invitation.id)).first()
        save_answers(s, make_token(invitation.nonce), {"recovers": 3}, world.now)
        assert groups_locked(s, world.process_id)
        with pytest.raises(SurveyRefused) as caught:
            define_mapping_groups(s, world.process_id, {"Alla": chefs})
        assert caught.value.message("sv") == "Kartläggningsgrupperna ligger fast när det finns svar."
        assert survey.status == "open"


@pytest.mark.parametrize(("layout", "code"), [
    (lambda c: {"A": c[:3], "B": []}, "group_empty"),
    (lambda c: {"A": c[:3], "B": c[2:5]}, "person_in_two_groups"),
    (lambda c: {"A": [*c[:3], 10**6]}, "unknown_person"),
])
def test_bad_groupings_are_refused(world_factory, session_factory, layout, code):
    world, f = world_factory(managers=6), session_factory
    with f() as s, s.begin(), pytest.raises(SurveyRefused) as caught:
        define_mapping_groups(s, world.process_id, layout(sorted(world.by_role["chef"])))
    assert caught.value.code == code


def test_everyone_invited_must_stay_in_a_group(world_factory, session_factory):
    world, f = world_factory(managers=6, groups=[3, 3]), session_factory
    advance_until(world, until_step_open(4))
    chefs = sorted(world.by_role["chef"])
    with f() as s, s.begin(), pytest.raises(SurveyRefused) as caught:
        define_mapping_groups(s, world.process_id, {"Bara några": chefs[:4]})
    assert caught.value.message("en") == "Everyone already invited must be in a group (2 are not)."
