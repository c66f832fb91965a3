"""The step 8-9 operations the browser offers besides the API: the follow-up meeting scheduled, moved
and cancelled with its invite, an action changed, finished or dropped with its result, a mapping
run again at step 9, and the plan's history in sentences. Each form: the allowed person succeeds,
another is refused, bad input is shown beside its field with what was typed, a stale form is a 409."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from flows import engine
from models import Action, FollowUpMeeting, Gate, OutboxMessage, Survey
from tests import helpers
from tests.e2e.test_pages_actions import state
from tests.e2e.test_pages_http import sign_in
from tests.e2e.test_plan_pages import AREA, world_at_step_8
from tests.e2e.world import build_world
from tests.plans.support import adopted_plan, assessment

STALE = "Ändrad av någon annan"


def _adopted(session_factory, now: datetime):
    """The e2e world at step 8 with the chef's adopted workplace plan and its started action."""
    world = world_at_step_8(session_factory, now)
    with session_factory() as s:
        plan = adopted_plan(s, world.process_id, world.ids["chef"], world.ids["processledare"],
                            world.ids["processagare"], now, level="C", area=AREA)
        action_id = s.scalar(select(Action.id).where(Action.plan_id == plan.id))
        return world, plan.id, action_id


def _hidden(html: str, form_action: str, name: str) -> str:
    form = html[html.index(f'action="{form_action}"'):]
    return re.search(rf'name="{name}" value="([^"]*)"', form).group(1)


def _invites(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "meeting_invite"))


def test_the_follow_up_meeting_is_scheduled_moved_and_cancelled(client: TestClient, session_factory) -> None:
    now = datetime.now(UTC)
    world, plan_id, _ = _adopted(session_factory, now)
    today = now.date()
    chef, leader = world.ids["chef"], world.ids["processledare"]
    schedule, cancel = f"/plans/{plan_id}/follow-up/schedule", f"/plans/{plan_id}/follow-up/cancel"

    csrf = sign_in(client, world.emails["bestallare"])  # takes part in the process, runs none of it
    assert client.post(schedule, data={"csrf_token": csrf, "meeting_on": str(today),
                                       "participant_ids": str(chef)}).status_code == 403
    assert client.post(cancel, data={"csrf_token": csrf, "cancel_reason": "x"}).status_code == 403

    csrf = sign_in(client, world.emails["chef"])  # the plan's owner
    page = client.get(f"/plans/{plan_id}")
    assert page.status_code == 200 and f'action="{schedule}"' in page.text
    assert f'id="participant_{chef}"' in page.text and f'action="{cancel}"' not in page.text
    invites, before = _invites(session_factory), state(session_factory)
    past = client.post(schedule, data={"csrf_token": csrf, "meeting_on": str(today - timedelta(days=1)),
                                       "meeting_location": "Rum 3", "participant_ids": [str(chef)]})
    assert past.status_code == 422 and 'id="meeting_on-error"' in past.text
    assert 'value="Rum 3"' in past.text  # what was typed is kept
    nobody = client.post(schedule, data={"csrf_token": csrf, "meeting_on": str(today + timedelta(days=7))})
    assert nobody.status_code == 422 and 'id="participant_ids-error"' in nobody.text
    for junk in ("abc", "99999999999", "2000000000"):
        r = client.post(schedule, data={"csrf_token": csrf, "meeting_on": "2027-02-31",
                                        "participant_ids": junk})
        assert r.status_code == 422 and 'id="participant_ids-error"' in r.text, junk
        assert 'id="meeting_on-error"' in r.text
    assert state(session_factory) == before

    on = today + timedelta(days=14)
    ok = client.post(schedule, data={"csrf_token": csrf, "meeting_on": str(on), "meeting_location": "Rum 3",
                                     "participant_ids": [str(chef), str(leader)]})
    assert ok.status_code == 303, ok.text
    with session_factory() as s:
        meeting = s.scalars(select(FollowUpMeeting).where(FollowUpMeeting.plan_id == plan_id)).one()
        assert (meeting.status, meeting.scheduled_on, meeting.location) == ("scheduled", on, "Rum 3")
        assert meeting.participant_ids == sorted([chef, leader])
    assert _invites(session_factory) == invites + 2  # the ICS invite to each participant

    page = client.get(ok.headers["location"])
    assert 'role="status"' in page.text and f'action="{cancel}"' in page.text
    version = _hidden(page.text, schedule, "version")
    moved = today + timedelta(days=21)
    move = {"csrf_token": csrf, "meeting_on": str(moved), "participant_ids": str(chef),
            "meeting_id": str(meeting.id)}
    stale = client.post(schedule, data={**move, "version": str(int(version) + 1)})
    assert stale.status_code == 409 and STALE in stale.text
    fresh = client.post(schedule, data={**move, "version": version})
    assert fresh.status_code == 303
    with session_factory() as s:
        meeting = s.get(FollowUpMeeting, meeting.id)
        assert (meeting.scheduled_on, meeting.invite_sequence, meeting.participant_ids) == (moved, 1, [chef])
    assert _invites(session_factory) == invites + 3  # the update to the one still invited

    page = client.get(f"/plans/{plan_id}")
    version = _hidden(page.text, cancel, "version")
    blank = client.post(cancel, data={"csrf_token": csrf, "meeting_id": str(meeting.id), "version": version,
                                      "cancel_reason": "  "})
    assert blank.status_code == 422 and 'id="cancel_reason-error"' in blank.text
    old = client.post(cancel, data={"csrf_token": csrf, "meeting_id": str(meeting.id), "version": "1",
                                    "cancel_reason": "Krockar med budgetarbetet"})
    assert old.status_code == 409 and STALE in old.text and "Krockar med budgetarbetet" in old.text
    done = client.post(cancel, data={"csrf_token": csrf, "meeting_id": str(meeting.id), "version": version,
                                     "cancel_reason": "Krockar med budgetarbetet"})
    assert done.status_code == 303
    with session_factory() as s:
        assert s.get(FollowUpMeeting, meeting.id).status == "cancelled"
    again = client.post(cancel, data={"csrf_token": csrf, "meeting_id": str(meeting.id), "version": version,
                                      "cancel_reason": "Igen"})
    assert again.status_code == 409  # nothing scheduled any more

    history = client.get(f"/plans/{plan_id}?tab=history")
    assert history.status_code == 200
    assert "Uppföljningsmöte planerat till" in history.text and "Krockar med budgetarbetet" in history.text
    assert "follow_up_meeting" not in history.text  # sentences, not codes
    english = client.get(f"/plans/{plan_id}?tab=history&lang=en")
    assert "Follow-up meeting scheduled for" in english.text


