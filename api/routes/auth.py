"""Signing in and out: password, the signed e-mail task link, the session and its CSRF token.

The task link opens a *link session*: signed in for that one task only (``api.deps``
refuses everything else), and only while the task is live, the person's, and routed as
when the link was followed (``api.security.sessions``). Following a link never takes
over a full session: the same person's full session is kept as it is, and someone
else's is left alone while a page asks them to sign out first
(``roles.permissions.on_task_link``). Signing in with a password or single sign-on
replaces a link session with a full one and revokes it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import PrincipalDep, SessionDep, SettingsDep
from api.linkauth import check_task_link
from api.problems import ApiProblem, Issue
from api.routing import api_router, public_router, session_factory
from api.security.passwords import hash_password, spend_verification_time, verify_password
from api.security.ratelimit import account_key, clear_failures, record_failure, retry_after
from api.security.sessions import (
    clear_session_cookie,
    cookie_name,
    end_previous_session,
    end_session,
    load_session,
    set_session_cookie,
    start_session,
)
from chefoskop import clock
from chefoskop.i18n import normalise_locale
from models import Organisation, Person
from models.schemas.auth import LoginIn, PasswordChange, SessionOut
from models.schemas.organisation import OrganisationOut, PersonOut
from roles.permissions import LinkScope, on_task_link
from surveys.distribution import task_survey_link

router = public_router("auth")
signed_in = api_router("auth")


def client_address(request: Request) -> str:
    """The client's address as the server saw it (run uvicorn with --proxy-headers behind a proxy)."""
    return request.client.host if request.client else "unknown"


def session_out(db: Session, person: Person, via: str, csrf: str | None, expires) -> SessionOut:
    """Who is signed in, for the client."""
    org = db.get(Organisation, person.organisation_id)
    return SessionOut(person=PersonOut.model_validate(person),
                      organisation=OrganisationOut.model_validate(org), via=via, csrf_token=csrf,
                      expires_at=expires)


def _authenticate(db: Session, account: str, password: str, organisation: str | None) -> Person | None:
    stmt = select(Person).where(func.lower(Person.email) == account, Person.active.is_(True))
    if organisation:
        stmt = stmt.join(Organisation, Organisation.id == Person.organisation_id).where(
            Organisation.slug == organisation)
    people = list(db.scalars(stmt))
    if not people:
        spend_verification_time(password)
        return None
    matches = []
    for person in people:
        ok, new_hash = verify_password(password, person.password_hash)
        if ok:
            matches.append((person, new_hash))
    if len(matches) > 1:
        raise ApiProblem(422, "organisation_required", issues=[Issue("organisation", "required")])
    if not matches:
        return None
    person, new_hash = matches[0]
    if new_hash:
        person.password_hash = new_hash
    return person


@router.post("/auth/login", response_model=SessionOut)
def login(body: LoginIn, request: Request, response: Response, db: SessionDep,
          settings: SettingsDep) -> SessionOut:
    """Sign in with e-mail and password; sets the session cookie and returns the CSRF token."""
    now, account, address = clock.now(), account_key(body.email), client_address(request)
    wait = retry_after(db, account, address, settings, now)
    if wait is not None:
        raise ApiProblem(429, "rate_limited", params={"seconds": wait},
                         headers={"Retry-After": str(wait)})
    person = _authenticate(db, account, body.password, body.organisation)
    if person is None:
        record_failure(session_factory(), account, address, settings, now)
        raise ApiProblem(401, "invalid_credentials")
    clear_failures(db, account, address)
    end_previous_session(db, request.cookies.get(cookie_name(settings)), settings, now)
    row, cookie = start_session(db, person, "password", settings, now)
    set_session_cookie(response, cookie, settings)
    return session_out(db, person, row.via, row.csrf_token, row.expires_at)


