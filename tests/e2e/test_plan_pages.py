"""Steps 8 and 9 in the browser: a workplace plan from a development area, its action through the
risk assessment (with a safety representative) and the processägare's approval, the consultation
and adoption, the start, and the follow-up meeting on the five questions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from flows import engine
from models import Action, ActionPlan, FollowUpMeeting, Gate, OutboxMessage, Person
from tests import helpers
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import assert_accessible, sign_in, sign_out
from tests.e2e.world import build_world
from tests.plans.support import safety_rep

pytestmark = pytest.mark.e2e
AREA = "Arbetsbelastning i hemtjänsten"


def world_at_step_8(session_factory, now: datetime):
    """The e2e world walked (approving everything) to step 8, with an area for the chef's workplace."""
    world = build_world(session_factory, now)
    with session_factory() as s:
        helpers.walk_to(s, world.process_id, 8, now)
        chef = s.get(Person, world.ids["chef"])
        engine.record_development_areas(helpers.ctx_for(s, world.ids["processledare"], now), world.process_id,
                                        [engine.AreaFields(title=AREA, level="C", unit_id=chef.unit_id)])
        s.commit()
    return world


def _one(session_factory, stmt):
    with session_factory() as s:
        return s.scalars(stmt).one()


def test_a_workplace_plan_from_area_to_follow_up(page, session_factory) -> None:
    now = datetime.now(UTC)
    world = world_at_step_8(session_factory, now)
    today = now.date()

    sign_in(page, world.emails["chef"])
    page.goto(f"/processes/{world.process_id}/plans")
    page.locator("#area_id").select_option(label=f"C: {AREA}")
    page.get_by_role("button", name="Gör planen").click()
    page.wait_for_url(re.compile(r"/plans/\d+"))
    screenshot(page, "plan-created")
    plan_id = int(re.search(r"/plans/(\d+)", page.url).group(1))
    assert_accessible(page)

    page.locator("#goal").fill("Högst 30 medarbetare per chef")
    page.locator("#description").fill("Dela upp enheten i två arbetsgrupper")
    page.locator("#start_date").fill((today + timedelta(days=20)).isoformat())
    page.locator("#end_date").fill((today + timedelta(days=10)).isoformat())  # before the start
    page.get_by_role("button", name="Lägg till åtgärden").click()
    assert page.locator("#end_date-error").is_visible()  # refused beside the field, values kept
    assert page.locator("#description").input_value() == "Dela upp enheten i två arbetsgrupper"
    page.locator("#end_date").fill((today + timedelta(days=120)).isoformat())
    page.get_by_role("button", name="Lägg till åtgärden").click()
    page.wait_for_url(re.compile(r"/actions/\d+"))
    action_id = int(re.search(r"/actions/(\d+)", page.url).group(1))

    page.locator("#risk_0").fill("Oro i arbetsgruppen under omställningen")
    page.locator("#likelihood_0").select_option("3")
    page.locator("#consequence_0").select_option("2")
    page.locator("#measure_0").fill("Tät information på APT")
    with session_factory() as s:  # the engine wants one of the process's skyddsombud taking part
        rep = safety_rep(s, world.process_id)
    page.locator("#participants").fill(f"Chef\n{rep}")
    page.locator("#safety_representative").fill(rep)
    page.locator("#conclusion").fill("Risken är acceptabel med åtgärderna")
    page.get_by_role("button", name="Dokumentera riskbedömningen").click()
    page.wait_for_url(re.compile(r"done=assessed"))
    assert_accessible(page)
    screenshot(page, "plan-action-assessed")
    risk_gate = _one(session_factory, select(Gate).where(Gate.action_id == action_id))
    sign_out(page)

    sign_in(page, world.emails["processagare"])
    page.goto(f"/gates/{risk_gate.id}")
    page.get_by_role("button", name="Godkänn").first.click()
    page.wait_for_url(re.compile(r"done=approved"))
    sign_out(page)

    consultation = _one(session_factory, select(Gate).where(Gate.plan_id == plan_id, Gate.status == "open"))
    sign_in(page, world.emails["processledare"])
    page.goto(f"/gates/{consultation.id}")
    page.locator("#participants").fill("Vision\nKommunal")
    page.locator("#body_id").select_option(index=1)  # the samverkan body, and the unions' views
    page.locator("#opinions").fill("Inga invändningar")
    page.locator("#outcome").fill("Facken ställer sig bakom planen")
    page.locator('form[action$="/consultation"] button[type=submit]').click()
    page.wait_for_url(re.compile(r"done=recorded"))
    sign_out(page)

    sign_in(page, world.emails["chef"])
    page.goto(f"/plans/{plan_id}")
    page.get_by_role("button", name="Fastställ planen").click()
    page.wait_for_url(re.compile(r"done=adopted"))
    assert page.locator("#plan-status").inner_text() == "Antagen"
    page.goto(f"/actions/{action_id}")
    page.get_by_role("button", name="Starta åtgärden").click()
    page.wait_for_url(re.compile(r"done=started"))

    page.goto(f"/plans/{plan_id}")  # the follow-up meeting is scheduled (with its invite) before it is held
    page.locator("#meeting_on").fill((today - timedelta(days=1)).isoformat())
    page.locator("#meeting_location").fill("Stora mötesrummet")
    page.get_by_role("button", name="Planera in mötet och skicka kallelsen").click()
    assert page.locator("#meeting_on-error").is_visible()  # a date in the past, refused beside the field
    assert page.locator("#meeting_location").input_value() == "Stora mötesrummet"
    assert page.locator(f"#participant_{world.ids['chef']}").is_checked()  # the owner is invited by default
    page.locator("#meeting_on").fill((today + timedelta(days=14)).isoformat())
    page.get_by_role("button", name="Planera in mötet och skicka kallelsen").click()
    page.wait_for_url(re.compile(r"done=scheduled"))
    assert_accessible(page)
    screenshot(page, "plan-follow-up-scheduled")
    scheduled = _one(session_factory, select(FollowUpMeeting).where(FollowUpMeeting.plan_id == plan_id))
    assert (scheduled.status, scheduled.location) == ("scheduled", "Stora mötesrummet")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "meeting_invite", OutboxMessage.process_id == world.process_id)) >= 1

    page.locator("#participants").fill(f"Chef\n{rep}\nMedarbetare")
    page.locator(f"#carried_out_{action_id}").select_option("yes")
    page.locator(f"#intended_effect_{action_id}").select_option("partly")
    page.locator(f"#served_goals_{action_id}").select_option("yes")
    page.get_by_role("button", name="Dokumentera mötet").click()  # "what did we learn" is missing
    assert page.locator(f"#learned_{action_id}-error").is_visible()
    page.locator(f"#learned_{action_id}").fill("Mindre grupper ger bättre dialog")
    page.locator("#next_follow_up_on").fill((today + timedelta(days=90)).isoformat())
    page.get_by_role("button", name="Dokumentera mötet").click()
    page.wait_for_url(re.compile(r"done=followed_up"))
    assert_accessible(page)
    screenshot(page, "plan-followed-up")
    page.goto(f"/plans/{plan_id}?tab=history")
    assert_accessible(page)
    screenshot(page, "plan-history")
    sign_out(page)

    sign_in(page, world.emails["processagare"])  # steps 7 and 9 pages: the area form and the evaluation
    page.goto(f"/processes/{world.process_id}/development-areas")
    assert_accessible(page)
    screenshot(page, "development-areas")
    page.goto(f"/processes/{world.process_id}/evaluation")
    assert_accessible(page)

    with session_factory() as s:
        assert s.get(ActionPlan, plan_id).status == "adopted"
        assert s.get(Action, action_id).status == "in_progress"
        held = s.scalars(select(FollowUpMeeting).where(FollowUpMeeting.plan_id == plan_id,
                                                       FollowUpMeeting.status == "held")).one()
        assert held.next_follow_up_on == today + timedelta(days=90)
        assert held.id == scheduled.id  # the scheduled meeting is the one held