def test_an_action_is_changed_finished_and_dropped_with_its_result(client: TestClient,
                                                                    session_factory) -> None:
    now = datetime.now(UTC)
    world, plan_id, action_id = _adopted(session_factory, now)
    today = now.date()
    with session_factory() as s:  # a second action, assessed, approved and started
        ctx = helpers.ctx_for(s, world.ids["chef"], now)
        second = engine.add_action(ctx, plan_id, engine.ActionFields(
            development_area=AREA, goal="Färre möten", description="Halvera mötestiden", responsible_id=
            world.ids["chef"], start_date=today, end_date=today + timedelta(days=60)))
        engine.record_risk_assessment(ctx, second.id, **assessment(s, world.process_id))
        gate = s.scalar(select(Gate).where(Gate.action_id == second.id))
        engine.decide_gate(helpers.ctx_for(s, world.ids["processagare"], now), gate.id, "approve")
        engine.start_action(ctx, second.id)
        s.commit()
        second_id = second.id
    change, finish = f"/actions/{action_id}/change", f"/actions/{action_id}/finish"

    csrf = sign_in(client, world.emails["bestallare"])
    assert client.post(change, data={"csrf_token": csrf, "goal": "x"}).status_code == 403
    assert client.post(finish, data={"csrf_token": csrf, "result": "x", "ending": "done"}).status_code == 403

    csrf = sign_in(client, world.emails["chef"])
    page = client.get(f"/actions/{action_id}")
    assert page.status_code == 200 and 'id="change-consequence"' in page.text
    assert "tillbaka till riskbedömning" in page.text  # the consequence is shown before the click
    assert 'id="action-follow-up"' in page.text
    form = {k: _hidden(page.text, change, k) if k == "version" else v for k, v in {
        "version": "", "development_area": AREA, "goal": "Mer tid för ledarskap",
        "description": "Inför administrativt stöd", "expected_effect": "Mindre administration",
        "responsible_id": str(world.ids["chef"]), "start_date": str(today),
        "end_date": str(today + timedelta(days=90)), "cost_estimate": "120000",
        "follow_up_date": str(today + timedelta(days=30))}.items()}
    form["csrf_token"] = csrf

    before = state(session_factory)
    bad = client.post(change, data={**form, "goal": "Nytt mål", "end_date": str(today - timedelta(days=1)),
                                    "cost_estimate": "mycket"})
    assert bad.status_code == 422 and 'id="end_date-error"' in bad.text
    assert 'id="cost_estimate-error"' in bad.text
    assert 'value="Nytt mål"' in bad.text and 'value="mycket"' in bad.text
    stale = client.post(change, data={**form, "goal": "Nytt mål", "version": str(int(form["version"]) + 5)})
    assert stale.status_code == 409 and STALE in stale.text
    assert state(session_factory) == before

    moved = client.post(change, data={**form, "follow_up_date": str(today + timedelta(days=45))})
    assert moved.status_code == 303 and "done=changed" in moved.headers["location"]
    with session_factory() as s:  # only the follow-up date: the assessment still holds
        action = s.get(Action, action_id)
        assert (action.status, action.revision, action.follow_up_date) == (
            "in_progress", 1, today + timedelta(days=45))
    page = client.get(f"/actions/{action_id}")
    assert (today + timedelta(days=45)).isoformat() in page.text
    form.update(version=_hidden(page.text, change, "version"), follow_up_date=str(today + timedelta(days=45)))
    changed = client.post(change, data={**form, "description": "Inför administrativt stöd i två steg"})
    assert changed.status_code == 303 and "done=reassess" in changed.headers["location"]
    with session_factory() as s:
        action = s.get(Action, action_id)
        assert (action.status, action.revision, action.description) == (
            "risk_pending", 2, "Inför administrativt stöd i två steg")

    page = client.get(f"/actions/{action_id}")
    assert 'value="done"' not in page.text  # waiting for its new assessment, it may only be dropped
    version = _hidden(page.text, finish, "version")
    end = {"csrf_token": csrf, "version": version}
    empty = client.post(finish, data={**end, "ending": "dropped", "result": " "})
    assert empty.status_code == 422 and 'id="result-error"' in empty.text
    early = client.post(finish, data={**end, "ending": "done", "result": "Klart"})
    assert early.status_code == 409 and "Klart" in early.text
    odd = client.post(finish, data={**end, "ending": "maybe", "result": "Hm"})
    assert odd.status_code == 422 and 'id="result-error"' in odd.text
    reason = "Stödet ordnas centralt i stället"
    dropped = client.post(finish, data={**end, "ending": "dropped", "result": reason})
    assert dropped.status_code == 303
    with session_factory() as s:
        action = s.get(Action, action_id)
        assert (action.status, action.result) == ("dropped", "Stödet ordnas centralt i stället")
    page = client.get(f"/actions/{action_id}")
    assert 'id="action-result"' in page.text and "Stödet ordnas centralt i stället" in page.text
    assert f'action="{change}"' not in page.text  # a dropped action is not changed any more

    page = client.get(f"/actions/{second_id}")
    version = _hidden(page.text, f"/actions/{second_id}/finish", "version")
    end = {"csrf_token": csrf, "ending": "done"}
    stale = client.post(f"/actions/{second_id}/finish", data={**end, "version": str(int(version) + 1),
                                                               "result": "Klart"})
    assert stale.status_code == 409 and STALE in stale.text
    finished = client.post(f"/actions/{second_id}/finish", data={**end, "version": version,
                                                                  "result": "Mötestiden halverad"})
    assert finished.status_code == 303
    with session_factory() as s:
        second = s.get(Action, second_id)
        assert (second.status, second.result) == ("done", "Mötestiden halverad")
    english = client.get(f"/actions/{second_id}?lang=en")
    assert "Result" in english.text and "Mötestiden halverad" in english.text