@signed_in.post("/auth/logout", status_code=204, response_class=Response)
def logout(principal: PrincipalDep, settings: SettingsDep) -> Response:
    """Sign out: the session ends here and now, and the cookie is removed."""
    response = Response(status_code=204)
    if principal.web_session is not None:
        end_session(principal.web_session, clock.now())
        clear_session_cookie(response, settings)
    return response


@signed_in.get("/auth/session", response_model=SessionOut)
def current_session(principal: PrincipalDep, db: SessionDep) -> SessionOut:
    """Who is signed in, how, and the CSRF token to send with changes."""
    ws = principal.web_session
    if ws is None:
        return session_out(db, principal.person, "token", None, None)
    return session_out(db, principal.person, ws.via, ws.csrf_token, ws.expires_at)


@signed_in.post("/auth/password", status_code=204, response_class=Response)
def change_password(body: PasswordChange, principal: PrincipalDep) -> Response:
    """Change one's own password; the current one must be given."""
    ok, _ = verify_password(body.current_password, principal.person.password_hash)
    if not ok:
        raise ApiProblem(422, "invalid_data", issues=[Issue("current_password", "invalid")])
    principal.person.password_hash = hash_password(body.new_password)
    return Response(status_code=204)


links = public_router("auth")


@links.get("/t/{token}", response_class=RedirectResponse, status_code=303,
           responses={303: {"description": "Signed in for this task; on to the task"},
                      200: {"description": "Someone else is signed in here: a page asks them to "
                                           "sign out first", "content": {"text/html": {}}},
                      410: {"description": "Gone"}})
def task_link(token: Annotated[str, Path(max_length=600)], request: Request, db: SessionDep,
              settings: SettingsDep) -> Response:
    """Sign in for this one task from the personal link in a task e-mail, then go to the task
    (a respondent: on to their questionnaire). A link that no longer works is refused as a
    page with a way to sign in for a browser (Accept: text/html), as problem+json otherwise."""
    try:
        person, task = check_task_link(db, request, token)
    except ApiProblem as refusal:
        if _wants_html(request):
            return _refused_link_page(request, refusal)
        raise
    now = clock.now()
    cookie_value = request.cookies.get(cookie_name(settings))
    current = load_session(db, cookie_value, settings, now)
    holder = db.get(Person, current.person_id) if current is not None else None
    signed_in = holder.id if holder is not None and holder.active else None
    choice = on_task_link(person.id, signed_in, current is not None and current.scope_task_id is not None)
    # A respondent's task leads straight on to their own questionnaire.
    target = task_survey_link(db, task, person.id, base_url="/") or f"/tasks/{task.id}"
    if choice == "keep":
        return RedirectResponse(target, status_code=303)
    if choice == "ask":
        return _someone_else_signed_in(request, holder, current.csrf_token, request.url.path)
    end_previous_session(db, cookie_value, settings, now)
    _, cookie = start_session(db, person, "link", settings, now,
                              scope=LinkScope(task.id, task.route_version))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, cookie, settings)
    return response


def _someone_else_signed_in(request: Request, holder: Person, csrf_token: str,
                            link: str) -> HTMLResponse:
    # Imported here: the pages package imports this module.
    from api.pages.auth import someone_else_signed_in

    request.state.locale = normalise_locale(holder.locale)  # the page speaks to who is signed in
    return someone_else_signed_in(request, holder.name, csrf_token, link)


def _wants_html(request: Request) -> bool:
    """Whether the request comes from a browser following the link (its Accept names HTML)."""
    return "text/html" in request.headers.get("accept", "").lower()


def _refused_link_page(request: Request, refusal: ApiProblem) -> HTMLResponse:
    # Imported here: the pages package imports this module.
    from api.pages.render import error_page

    locale = getattr(request.state, "locale", None)  # the link's person, when the link named one
    if locale is not None:
        request.state.locale = normalise_locale(locale)
    return error_page(request, refusal.status, refusal.code, refusal.params, task_link=True)
