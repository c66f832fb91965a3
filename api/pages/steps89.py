"""The pages of steps 7-9 in one router: development areas, plans, actions, follow-up, evaluation."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import followup_pages, plan_actions, plans

router = APIRouter(include_in_schema=False)
for _module in (plans, plan_actions, followup_pages):
    router.include_router(_module.router)
