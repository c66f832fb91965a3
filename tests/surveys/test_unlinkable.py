"""A response cannot be joined back to a person: not by transaction ids, order, time, or the keys.

An acceptance audit joined ``survey_invitation.xmin = survey_response.xmin`` on PostgreSQL
and matched 12 of 12 respondents, because submitting set the invitation's ``answered``
flag in the response's transaction. Here: answering writes the response and nothing else;
the invitations learn who answered only at close, all at once, when the link secrets are
deleted; responses are re-stamped by the sweep and sealed (rewritten in random order)
after the close; ids are random; times are days; logs carry no link.
"""

from __future__ import annotations

import logging
import random
import re
from contextlib import contextmanager
from datetime import time

import pytest
from sqlalchemy import event, select, text

import models
from chefoskop import clock
from flows.engine.core import Actor, Context, record
from flows.sweep import run_sweep
from models import AuditEvent, Invitation, Person, Response, Survey
from surveys.aggregation import start_aggregation
from surveys.distribution import close_survey, non_respondents, respondent_link, response_rates
from surveys.errors import SurveyRefused
from surveys.links import make_token, read_token, respondent_key
from surveys.own import own_answers
from surveys.respond import open_link, save_answers, save_logbook_day, submit_answers
from surveys.simulate import simulated_items
from tests.surveys.conftest import advance_until, until_phase

DML = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


@pytest.fixture
def mapping_one(world_factory, session_factory):
    """Mapping 1 of 12 managers in two groups of 6, out for answers: (world, survey id, tokens)."""
    world = world_factory(managers=12, groups=[6, 6])
    advance_until(world, until_phase(4, "aktivitet"))
    with session_factory() as s:
        survey_id = s.scalars(select(Survey.id).where(Survey.step_no == 4)).one()
        tokens = [(i.person_id, make_token(i.nonce)) for i in s.scalars(
            select(Invitation).where(Invitation.survey_id == survey_id).order_by(Invitation.id))]
    return world, survey_id, tokens


def _answers(session, token: str) -> dict:
    instrument = open_link(session, token).instrument
    return simulated_items(instrument, 0.0, random.Random(len(token)))


@contextmanager
def _written_tables(engine):
    """The tables every INSERT, UPDATE and DELETE inside the block wrote to."""
    found: list[str] = []

    def before(_conn, _cursor, statement, _parameters, _context, _many):
        match = DML.match(statement)
        if match:
            found.append(match.group(1))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_answering_writes_the_response_and_nothing_else(mapping_one, session_factory, db_engine):
    world, survey_id, tokens = mapping_one
    (_, token), (_, logbook_free) = tokens[0], tokens[1]
    with _written_tables(db_engine) as written, session_factory() as s, s.begin():
        save_answers(s, token, {"workload_fits": 4}, world.now)
    assert set(written) == {"survey_response"}
    with _written_tables(db_engine) as written, session_factory() as s, s.begin():
        save_answers(s, token, _answers(s, token), world.now, submit=True)
    assert set(written) == {"survey_response"}, written  # no invitation, task or audit row
    with _written_tables(db_engine) as written, session_factory() as s, s.begin():
        save_answers(s, logbook_free, _answers(s, logbook_free), world.now)
        submit_answers(s, logbook_free, world.now)
    assert set(written) == {"survey_response"}, written
    with session_factory() as s:
        # Nothing about who answered is stored while the mapping is open ...
        assert not any(s.scalars(select(Invitation.answered)))
        # ... yet the rates, the reminders and the task page work it out.
        assert sum(r.answered for r in response_rates(s, survey_id)) == 2
        assert len(non_respondents(s, survey_id)) == 10


def test_the_logbook_day_writes_only_the_response(world_factory, session_factory, db_engine):
    world = world_factory(managers=6, groups=[6])
    advance_until(world, until_phase(4, "aktivitet"))
    with clock.simulated_clock(lambda: world.now), session_factory() as s, s.begin():
        close_survey(Context(s, now=world.now), s.scalars(select(Survey.id)).one())
    advance_until(world, until_phase(5, "aktivitet"))
    with session_factory() as s:
        survey_id = s.scalars(select(Survey.id).where(Survey.step_no == 5)).one()
        nonce = s.scalars(select(Invitation.nonce).where(Invitation.survey_id == survey_id)).first()
    day = {"hours": 8, "areas": {"personnel": 8}, "forms": {"meetings": 8}}
    with _written_tables(db_engine) as written, session_factory() as s, s.begin():
        save_logbook_day(s, make_token(nonce), 0, day, world.now)
    assert set(written) == {"survey_response"}


