"""The authorisation matrix of the development-area, follow-up, evaluation, cycle and download routes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import Action, ActionPlan, DevelopmentArea
from tests.api.conftest import World
from tests.api.test_followup_routes import adopted_plan, areas8  # noqa: F401 - the fixture
from tests.api.test_matrix import IN_ORG, Case, only, run_case
from tests.api.test_plans import step8  # noqa: F401 - the fixture

P = "/api/v1"
WORKERS = ("chef", "processledare", "processagare")
MANAGERS = ("processledare", "processagare")


def _plan(w: World) -> int:
    return w.session.scalar(select(ActionPlan.id).order_by(ActionPlan.id))


def _newest_area(w: World) -> int:
    return w.session.scalar(select(func.max(DevelopmentArea.id)))


def _action(w: World) -> int:
    return w.session.scalar(select(Action.id).order_by(Action.id))


def _too_early(*allowed: str) -> dict[str, int | str]:
    """Allowed actors meet 409 (the step has not come); the others 403, the foreign 404."""
    return {**only(*allowed), **{a: 409 for a in allowed}}


def _record(w: World) -> dict:
    today = w.now.date()
    return {"held_on": today.isoformat(), "participants": ["Chef", "Skyddsombud"],
            "next_follow_up_on": (today + timedelta(days=60)).isoformat(),
            "reviews": [{"action_id": _action(w), "carried_out": "yes", "intended_effect": "yes",
                         "served_goals": "partly", "learned": "Mycket"}]}


def _area_body(w: World) -> dict:
    return {"areas": [{"title": "Matris", "level": "C", "unit_id": w.people["chef"].unit_id}]}


FOLLOWUP_CASES = [
    Case("areas", "GET", lambda w: f"{P}/processes/{w.process_id}/development-areas", IN_ORG,
         route="/api/v1/processes/{process_id}/development-areas"),
    Case("areas record", "POST", lambda w: f"{P}/processes/{w.process_id}/development-areas",
         only(*MANAGERS), body=_area_body, route="/api/v1/processes/{process_id}/development-areas"),
    Case("area change", "PUT", lambda w: f"{P}/development-areas/{_newest_area(w)}", only(*MANAGERS),
         body=lambda w: {"title": "Matris 2", "level": "C"}, route="/api/v1/development-areas/{area_id}"),
    Case("area withdraw", "POST", lambda w: f"{P}/development-areas/{_newest_area(w)}/withdraw",
         only(*MANAGERS), body=lambda w: {"reason": "Dubblett"},
         route="/api/v1/development-areas/{area_id}/withdraw"),
    Case("plan update", "PATCH", lambda w: f"{P}/plans/{_plan(w)}", only(*WORKERS),
         body=lambda w: {"title": "Omdöpt"}, prepare=lambda w: adopted_plan(w),
         route="/api/v1/plans/{plan_id}"),
    Case("plan history", "GET", lambda w: f"{P}/plans/{_plan(w)}/history", IN_ORG,
         route="/api/v1/plans/{plan_id}/history"),
    Case("follow-ups", "GET", lambda w: f"{P}/plans/{_plan(w)}/follow-ups", IN_ORG,
         route="/api/v1/plans/{plan_id}/follow-ups"),
    Case("follow-up schedule", "POST", lambda w: f"{P}/plans/{_plan(w)}/follow-ups", only(*WORKERS),
         body=lambda w: {"on": (w.now.date() + timedelta(days=20)).isoformat()},
         route="/api/v1/plans/{plan_id}/follow-ups"),
    Case("follow-up record", "POST", lambda w: f"{P}/plans/{_plan(w)}/follow-ups/record",
         only(*WORKERS), body=_record, route="/api/v1/plans/{plan_id}/follow-ups/record"),
    Case("plan pdf", "GET", lambda w: f"{P}/plans/{_plan(w)}/export.pdf", IN_ORG,
         route="/api/v1/plans/{plan_id}/export.pdf"),
    Case("plan csv", "GET", lambda w: f"{P}/plans/{_plan(w)}/export.csv", IN_ORG,
         route="/api/v1/plans/{plan_id}/export.csv"),
    Case("plan xlsx", "GET", lambda w: f"{P}/plans/{_plan(w)}/export.xlsx", IN_ORG,
         route="/api/v1/plans/{plan_id}/export.xlsx"),
    Case("evidence pack", "GET", lambda w: f"{P}/processes/{w.process_id}/evidence-pack.pdf", IN_ORG,
         route="/api/v1/processes/{process_id}/evidence-pack.pdf"),
    Case("evaluations", "GET", lambda w: f"{P}/processes/{w.process_id}/evaluations", IN_ORG,
         route="/api/v1/processes/{process_id}/evaluations"),
    Case("evaluate", "POST", lambda w: f"{P}/processes/{w.process_id}/evaluations",
         _too_early("processagare"), body=lambda w: {"what_worked": "a", "what_to_change": "b"},
         route="/api/v1/processes/{process_id}/evaluations"),
    Case("next cycle", "POST", lambda w: f"{P}/processes/{w.process_id}/next-cycle",
         _too_early("processagare", "bestallare"), body=lambda w: {},
         route="/api/v1/processes/{process_id}/next-cycle"),
]


def test_followup_routes_authorisation_matrix(client, areas8):  # noqa: F811
    for case in FOLLOWUP_CASES:
        run_case(client, areas8, case)
    areas8.session.expire_all()
    assert areas8.session.get(DevelopmentArea, _newest_area(areas8)).status == "withdrawn"
    assert areas8.session.get(ActionPlan, _plan(areas8)).title == "Omdöpt"
