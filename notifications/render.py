"""Turning an outbox row into a mail: subject, plain text, HTML and, for meetings, ICS.

There is ONE Jinja2 environment for the whole project (``get_environment``); the
web layer reuses it for its pages. Translations are passed in the context of each
render rather than installed on the shared environment, so concurrent renders in
different languages cannot see each other's catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
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
    pass

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
