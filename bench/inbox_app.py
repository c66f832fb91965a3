"""The app served in scenario 2: ``api.app.create_app()`` plus a bare endpoint as the baseline.

The bare endpoint returns a fixed body through the same server, middleware and
event loop, so the two differ only in what the handler does.
"""

from __future__ import annotations

from fastapi import FastAPI

BARE_BODY = {"items": [], "total": 0, "limit": 20, "offset": 0}


def create() -> FastAPI:
    """The application with ``GET /bench/bare`` added."""
    from api.app import create_app

    app = create_app()

    @app.get("/bench/bare")
    def bare() -> dict:
        """A fixed body."""
        return BARE_BODY

    return app
