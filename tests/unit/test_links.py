"""Signed task links: one person, one task, one route version; forged or old ones refused."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from notifications.links import (
    LinkExpired,
    LinkInvalid,
    TaskLink,
    make_task_token,
    read_task_token,
    task_url,
)
from tests.helpers import tamper

SECRET = "test-secret-for-links"


def test_round_trip() -> None:
    token = make_task_token(41, 5, 2, secret_key=SECRET)
    assert read_task_token(token, 3600, secret_key=SECRET) == TaskLink(41, 5, 2)


def test_default_secret_and_age_come_from_settings() -> None:
    assert read_task_token(make_task_token(1, 2, 3)) == TaskLink(1, 2, 3)


def test_url_has_the_token_as_its_last_segment() -> None:
    token = make_task_token(41, 5, 2, secret_key=SECRET)
    assert task_url("https://chefoskop.example/", token) == f"https://chefoskop.example/t/{token}"
    assert all(c.isalnum() or c in "-_." for c in token)


def test_tampered_signature_is_invalid() -> None:
    token = make_task_token(41, 5, 2, secret_key=SECRET)
    forged = tamper(token)
    with pytest.raises(LinkInvalid):
        read_task_token(forged, 3600, secret_key=SECRET)


def test_tampered_payload_is_invalid() -> None:
    token = make_task_token(41, 5, 2, secret_key=SECRET)
    other = make_task_token(42, 5, 2, secret_key=SECRET)
    forged = other.split(".")[0] + "." + ".".join(token.split(".")[1:])
    with pytest.raises(LinkInvalid):
        read_task_token(forged, 3600, secret_key=SECRET)


def test_wrong_salt_or_secret_is_invalid() -> None:
    other_salt = URLSafeTimedSerializer(SECRET, salt="password-reset").dumps([41, 5, 2])
    with pytest.raises(LinkInvalid):
        read_task_token(other_salt, 3600, secret_key=SECRET)
    with pytest.raises(LinkInvalid):
        read_task_token(make_task_token(41, 5, 2, secret_key="another"), 3600, secret_key=SECRET)


def test_garbage_and_wrong_shapes_are_invalid() -> None:
    with pytest.raises(LinkInvalid):
        read_task_token("not-a-token", 3600, secret_key=SECRET)
    shaped = URLSafeTimedSerializer(SECRET, salt="task-link").dumps({"task": 41})
    with pytest.raises(LinkInvalid):
        read_task_token(shaped, 3600, secret_key=SECRET)


def test_old_token_has_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    month_ago = int(time.time()) - 31 * 86400
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: month_ago)
    token = make_task_token(41, 5, 2, secret_key=SECRET)
    monkeypatch.undo()
    with pytest.raises(LinkExpired):
        read_task_token(token, 30 * 86400, secret_key=SECRET)
    assert read_task_token(token, 32 * 86400, secret_key=SECRET) == TaskLink(41, 5, 2)
