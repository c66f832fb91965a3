"""Rendering pages: the reader's language, the signed-in person, HTML errors, and the route class.

Pages render through the project's one Jinja2 environment
(``notifications.render.get_environment()``, whose loader already includes
``api/templates``); page templates live under ``pages/``. Every state change
goes through ``PageRoute``, the API's unit-of-work route with one addition:
refusals become HTML pages (or a redirect to sign in) instead of problem JSON.

The menu offers the overview (``/admin``) and the audit log (``/audit``) only to someone
those pages let in: ``nav_access`` asks the same rules of ``roles.permissions`` the two
pages apply, once per page, while the signed-in person is resolved.

A session opened from a task's e-mail link reaches only its task (``api.deps``).
Any other page it asks for sends it to sign in, keeping ``next``: the sign-in page
explains that the link opens its task only. A form it posts elsewhere (the pages
offer none) is refused with a 403 page saying the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.responses import Response

from api.access import involved_process_ids_query, process_facts
from api.deps import FORM_TYPES, LINK_SESSION_ONLY, Principal, current_principal
from api.messages import problem_text
from api.pages.labels import label_helpers
from api.problems import ApiProblem, database_unavailable, unavailable_headers
from api.routing import UnitOfWorkRoute
from chefoskop.i18n import SUPPORTED_LOCALES, normalise_locale
from flows.errors import EngineError
from models import Process
from notifications.render import get_environment, template_context
from roles import permissions as perm
from roles.permissions import Viewer

LANG_COOKIE = "chefoskop_lang"
SAFE_NEXT = re.compile(r"^/(?![/\\])[\x21-\x7e]{0,500}$")


@dataclass(frozen=True)
class PageUser:
    """The signed-in person as the templates see them (plain values, safe after a rollback)."""

    id: int
    name: str
    organisation_id: int
    is_org_admin: bool
    csrf_token: str
    link_task_id: int | None = None  # signed in through a task's e-mail link: that task only
    sees_overview: bool = False  # the menu offers /admin
    sees_audit: bool = False  # the menu offers /audit


def page_locale(request: Request) -> str:
    """?lang= first, then the language cookie, then the person's language, else Swedish."""
    chosen = request.query_params.get("lang")
    if chosen in SUPPORTED_LOCALES:
        return chosen
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in SUPPORTED_LOCALES:
        return cookie
    # Set from the signed-in person when they were resolved; read from there, not from the
    # person's row, which a rollback (a refusal, an outage) expires.
    settled = getattr(request.state, "locale", None)
    if settled in SUPPORTED_LOCALES:
        return settled
    principal = getattr(request.state, "principal", None)
    if principal is not None:
        return normalise_locale(principal.person.locale)
    return "sv"


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go on to after signing in; anything else becomes ``default``."""
    return value if value and SAFE_NEXT.match(value) else default


def _switch_url(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    other = "en" if lang == "sv" else "sv"
    return request.url.path + "?" + urlencode([*params, ("lang", other)])


def render_page(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``pages/<name>`` in the reader's language; remembers a ?lang= choice in a cookie."""
    lang = page_locale(request)
    request.state.locale = lang
    base = {**template_context(lang), **label_helpers(lang),
            "user": getattr(request.state, "page_user", None), "path": request.url.path,
            "switch_url": _switch_url(request, lang), "title": "", "notice": None}
    html = get_environment().get_template(f"pages/{name}").render({**base, **context})
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in SUPPORTED_LOCALES:
        secure = request.app.state.settings.environment != "development"
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, path="/", httponly=True,
                            samesite="lax", secure=secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, code: str, params: dict | None = None, *,
               task_link: bool = False) -> HTMLResponse:
    """A refusal as a page in the reader's language. ``task_link``: the refusal of a task
    e-mail's link, which explains itself and offers to sign in instead."""
    lang = page_locale(request)
    safe = {k: v for k, v in (params or {}).items() if isinstance(v, str | int | float)}
    heading, detail = problem_text(lang, code, **safe)
    link_task_id = safe.get("task_id") if code == LINK_SESSION_ONLY else None
    return render_page(request, "error.html", status=status, heading=heading, detail=detail,
                       status_code=status, link_task_id=link_task_id,
                       task_link_refused=code if task_link else None)


