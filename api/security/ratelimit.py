"""Rate limiting of password sign-in, kept in the database so every worker sees it.

An account is refused for a while after ``login_max_failures`` failed attempts
from one address within ``login_window_minutes``, and after
``login_max_failures_per_account`` from any address (a slow, spread-out guess).
A successful sign-in clears the failures of that account and address. A failure
is written in its own transaction, so a refused sign-in still counts.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from chefoskop.settings import Settings
from models import LoginAttempt


def account_key(email: str) -> str:
    """How an account is named in the attempts table (trimmed, lower case)."""
    return email.strip().lower()[:320]


def _wait(oldest: datetime | None, window: timedelta, now: datetime) -> int:
    if oldest is None:
        return 1
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def retry_after(db: Session, account: str, address: str, settings: Settings,
                now: datetime) -> int | None:
    """Seconds to wait before another attempt is allowed, or None when it is allowed now."""
    window = timedelta(minutes=settings.login_window_minutes)
    failed = (LoginAttempt.account == account, LoginAttempt.at > now - window,
              LoginAttempt.succeeded.is_(False))
    here_count, here_oldest = db.execute(
        select(func.count(), func.min(LoginAttempt.at)).where(*failed, LoginAttempt.address == address)
    ).one()
    if here_count >= settings.login_max_failures:
        return _wait(here_oldest, window, now)
    total, oldest = db.execute(select(func.count(), func.min(LoginAttempt.at)).where(*failed)).one()
    if total >= settings.login_max_failures_per_account:
        return _wait(oldest, window, now)
    return None


def record_failure(factory: sessionmaker[Session], account: str, address: str, settings: Settings,
                   now: datetime) -> None:
    """Write a failed attempt in its own transaction (it must outlive the refused request)."""
    window = timedelta(minutes=settings.login_window_minutes)
    with factory() as s, s.begin():
        s.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window))
        s.add(LoginAttempt(account=account, address=address[:64], at=now, succeeded=False))


def clear_failures(db: Session, account: str, address: str) -> None:
    """Forget the failures of an account and address after it signed in (request's transaction)."""
    db.execute(delete(LoginAttempt).where(LoginAttempt.account == account,
                                          LoginAttempt.address == address))
