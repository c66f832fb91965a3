"""Translations and locale-aware formatting for everything a user reads.

Catalogues live in ``locale/<lang>/LC_MESSAGES/messages.po`` (msgids are English;
Swedish is the default). They are read and compiled in memory on first use, so
there is no ``.mo`` build step.

Mark strings in Python with ``gettext(locale, "...")``, ``ngettext(locale, "...",
"...", n)``, or ``N_("...")`` for text that is translated later. In templates use
``{% trans %}`` blocks or ``gettext("...")``. Keep catalogues in step with::

    python -m chefoskop.i18n update   # extract and merge new msgids into every .po
    python -m chefoskop.i18n check    # list msgids without a Swedish translation

With plain pybabel, pass the keywords of ``EXTRACT_KEYWORDS``:
``pybabel extract -F babel.cfg -k gettext:2,2t -k gettext:2,3t -k ngettext:2,3,4t ...``
(the ``t`` specs tell our locale-first functions apart from Jinja's ``gettext(msg)``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel import dates, numbers
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

Lang = Literal["sv", "en"]

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locale"
MAPPING_FILE = ROOT / "babel.cfg"
DOMAIN = "messages"
DEFAULT_LOCALE: Lang = "sv"
SUPPORTED_LOCALES: tuple[Lang, ...] = ("sv", "en")
BABEL_LOCALES: dict[str, str] = {"sv": "sv_SE", "en": "en_GB"}
DEFAULT_TIMEZONE = "Europe/Stockholm"
HEADER = "# Messages of chefoskop. Update with: python -m chefoskop.i18n update"

# Our Python functions take the locale first, Jinja's take the message first; the
# per-arity specs ("t" in pybabel's syntax) extract the right argument from each.
_MAX_ARITY = 12
EXTRACT_KEYWORDS: dict[str, Any] = {
    **DEFAULT_KEYWORDS,
    "gettext": {None: None, **{n: (2,) for n in range(2, _MAX_ARITY)}},
    "ngettext": {None: (1, 2), **{n: (2, 3) for n in range(4, _MAX_ARITY)}},
}
# Folders never scanned for messages (tests may use made-up msgids on purpose).
EXTRACT_SKIP_DIRS = frozenset({"tests", "data", "locale", "migrations", "node_modules", "build"})


def N_(msgid: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction without translating it now."""
    return msgid


def normalise_locale(value: str | None) -> Lang:
    """Map any locale spelling ('sv_SE', 'en-GB', 'EN', None...) to 'sv' or 'en'."""
    if not value:
        return DEFAULT_LOCALE
    first = value.split(",", 1)[0].split(";", 1)[0].strip().lower()
    lang = first.replace("-", "_").split("_", 1)[0]
    return lang if lang in SUPPORTED_LOCALES else DEFAULT_LOCALE  # type: ignore[return-value]


