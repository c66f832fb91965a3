"""Password hashing with pwdlib's recommended Argon2id parameters."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    return _hasher().hash("an unguessable placeholder that nobody has as a password")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """Whether ``password`` matches, and a fresh hash when the stored one uses old parameters."""
    if not stored_hash:
        _hasher().verify(password, _dummy_hash())  # spend the same time as a real check
        return False, None
    try:
        return _hasher().verify_and_update(password, stored_hash)
    except Exception:  # an unreadable stored hash is a failed sign-in, not an error page
        return False, None


def spend_verification_time(password: str) -> None:
    """Do the work of one verification, so unknown accounts answer as slowly as known ones."""
    _hasher().verify(password, _dummy_hash())