def test_a_mapping_is_run_again_from_the_evaluation_page(client: TestClient, session_factory) -> None:
    now = datetime.now(UTC)
    world = build_world(session_factory, now)
    pid = world.process_id
    path = f"/processes/{pid}/mapping-rerun"

    csrf = sign_in(client, world.emails["processledare"])
    early = client.post(path, data={"csrf_token": csrf, "rerun_step": "4"})
    assert early.status_code == 409 and "görs om i steg 9" in early.text  # not at step 9 yet
    with session_factory() as s:
        helpers.walk_to(s, pid, 9, now)

    csrf = sign_in(client, world.emails["chef"])
    assert client.post(path, data={"csrf_token": csrf, "rerun_step": "4"}).status_code == 403

    csrf = sign_in(client, world.emails["processledare"])
    page = client.get(f"/processes/{pid}/evaluation")
    assert page.status_code == 200 and f'action="{path}"' in page.text
    before = state(session_factory)
    for step, closes, field in (("", "", "rerun_step"), ("7", "", "rerun_step"), ("x" * 50, "", "rerun_step"),
                                ("4", "igår", "rerun_closes_on"), ("4", "99999-01-01", "rerun_closes_on"),
                                ("4", str(now.date() - timedelta(days=1)), "rerun_closes_on")):
        r = client.post(path, data={"csrf_token": csrf, "rerun_step": step, "rerun_closes_on": closes})
        assert r.status_code == 422 and f'id="{field}-error"' in r.text, (step, closes)
        if closes:
            assert f'value="{closes}"' in r.text
    assert state(session_factory) == before

    closes_on = now.date() + timedelta(days=30)
    ok = client.post(path, data={"csrf_token": csrf, "rerun_step": "4", "rerun_closes_on": str(closes_on)})
    assert ok.status_code == 303, ok.text
    with session_factory() as s:
        rerun = s.scalars(select(Survey).where(Survey.process_id == pid, Survey.step_no == 4)
                          .order_by(Survey.round.desc())).first()
        assert (rerun.round, rerun.status) == (2, "open") and rerun.answering_from is not None
        assert isinstance(rerun.closes_at.date(), date)
    page = client.get(ok.headers["location"])
    assert 'role="status"' in page.text and f'href="/processes/{pid}/surveys/4"' in page.text
    again = client.post(path, data={"csrf_token": csrf, "rerun_step": "4"})
    assert again.status_code == 409 and 'id="rerun_step-error"' in again.text  # its round is still open
    english = client.get(f"/processes/{pid}/evaluation?lang=en")
    assert "Run the mapping again" in english.text


