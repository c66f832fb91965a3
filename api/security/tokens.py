"""API tokens for integrations: ``chk_<prefix>_<secret>``, stored only as a SHA-256 hash.

A token acts as the person it was issued to, with that person's roles; it is
sent as ``Authorization: Bearer <token>`` and needs no CSRF token. The secret
has 256 bits of entropy, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ApiToken

TOKEN_PREFIX = "chk_"
LAST_USED_RESOLUTION = timedelta(minutes=5)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def mint_token() -> tuple[str, str, str]:
    """A new token: (the token to show once, its public prefix, its hash)."""
    prefix = TOKEN_PREFIX + secrets.token_hex(4)
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    return token, prefix, _hash(token)


def find_token(db: Session, raw: str, now: datetime) -> ApiToken | None:
    """The live token ``raw`` names, or None; notes when it was last used."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row