def po_path(locale: str) -> Path:
    """Where the catalogue of one supported locale lives."""
    return LOCALE_DIR / normalise_locale(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    """Parse one locale's .po file into a Babel catalogue."""
    lang = normalise_locale(locale)
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


@cache
def _translations(lang: Lang) -> Translations:
    buffer = BytesIO()
    write_mo(buffer, read_catalog(lang), use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def get_translations(locale: str | None) -> Translations:
    """The compiled translations of a locale (cached per locale)."""
    return _translations(normalise_locale(locale))


def reload_translations() -> None:
    """Forget compiled catalogues so edited .po files are read again."""
    _translations.cache_clear()


def _fill(text: str, params: dict[str, Any]) -> str:
    # %(name)s is the convention (Jinja's i18n needs it); {name} is accepted in Python.
    if not params:
        return text
    if "%(" in text:
        return text % params
    return text.format(**params) if "{" in text else text


def gettext(locale: str | None, msgid: str, **params: Any) -> str:
    """Translate ``msgid`` and fill its ``%(name)s`` (or ``{name}``) placeholders."""
    return _fill(get_translations(locale).gettext(msgid), params)


def ngettext(locale: str | None, singular: str, plural: str, n: int, **params: Any) -> str:
    """Translate a message with plural forms; ``num`` is the count."""
    return _fill(get_translations(locale).ngettext(singular, plural, n), {"num": n, **params})


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _as_datetime(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    if parsed.tzinfo is None:
        raise ValueError(f"datetime without a UTC offset: {value!r}")
    return parsed


def format_date(value: date | datetime | str | None, locale: str | None, fmt: str = "full") -> str:
    """A date for people to read ('fredag 20 mars 2026'); '' for None."""
    if value is None:
        return ""
    return dates.format_date(_as_date(value), fmt, locale=BABEL_LOCALES[normalise_locale(locale)])


def format_datetime(
    value: datetime | str, locale: str | None, fmt: str = "medium", tz: str = DEFAULT_TIMEZONE
) -> str:
    """An aware date and time, shown in the organisation's time zone."""
    babel_locale = BABEL_LOCALES[normalise_locale(locale)]
    return dates.format_datetime(_as_datetime(value), fmt, tzinfo=ZoneInfo(tz), locale=babel_locale)


def format_time(value: datetime | str, locale: str | None, tz: str = DEFAULT_TIMEZONE) -> str:
    """The clock time of an aware datetime in the organisation's time zone ('09:00')."""
    babel_locale = BABEL_LOCALES[normalise_locale(locale)]
    return dates.format_time(_as_datetime(value), "short", tzinfo=ZoneInfo(tz), locale=babel_locale)


def format_time_range(
    start: datetime | str, end: datetime | str, locale: str | None, tz: str = DEFAULT_TIMEZONE
) -> str:
    """A meeting's span: 'fredag 20 mars 2026, 09:00–11:00' (both ends dated if days differ)."""
    zone = ZoneInfo(tz)
    first, last = _as_datetime(start).astimezone(zone), _as_datetime(end).astimezone(zone)
    if first.date() == last.date():
        day = format_date(first.date(), locale)
        return f"{day}, {format_time(first, locale, tz)}–{format_time(last, locale, tz)}"
    return f"{format_datetime(first, locale, tz=tz)} – {format_datetime(last, locale, tz=tz)}"


def format_number(value: float | int, locale: str | None) -> str:
    """A number with the locale's separators ('1 234,5' in Swedish)."""
    return numbers.format_decimal(value, locale=BABEL_LOCALES[normalise_locale(locale)])


def format_percent(value: float, locale: str | None) -> str:
    """A fraction as a percentage ('42 %' in Swedish)."""
    return numbers.format_percent(value, locale=BABEL_LOCALES[normalise_locale(locale)])


# --- catalogue maintenance -------------------------------------------------------------


def _directory_filter(path: str) -> bool:
    name = Path(path).name
    return not (name.startswith((".", "_")) or name in EXTRACT_SKIP_DIRS)


def extract_catalog(root: Path = ROOT) -> Catalog:
    """Extract every translatable message under ``root`` using ``babel.cfg``."""
    with MAPPING_FILE.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(MAPPING_FILE))
    template = Catalog(project="chefoskop", domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=EXTRACT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
        directory_filter=_directory_filter,
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def untranslated(template: Catalog, locale: str = DEFAULT_LOCALE) -> list[str]:
    """Msgids of ``template`` that have no (or an empty, or a fuzzy) translation."""
    catalog = read_catalog(locale)
    missing: list[str] = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        strings = found.string if found else None
        parts = strings if isinstance(strings, (tuple, list)) else (strings,)
        if found is None or found.fuzzy or not all(parts):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def update_catalogs(locales: Iterable[str] = SUPPORTED_LOCALES) -> None:
    """Merge freshly extracted msgids into every .po file (obsolete ones are dropped)."""
    template = extract_catalog()
    for lang in locales:
        path = po_path(lang)
        if path.exists():
            catalog = read_catalog(lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(
                locale=lang, domain=DOMAIN, project="chefoskop", fuzzy=False, header_comment=HEADER
            )
        catalog.update(template, no_fuzzy_matching=True)
        buffer = BytesIO()  # write only once the whole catalogue has been generated
        write_po(buffer, catalog, width=100, ignore_obsolete=True, include_previous=False)
        path.write_bytes(buffer.getvalue())
    reload_translations()


def main(argv: list[str]) -> int:
    """Command line: ``update`` merges new msgids, ``check`` lists missing Swedish ones."""
    command = argv[0] if argv else "check"
    if command == "update":
        update_catalogs()
        return 0
    missing = untranslated(extract_catalog())
    for msgid in missing:
        print(msgid)
    return 1 if missing else 0


if __name__ == "__main__":  # pragma: no cover - developer tool
    sys.exit(main(sys.argv[1:]))
