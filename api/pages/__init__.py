"""The HTML pages of the web app (server-rendered, htmx as an enhancement).

``router`` carries every page and the static files; ``create_app`` includes it
with one line. See README.md in this folder for the contracts.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from api.pages import (
    audit,
    auth,
    dashboard,
    gates,
    inbox,
    instruments,
    mailsink,
    processes,
    survey_admin,
    surveys,
    tasks,
)
from api.pages.steps89 import router as steps89_router

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)
for _module in (auth, inbox, tasks, gates, processes, dashboard, audit, mailsink, surveys, survey_admin,
                instruments):
    router.include_router(_module.router)
router.include_router(steps89_router)  # steps 7-9: areas, plans, actions, follow-up
router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

__all__ = ["router"]
