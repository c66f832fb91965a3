"""OIDC single sign-on against a real OpenID Connect provider.

The provider is ``oidc-provider-mock`` (Flask, on Authlib's server side) served over HTTP
on 127.0.0.1: discovery document, authorization endpoint, token endpoint, JWKS and
RS256-signed ID tokens. The app's Authlib client reaches it over the network with httpx;
the tests talk to the app in-process through a TestClient (which keeps Authlib's state
cookie) and act as the browser at the provider: they post its authorization form for a
chosen ``sub``, whose claims they set with the provider's ``PUT /users/{sub}``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import oidc_provider_mock
import pytest
import werkzeug.serving
from fastapi.testclient import TestClient
from pydantic import SecretStr
from werkzeug.wrappers import Response

from chefoskop.settings import get_settings
from models import Organisation
from tests.api.conftest import World

LOGIN = "/api/v1/auth/oidc/login"
CALLBACK = "/api/v1/auth/oidc/callback"


@contextmanager
def serving(wsgi_app) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 on a free port, in a thread; yields its base URL."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def announcing_keys(provider_app, jwks_uri: str | None):
    """The provider, except that its discovery document (re-served) names ``jwks_uri`` as its
    keys (``None``: its own, unchanged)."""

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/.well-known/openid-configuration":
            return provider_app(environ, start_response)
        document = json.loads(Response.from_app(provider_app, environ).get_data())
        document["jwks_uri"] = jwks_uri or document["jwks_uri"]
        return Response(json.dumps(document), mimetype="application/json")(environ, start_response)

    return wsgi


@pytest.fixture
def servers() -> Iterator[ExitStack]:
    """Servers a test starts, stopped when it ends."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def provider(servers: ExitStack) -> str:
    """A fresh provider (its own RSA key, no users yet); its issuer URL."""
    return servers.enter_context(serving(oidc_provider_mock.app()))


def make_client(servers: ExitStack, issuer: str, **settings) -> TestClient:
    """The app signing in through the provider at ``issuer``, behind a TestClient over https."""
    from api.app import create_app

    app = create_app(get_settings().model_copy(update={
        "oidc_issuer": issuer, "oidc_client_id": "chefoskop",
        "oidc_client_secret": SecretStr("s3cret"), **settings}))
    return servers.enter_context(TestClient(app, base_url="https://testserver"))


@pytest.fixture
def oidc_client(session_factory, api_clock, servers: ExitStack, provider: str) -> TestClient:
    """The app configured for the provider."""
    return make_client(servers, provider)


def user(provider: str, **claims) -> str:
    """Create a user at the provider with these claims; its ``sub``."""
    sub = f"user-{uuid.uuid4().hex[:12]}"
    r = httpx.put(f"{provider}/users/{sub}", json=claims)
    assert r.status_code == 204, r.text
    return sub


def start(c: TestClient, provider: str) -> str:
    """GET the app's login route: the URL of the provider's authorization page it sends to."""
    r = c.get(LOGIN, follow_redirects=False)
    assert r.status_code == 302, r.text
    authorize = r.headers["location"]
    assert authorize.startswith(f"{provider}/oauth2/authorize?")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == ["chefoskop"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"https://testserver{CALLBACK}"]
    assert set(query["scope"][0].split()) >= {"openid", "email"}
    assert query["state"][0] and query["nonce"][0]
    return authorize


def authorize_at_provider(authorize: str, sub: str) -> str:
    """Act as the browser at the provider: sign in as ``sub``; the callback URL it sends back to."""
    page = httpx.get(authorize)
    assert page.status_code == 200 and 'name="sub"' in page.text
    r = httpx.post(authorize, data={"sub": sub})
    assert r.status_code == 302, r.text
    back = r.headers["location"]
    assert back.startswith(f"https://testserver{CALLBACK}?")
    return back


def sign_on(c: TestClient, provider: str, sub: str):
    """The whole authorization-code flow for ``sub``; the app's answer to the callback."""
    back = authorize_at_provider(start(c, provider), sub)
    return c.get(back, follow_redirects=False)


def with_query(url: str, **changes: str) -> str:
    """``url`` with some query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=urlencode(query)).geturl()


def assert_refused(r, status: int, code: str, c: TestClient) -> None:
    """A clean problem+json refusal, and nobody signed in."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert "chefoskop_session" not in r.headers.get("set-cookie", "")
    assert c.get("/api/v1/auth/session").status_code == 401


# --- the flow --------------------------------------------------------------------------------


