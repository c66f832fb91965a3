"""Translations, locale handling, formatting, and the completeness of the catalogues."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from chefoskop import i18n

PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")


def placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "sv"),
        ("", "sv"),
        ("sv", "sv"),
        ("sv_SE", "sv"),
        ("SV-se", "sv"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en_US", "en"),
        ("en-GB,en;q=0.9,sv;q=0.8", "en"),
        ("fi", "sv"),
        ("xx-YY", "sv"),
    ],
)
def test_normalise_locale(value: str | None, expected: str) -> None:
    assert i18n.normalise_locale(value) == expected


def test_gettext_translates_to_swedish_and_keeps_english() -> None:
    assert i18n.gettext("sv", "Open the task") == "Öppna uppgiften"
    assert i18n.gettext("en", "Open the task") == "Open the task"
    assert i18n.gettext("sv_SE", "New task: %(title)s", title="X") == "Ny uppgift: X"


def test_brace_placeholders_are_filled_too() -> None:
    assert i18n.gettext("en", "Opened {n} steps.", n=3) == "Opened 3 steps."
    assert i18n.gettext("en", "Literal {braces} stay") == "Literal {braces} stay"
    assert i18n.gettext("en", "50% done") == "50% done"


def test_unknown_msgid_falls_back_to_itself() -> None:
    assert i18n.gettext("sv", "Not in any catalogue") == "Not in any catalogue"


def test_ngettext_picks_the_plural_form() -> None:
    one = i18n.ngettext("sv", "%(num)s e-mail queued again.", "%(num)s e-mails queued again.", 1)
    many = i18n.ngettext("en", "%(num)s e-mail queued again.", "%(num)s e-mails queued again.", 3)
    assert one == "1 mejl har lagts i kön igen."
    assert many == "3 e-mails queued again."


def test_translations_are_cached_per_locale() -> None:
    assert i18n.get_translations("sv") is i18n.get_translations("sv_SE")
    assert i18n.get_translations("sv") is not i18n.get_translations("en")


def test_dates_and_numbers_follow_the_locale() -> None:
    assert i18n.format_date(date(2027, 3, 19), "sv") == "fredag 19 mars 2027"
    assert i18n.format_date("2027-03-19", "en") == "Friday, 19 March 2027"
    assert i18n.format_date(None, "sv") == ""
    assert i18n.format_number(1234.5, "sv") == "1\xa0234,5"
    assert i18n.format_number(1234.5, "en") == "1,234.5"
    assert i18n.format_percent(0.42, "sv") == "42\xa0%"


def test_times_are_shown_in_stockholm_time() -> None:
    start = "2027-04-08T07:00:00+00:00"  # 09:00 summer time in Stockholm
    end = "2027-04-08T10:00:00+00:00"
    assert i18n.format_time(start, "sv") == "09:00"
    assert i18n.format_time_range(start, end, "sv") == "torsdag 8 april 2027, 09:00–12:00"
    across = i18n.format_time_range(start, "2027-04-09T10:00:00+00:00", "en")
    assert "8 Apr 2027" in across and "9 Apr 2027" in across


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        i18n.format_datetime(datetime(2027, 4, 8, 9, 0), "sv")


def test_extraction_understands_locale_first_calls_and_templates(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        "gettext(locale, 'Alpha %(x)s', x=1)\n"
        "ngettext(loc, 'one thing', 'many things', n, extra=2)\n"
        "_('Beta')\nN_('Gamma')\n",
        encoding="utf-8",
    )
    templates = tmp_path / "pkg" / "templates"
    templates.mkdir(parents=True)
    (templates / "page.html").write_text(
        "{% trans name=n %}Hi {{ name }}{% endtrans %} {{ gettext('Delta') }}"
        "{% trans count=c %}{{ count }} item{% pluralize count %}{{ count }} items{% endtrans %}",
        encoding="utf-8",
    )
    ids = {m.id for m in i18n.extract_catalog(tmp_path) if m.id}
    assert ids == {
        "Alpha %(x)s", ("one thing", "many things"), "Beta", "Gamma", "Hi %(name)s", "Delta",
        ("%(count)s item", "%(count)s items"),
    }


def test_every_extracted_message_has_a_swedish_translation() -> None:
    """Runs extraction over the whole repository: new strings must reach the sv catalogue."""
    template = i18n.extract_catalog()
    assert len([m for m in template if m.id]) > 20
    missing = i18n.untranslated(template, "sv")
    assert not missing, (
        "untranslated msgids; run `python -m chefoskop.i18n update` and translate "
        f"locale/sv/LC_MESSAGES/messages.po: {missing}"
    )


def test_swedish_translations_keep_every_placeholder() -> None:
    for message in i18n.read_catalog("sv"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = placeholders(" ".join(ids))
        for text in strings:
            found = placeholders(text)
            # A singular form may spell the count out ("ett mejl"); nothing else may go missing.
            assert found <= wanted and wanted - found <= {"num", "count"}, message.id
