"""The MIME message of a rendered mail: text and HTML alternatives, plus ICS for meetings.

``build_message`` is the one entry point. It writes pre-encoded parts on the compat32
``Message`` (several times cheaper than ``EmailMessage``), and falls back to
``EmailMessage`` only for an address that is not ASCII and so needs SMTPUTF8.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from typing import TYPE_CHECKING

from chefoskop import i18n
from notifications.render import RenderedMail

if TYPE_CHECKING:
    from chefoskop.settings import Settings


def build_message(
    mail: RenderedMail,
    *,
    recipient_email: str,
    recipient_name: str | None,
    message_id: str,
    locale: str | None,
    settings: Settings,
    now: datetime,
) -> Message:
    """The MIME message of ``mail`` to one recipient; the same inputs give the same bytes."""
    to = _Envelope(recipient_email, recipient_name, message_id, locale, settings, now)
    return _build_pre_encoded(mail, to) or _build_email_message(mail, to)


@dataclass(frozen=True)
class _Envelope:
    """Who a message goes to, its id, language and date: what both builds write as headers."""

    recipient_email: str
    recipient_name: str | None
    message_id: str
    locale: str | None
    settings: Settings
    now: datetime


# --- the MIME message ------------------------------------------------------------------
#
# Built from pre-encoded parts on the compat32 ``Message``: the bodies are
# quoted-printable (the calendar base64, so its CRLF line ends survive), headers
# with non-ASCII text are RFC 2047 encoded here, so serialising the message is
# little more than writing strings. ``email.message.EmailMessage`` does the same
# through its header registry and content manager at several times the cost.

_FROM_LINE = re.compile(r"^From ", re.MULTILINE)


def _quoted_printable(text: str) -> str:
    if not text.endswith("\n"):
        text += "\n"  # a body ends with a line break (as EmailMessage.set_content makes it)
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    # A compat32 generator writes ">From " for a line starting "From ": encode the F instead.
    return _FROM_LINE.sub("=46rom ", encoded)


@lru_cache(maxsize=64)
def _base64(data: bytes) -> str:
    lines = [binascii.b2a_base64(data[i:i + 57]).decode("ascii") for i in range(0, len(data), 57)]
    return "".join(lines)


_MAX_LINE = 78  # RFC 5322's limit for a header line, without its CRLF


class _Folded(Header):
    """A header value encoded and folded beforehand: the generator writes it as it is.

    compat32 takes a non-string header value for a ``Header`` and calls its
    ``encode``; a plain string it would wrap in a ``Header`` and fold again on every
    serialisation, the better part of the cost of writing a message.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text  # lines joined by "\n" + whitespace

    def encode(self, splitchars: str = ";, \t", maxlinelen: int | None = None,
               linesep: str = "\n") -> str:
        """The value as written, with ``linesep`` between its folded lines."""
        return self._text if linesep == "\n" else self._text.replace("\n", linesep)

    def __str__(self) -> str:
        return self._text.replace("\n", "")


