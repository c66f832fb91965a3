"""Browser sessions: a signed random token in an HttpOnly cookie, its hash and CSRF token in the DB.

The cookie is ``Secure`` outside development, ``SameSite=Lax`` and ``HttpOnly``;
with ``Secure`` it takes the ``__Host-`` prefix, so no subdomain can set it. The
CSRF token is a synchronizer token kept with the session: a cookie-authenticated
POST, PUT, PATCH or DELETE must echo it in the ``X-CSRF-Token`` header (or, for
HTML forms, in a ``csrf_token`` form field).
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
from models import Person, WebSession

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


def start_session(db: Session, person: Person, via: str, settings: Settings,
                  now: datetime) -> tuple[WebSession, str]:
    """Create a session for ``person``; returns it and the cookie value to set."""
    raw = secrets.token_urlsafe(32)
    row = WebSession(token_hash=token_hash(raw), person_id=person.id, via=via,
                     csrf_token=secrets.token_urlsafe(32), created_at=now,
                     expires_at=now + timedelta(hours=settings.session_max_age_hours))
    db.add(row)
    db.flush()
    return row, _signer(settings).sign(raw).decode()


def load_session(db: Session, cookie_value: str | None, settings: Settings,
                 now: datetime) -> WebSession | None:
    """The live session a cookie names, or None (bad signature, unknown, revoked or expired)."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    try:
        raw = _signer(settings).unsign(cookie_value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    row = db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(raw)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row


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
