"""The SMTP side of delivery: building MIME messages and one reusable connection.

Errors are sorted into three kinds the sender acts on: ``Unreachable`` (nothing
was sent, try the whole batch later), ``TemporaryFailure`` (this message may go
through later) and ``PermanentFailure`` (the server refused this recipient).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib

from chefoskop.settings import Settings
from notifications.sink import ensure_sink


class Unreachable(Exception):
    """The SMTP server could not be reached or greeted; nothing was sent."""


class TemporaryFailure(Exception):
    """Delivery may succeed later (4xx, dropped connection, timeout)."""

    def __init__(self, reason: str, *, broken: bool = False) -> None:
        super().__init__(reason)
        self.broken = broken


class PermanentFailure(Exception):
    """The server refused this message for good (5xx on RCPT or DATA, bad address)."""


def classify(exc: Exception) -> TemporaryFailure | PermanentFailure:
    """Sort an aiosmtplib (or socket) error into a temporary or a permanent failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        refused = exc.recipients[0]
        reason = f"{refused.code} {refused.message}"
        return PermanentFailure(reason) if refused.code >= 500 else TemporaryFailure(reason)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused):
        # A refused sender is our configuration, not the recipient: retry, except a size limit.
        reason = f"{exc.code} {exc.message}"
        return PermanentFailure(reason) if exc.code == 552 else TemporaryFailure(reason)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reason = f"{exc.code} {exc.message}"
        if exc.code >= 500:
            return PermanentFailure(reason)
        return TemporaryFailure(reason, broken=exc.code == 421)
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError):
        return PermanentFailure(f"cannot be sent: {exc}")
    return TemporaryFailure(f"{type(exc).__name__}: {exc}", broken=True)


class SmtpConnection:
    """One SMTP connection, opened on first use and reopened after it drops."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envelope_from = parseaddr(settings.mail_from)[1]
        self.connections = 0
        self._smtp: aiosmtplib.SMTP | None = None

    def _client(self) -> aiosmtplib.SMTP:
        host, port = ensure_sink(self.settings)
        relay = bool(self.settings.smtp_host)  # the local sink speaks plain SMTP, no login
        security = self.settings.smtp_security if relay else "none"
        password = self.settings.smtp_password
        return aiosmtplib.SMTP(
            hostname=host,
            port=port,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            timeout=self.settings.smtp_timeout_seconds,
            username=self.settings.smtp_username if relay else None,
            password=password.get_secret_value() if relay and password else None,
        )

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._client()
        try:
            await client.connect()
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        self.connections += 1
        self._smtp = client
        return client

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Send one message to one recipient; raises Unreachable, Temporary- or PermanentFailure."""
        smtp = self._smtp if self._smtp is not None and self._smtp.is_connected else None
        smtp = smtp or await self._connect()
        try:
            await smtp.send_message(message, sender=self.envelope_from, recipients=[recipient])
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
            error = classify(exc)
            if isinstance(error, TemporaryFailure) and error.broken:
                await self.close()
            raise error from exc

    async def close(self) -> None:
        """Say goodbye to the server, or just drop the connection if it is gone."""
        smtp, self._smtp = self._smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit()
        except (TimeoutError, aiosmtplib.SMTPException, OSError):
            smtp.close()