def sign_in_redirect(request: Request) -> RedirectResponse:
    """To the sign-in page, coming back here afterwards."""
    target = quote(safe_next(request.url.path + (f"?{request.url.query}" if request.url.query
                                                  else "")), safe="/?=&")
    return RedirectResponse(f"/login?next={target}", status_code=303)


def _refusal(request: Request, exc: Exception) -> Response | None:
    if isinstance(exc, ApiProblem):
        if exc.status == 401 or (exc.code == LINK_SESSION_ONLY and request.method in ("GET", "HEAD")):
            return sign_in_redirect(request)
        return error_page(request, exc.status, exc.code, exc.params)
    if isinstance(exc, EngineError):
        return error_page(request, exc.status, exc.code, exc.params)
    if database_unavailable(exc):  # a database that is out of reach or busy for now
        response = error_page(request, 503, "service_unavailable")
        response.headers.update(unavailable_headers(request, exc))
        return response
    found = {RequestValidationError: (404, "not_found"), StaleDataError: (409, "stale_version"),
             IntegrityError: (409, "conflict"), DataError: (422, "invalid_data")}
    for kind, (status, code) in found.items():
        if isinstance(exc, kind):
            return error_page(request, status, code)
    return None


class PageRoute(UnitOfWorkRoute):
    """The unit-of-work route (commit once, roll back on refusal) answering refusals in HTML."""

    def get_route_handler(self):
        """Wrap the unit of work so that refusals render as pages."""
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # the unit of work has rolled back already
                response = _refusal(request, exc)
                if response is None:
                    raise
                return response

        return page_handler


def nav_access(db: Session, viewer: Viewer) -> tuple[bool, bool]:
    """Whether the viewer may open the overview (``/admin``) and the audit log (``/audit``),
    by the rules those pages apply: the organisation admin, or someone running a process
    (``roles.permissions``, asked of the processes the viewer takes part in, no others)."""
    overview = viewer.is_org_admin
    audit = perm.can_read_audit(viewer, None)
    if overview and audit:
        return True, True
    processes = db.scalars(select(Process).where(
        Process.organisation_id == viewer.organisation_id,
        Process.id.in_(involved_process_ids_query(viewer.person_id))).order_by(Process.id))
    for process in processes:
        facts = process_facts(db, viewer, process)
        overview = overview or perm.can_manage_process(viewer, facts)
        audit = audit or perm.can_read_audit(viewer, facts)
        if overview and audit:
            break
    return overview, audit


def _snapshot(request: Request, principal: Principal) -> Principal:
    p = principal.person
    ws = principal.web_session
    link_task_id = principal.link_task_id
    db = getattr(request.state, "db", None)
    overview, audit = (nav_access(db, principal.viewer) if db is not None and link_task_id is None
                       else (False, False))
    request.state.page_user = PageUser(p.id, p.name, p.organisation_id, p.is_org_admin,
                                       ws.csrf_token if ws else "", link_task_id, overview, audit)
    return principal


def page_principal(request: Request,
                   principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The signed-in person (CSRF checked on changes); unsigned readers are sent to sign in."""
    return _snapshot(request, principal)


PagePrincipal = Annotated[Principal, Depends(page_principal)]


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's text fields (the first value of each name)."""
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return {}
    try:
        form = await request.form()
    except Exception:  # a malformed body is a bad request, not an error page
        raise ApiProblem(400, "bad_request") from None
    values: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key not in values:
            values[key] = value.replace("\x00", "")  # no database keeps NUL in text
    return values


FormDep = Annotated[dict[str, str], Depends(read_form)]


def see_other(url: str) -> RedirectResponse:
    """Redirect after a successful POST."""
    return RedirectResponse(url, status_code=303)
