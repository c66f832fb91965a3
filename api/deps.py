"""Typed dependencies: the request's session, who is asking, the engine context, paging.

``SessionDep`` is the request's one database session (committed once by the
route class in ``api.routing``); ``CurrentUser`` is the signed-in person, found
from a Bearer API token or the session cookie (with its CSRF check on changes).

A session opened from a task's e-mail link (a *link session*) reaches only the
routes named in ``LINK_SESSION_ROUTES``, and those only for its own task
(``roles.permissions.link_session_permits``); ``current_principal`` refuses every
other signed-in route with 403 ``link_session_only``. This is the one place that
check is made: every signed-in route, page or API, depends on ``current_principal``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from api.messages import PROBLEMS
from api.problems import ApiProblem, request_locale, retry_after_seconds
from api.security.sessions import CSRF_FIELD, CSRF_HEADER, cookie_name, csrf_matches, load_session
from api.security.tokens import find_token
from chefoskop import clock
from chefoskop.i18n import N_, normalise_locale
from chefoskop.settings import Settings
from flows.engine import Actor, Context
from models import ApiToken, Person, WebSession
from roles import permissions as perm
from roles.permissions import Viewer

PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
DB_RESERVE = 2  # pool connections kept free of requests for the app's background work


def get_settings_dep(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _session_slots(request: Request, maker) -> asyncio.Semaphore:
    """The app's limit on requests holding a session at once, made on first use.

    A request may take a pool connection in one threadpool call and give it back
    in another (the route class commits after the handler). If more requests held
    sessions than the pool has connections, the threads of requests waiting for a
    connection could starve the requests that hold one of the thread they need to
    commit: every request would time out. Waiting here, in the event loop, before
    taking a thread or a connection, keeps that from happening.
    """
    loop = asyncio.get_running_loop()
    held = getattr(request.app.state, "db_slots", None)
    if held is None or held[0] is not loop:  # one per event loop (test clients start several)
        pool = maker.kw["bind"].pool
        size = pool.size() if hasattr(pool, "size") else 1
        capacity = size + max(getattr(pool, "_max_overflow", 0), 0)
        # Leave a little of the pool to the app's own background work (sweep, sender, flows).
        held = request.app.state.db_slots = (loop, asyncio.Semaphore(max(1, capacity - DB_RESERVE)))
    return held[1]


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session; the route class commits it, closing rolls back the rest."""
    from chefoskop import db

    maker = db.get_sessionmaker()
    slots = _session_slots(request, maker)
    try:
        # Queueing here costs nothing but the wait; past the queue timeout, a clean 503.
        async with asyncio.timeout(request.app.state.settings.db_queue_timeout_seconds):
            await slots.acquire()
    except TimeoutError:
        raise ApiProblem(503, "service_unavailable",
                         headers={"Retry-After": str(retry_after_seconds(request))}) from None
    try:
        session = maker()
        request.state.db = session
        try:
            yield session
        finally:
            await run_in_threadpool(session.close)
    finally:
        slots.release()


SessionDep = Annotated[Session, Depends(get_db)]


@dataclass
class Principal:
    """Who is asking and how they proved it."""

    person: Person
    via: str  # "session" or "token"
    web_session: WebSession | None = None
    api_token: ApiToken | None = None

    @property
    def link_task_id(self) -> int | None:
        """The task a link session is limited to; None for a full session or an API token."""
        return self.web_session.scope_task_id if self.web_session is not None else None

    @property
    def viewer(self) -> Viewer:
        """The person as the pure permission functions see them."""
        p = self.person
        return Viewer(person_id=p.id, organisation_id=p.organisation_id, is_org_admin=p.is_org_admin)


def _unauthenticated() -> ApiProblem:
    return ApiProblem(401, "unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="chefoskop"'})


def _from_token(db: Session, header: str) -> Principal:
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer":
        raise _unauthenticated()
    token = find_token(db, raw.strip(), clock.now())
    person = db.get(Person, token.person_id) if token else None
    if token is None or person is None or not person.active:
        raise _unauthenticated()
    return Principal(person, "token", api_token=token)


def resolve_principal(request: Request, db: SessionDep, settings: SettingsDep) -> Principal | None:
    """The person behind the request's token or cookie, or None when there is neither."""
    header = request.headers.get("authorization")
    if header:
        principal = _from_token(db, header)
    else:
        row = load_session(db, request.cookies.get(cookie_name(settings)), settings, clock.now())
        person = db.get(Person, row.person_id) if row else None
        if row is None or person is None or not person.active:
            return None
        principal = Principal(person, "session", web_session=row)
    request.state.principal = principal
    request.state.locale = normalise_locale(principal.person.locale)  # for error messages
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(resolve_principal)]


