"""Optional single sign-on with OpenID Connect (Authlib), configured by CHEFOSKOP_OIDC_* settings.

When issuer, client id and client secret are set, ``/auth/oidc/login`` sends the
browser to the provider and ``/auth/oidc/callback`` signs in the active person
whose e-mail address the provider confirms (in ``oidc_organisation`` if set).
Without those settings the routes do not exist. Authlib keeps its state and
nonce in a short-lived signed cookie of its own (Starlette's SessionMiddleware).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from starlette.middleware.sessions import SessionMiddleware

from api.deps import SessionDep, SettingsDep
from api.problems import ApiProblem
from api.routing import public_router
from api.security.sessions import (
    cookie_name,
    end_previous_session,
    secure_cookies,
    set_session_cookie,
    start_session,
)
from chefoskop import clock
from chefoskop.settings import Settings
from models import Organisation, Person

CLIENT_NAME = "chefoskop"


def make_oauth(settings: Settings) -> Any:
    """An Authlib OAuth registry with the configured provider."""
    from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        CLIENT_NAME, client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret.get_secret_value(),
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes})
    return oauth


def find_person(db, email: str, settings: Settings) -> Person | None:
    """The one active person with this address (in the configured organisation, if any)."""
    stmt = select(Person).where(func.lower(Person.email) == email.lower(), Person.active.is_(True))
    if settings.oidc_organisation:
        stmt = stmt.join(Organisation, Organisation.id == Person.organisation_id).where(
            Organisation.slug == settings.oidc_organisation)
    people = list(db.scalars(stmt.limit(2)))
    return people[0] if len(people) == 1 else None


def _unreachable() -> ApiProblem:
    return ApiProblem(502, "sign_on_unavailable")


async def _identity(request: Request, settings: Settings) -> str:
    from authlib.common.errors import AuthlibBaseError
    from joserfc.errors import JoseError

    client = request.app.state.oauth.create_client(CLIENT_NAME)
    try:
        token = await client.authorize_access_token(request)
    except (AuthlibBaseError, JoseError):
        # OAuthError (state, provider errors, a refused code) and an ID token that fails
        # verification (signature, issuer, audience, expiry, nonce: joserfc's JoseError).
        raise ApiProblem(400, "sign_on_failed") from None
    except httpx.HTTPError:  # the provider (its metadata, keys or token endpoint) is out of reach
        raise _unreachable() from None
    info = token.get("userinfo") or {}
    email = info.get("email")
    verified = info.get("email_verified")
    if (not isinstance(email, str) or verified is False
            or (settings.oidc_require_verified_email and verified is not True)):
        raise ApiProblem(400, "sign_on_failed")
    return email


def install_oidc(app: FastAPI, settings: Settings) -> None:
    """Add the OIDC routes and Authlib's state cookie when OIDC is configured."""
    if not settings.oidc_enabled:
        return
    app.state.oauth = make_oauth(settings)
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key.get_secret_value(),
                       session_cookie="chefoskop_oidc", max_age=600, same_site="lax",
                       https_only=secure_cookies(settings))
    router = public_router("auth")

    @router.get("/auth/oidc/login", response_class=RedirectResponse, status_code=302)
    async def oidc_login(request: Request):
        """Go to the identity provider to sign in."""
        client = request.app.state.oauth.create_client(CLIENT_NAME)
        try:
            return await client.authorize_redirect(request, str(request.url_for("oidc_callback")))
        except httpx.HTTPError:  # its discovery document could not be fetched
            raise _unreachable() from None

    @router.get("/auth/oidc/callback", response_class=RedirectResponse, status_code=303)
    async def oidc_callback(request: Request, db: SessionDep, settings: SettingsDep):
        """Back from the identity provider: sign in the person it vouches for."""
        email = await _identity(request, settings)
        person = await run_in_threadpool(find_person, db, email, settings)
        if person is None:
            raise ApiProblem(403, "no_account")
        now = clock.now()
        # A new sign-in replaces the browser's session, a task-link session too (revoked).
        await run_in_threadpool(end_previous_session, db, request.cookies.get(cookie_name(settings)),
                                settings, now)
        _, cookie = await run_in_threadpool(start_session, db, person, "oidc", settings, now)
        response = RedirectResponse("/", status_code=303)
        set_session_cookie(response, cookie, settings)
        return response

    app.include_router(router, prefix="/api/v1")