def test_the_provider_is_discovered_and_the_routes_are_published(oidc_client, provider):
    metadata = httpx.get(f"{provider}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == provider
    assert "/api/v1/auth/oidc/callback" in oidc_client.get("/openapi.json").json()["paths"]
    assert start(oidc_client, provider)


def test_the_person_whose_verified_email_the_provider_confirms_is_signed_in(oidc_client, provider,
                                                                            world: World):
    chef = world.people["chef"]
    sub = user(provider, email=chef.email.upper(), email_verified=True)
    r = sign_on(oidc_client, provider, sub)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/"
    me = oidc_client.get("/api/v1/auth/session")
    assert me.status_code == 200, me.text
    assert me.json()["via"] == "oidc"
    assert me.json()["person"]["id"] == chef.id


def test_an_email_without_an_active_account_is_refused(oidc_client, provider, world: World):
    stranger = user(provider, email="stranger@nowhere.se", email_verified=True)
    assert_refused(sign_on(oidc_client, provider, stranger), 403, "no_account", oidc_client)

    chef = world.people["chef"]
    chef.active = False
    world.session.commit()
    inactive = user(provider, email=chef.email, email_verified=True)
    assert_refused(sign_on(oidc_client, provider, inactive), 403, "no_account", oidc_client)


def test_a_person_of_another_organisation_is_refused_when_one_is_configured(
        session_factory, api_clock, servers, provider, world: World):
    ours = world.people["chef"]
    slug = world.session.get(Organisation, ours.organisation_id).slug
    c = make_client(servers, provider, oidc_organisation=slug)
    foreign = user(provider, email=world.people["foreign"].email, email_verified=True)
    assert_refused(sign_on(c, provider, foreign), 403, "no_account", c)
    assert sign_on(c, provider, user(provider, email=ours.email, email_verified=True)).status_code == 303


def test_an_unverified_email_is_refused(oidc_client, provider, world: World):
    sub = user(provider, email=world.people["chef"].email, email_verified=False)
    assert_refused(sign_on(oidc_client, provider, sub), 400, "sign_on_failed", oidc_client)


def test_a_user_without_an_email_is_refused(oidc_client, provider, world: World):
    sub = user(provider, name="No Address")
    assert_refused(sign_on(oidc_client, provider, sub), 400, "sign_on_failed", oidc_client)


def test_a_denied_authorization_is_refused(oidc_client, provider, world: World):
    authorize = start(oidc_client, provider)
    r = httpx.post(authorize, data={"action": "deny"})
    assert r.status_code == 302 and "error=access_denied" in r.headers["location"]
    assert_refused(oidc_client.get(r.headers["location"], follow_redirects=False), 400,
                   "sign_on_failed", oidc_client)


# --- tampering -------------------------------------------------------------------------------


def test_a_tampered_state_is_refused(oidc_client, provider, world: World):
    sub = user(provider, email=world.people["chef"].email, email_verified=True)
    back = authorize_at_provider(start(oidc_client, provider), sub)
    forged = with_query(back, state="not-the-state-the-app-issued")
    assert_refused(oidc_client.get(forged, follow_redirects=False), 400, "sign_on_failed",
                   oidc_client)
    assert_refused(oidc_client.get(with_query(back, state=""), follow_redirects=False), 400,
                   "sign_on_failed", oidc_client)


def test_a_callback_in_another_browser_is_refused(oidc_client, provider, servers, world: World):
    """Login CSRF: a callback URL planted in someone else's browser lacks its state cookie."""
    sub = user(provider, email=world.people["chef"].email, email_verified=True)
    back = authorize_at_provider(start(oidc_client, provider), sub)
    victim = servers.enter_context(TestClient(oidc_client.app, base_url="https://testserver"))
    assert_refused(victim.get(back, follow_redirects=False), 400, "sign_on_failed", victim)
    assert oidc_client.get(back, follow_redirects=False).status_code == 303


def test_a_code_is_used_once(oidc_client, provider, world: World):
    sub = user(provider, email=world.people["chef"].email, email_verified=True)
    back = authorize_at_provider(start(oidc_client, provider), sub)
    assert oidc_client.get(back, follow_redirects=False).status_code == 303
    oidc_client.post("/api/v1/auth/logout", headers={
        "X-CSRF-Token": oidc_client.get("/api/v1/auth/session").json()["csrf_token"]})
    assert oidc_client.get("/api/v1/auth/session").status_code == 401

    # The same callback again: its state was used up.
    assert_refused(oidc_client.get(back, follow_redirects=False), 400, "sign_on_failed", oidc_client)
    # The old code under a fresh state: the provider refuses to redeem it twice.
    fresh_state = parse_qs(urlsplit(start(oidc_client, provider)).query)["state"][0]
    replay = with_query(back, state=fresh_state)
    assert_refused(oidc_client.get(replay, follow_redirects=False), 400, "sign_on_failed", oidc_client)


def test_a_forged_code_is_refused(oidc_client, provider, world: World):
    state = parse_qs(urlsplit(start(oidc_client, provider)).query)["state"][0]
    r = oidc_client.get(f"{CALLBACK}?{urlencode({'code': 'forged', 'state': state})}",
                        follow_redirects=False)
    assert_refused(r, 400, "sign_on_failed", oidc_client)


def test_a_code_from_another_provider_is_refused(oidc_client, provider, servers, world: World):
    elsewhere = servers.enter_context(serving(oidc_provider_mock.app()))
    sub = user(elsewhere, email=world.people["chef"].email, email_verified=True)
    state = parse_qs(urlsplit(start(oidc_client, provider)).query)["state"][0]
    # The other provider issues a code for the app's redirect URI and the app's state.
    authorize = f"{elsewhere}/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": "chefoskop", "scope": "openid email",
        "redirect_uri": f"https://testserver{CALLBACK}", "state": state, "nonce": "n"})
    back = authorize_at_provider(authorize, sub)
    assert_refused(oidc_client.get(back, follow_redirects=False), 400, "sign_on_failed", oidc_client)


