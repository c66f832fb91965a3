"""Personal survey links and the one-way key that ties a link to its answers.

A link carries only the invitation's random secret (nonce), signed with the
application secret: no invitation id, so a link seen in a log or a proxy names
nobody. The invitation is found by ``link_hash = SHA-256(nonce)``. The response
is stored under ``respondent_key = HMAC(k, survey_id:nonce)`` where ``k`` is
derived from the application secret for this purpose only. Neither hash can be
reversed, and the results code never computes them, so reading results can never
lead to a person; only someone holding the link (the respondent) can find their
answers again. Once a mapping closes the nonce is deleted and only ``link_hash``
stays, so not even the database and the secret together can recompute the key.

A link is valid while its survey is open (until ``closes_at``, which the
processledare can move later); that check is against the database, so an
extended close date extends every link.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer

from chefoskop.settings import get_settings
from surveys.errors import SurveyRefused

SALT = "survey-link"
_KEY_PURPOSE = b"chefoskop survey respondent key v1"


def _secret(secret_key: str | None) -> str:
    return secret_key or get_settings().secret_key.get_secret_value()


def new_nonce() -> str:
    """A fresh random secret for one invitation."""
    return secrets.token_urlsafe(24)


def link_hash(nonce: str) -> str:
    """How an invitation recognises its link without keeping the secret (hex SHA-256)."""
    return hashlib.sha256(nonce.encode()).hexdigest()


def make_token(nonce: str, *, secret_key: str | None = None) -> str:
    """The signed token of one invitation's personal link (the nonce and nothing else)."""
    return URLSafeSerializer(_secret(secret_key), salt=SALT).dumps(nonce)


def read_token(token: str, *, secret_key: str | None = None) -> str:
    """The nonce of a genuine token; refuses anything else.

    A link made before links stopped naming the invitation (``[invitation_id, nonce]``)
    still opens: only its nonce is used.
    """
    try:
        data = URLSafeSerializer(_secret(secret_key), salt=SALT).loads(token)
    except BadSignature as exc:
        raise SurveyRefused("link_invalid") from exc
    if isinstance(data, list) and len(data) == 2 and type(data[0]) is int:
        data = data[1]
    if not isinstance(data, str) or not 0 < len(data) <= 64:
        raise SurveyRefused("link_invalid")
    return data


def respondent_key(survey_id: int, nonce: str, *, secret_key: str | None = None) -> str:
    """The one-way key a response is stored under (hex HMAC-SHA256)."""
    key = hmac.new(_secret(secret_key).encode(), _KEY_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, f"{int(survey_id)}:{nonce}".encode(), hashlib.sha256).hexdigest()


def survey_url(base_url: str, token: str) -> str:
    """The address of a personal survey link."""
    return f"{base_url.rstrip('/')}/s/{token}"
