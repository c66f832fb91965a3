"""Schemas of signing in, sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from models.schemas.common import Id, InModel, OutModel, text
from models.schemas.organisation import OrganisationOut, PersonOut


class LoginIn(InModel):
    """E-mail and password; name the organisation when the address exists in several."""

    email: text(320)
    password: str = Field(min_length=1, max_length=200)
    organisation: text(80) | None = None


class SessionOut(OutModel):
    """Who is signed in, how, and the CSRF token to send with changes."""

    person: PersonOut
    organisation: OrganisationOut
    via: str
    csrf_token: str | None
    expires_at: datetime | None


class PasswordChange(InModel):
    """Change one's own password."""

    current_password: str = Field(min_length=1, max_length=200)
    new_password: text(200) = Field(min_length=10)


class ApiTokenIn(InModel):
    """A new API token acting as a person of the organisation (the creator by default)."""

    name: text(100)
    person_id: Id | None = None
    expires_in_days: int | None = Field(default=None, ge=1, le=730)


class ApiTokenOut(OutModel):
    """An API token (never its secret)."""

    id: int
    name: str
    prefix: str
    person_id: int
    created_by_id: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenOut):
    """A new token: the secret is shown this once."""

    token: str