def _encoded_words(text: str, used: int) -> str:
    """RFC 2047 words ("B", UTF-8) of ``text``, folded; ``used`` columns are taken on line one."""
    data = text.encode("utf-8")
    words: list[str] = []
    start = 0
    while start < len(data):
        size = max(6, (_MAX_LINE - used - len("=?utf-8?b??=")) // 4 * 3)
        end = min(start + size, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never split a character
            end -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(data[start:end], newline=False).decode()}?=")
        start, used = end, 1  # a continuation line starts with a space
    return "\n ".join(words)


def _folded_ascii(text: str, used: int) -> str:
    """ASCII ``text`` folded at spaces into lines of at most 78 columns where it can be."""
    lines: list[str] = []
    line: str | None = None
    for word in text.split(" "):
        if line is None:
            line = word
        elif used + len(line) + 1 + len(word) > _MAX_LINE and line.strip():
            lines.append(line)
            line, used = " " + word, 0
        else:
            line += " " + word
    lines.append(line or "")
    return "\n".join(lines)


def _header_text(name: str, text: str) -> _Folded:
    """``text`` as the value of header ``name``: ASCII folded, anything else RFC 2047 encoded.

    ASCII with a word too long to fold is encoded too, so that it can be split.
    """
    used = len(name) + 2
    if text.isascii() and max(map(len, text.split()), default=0) <= 60:
        return _Folded(_folded_ascii(text, used))
    return _Folded(_encoded_words(text, used))


def _mailbox(header: str, name: str | None, address: str) -> _Folded:
    if not name:
        return _Folded(address)
    if name.isascii():
        return _Folded(formataddr((name, address)))
    used = len(header) + 2
    phrase = _encoded_words(name, used)
    newline = phrase.rfind("\n")
    column = used + len(phrase) if newline < 0 else len(phrase) - newline - 1
    fits = column + len(address) + 3 <= _MAX_LINE
    return _Folded(f"{phrase}{' ' if fits else chr(10) + ' '}<{address}>")


_parse_address = lru_cache(maxsize=8)(parseaddr)  # the configured sender, parsed once


def _part(content_type: str, encoding: str, body: str) -> Message:
    part = Message()
    part["Content-Type"] = _Folded(content_type)
    part["Content-Transfer-Encoding"] = _Folded(encoding)
    part.set_payload(body)
    return part


def _build_pre_encoded(mail: RenderedMail, to: _Envelope) -> Message | None:
    """The MIME message: text and HTML alternatives (+ a calendar REQUEST for meetings).

    None when an address is not ASCII: it needs SMTPUTF8, which this build does not
    do (``_build_email_message`` does); display names may be anything.
    """
    sender_name, sender_address = _parse_address(to.settings.mail_from)
    if not (sender_address.isascii() and to.recipient_email.isascii()):
        return None
    message = Message()
    message["Subject"] = _header_text("Subject", mail.subject)
    message["From"] = _mailbox("From", sender_name, sender_address)
    message["To"] = _mailbox("To", to.recipient_name, to.recipient_email)
    message["Date"] = _Folded(format_datetime(to.now))
    message["Message-ID"] = _Folded(to.message_id)
    message["Content-Language"] = _Folded(i18n.normalise_locale(to.locale))
    message["Auto-Submitted"] = _Folded("auto-generated")  # RFC 3834: no auto-replies, please
    message["MIME-Version"] = _Folded("1.0")
    # "=_" cannot occur in quoted-printable or base64 text, so the boundary cannot
    # collide with a body; derived from the Message-ID, a resend is the same message.
    boundary = "=_" + hashlib.sha256(to.message_id.encode()).hexdigest()[:32]
    message["Content-Type"] = _Folded(f'multipart/alternative;\n boundary="{boundary}"')
    message.attach(_part('text/plain; charset="utf-8"', "quoted-printable",
                         _quoted_printable(mail.text)))
    message.attach(_part('text/html; charset="utf-8"', "quoted-printable",
                         _quoted_printable(mail.html)))
    if mail.ics is not None:
        message.attach(_part('text/calendar; method="REQUEST"; charset="utf-8"', "base64",
                             _base64(mail.ics)))
    return message


def _build_email_message(mail: RenderedMail, to: _Envelope) -> EmailMessage:
    """The same message through ``EmailMessage``: slower, but it writes SMTPUTF8 addresses."""
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = to.settings.mail_from
    # An Address, not formataddr: formataddr refuses the non-ASCII address this build is for.
    # (given as its parts: the addr_spec parser refuses a non-ASCII local part)
    username, _, domain = to.recipient_email.rpartition("@")
    message["To"] = Address(display_name=to.recipient_name or "", username=username, domain=domain)
    message["Date"] = format_datetime(to.now)
    message["Message-ID"] = to.message_id
    message["Content-Language"] = i18n.normalise_locale(to.locale)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    if mail.ics is not None:
        calendar_params = {"method": "REQUEST", "charset": "utf-8"}
        message.add_alternative(mail.ics, maintype="text", subtype="calendar",
                                params=calendar_params)
    return message
