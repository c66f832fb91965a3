"""The route class that owns each request's transaction, and the routers that use it.

A handler never commits. ``UnitOfWorkRoute`` runs it, and when the answer is a
success commits the request's session once (with the Idempotency-Key record,
if any), then starts the step flows the engine queued. Any error, or any
4xx/5xx answer, rolls everything back: a failed request leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from starlette.responses import Response

from api import idempotency
from api.deps import PrincipalDep
from api.problems import ApiProblem
from chefoskop import clock
from models.schemas.common import Problem

log = logging.getLogger(__name__)

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for status, text in ((400, "Bad request"), (401, "Not signed in"), (403, "Not allowed"),
                         (404, "Not found, or not visible to you"),
                         (409, "Conflict: stale version, taken, or not possible in this state"),
                         (422, "The request has errors; each names its field"))
}


def session_factory():
    """The application's session factory (looked up per call, so tests can point it elsewhere)."""
    from chefoskop import db

    return db.get_sessionmaker()


def _finish(request: Request, response: Response) -> None:
    db = getattr(request.state, "db", None)
    if db is None:
        return
    reservation = getattr(request.state, "idempotency", None)
    if reservation is not None:
        idempotency.complete(db, reservation, response, clock.now())
    db.commit()


def _abandon(request: Request) -> None:
    db = getattr(request.state, "db", None)
    if db is not None:
        db.rollback()
    reservation = getattr(request.state, "idempotency", None)
    if reservation is not None:
        request.state.idempotency = None
        idempotency.release(session_factory(), reservation)


def _start_flows(request: Request) -> None:
    ctx = getattr(request.state, "engine_ctx", None)
    if ctx is None or not ctx.queued:
        return
    from flows.dispatch import start_queued

    try:
        start_queued(list(ctx.queued), wait=False)
    except Exception:  # committed already; the steps stay queued for run_pending_steps
        log.exception("could not start the flows of steps %s", ctx.queued)


class UnitOfWorkRoute(APIRoute):
    """Commits once after a successful handler, rolls back otherwise, then starts queued flows."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler in the request's unit of work."""
        handler = super().get_route_handler()

        async def unit_of_work(request: Request) -> Response:
            """Run the handler; commit once on success, roll back on any failure."""
            try:
                response = await handler(request)
                if response.status_code >= 400:
                    await run_in_threadpool(_abandon, request)
                    return response
                await run_in_threadpool(_finish, request, response)
            except idempotency.IdempotentReplay as replay:
                return replay.response
            except BaseException:
                await run_in_threadpool(_abandon, request)
                raise
            await run_in_threadpool(_start_flows, request)
            return response

        return unit_of_work


async def idempotency_guard(
    request: Request, principal: PrincipalDep,
    key: Annotated[str | None, Header(alias=idempotency.HEADER, min_length=1, max_length=200,
                                      pattern=r"^[\x21-\x7e]+$")] = None,
) -> None:
    """Reserve the request's Idempotency-Key, or answer from the stored response."""
    if key is None:
        return
    request_hash = await idempotency.fingerprint(request)
    # End the request's read-only prelude (sign-in bookkeeping such as a token's
    # last use) so its next transaction sees the reservation; on SQLite a snapshot
    # older than the reservation could not write afterwards.
    await run_in_threadpool(request.state.db.commit)
    keep = timedelta(hours=request.app.state.settings.idempotency_hours)
    request.state.idempotency = await run_in_threadpool(
        idempotency.reserve, session_factory(), principal.person.id, key, request_hash,
        clock.now(), keep)


class IdempotentRoute(UnitOfWorkRoute):
    """A unit-of-work route whose POSTs honour the Idempotency-Key header."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if "POST" in (kwargs.get("methods") or ()):
            kwargs["dependencies"] = [Depends(idempotency_guard), *(kwargs.get("dependencies") or [])]
        super().__init__(path, endpoint, **kwargs)


def api_router(tag: str) -> APIRouter:
    """A router for signed-in routes: one transaction per request, idempotent POSTs."""
    return APIRouter(tags=[tag], route_class=IdempotentRoute, responses=PROBLEM_RESPONSES)


def public_router(tag: str) -> APIRouter:
    """A router for routes that need no sign-in (still one transaction per request)."""
    return APIRouter(tags=[tag], route_class=UnitOfWorkRoute, responses=PROBLEM_RESPONSES)


__all__ = ["ApiProblem", "IdempotentRoute", "UnitOfWorkRoute", "api_router", "public_router"]
