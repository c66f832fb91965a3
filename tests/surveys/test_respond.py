"""The respondent's side through personal links: bad input refused in their language, nothing lost."""

from __future__ import annotations

import base64
import json
import random
from datetime import timedelta

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import inspect, select

from chefoskop import clock
from chefoskop.settings import get_settings
from flows.engine.core import Context
from models import Invitation, Person, Response, Survey
from surveys.distribution import (
    awaiting_answer,
    close_survey,
    extend_close,
    non_respondents,
    respondent_link,
    response_rates,
)
from surveys.errors import SurveyRefused
from surveys.links import SALT, make_token, read_token
from surveys.own import own_answers, own_answers_csv
from surveys.respond import open_link, save_answers, save_logbook_day, submit_answers
from surveys.simulate import simulated_day, simulated_items
from tests.helpers import tamper
from tests.surveys.conftest import advance_until, until_phase, until_step_open

DAY = {"hours": 8, "areas": {"personnel": 3, "budget": 1, "administration": 2, "operations": 2},
       "forms": {"meetings": 4, "computer": 3, "travel": 1}}


def _tokens(factory, step_no: int) -> tuple[int, list[tuple[int, str]]]:
    with factory() as s:
        survey = s.scalars(select(Survey).where(Survey.step_no == step_no)).one()
        invitations = s.scalars(select(Invitation).where(Invitation.survey_id == survey.id)
                                .order_by(Invitation.id)).all()
        return survey.id, [(i.person_id, make_token(i.nonce)) for i in invitations]


def _refused(factory, world, call) -> SurveyRefused:
    with clock.simulated_clock(lambda: world.now), factory() as s, s.begin(), \
            pytest.raises(SurveyRefused) as caught:
        call(s)
    return caught.value


@pytest.fixture
def mapping_one(world_factory):
    world = world_factory(managers=12, groups=[6, 6])
    advance_until(world, until_phase(4, "aktivitet"))
    return world


def test_bad_answers_are_refused_in_the_respondents_language_and_nothing_lost(mapping_one, session_factory):
    world, f = mapping_one, session_factory
    survey_id, tokens = _tokens(f, 4)
    (_, token), (briton, token_en) = tokens[0], tokens[1]
    with f() as s, s.begin():
        s.get(Person, briton).locale = "en"
    with f() as s, s.begin():
        save_answers(s, token, {"workload_fits": 4, "recovers": "2"}, world.now)
    refusal = _refused(f, world, lambda s: save_answers(s, token, {"workload_fits": 9}, world.now))
    assert refusal.code == "invalid_answers" and refusal.kept == {"items": {"workload_fits": 9}}
    assert refusal.messages("sv") == {"items.workload_fits": "9 finns inte på den här skalan."}
    with f() as s:
        view = open_link(s, token)
        assert view.status == "draft" and view.answers["items"] == {"workload_fits": 4, "recovers": 2}
    refusal = _refused(f, world, lambda s: save_answers(s, token_en, {"role_unclear": 0}, world.now))
    with f() as s:
        locale = open_link(s, token_en).locale
    assert refusal.messages(locale) == {"items.role_unclear": "0 is not a point on this scale."}


def test_a_used_link_cannot_answer_again_but_still_shows_the_answers(mapping_one, session_factory):
    world, f = mapping_one, session_factory
    survey_id, tokens = _tokens(f, 4)
    _, token = tokens[2]
    with f() as s, s.begin():
        instrument = open_link(s, token).instrument
        answers = simulated_items(instrument, 0.0, random.Random(3))
        answers.update({i.key: 3 for i in instrument.items() if i.kind == "likert"})
        save_answers(s, token, answers, world.now, submit=True)
    refusal = _refused(f, world, lambda s: save_answers(s, token, {"workload_fits": 1}, world.now))
    assert refusal.code == "already_submitted" and refusal.kept == {"items": {"workload_fits": 1}}
    assert refusal.message("sv").startswith("Du har redan skickat in dina svar")
    with f() as s:
        mine = own_answers(s, token)
        assert mine["status"] == "submitted"
        row = next(r for r in mine["rows"] if r["question"].startswith("Det jag ska hinna"))
        assert row["answer"] == "3 – Stämmer delvis"
        assert "Stämmer delvis" in own_answers_csv(s, token)
        survey = s.get(Survey, survey_id)
        answered_person, waiting_person = tokens[2][0], tokens[3][0]
        assert awaiting_answer(s, survey.step_id, answered_person) is False
        assert awaiting_answer(s, survey.step_id, waiting_person) is True
        assert awaiting_answer(s, survey.step_id, -1) is None
        rates = {r.key: (r.invited, r.answered) for r in response_rates(s, survey_id)}
        assert sorted(rates.values()) == [(6, 0), (6, 1)]
        assert len(non_respondents(s, survey_id)) == 11


