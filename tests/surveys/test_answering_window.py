"""When answering starts and ends, and what the sweep tells whom while it runs.

- A step that prepares longer than planned does not lose its mapping: the sweep closes
  nothing before the answer tasks go out, and the close date is fixed then.
- Every open answer task is due on the close date, and moves with it.
- Reminders go to those who have not answered (the notice filter); a respondent's
  lateness is never escalated (the processägare would learn who has not answered).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from chefoskop import clock
from flows.calendar import add_working_days, local_date
from flows.engine.core import Context
from flows.sweep import run_sweep
from models import AuditEvent, Invitation, OutboxMessage, Survey, Task
from surveys.distribution import (
    MIN_OPEN_WORKING_DAYS,
    close_day,
    extend_close,
    task_survey_link,
)
from surveys.errors import SurveyRefused
from surveys.links import make_token
from surveys.respond import open_link, save_answers
from surveys.simulate import simulated_items
from tests.surveys.conftest import advance_until, step_status, until_phase, until_step_open

STOCKHOLM = ZoneInfo("Europe/Stockholm")
ANSWER = "answer_survey_1"


def at(day, hour: int = 9) -> datetime:
    """``day`` at ``hour`` o'clock in Stockholm."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=STOCKHOLM)


def _survey(factory) -> Survey:
    with factory() as s:
        return s.scalars(select(Survey).where(Survey.step_no == 4)).one()


def _answer_tasks(factory) -> list[Task]:
    with factory() as s:
        return list(s.scalars(select(Task).where(Task.activity_key == ANSWER).order_by(Task.id)))


def _answer(factory, world, person_ids) -> None:
    with clock.simulated_clock(lambda: world.now), factory() as s, s.begin():
        survey = s.scalars(select(Survey).where(Survey.step_no == 4)).one()
        for invitation in s.scalars(select(Invitation).where(
                Invitation.survey_id == survey.id, Invitation.person_id.in_(person_ids))):
            token = make_token(invitation.nonce)
            items = simulated_items(open_link(s, token).instrument, 0.0, random.Random(invitation.id))
            save_answers(s, token, items, world.now, submit=True)


def _sent(factory, kind: str) -> set[int]:
    with factory() as s:
        rows = s.scalars(select(OutboxMessage).join(Task, Task.id == OutboxMessage.task_id).where(
            OutboxMessage.kind == kind, Task.activity_key == ANSWER))
        return {m.recipient_id for m in rows}


def test_a_long_preparation_never_closes_the_mapping_before_answering(world_factory, session_factory):
    world, f = world_factory(managers=12, groups=[6, 6]), session_factory
    advance_until(world, until_step_open(4))  # the mapping is out; the processledare prepares
    planned = _survey(f)
    assert planned.answering_from is None and _answer_tasks(f) == []
    world.now = planned.closes_at + timedelta(days=3)  # preparation ran past the planned close
    run_sweep(world.now)
    survey = _survey(f)
    assert survey.status == "open" and survey.answering_from is None  # before: closed with 0 answers

    advance_until(world, until_phase(4, "aktivitet"))  # the answer tasks go out now
    survey, tasks = _survey(f), _answer_tasks(f)
    start = min(t.created_at for t in tasks)
    assert survey.answering_from == start
    earliest = add_working_days(local_date(start, STOCKHOLM), MIN_OPEN_WORKING_DAYS)
    assert close_day(survey) >= earliest and survey.closes_at > world.now
    assert {t.due_date for t in tasks} == {close_day(survey)}  # their mails said so too
    with f() as s:
        mails = s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "task_assigned", OutboxMessage.task_id.in_([t.id for t in tasks])))
        assert {m.payload["due_date"] for m in mails} == {close_day(survey).isoformat()}
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.entity == "survey",
                                                         AuditEvent.action == "answering_started")))
        assert len(events) == 1 and events[0].data["planned"] == planned.closes_at.isoformat()
    run_sweep(world.now)
    assert _survey(f).status == "open"
    chef = sorted(world.by_role["chef"])[0]
    with f() as s:
        task = s.scalar(select(Task).where(Task.activity_key == ANSWER, Task.holder_id == chef))
        assert task_survey_link(s, task, chef) is not None
    _answer(f, world, [chef])


def test_a_planned_close_that_leaves_enough_time_stands(world_factory, session_factory):
    world, f = world_factory(managers=12, groups=[6, 6]), session_factory
    advance_until(world, until_step_open(4))
    later = _survey(f).closes_at + timedelta(days=10)
    with f() as s, s.begin():
        with pytest.raises(SurveyRefused) as caught:  # while preparing: any date ahead, none past
            extend_close(Context(s, now=world.now), _survey(f).id, world.now - timedelta(days=1))
        assert caught.value.code == "close_in_past"
    with f() as s, s.begin():
        extend_close(Context(s, now=world.now), _survey(f).id, later)
    advance_until(world, until_phase(4, "aktivitet"))
    assert _survey(f).closes_at == later
    assert {t.due_date for t in _answer_tasks(f)} == {close_day(_survey(f))}


def test_extending_the_close_moves_every_answer_tasks_due_date(world_factory, session_factory):
    world, f = world_factory(managers=12, groups=[6, 6]), session_factory
    advance_until(world, until_phase(4, "aktivitet"))
    chefs = sorted(world.by_role["chef"])
    _answer(f, world, chefs[:3])
    survey = _survey(f)
    later = survey.closes_at + timedelta(days=7)
    with f() as s, s.begin():
        extend_close(Context(s, now=world.now), survey.id, later)
    tasks = _answer_tasks(f)
    day = later.astimezone(STOCKHOLM).date()
    # All of them, answered or not: moving only some would tell who answered.
    assert len(tasks) == 12 and {t.due_date for t in tasks} == {day}
    with f() as s:
        moved = s.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "due_moved")).all()
        assert sorted(moved) == sorted(t.id for t in tasks)
    with f() as s, s.begin(), pytest.raises(SurveyRefused) as caught:
        extend_close(Context(s, now=world.now), survey.id, later)  # answering started: only later
    assert caught.value.code == "close_not_later"


def test_the_sweep_reminds_only_those_who_have_not_answered_and_escalates_none(
        world_factory, session_factory):
    world, f = world_factory(managers=12, groups=[6, 6]), session_factory
    advance_until(world, until_phase(4, "aktivitet"))
    chefs = sorted(world.by_role["chef"])
    answered, waiting = set(chefs[:4]), set(chefs[4:])
    _answer(f, world, answered)
    due = close_day(_survey(f))

    run_sweep(at(add_working_days(due, -2)))  # the reminder before the due date
    assert _sent(f, "task_reminder") == waiting  # and nobody who has answered

    # A task that falls overdue while its mapping is still open (here: the close moved on
    # without it) is reminded to its holder, never escalated to anyone else.
    with f() as s, s.begin():
        survey = s.scalars(select(Survey).where(Survey.step_no == 4)).one()
        survey.closes_at += timedelta(days=40)
    overdue = at(add_working_days(due, 7))
    run_sweep(overdue)
    assert _sent(f, "task_overdue") == waiting
    assert _sent(f, "escalation") == set()
    assert {t.escalation_level for t in _answer_tasks(f)} == {0}
    assert step_status(world, 4) == ("open", "aktivitet")