def test_the_new_forms_answer_junk_without_500(client: TestClient, session_factory) -> None:
    now = datetime.now(UTC)
    world, plan_id, action_id = _adopted(session_factory, now)
    csrf = sign_in(client, world.emails["processledare"])
    junk = ["", " ", "\x00", "0", "-1", "99999999999", "2000000000", "x" * 20000, "9999-12-31", "0001-01-01",
            "2027-02-30", "<script>", "1e400"]
    names = ("meeting_on", "meeting_location", "participant_ids", "meeting_id", "version", "cancel_reason",
             "development_area", "goal", "description", "responsible_id", "start_date", "end_date",
             "cost_estimate", "follow_up_date", "result", "ending", "rerun_step", "rerun_closes_on")
    paths = (f"/plans/{plan_id}/follow-up/schedule", f"/plans/{plan_id}/follow-up/cancel",
             f"/actions/{action_id}/change", f"/actions/{action_id}/finish",
             f"/processes/{world.process_id}/mapping-rerun", "/plans/2000000000/follow-up/schedule",
             "/actions/99999999999/change")
    for i, value in enumerate(junk):
        data = {"csrf_token": csrf, **{n: junk[(i + k) % len(junk)] for k, n in enumerate(names)}}
        data[names[i % len(names)]] = value
        for path in paths:
            r = client.post(path, data=data)
            assert r.status_code < 500 and r.status_code != 200, (path, value, r.status_code)
