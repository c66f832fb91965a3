"""Signing in with a password and signing out, as HTML forms.

The checks are the API's own (``api.routes.auth``): the same account lookup,
rate limit, attempt log and session cookie. The sign-in form carries a
pre-session CSRF token (a random value in a short-lived cookie echoed in the
form), so nobody can sign a browser into someone else's account.

Someone signed in through a task's e-mail link (a link session) is shown the
form, with a note that the link opens its task only; signing in replaces the
link session with a full one (the link session is revoked).
"""

from __future__ import annotations

import hmac
import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from api.deps import EngineCtx, OptionalPrincipal, Principal, SessionDep, SettingsDep
from api.messages import problem_text, reason_text
from api.pages.render import FormDep, PagePrincipal, PageRoute, page_locale, render_page, safe_next, see_other
from api.problems import ApiProblem
from api.routes.auth import _authenticate, client_address
from api.routes.organisation import person_export
from api.routing import session_factory
from api.security.ratelimit import account_key, clear_failures, record_failure, retry_after
from api.security.sessions import (
    clear_session_cookie,
    cookie_name,
    end_previous_session,
    end_session,
    set_session_cookie,
    start_session,
)
from chefoskop import clock

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LOGIN_CSRF_COOKIE = "chefoskop_login_csrf"
MAX_FIELD = 500


def _link_task_id(principal: Principal | None) -> int | None:
    return principal.link_task_id if principal is not None else None


def _login_form(request: Request, *, status: int = 200, email: str = "", next_url: str = "/",
                error: str | None = None, field_errors: dict | None = None,
                link_task_id: int | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render_page(request, "login.html", status=status, email=email, next_url=next_url,
                           error=error, field_errors=field_errors or {}, login_csrf=token,
                           link_task_id=link_task_id,
                           single_sign_on=request.app.state.settings.oidc_enabled)
    secure = request.app.state.settings.environment != "development"
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True,
                        samesite="strict", secure=secure)
    return response


@router.get("/login")
def login_page(request: Request, principal: OptionalPrincipal, next: str | None = None) -> Response:
    """The sign-in form (straight on for someone already signed in fully; someone signed in
    through a task link is told what signing in adds)."""
    if principal is not None and principal.link_task_id is None:
        return see_other(safe_next(next))
    return _login_form(request, next_url=safe_next(next), link_task_id=_link_task_id(principal))


def _field_errors(lang: str, email: str, password: str) -> dict[str, str]:
    errors = {}
    if not email.strip():
        errors["email"] = reason_text(lang, "required")
    elif len(email) > MAX_FIELD:
        errors["email"] = reason_text(lang, "too_long")
    if not password:
        errors["password"] = reason_text(lang, "required")
    elif len(password) > MAX_FIELD:
        errors["password"] = reason_text(lang, "too_long")
    return errors


@router.post("/login")
def login(request: Request, form: FormDep, db: SessionDep, settings: SettingsDep,
          principal: OptionalPrincipal) -> Response:
    """Check the password; on success start a session (replacing any, a link session too) and
    go on to where the reader was heading."""
    lang = page_locale(request)
    email, password = form.get("email", ""), form.get("password", "")
    next_url = safe_next(form.get("next"))
    again = {"email": email[:MAX_FIELD], "next_url": next_url,
             "link_task_id": _link_task_id(principal)}
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form.get("login_csrf", "").encode()):
        return _login_form(request, status=403, error=problem_text(lang, "csrf_failed")[1], **again)
    errors = _field_errors(lang, email, password)
    if errors:
        return _login_form(request, status=422, field_errors=errors, **again)
    now, account, address = clock.now(), account_key(email), client_address(request)
    wait = retry_after(db, account, address, settings, now)
    if wait is not None:
        return _login_form(request, status=429, error=problem_text(lang, "rate_limited", seconds=wait)[1],
                           **again)
    try:
        person = _authenticate(db, account, password, form.get("organisation") or None)
    except ApiProblem as exc:  # the address exists in several organisations
        return _login_form(request, status=exc.status, error=problem_text(lang, exc.code)[1], **again)
    if person is None:
        record_failure(session_factory(), account, address, settings, now)
        return _login_form(request, status=401, error=problem_text(lang, "invalid_credentials")[1],
                           **again)
    clear_failures(db, account, address)
    end_previous_session(db, request.cookies.get(cookie_name(settings)), settings, now)
    _, value = start_session(db, person, "password", settings, now)
    response = see_other(next_url)
    set_session_cookie(response, value, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(principal: PagePrincipal, settings: SettingsDep, form: FormDep) -> Response:
    """Sign out: the session ends now and the cookie goes; then to sign in, or to ``next``
    (a task link someone else's session stood in the way of)."""
    response = see_other(safe_next(form.get("next"), "/login"))
    if principal.web_session is not None:
        end_session(principal.web_session, clock.now())
        clear_session_cookie(response, settings)
    return response


@router.get("/me/data.json")
def my_data(principal: PagePrincipal, db: SessionDep, ctx: EngineCtx) -> Response:
    """Everything chefoskop keeps about me, as a JSON file (each download is audited)."""
    data = person_export(db, principal.viewer, ctx, principal.person.id)
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    return Response(body, media_type="application/json; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="chefoskop-mina-uppgifter.json"',
        "Cache-Control": "no-store"})


def someone_else_signed_in(request: Request, name: str, csrf_token: str, link: str) -> HTMLResponse:
    """What a task link shows while someone else is signed in fully in this browser: their
    session is left alone, and a button signs them out and follows the link."""
    return render_page(request, "link_someone_else.html", signed_in_name=name, csrf_token=csrf_token,
                       link=safe_next(link, "/login"))
