"""Browser sessions: a signed random token in an HttpOnly cookie, its hash and CSRF token in the DB.

The cookie is ``Secure`` outside development, ``SameSite=Lax`` and ``HttpOnly``;
with ``Secure`` it takes the ``__Host-`` prefix, so no subdomain can set it. The
CSRF token is a synchronizer token kept with the session: a cookie-authenticated
POST, PUT, PATCH or DELETE must echo it in the ``X-CSRF-Token`` header (or, for
HTML forms, in a ``csrf_token`` form field).

A *link session* (opened from a task's e-mail link) has ``scope_task_id`` set and
acts on that task only (``api.deps`` refuses the rest). It is bound to the task's
route version at the moment the link was followed: that number ends its random
token (``<random>.<route version>``), and as the table keeps only the token's hash
it cannot be altered without the session becoming unknown. ``load_session`` checks
on every request that the task is still live, still the person's to act on and
routed the same (``roles.permissions.link_session_alive``); once the task is done,
cancelled, reassigned or rerouted the session no longer loads.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from fastapi import Response
from itsdangerous import BadSignature, Signer
from sqlalchemy import select
from sqlalchemy.orm import Session

from chefoskop.settings import Settings
from models import Person, Task, WebSession
from roles.permissions import LinkScope, TaskFacts, link_session_alive

COOKIE_NAME = "chefoskop_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def secure_cookies(settings: Settings) -> bool:
    """Cookies are Secure everywhere except in development."""
    return settings.environment != "development"


def cookie_name(settings: Settings) -> str:
    """The session cookie's name (``__Host-`` prefixed when Secure)."""
    return f"__Host-{COOKIE_NAME}" if secure_cookies(settings) else COOKIE_NAME


def _signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key.get_secret_value(), salt="chefoskop-session-cookie")


def token_hash(raw: str) -> str:
    """The SHA-256 of a random token, as stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(db: Session, person: Person, via: str, settings: Settings, now: datetime, *,
                  scope: LinkScope | None = None) -> tuple[WebSession, str]:
    """Create a session for ``person`` (a link session when ``scope`` names its task); returns
    it and the cookie value to set."""
    raw = secrets.token_urlsafe(32)  # URL-safe base64: never contains "."
    if scope is not None:
        raw = f"{raw}.{int(scope.route_version)}"
    row = WebSession(token_hash=token_hash(raw), person_id=person.id, via=via,
                     scope_task_id=scope.task_id if scope is not None else None,
                     csrf_token=secrets.token_urlsafe(32), created_at=now,
                     expires_at=now + timedelta(hours=settings.session_max_age_hours))
    db.add(row)
    db.flush()
    return row, _signer(settings).sign(raw).decode()


def _find(db: Session, cookie_value: str | None, settings: Settings,
          now: datetime) -> tuple[WebSession, str] | None:
    """The unrevoked, unexpired session a cookie names and its raw token."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    try:
        raw = _signer(settings).unsign(cookie_value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    row = db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(raw)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row, raw


def _bound_route_version(raw: str) -> int | None:
    """The route version a link session's token ends in."""
    _, dot, tail = raw.rpartition(".")
    return int(tail) if dot and tail.isdigit() and len(tail) < 10 else None


def _link_session_works(db: Session, row: WebSession, raw: str) -> bool:
    """Whether a link session's task is still live, its person's, and routed the same."""
    version = _bound_route_version(raw)
    if row.scope_task_id is None or version is None:
        return False
    task = db.get(Task, row.scope_task_id)
    facts = None if task is None else TaskFacts(
        task.status, task.assignee_id, frozenset(c.person_id for c in task.candidates))
    return link_session_alive(row.person_id, LinkScope(row.scope_task_id, version), facts,
                              task.route_version if task is not None else None)


def load_session(db: Session, cookie_value: str | None, settings: Settings,
                 now: datetime) -> WebSession | None:
    """The usable session a cookie names, or None (bad signature, unknown, revoked, expired, or
    a link session whose task is done, cancelled, handed on or rerouted)."""
    found = _find(db, cookie_value, settings, now)
    if found is None:
        return None
    row, raw = found
    if row.scope_task_id is not None and not _link_session_works(db, row, raw):
        return None
    return row


def end_previous_session(db: Session, cookie_value: str | None, settings: Settings,
                         now: datetime) -> None:
    """Revoke the session a cookie names, usable or not (a new sign-in replaces it)."""
    found = _find(db, cookie_value, settings, now)
    if found is not None:
        end_session(found[0], now)


def end_session(row: WebSession, now: datetime) -> None:
    """Revoke a session (sign out)."""
    row.revoked_at = now


def set_session_cookie(response: Response, value: str, settings: Settings) -> None:
    """Put the session cookie on ``response`` with its security flags."""
    response.set_cookie(cookie_name(settings), value, max_age=settings.session_max_age_hours * 3600,
                        path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Remove the session cookie."""
    response.delete_cookie(cookie_name(settings), path="/", httponly=True, samesite="lax",
                           secure=secure_cookies(settings))


def csrf_matches(row: WebSession, supplied: str | None) -> bool:
    """Whether the supplied CSRF token is the session's (compared in constant time)."""
    return bool(supplied) and hmac.compare_digest(row.csrf_token.encode(), supplied.encode())