def test_late_answers_are_refused_with_the_closing_date_and_kept(mapping_one, session_factory):
    world, f = mapping_one, session_factory
    survey_id, tokens = _tokens(f, 4)
    _, token = tokens[3]
    with f() as s:
        closes = s.get(Survey, survey_id).closes_at
    late = closes + timedelta(minutes=1)
    refusal = _refused(f, world, lambda s: save_answers(s, token, {"recovers": 5}, late))
    assert refusal.code == "survey_closed" and refusal.kept == {"items": {"recovers": 5}}
    assert refusal.message("sv") == (
        "Enkäten stängde 10 februari 2027; det går inte längre att skicka svar.")
    with f() as s, s.begin():
        extend_close(Context(s, now=world.now), survey_id, closes + timedelta(days=7))
    with f() as s, s.begin():
        assert open_link(s, token).can_answer(closes + timedelta(minutes=1))
        save_answers(s, token, {"recovers": 5}, closes + timedelta(minutes=1))
    with f() as s, s.begin():
        with pytest.raises(SurveyRefused) as caught:
            extend_close(Context(s, now=world.now), survey_id, closes)
        assert caught.value.code == "close_not_later"
        close_survey(Context(s, now=world.now), survey_id)
    refusal = _refused(f, world, lambda s: save_answers(s, token, {"recovers": 1}, world.now))
    assert refusal.code == "survey_closed"


def test_a_tampered_or_foreign_link_opens_nothing(mapping_one, session_factory):
    f = session_factory
    survey_id, tokens = _tokens(f, 4)
    person, token = tokens[0]
    nonce = read_token(token)
    with f() as s:
        invitation_id = s.scalar(select(Invitation.id).where(Invitation.person_id == person))
    for bad in (tamper(token), make_token("nonce"), make_token(nonce, secret_key="another-secret"),
                make_token(nonce[:-1])):
        with f() as s, pytest.raises(SurveyRefused) as caught:
            open_link(s, bad)
        assert caught.value.code == "link_invalid"
    # A link names nobody: only the nonce is inside (readable without the key, as any
    # itsdangerous payload), never the invitation id.
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert payload == nonce
    # A link made the old way ([invitation_id, nonce]) still opens: only its nonce counts.
    legacy = URLSafeSerializer(get_settings().secret_key.get_secret_value(), salt=SALT).dumps(
        [invitation_id, nonce])
    with f() as s:
        assert open_link(s, legacy).survey.id == survey_id
    with f() as s:
        link = respondent_link(s, survey_id, person, "https://chefoskop.example")
        assert link.startswith("https://chefoskop.example/s/") and open_link(s, link.rsplit("/", 1)[1])


def test_answers_are_stored_apart_from_identity(mapping_one, session_factory):
    world, f = mapping_one, session_factory
    survey_id, tokens = _tokens(f, 4)
    with f() as s, s.begin():
        save_answers(s, tokens[0][1], {"workload_fits": 2}, world.now)
        columns = {c.key for c in inspect(Response).columns}
        assert columns == {"id", "survey_id", "group_id", "respondent_key", "status", "answers",
                           "submitted_at", "version"}
        response = s.scalars(select(Response)).one()
        nonces = set(s.scalars(select(Invitation.nonce)))
        assert response.respondent_key not in nonces and len(response.respondent_key) == 64
        # A random public id, not a sequence: ids say nothing about the order of answering.
        assert isinstance(response.id, str) and len(response.id) == 32 and int(response.id, 16) >= 0


def test_the_logbook_is_filled_a_day_at_a_time_and_resumed(world_factory, session_factory):
    world, f = world_factory(managers=12, groups=[6, 6]), session_factory
    advance_until(world, until_phase(4, "aktivitet"))
    with f() as s, s.begin():
        close_survey(Context(s, now=world.now), s.scalars(select(Survey.id)).one())
    advance_until(world, until_step_open(5))
    survey_id, tokens = _tokens(f, 5)
    _, token = tokens[0]
    with f() as s, s.begin():
        save_logbook_day(s, token, 0, DAY, world.now)
    over = {**DAY, "hours": 25, "areas": {"personnel": 25}, "forms": {"meetings": 25}}
    refusal = _refused(f, world, lambda s: save_logbook_day(s, token, 1, over, world.now))
    assert refusal.messages("sv") == {"days[1].hours": "En dag kan inte ha fler än 24 timmar (du angav 25)."}
    assert refusal.kept == {"days": {"1": over}}
    refusal = _refused(f, world, lambda s: submit_answers(s, token, world.now))
    assert refusal.code == "days_missing"
    assert refusal.message("sv") == "Fyll i alla 5 dagar innan du skickar in."
    world.tick(2)
    with f() as s, s.begin():
        view = open_link(s, token)
        assert view.answers["days"][0]["hours"] == 8.0 and view.answers["days"][1:] == [None] * 4
        for day in range(1, 5):
            entry = simulated_day(view.instrument, 0.0, random.Random(day))
            save_logbook_day(s, token, day, entry, world.now)
        save_answers(s, token, {"ordinary_week": "typical"}, world.now, submit=True)
    with f() as s:
        rows = own_answers(s, token)["rows"]
        assert rows[0] == {"section": "Dag 1", "question": "Arbetade timmar", "answer": "8"}