@pytest.mark.parametrize("announced", ["its own keys", "another provider's keys"])
def test_the_id_token_signature_is_checked(session_factory, api_clock, servers, world: World,
                                           announced: str):
    """A provider whose discovery document names another provider's JWKS: its ID tokens do
    not verify against the keys it announces, so nobody is signed in. Through the same
    re-served discovery document naming its own JWKS, sign-on works (the control)."""
    other = servers.enter_context(serving(oidc_provider_mock.app()))
    jwks_uri = f"{other}/jwks" if announced == "another provider's keys" else None
    issuer = servers.enter_context(serving(announcing_keys(oidc_provider_mock.app(), jwks_uri)))
    metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["jwks_uri"] == (jwks_uri or f"{issuer}/jwks")
    assert httpx.get(f"{other}/jwks").json() != httpx.get(f"{issuer}/jwks").json()

    c = make_client(servers, issuer)
    r = sign_on(c, issuer, user(issuer, email=world.people["chef"].email, email_verified=True))
    if jwks_uri is None:
        assert r.status_code == 303, r.text
        assert c.get("/api/v1/auth/session").json()["via"] == "oidc"
    else:
        assert_refused(r, 400, "sign_on_failed", c)


def test_an_email_the_provider_does_not_mark_verified_is_refused_unless_configured(
        session_factory, api_clock, servers, provider, world: World):
    chef = world.people["chef"]
    strict = make_client(servers, provider)
    silent = user(provider, email=chef.email)  # no email_verified claim at all
    assert_refused(sign_on(strict, provider, silent), 400, "sign_on_failed", strict)
    trusting = make_client(servers, provider, oidc_require_verified_email=False)
    assert sign_on(trusting, provider, silent).status_code == 303
    assert trusting.get("/api/v1/auth/session").json()["person"]["id"] == chef.id
    # An explicit "not verified" is refused even then.
    denied = user(provider, email=chef.email, email_verified=False)
    other = make_client(servers, provider, oidc_require_verified_email=False)
    assert_refused(sign_on(other, provider, denied), 400, "sign_on_failed", other)


def test_a_provider_out_of_reach_is_a_clean_502(session_factory, api_clock, servers, world: World):
    with serving(oidc_provider_mock.app()) as gone:
        c = make_client(servers, gone)
        back = authorize_at_provider(start(c, gone), user(gone, email=world.people["chef"].email,
                                                          email_verified=True))
    # The provider stopped between the browser's visit and the app's code exchange.
    assert_refused(c.get(back, follow_redirects=False), 502, "sign_on_unavailable", c)
    never = make_client(servers, "http://127.0.0.1:9")  # nothing listens on the discard port
    r = never.get(LOGIN, follow_redirects=False)
    assert r.status_code == 502 and r.json()["code"] == "sign_on_unavailable"
    assert r.json()["title"] == "Inloggning via identitetsleverantören går inte att nå"
