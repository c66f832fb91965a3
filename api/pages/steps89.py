"""The pages of steps 7-9 in one router: development areas, plans, actions, follow-up, evaluation."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import plan_actions, plans

router = APIRouter(include_in_schema=False)
for _module in (plans, plan_actions):
    router.include_router(_module.router)