async def _supplied_csrf(request: Request) -> str | None:
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    return supplied


# The routes a link session may use (by endpoint), each with the action it is to
# ``roles.permissions.link_session_permits``. A route missing here is refused to link
# sessions, so renaming one of these only makes link sessions fail closed.
LINK_SESSION_ROUTES: dict[str, str] = {
    "api.routes.tasks.get_task": "view_task",
    "api.routes.tasks.claim": "claim_task",
    "api.routes.tasks.unclaim": "unclaim_task",
    "api.routes.tasks.complete": "complete_task",
    "api.pages.tasks.task_page": "view_task",
    "api.pages.tasks.claim": "claim_task",
    "api.pages.tasks.complete": "complete_task",
    "api.routes.auth.current_session": "read_session",
    "api.routes.auth.logout": "sign_out",
    "api.pages.auth.logout": "sign_out",
}
LINK_SESSION_ONLY = "link_session_only"
# The refusal's words, registered with the check that gives it (msgids in locale/).
PROBLEMS.setdefault(LINK_SESSION_ONLY, (
    N_("Sign in to do more"),
    N_("You came here through the link in a task e-mail, and that link opens only its own task. "
       "Sign in to do anything else.")))


def route_action(request: Request) -> str | None:
    """The link-session action of the route serving ``request`` (None: not open to them)."""
    endpoint = request.scope.get("endpoint")
    if endpoint is None:
        return None
    return LINK_SESSION_ROUTES.get(f"{endpoint.__module__}.{endpoint.__qualname__}")


def _path_task_id(request: Request) -> int | None:
    value = str(request.path_params.get("task_id", ""))
    return int(value) if value.isdigit() and len(value) < 11 else None


def link_session_refusal(request: Request, principal: Principal) -> ApiProblem | None:
    """403 ``link_session_only`` when a link session asks for more than its task."""
    scope_task_id = principal.link_task_id
    if scope_task_id is None or perm.link_session_permits(scope_task_id, route_action(request),
                                                          _path_task_id(request)):
        return None
    return ApiProblem(403, LINK_SESSION_ONLY, params={"task_id": scope_task_id})


async def current_principal(request: Request, principal: OptionalPrincipal) -> Principal:
    """The signed-in principal; a link session only on its task's routes; a cookie session
    must show its CSRF token on changes."""
    if principal is None:
        raise _unauthenticated()
    refusal = link_session_refusal(request, principal)
    if refusal is not None:
        raise refusal
    if (principal.web_session is not None and request.method not in SAFE_METHODS
            and not csrf_matches(principal.web_session, await _supplied_csrf(request))):
        raise ApiProblem(403, "csrf_failed")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def current_person(principal: PrincipalDep) -> Person:
    """The signed-in person."""
    return principal.person


CurrentUser = Annotated[Person, Depends(current_person)]


def current_viewer(principal: PrincipalDep) -> Viewer:
    """The signed-in person as permission facts."""
    return principal.viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def user_locale(request: Request, user: CurrentUser) -> str:
    """The language of the response: Accept-Language if it names sv or en, else the person's."""
    return request_locale(request)


LocaleDep = Annotated[str, Depends(user_locale)]


def engine_context(request: Request, db: SessionDep, user: CurrentUser) -> Context:
    """An engine context acting as the signed-in person; its queued steps start after commit."""
    ctx = Context(db, Actor.person(user.id), clock.now())
    request.state.engine_ctx = ctx
    return ctx


EngineCtx = Annotated[Context, Depends(engine_context)]


@dataclass(frozen=True)
class Paging:
    """A window into a list."""

    limit: int
    offset: int


def paging(limit: Annotated[int, Query(ge=1, le=200)] = 50,
           offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Paging:
    """The ``limit`` and ``offset`` query parameters."""
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(paging)]
