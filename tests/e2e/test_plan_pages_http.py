"""The pages of steps 7-9 over HTTP: refused forms keep their values and leave nothing behind, no 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from flows import engine
from flows.engine.cycle import plans_without_follow_up
from flows.engine.followup import REVIEWED_STATES
from models import Action, ActionPlan, Person, ProcessEvaluation, Survey
from surveys.distribution import close_survey, start_rerun
from tests import helpers
from tests.e2e.test_pages_actions import state
from tests.e2e.test_pages_http import sign_in
from tests.e2e.test_plan_pages import AREA, world_at_step_8
from tests.e2e.world import build_world


def test_step_7_to_9_pages_refuse_bad_input_without_500(client: TestClient, session_factory) -> None:
    now = datetime.now(UTC)
    world = world_at_step_8(session_factory, now)
    pid = world.process_id
    csrf = sign_in(client, world.emails["processledare"])
    areas = client.get(f"/processes/{pid}/development-areas")
    assert areas.status_code == 200 and AREA in areas.text
    before = state(session_factory)
    bad = client.post(f"/processes/{pid}/development-areas", data={
        "csrf_token": csrf, "title_0": "Ledarskap\x00", "level_0": "Q", "unit_id_0": "abc",
        "title_1": "Kompetens", "level_1": "C", "unit_id_1": "99999999999"})
    assert bad.status_code == 422 and 'id="unit_id_0-error"' in bad.text and "Ledarskap" in bad.text
    assert state(session_factory) == before
    empty = client.post(f"/processes/{pid}/development-areas", data={"csrf_token": csrf, "title_0": " "})
    assert empty.status_code == 422 and 'id="title_0-error"' in empty.text
    ok = client.post(f"/processes/{pid}/development-areas", data={
        "csrf_token": csrf, "title_0": "Ledarskap", "level_0": "A", "goal_0": "Tydligt"})
    assert ok.status_code == 303

    plans = client.get(f"/processes/{pid}/plans")
    assert plans.status_code == 200
    for area_id in ("", "x", "99999999999", "2000000000"):
        r = client.post(f"/processes/{pid}/plans", data={"csrf_token": csrf, "area_id": area_id})
        assert r.status_code == 422 and 'id="area_id-error"' in r.text, area_id

    with session_factory() as s:
        chef = s.get(Person, world.ids["chef"])
        plan = engine.create_plan(helpers.ctx_for(s, chef.id, now), pid, level="C", owner_id=chef.id,
                                  title="Plan", unit_id=chef.unit_id)
        s.commit()
        plan_id = plan.id
    before = state(session_factory)
    junk = client.post(f"/plans/{plan_id}/actions", data={
        "csrf_token": csrf, "development_area": AREA, "goal": "Mål", "description": "Gör",
        "responsible_id": "99999999999", "start_date": "igår", "end_date": "2027-13-45",
        "cost_estimate": "mycket"})
    assert junk.status_code == 422
    for name in ("responsible_id", "start_date", "end_date", "cost_estimate"):
        assert f'id="{name}-error"' in junk.text, name
    assert 'value="mycket"' in junk.text  # typed values kept
    follow = client.post(f"/plans/{plan_id}/follow-up", data={"csrf_token": csrf, "held_on": "x"})
    assert follow.status_code == 422
    adopt = client.post(f"/plans/{plan_id}/adopt", data={"csrf_token": csrf, "version": "abc"})
    assert adopt.status_code == 403  # the processledare neither owns the plan nor is processägare
    assert state(session_factory) == before

    assert client.get(f"/processes/{pid}/evaluation").status_code == 200
    csrf = sign_in(client, world.emails["processagare"])
    early = client.post(f"/processes/{pid}/evaluation", data={"csrf_token": csrf, "what_worked": "a",
                                                               "what_to_change": "b"})
    assert early.status_code == 409
    assert client.post(f"/processes/{pid}/next-cycle", data={"csrf_token": csrf}).status_code == 409
    adopt = client.post(f"/plans/{plan_id}/adopt", data={"csrf_token": csrf})
    assert adopt.status_code == 409 and 'role="alert"' in adopt.text  # no consultation yet
    for path in ("/plans/2000000000", "/actions/99999999999", "/processes/2000000000/evaluation",
                 "/processes/2000000000/development-areas"):
        assert client.get(path).status_code == 404, path
    csrf = sign_in(client, world.emails["chef"])
    assert client.post(f"/processes/{pid}/evaluation", data={"csrf_token": csrf}).status_code == 403
    with session_factory() as s:
        assert s.scalar(select(ActionPlan.status).where(ActionPlan.id == plan_id)) == "draft"


def follow_up_every_plan(session_factory, world, now: datetime) -> None:
    """Hold a follow-up meeting on each adopted plan the simulated people made in step 8."""
    with session_factory() as s:
        ctx = helpers.ctx_for(s, world.ids["processledare"], now)
        for plan_id in plans_without_follow_up(s, world.process_id):
            actions = s.scalars(select(Action.id).where(Action.plan_id == plan_id,
                                                        Action.status.in_(REVIEWED_STATES)))
            reviews = [engine.ReviewFields(a, "yes", "partly", "yes", "Lärdom") for a in actions]
            engine.record_follow_up(ctx, plan_id, held_on=now.date(), participants=["Chef"], reviews=reviews,
                                    next_follow_up_on=now.date() + timedelta(days=60))
        s.commit()


def test_the_evaluation_is_recorded_at_step_9(client: TestClient, session_factory) -> None:
    now = datetime.now(UTC)
    world = build_world(session_factory, now)
    with session_factory() as s:
        helpers.walk_to(s, world.process_id, 9, now)
    pid = world.process_id
    csrf = sign_in(client, world.emails["processagare"])
    blank = client.post(f"/processes/{pid}/evaluation", data={"csrf_token": csrf, "what_worked": "Bra",
                                                               "what_to_change": " "})
    assert blank.status_code == 422 and 'id="what_to_change-error"' in blank.text and "Bra" in blank.text
    form = {"csrf_token": csrf, "what_worked": "Samverkan tidigt", "what_to_change": "Kortare tider",
            "before_after": "Färre sjukskrivningar"}
    early = client.post(f"/processes/{pid}/evaluation", data=form)
    assert early.status_code == 409 and "Samverkan tidigt" in early.text  # plans not yet followed up
    follow_up_every_plan(session_factory, world, now)
    done = client.post(f"/processes/{pid}/evaluation", data=form)
    assert done.status_code == 303
    page = client.get(done.headers["location"])
    assert page.status_code == 200 and "Samverkan tidigt" in page.text
    with session_factory() as s:
        assert s.scalar(select(ProcessEvaluation.what_to_change).where(
            ProcessEvaluation.process_id == pid)) == "Kortare tider"
    report_link = f'href="/processes/{pid}/report"'
    assert report_link not in page.text  # no mapping run again yet: nothing to compare
    with session_factory() as s:  # the first mapping run again in follow-up, and closed
        ctx = helpers.ctx_for(s, world.ids["processledare"], now)
        first = s.scalar(select(Survey.id).where(Survey.process_id == pid, Survey.step_no == 4))
        close_survey(ctx, start_rerun(ctx, first).id)
        s.commit()
    assert report_link in client.get(f"/processes/{pid}/evaluation").text