def test_closing_records_who_answered_and_forgets_the_secrets(mapping_one, session_factory):
    world, survey_id, tokens = mapping_one
    answered = tokens[:5]
    with session_factory() as s, s.begin():
        for _, token in answered:
            save_answers(s, token, _answers(s, token), world.now, submit=True)
        save_answers(s, tokens[5][1], {"workload_fits": 2}, world.now)  # a draft, never sent
    with session_factory() as s, s.begin():
        close_survey(Context(s, now=world.now), survey_id)
    with session_factory() as s:
        invitations = s.scalars(select(Invitation).where(Invitation.survey_id == survey_id)).all()
        assert {i.person_id for i in invitations if i.answered} == {p for p, _ in answered}
        assert all(i.nonce is None and len(i.link_hash) == 64 for i in invitations)
        # With the database and the application secret, nothing stored on an invitation
        # gives a response's key any more.
        keys = set(s.scalars(select(Response.respondent_key)))
        for invitation in invitations:
            for column in Invitation.__table__.columns:
                value = getattr(invitation, column.key)
                assert respondent_key(survey_id, str(value)) not in keys, column.key
        # The respondents' own links still open their own answers; no new link can be made.
        assert own_answers(s, answered[0][1])["status"] == "submitted"
        assert own_answers(s, tokens[5][1])["status"] == "draft"
        with pytest.raises(SurveyRefused):
            respondent_link(s, survey_id, answered[0][0])
        forged = make_token(read_token(answered[0][1])[:-2] + "xx")
        with pytest.raises(SurveyRefused):
            open_link(s, forged)


def _xmins(session, table: str, where: str = "") -> set[str]:
    return set(session.scalars(text(f'SELECT DISTINCT xmin::text FROM "{table}" {where}')))


def _identity_xmins(session) -> dict[str, set[str]]:
    """Transaction ids of every row of every table but the responses."""
    return {t.name: _xmins(session, t.name) for t in models.Base.metadata.sorted_tables
            if t.name != "survey_response"}


def _assert_no_shared_transaction(session) -> set[str]:
    responses = _xmins(session, "survey_response")
    assert responses
    for table, xmins in _identity_xmins(session).items():
        assert not responses & xmins, f"{table} shares a transaction with a response"
    joined = session.scalar(text("SELECT count(*) FROM survey_invitation i "
                                 "JOIN survey_response r ON i.xmin = r.xmin"))
    assert joined == 0
    return responses


def test_no_row_that_names_a_person_shares_a_transaction_or_an_order_with_a_response(
        mapping_one, session_factory, db_engine):
    """Transaction ids (xmin) are PostgreSQL's and checked there; the physical order of the
    rows (ctid on PostgreSQL, rowid on SQLite) is checked on both."""
    postgres = db_engine.dialect.name == "postgresql"
    world, survey_id, tokens = mapping_one
    order = []
    for person, token in tokens:  # each signs in (a row naming them) right before answering
        with session_factory() as s, s.begin():
            organisation_id = s.get(Person, person).organisation_id
            record(Context(s, Actor.person(person), world.now), organisation_id=organisation_id,
                   process_id=world.process_id, entity="person", entity_id=person,
                   action="signed_in", from_state=None, to_state=None)
        with session_factory() as s, s.begin():
            save_answers(s, token, {"workload_fits": 3}, world.now)
        with session_factory() as s, s.begin():
            save_answers(s, token, _answers(s, token), world.now, submit=True)
        order.append(respondent_key(survey_id, read_token(token)))
    with session_factory() as s:
        if postgres:
            _assert_no_shared_transaction(s)
        else:  # until the mapping is sealed, SQLite keeps the rows in the order they came
            assert list(s.scalars(text("SELECT respondent_key FROM survey_response "
                                       "ORDER BY rowid"))) == order
        ids = list(s.scalars(select(Response.id)))
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)  # random, not a sequence
        assert {r.time() for r in s.scalars(select(Response.submitted_at))} == {time(0)}  # days only
        assert len({i.created_at for i in s.scalars(select(Invitation))}) == 1
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.entity == "survey_response")) is None

    run_sweep(world.now)  # rewrites the open mapping's responses in place, in random order
    if postgres:
        with session_factory() as s:
            assert len(_assert_no_shared_transaction(s)) == 1  # one transaction: no order in xmin

    with clock.simulated_clock(lambda: world.now), session_factory() as s, s.begin():
        close_survey(Context(s, now=world.now), survey_id)  # writes invitations and tasks, no response
    start_aggregation([survey_id])  # seals: the responses rewritten in random order, alone
    with session_factory() as s:
        if postgres:
            assert len(_assert_no_shared_transaction(s)) == 1
        place = "ctid" if postgres else "rowid"
        by_place = list(s.scalars(text(f"SELECT respondent_key FROM survey_response ORDER BY {place}")))
        by_id = list(s.scalars(text("SELECT respondent_key FROM survey_response ORDER BY id")))
        assert sorted(by_place) == sorted(order)
        # 12! orders: neither the table's order nor the ids' follows the order of answering.
        assert by_place != order and by_id != order
        assert s.scalar(select(Survey.results).where(Survey.id == survey_id))["participation"][
            "overall"]["n"] == 12


def test_no_survey_link_reaches_the_logs():
    from api.serve import SurveyLinkFilter, install_log_filters, uvicorn_log_config

    config = uvicorn_log_config()
    assert all("survey_links" in h["filters"] for h in config["handlers"].values())
    token = make_token("s3cret-nonce-value")
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", f"/s/{token}/day/2?lang=en", "1.1", 303), None)
    assert SurveyLinkFilter().filter(record)
    assert record.args[2] == "/s/[link]/day/2?lang=en"
    assert token not in record.getMessage()
    install_log_filters()
    problems = logging.getLogger("api.problems")
    caught = logging.LogRecord("api.problems", logging.WARNING, __file__, 1, "error on %s %s",
                               ("GET", f"/login?next=%2Fs%2F{token}"), None)
    assert all(f.filter(caught) for f in problems.filters)
    assert token not in caught.getMessage() and "%2Fs%2F[link]" in caught.getMessage()
