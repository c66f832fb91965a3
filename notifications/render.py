"""Turning an outbox row into a mail: subject, plain text, HTML and, for meetings, ICS.

There is ONE Jinja2 environment for the whole project (``get_environment``); the
web layer reuses it for its pages. Translations are passed in the context of each
render rather than installed on the shared environment, so concurrent renders in
different languages cannot see each other's catalogue.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup

from chefoskop import i18n
from notifications.ics import build_invite
from notifications.links import gate_url, make_task_token, process_url, task_url
from notifications.outbox import KINDS

if TYPE_CHECKING:
    from chefoskop.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
# Mail templates live here under mail/; the web app's pages go under api/templates/.
TEMPLATE_DIRS = (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "api" / "templates")

# Keys that the payload contract marks as optional or nullable.
_OPTIONAL_KEYS = ("due_date", "reopen_reason", "reason", "assignee_name", "description",
                  "location", "task_id")


class RenderError(Exception):
    """A mail could not be rendered: a template or payload bug, never a delivery problem."""


@dataclass(frozen=True)
class RenderedMail:
    """Everything needed to build the e-mail of one outbox row."""

    subject: str
    text: str
    html: str
    ics: bytes | None = None


@lru_cache(maxsize=1)
def get_environment() -> Environment:
    """The project's one Jinja2 environment (autoescaping, strict, with i18n)."""
    env = Environment(
        loader=FileSystemLoader([str(path) for path in TEMPLATE_DIRS]),
        autoescape=select_autoescape(),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Keep babel.cfg in step with these options so extraction sees the same msgids.
    env.policies["ext.i18n.trimmed"] = True
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def _make_gettext(translations: Any) -> Callable[..., str]:
    @pass_context
    def gettext(ctx: Context, msgid: str, **variables: Any) -> str:
        text = translations.gettext(msgid)
        if ctx.eval_ctx.autoescape:
            text = Markup(text)  # variables are escaped by Markup's % operator
        return text % variables

    return gettext


def _make_ngettext(translations: Any) -> Callable[..., str]:
    @pass_context
    def ngettext(ctx: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = translations.ngettext(singular, plural, num)
        if ctx.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return ngettext


def _locale_helpers(lang: str) -> dict[str, Any]:
    translations = i18n.get_translations(lang)  # cached there; reload_translations() works
    return {
        "locale": lang,
        "gettext": _make_gettext(translations),
        "ngettext": _make_ngettext(translations),
        "format_date": partial(i18n.format_date, locale=lang),
        "format_datetime": partial(i18n.format_datetime, locale=lang),
        "format_time": partial(i18n.format_time, locale=lang),
        "format_time_range": partial(i18n.format_time_range, locale=lang),
        "format_number": partial(i18n.format_number, locale=lang),
    }


def template_context(locale: str | None) -> dict[str, Any]:
    """Translation and formatting helpers for rendering any template in ``locale``."""
    return _locale_helpers(i18n.normalise_locale(locale))


def localise(value: Any, lang: str) -> Any:
    """Replace every {"sv": ..., "en": ...} text in a payload by the one for ``lang``."""
    if isinstance(value, dict):
        if value and set(value) <= set(i18n.SUPPORTED_LOCALES):
            return value.get(lang) or value.get(i18n.DEFAULT_LOCALE) or next(
                (text for text in value.values() if text), ""
            )
        return {key: localise(item, lang) for key, item in value.items()}
    if isinstance(value, list):
        return [localise(item, lang) for item in value]
    return value


def _task_link(
    base_url: str, recipient_id: int | None, secret_key: str | None
) -> Callable[[Any, Any], str]:
    def link(task_id: Any, route_version: Any) -> str:
        if recipient_id is None or task_id is None:
            return ""
        token = make_task_token(task_id, recipient_id, route_version or 1, secret_key=secret_key)
        return task_url(base_url, token)

    return link


def _context(
    kind: str,
    lang: str,
    payload: dict[str, Any],
    base_url: str,
    recipient_id: int | None,
    secret_key: str | None,
) -> dict[str, Any]:
    data = localise(payload, lang)
    for key in _OPTIONAL_KEYS:
        data.setdefault(key, None)
    return {
        **data,
        **template_context(lang),
        "kind": kind,
        "base_url": base_url,
        "task_link": _task_link(base_url, recipient_id, secret_key),
        "gate_link": partial(gate_url, base_url),
        "process_link": partial(process_url, base_url),
    }


def _render_block(template: Template, name: str, context: dict[str, Any]) -> str:
    parts = template.blocks[name](template.new_context(context))
    return " ".join("".join(parts).split())


def _invite(data: dict[str, Any], now: datetime | None) -> bytes:
    # Every attendee of a meeting gets the same calendar file: build it once per
    # meeting, version, language and second (DTSTAMP has no finer resolution).
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    key = (str(data["uid"]), int(data["sequence"]), data["summary"], data.get("description"),
           data["start"], data["end"], data.get("location"), data["organizer_email"],
           data.get("organizer_name"),
           tuple((person["email"], person.get("name")) for person in data["attendees"]), stamp)
    try:
        return _cached_invite(*key)
    except TypeError:  # a value that cannot be a cache key (not from a JSON payload)
        return _cached_invite.__wrapped__(*key)


@lru_cache(maxsize=64)
def _cached_invite(uid: str, sequence: int, summary: str, description: str | None, start: Any,
                   end: Any, location: str | None, organizer_email: str,
                   organizer_name: str | None, attendees: tuple[tuple[str, str | None], ...],
                   dtstamp: datetime) -> bytes:
    return build_invite(
        uid=uid,
        sequence=sequence,
        summary=summary,
        description=description,
        start=start,
        end=end,
        location=location,
        organizer_email=organizer_email,
        organizer_name=organizer_name,
        attendees=[{"email": email, "name": name} for email, name in attendees],
        dtstamp=dtstamp,
    )


def render(
    kind: str,
    locale: str | None,
    payload: dict[str, Any],
    *,
    base_url: str,
    recipient_id: int | None = None,
    now: datetime | None = None,
    secret_key: str | None = None,
) -> RenderedMail:
    """Render one notification in the recipient's language; raises RenderError.

    Task links are signed for ``recipient_id`` (none without it) with ``secret_key``
    (default: the configured one).
    """
    if kind not in KINDS:
        raise RenderError(f"unknown notification kind {kind!r}")
    lang = i18n.normalise_locale(locale)
    try:
        env = get_environment()
        context = _context(kind, lang, payload, base_url, recipient_id, secret_key)
        text_template = env.get_template(f"mail/{kind}.txt")
        subject = _render_block(text_template, "subject", context)
        text = text_template.render(context, subject=subject).strip() + "\n"
        html = env.get_template(f"mail/{kind}.html").render(context, subject=subject)
        ics = _invite(context, now) if kind == "meeting_invite" else None
    except (TemplateError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise RenderError(f"{kind} ({lang}): {type(exc).__name__}: {exc}") from exc
    return RenderedMail(subject=subject, text=text, html=html, ics=ics)


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


def build_mime(
    mail: RenderedMail,
    *,
    recipient_email: str,
    recipient_name: str | None,
    message_id: str,
    locale: str | None,
    settings: Settings,
    now: datetime,
) -> Message | None:
    """The MIME message: text and HTML alternatives (+ a calendar REQUEST for meetings).

    None when an address is not ASCII (it needs SMTPUTF8, which this build does not
    do: build ``notifications.smtp.build_message``'s EmailMessage instead); display
    names may be anything.
    """
    sender_name, sender_address = _parse_address(settings.mail_from)
    if not (sender_address.isascii() and recipient_email.isascii()):
        return None
    message = Message()
    message["Subject"] = _header_text("Subject", mail.subject)
    message["From"] = _mailbox("From", sender_name, sender_address)
    message["To"] = _mailbox("To", recipient_name, recipient_email)
    message["Date"] = _Folded(format_datetime(now))
    message["Message-ID"] = _Folded(message_id)
    message["Content-Language"] = _Folded(i18n.normalise_locale(locale))
    message["Auto-Submitted"] = _Folded("auto-generated")  # RFC 3834: no auto-replies, please
    message["MIME-Version"] = _Folded("1.0")
    # "=_" cannot occur in quoted-printable or base64 text, so the boundary cannot
    # collide with a body; derived from the Message-ID, a resend is the same message.
    boundary = "=_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
    message["Content-Type"] = _Folded(f'multipart/alternative;\n boundary="{boundary}"')
    message.attach(_part('text/plain; charset="utf-8"', "quoted-printable",
                         _quoted_printable(mail.text)))
    message.attach(_part('text/html; charset="utf-8"', "quoted-printable",
                         _quoted_printable(mail.html)))
    if mail.ics is not None:
        message.attach(_part('text/calendar; method="REQUEST"; charset="utf-8"', "base64",
                             _base64(mail.ics)))
    return message
