"""A respondent's own answers, to read on screen or download as CSV (through their personal link)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import Session

from chefoskop.i18n import format_number, gettext
from surveys.respond import Respondent, open_link
from surveys.schema import Instrument, Item


def answer_label(instrument: Instrument, item: Item, value: Any, locale: str) -> str:
    """An answer as the respondent would read it ("4 – Stämmer ganska bra")."""
    if value is None:
        return ""
    if item.kind == "likert":
        point = next((p for p in instrument.scale(item.scale).points if p.value == value), None)
        return f"{value} – {point.label.get(locale)}" if point else str(value)
    if item.kind == "single_choice":
        option = next((o for o in item.options if o.value == value), None)
        return option.label.get(locale) if option else str(value)
    if item.kind == "number":
        return format_number(value, locale)
    return str(value)


def _item_rows(view: Respondent, locale: str) -> list[dict[str, str]]:
    items = view.answers.get("items", {})
    return [{"section": section.title.get(locale), "question": item.wording(locale, view.role),
             "answer": answer_label(view.instrument, item, items.get(item.key), locale)}
            for section in view.instrument.sections for item in section.items]


def _day_rows(view: Respondent, locale: str) -> list[dict[str, str]]:
    spec = view.instrument.logbook
    if spec is None:
        return []
    rows = []
    days = view.answers.get("days") or []
    for index in range(spec.days):
        day = days[index] if index < len(days) else None
        label = gettext(locale, "Day %(number)s", number=index + 1)
        if not day:
            rows.append({"section": label, "question": gettext(locale, "Hours worked"), "answer": ""})
            continue
        rows.append({"section": label, "question": gettext(locale, "Hours worked"),
                     "answer": format_number(day["hours"], locale)})
        for split, cats in (("areas", spec.areas), ("forms", spec.forms)):
            rows += [{"section": label, "question": c.label.get(locale),
                      "answer": format_number(day[split].get(c.key, 0), locale)} for c in cats]
        if day.get("comment"):
            rows.append({"section": label, "question": gettext(locale, "Comment"),
                         "answer": day["comment"]})
    return rows


def own_answers(session: Session, token: str, locale: str | None = None) -> dict[str, Any]:
    """The respondent's own answers in readable rows, with the survey's title and status."""
    view = open_link(session, token)
    lang = locale or view.locale
    return {"title": view.instrument.title.get(lang), "status": view.status,
            "rows": _day_rows(view, lang) + _item_rows(view, lang)}


def own_answers_csv(session: Session, token: str, locale: str | None = None) -> str:
    """The respondent's own answers as CSV (section, question, answer)."""
    data = own_answers(session, token, locale)
    lang = locale or open_link(session, token).locale
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([gettext(lang, "Section"), gettext(lang, "Question"), gettext(lang, "Answer")])
    writer.writerows([r["section"], r["question"], r["answer"]] for r in data["rows"])
    return out.getvalue()
