"""Turning published results into what the report shows (numbers formatted, charts drawn).

Works only on the published document from ``surveys.results``: a hidden cell is
``None`` there and becomes the hidden marker here, never a number or a bar. As a
second guard, a cell with fewer answers than the threshold is treated as hidden
too (``shown_cell``), so nothing below the threshold is written even if a
document were built by other means.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal

from chefoskop.i18n import BABEL_LOCALES, N_, format_number, format_percent, gettext, ngettext
from surveys import charts
from surveys.schema import Instrument, Item, Section
from surveys.timeuse import largest_shares

STRENGTH, DEVELOPMENT = "strength", "development"
# Why a question is a finding, by (finding, polarity): what "good" means on it, in words.
WHY = {
    (STRENGTH, "positive"): N_("High is good here: the mean is clearly above the middle of the scale "
                               "and above the average of all questions."),
    (STRENGTH, "negative"): N_("Low is good here: the question is worded negatively, and the mean is "
                               "clearly below the middle of the scale, better than the average of all "
                               "questions."),
    (DEVELOPMENT, "positive"): N_("High is good here: the mean is clearly below the middle of the scale "
                                  "and below the average of all questions."),
    (DEVELOPMENT, "negative"): N_("Low is good here: the question is worded negatively, and the mean is "
                                  "clearly above the middle of the scale, worse than the average of all "
                                  "questions."),
}


def one_decimal(value: float, locale: str) -> str:
    """A mean as people read it: one decimal, the locale's separator ('3,0')."""
    return format_decimal(value, format="#,##0.0", locale=BABEL_LOCALES[locale])


def answers_text(n: int, locale: str) -> str:
    """'37 svar' / '37 answers'."""
    return ngettext(locale, "%(num)s answer", "%(num)s answers", n)


def shown_cell(cell: dict | None, threshold: int) -> dict | None:
    """The cell when it may be shown: published and answered by at least ``threshold`` people."""
    return cell if cell is not None and cell.get("n", 0) >= threshold else None


def _mean(cell: dict | None, locale: str) -> str | None:
    return one_decimal(cell["mean"], locale) if cell and "mean" in cell else None


def columns(results: dict, locale: str) -> list[tuple[str, str]]:
    """(key, heading) of the report's columns: all managers, each group, top management."""
    cols = [("overall", gettext(locale, "All managers"))]
    cols += [(g["key"], g["name"]) for g in results["participation"]["groups"] if g["kind"] == "managers"]
    if any(g["kind"] == "management" for g in results["participation"]["groups"]):
        cols.append(("management", gettext(locale, "Top management")))
    return cols


def _cell(entry: dict, key: str) -> dict | None:
    if key in ("overall", "management"):
        return entry[key]
    return entry["groups"].get(key)


def _visible(entry: dict, key: str, threshold: int) -> dict | None:
    return shown_cell(_cell(entry, key), threshold)


def participation_rows(results: dict, locale: str) -> list[dict[str, Any]]:
    """One row per group (and all managers): invited, answered, rate, or hidden."""
    part = results["participation"]
    rows = [{"name": gettext(locale, "All managers"), **(part["overall"] or {}),
             "hidden": part["overall"] is None}]
    rows += [{"name": g["name"], **g, "hidden": not g["shown"]} for g in part["groups"]]
    for row in rows:
        if not row["hidden"]:
            row["rate_text"] = format_percent(row["rate"], locale)
        else:
            row["marker"] = hidden_marker(row.get("hidden_because", "few"), results["threshold"], locale)
    return rows


def hidden_marker(reason: str, threshold: int, locale: str) -> str:
    """Why a group's results are not shown, in ``locale``."""
    if reason == "protects":
        return gettext(locale, "hidden (so that a smaller group cannot be worked out)")
    return gettext(locale, "hidden (fewer than %(threshold)s answers)", threshold=threshold)


def _finding_of(results: dict, item_key: str) -> str | None:
    overall = results["findings"].get("overall", {})
    if item_key in overall.get(STRENGTH, []):
        return STRENGTH
    if item_key in overall.get(DEVELOPMENT, []):
        return DEVELOPMENT
    return None


def section_of(instrument: Instrument, item: Item) -> Section:
    """The section that holds ``item``."""
    return next(s for s in instrument.sections if item in s.items)


def item_rows(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Likert and number items: the mean per column (None where hidden), with the section."""
    cols = columns(results, locale)
    threshold = results["threshold"]
    rows = []
    for entry in results["items"]:
        if entry["kind"] not in ("likert", "number"):
            continue
        item = instrument.item(entry["key"])
        cells = [_visible(entry, k, threshold) for k, _ in cols]
        rows.append({"key": item.key, "kind": item.kind,
                     "section": section_of(instrument, item).title.get(locale),
                     "text": item.text.get(locale), "negative": item.polarity == "negative",
                     "finding": _finding_of(results, item.key),
                     "cells": [_mean(c, locale) for c in cells],
                     "answers": [answers_text(c["n"], locale) if c else None for c in cells]})
    return rows


def question_sections(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """The Likert rows of ``item_rows`` grouped under their section titles, in instrument order."""
    sections: list[dict[str, Any]] = []
    for row in item_rows(instrument, results, locale):
        if row["kind"] != "likert":
            continue
        if not sections or sections[-1]["title"] != row["section"]:
            sections.append({"title": row["section"], "rows": []})
        sections[-1]["rows"].append(row)
    return sections


def _items_of_kind(instrument: Instrument, results: dict, locale: str, kind: str):
    """Each item of ``kind`` with its visible cells per column (None where hidden) and the
    table head both number and choice tables start from."""
    threshold = results["threshold"]
    keys = [k for k, _ in columns(results, locale)]
    for entry in results["items"]:
        if entry["kind"] == kind:
            item = instrument.item(entry["key"])
            head = {"text": item.text.get(locale), "section": section_of(instrument, item).title.get(locale)}
            yield item, [_visible(entry, k, threshold) for k in keys], head


def number_tables(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Number items (e.g. staff per manager): mean, median and answers per column."""
    return [{**head, "rows": [
        {"label": gettext(locale, "Mean"), "cells": [_mean(c, locale) for c in cells]},
        {"label": gettext(locale, "Median"),
         "cells": [format_number(c["median"], locale) if c else None for c in cells]},
        {"label": gettext(locale, "Answers"), "cells": [str(c["n"]) if c else None for c in cells]}]}
        for _, cells, head in _items_of_kind(instrument, results, locale, "number")]


def choice_tables(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Single-choice items: each option's share per column (None where hidden), and the answers."""
    return [{**head, "rows": [
        {"label": option.label.get(locale), "cells": [
            format_percent(c["distribution"][option.value] / c["n"], locale) if c else None
            for c in cells]} for option in item.options],
        "answers": [str(c["n"]) if c else None for c in cells]}
        for item, cells, head in _items_of_kind(instrument, results, locale, "single_choice")]


def _nearest_point(instrument: Instrument, item: Item, mean: float, locale: str) -> str:
    points = instrument.scale(item.scale).points
    return min(points, key=lambda p: (abs(p.value - mean), p.value)).label.get(locale)


def _finding(instrument: Instrument, entry: dict, cell: dict, kind: str, locale: str) -> dict[str, Any]:
    item = instrument.item(entry["key"])
    mean = one_decimal(cell["mean"], locale)
    section, text = in_context(instrument, item, locale)
    return {"kind": kind, "section": section, "text": text, "negative": item.polarity == "negative",
            "mean": mean,
            "value": gettext(locale, "Mean %(mean)s (closest answer: “%(answer)s”), %(answers)s.",
                             mean=mean, answer=_nearest_point(instrument, item, cell["mean"], locale),
                             answers=answers_text(cell["n"], locale)),
            "why": gettext(locale, WHY[(kind, item.polarity)])}


def findings_by_group(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Strengths, then development areas, for all managers and then each shown group, with the
    section, the mean, and what makes each one a strength or a development area."""
    entries = {e["key"]: e for e in results["items"]}
    out = []
    for where, name in columns(results, locale):
        found = results["findings"].get(where)
        if not found:
            continue
        items = []
        for kind in (STRENGTH, DEVELOPMENT):
            for key in found.get(kind, []):
                cell = _visible(entries[key], where, results["threshold"])
                if cell is not None:
                    items.append(_finding(instrument, entries[key], cell, kind, locale))
        if items:
            out.append({"name": name, "entries": items})
    return out


def _polarity_note(entries: list[dict], locale: str) -> str:
    negative = [e for e in entries if e["polarity"] == "negative"]
    if not negative:
        return gettext(locale, "A high value is favourable on every question here.")
    if len(negative) == len(entries):
        return gettext(locale, "Every question here is worded negatively (−): a low value is favourable.")
    return gettext(locale, "A high value is favourable, except on questions marked (−): they are "
                           "worded negatively, so there a low value is favourable.")


def _rows_by_section(instrument: Instrument, entries: list[dict], locale: str, values) -> list[charts.Row]:
    rows: list[charts.Row] = []
    current = None
    for entry in entries:
        item = instrument.item(entry["key"])
        section = section_of(instrument, item)
        if section.key != current:
            rows.append((section.title.get(locale), None))
            current = section.key
        label = item.text.get(locale) + (" (−)" if item.polarity == "negative" else "")
        rows.append((label, values(entry)))
    return rows


def _series(results: dict, entries: list[dict], locale: str) -> tuple[list[str], list[str]]:
    """(keys, names) of the chart series: all managers, and top management when it took part."""
    with_mgmt = any(g["kind"] == "management" for g in results["participation"]["groups"])
    keys = ["overall"] + (["management"] if with_mgmt else [])
    names = [gettext(locale, "All managers")] + ([gettext(locale, "Top management")] if with_mgmt else [])
    return keys, names


def mean_charts(instrument: Instrument, results: dict, locale: str) -> list[Any]:
    """Means of the Likert items for all managers (and top management), one chart per scale,
    grouped by section, with the scale's ends in words and the middle line explained."""
    threshold = results["threshold"]
    entries = [e for e in results["items"] if e["kind"] == "likert" and _visible(e, "overall", threshold)]
    keys, series = _series(results, entries, locale)
    title = (gettext(locale, "Mean per question, all managers and top management") if len(keys) > 1
             else gettext(locale, "Mean per question, all managers"))
    out = []
    for scale_key in dict.fromkeys(e["scale"] for e in entries):
        scale = instrument.scale(scale_key)
        mine = [e for e in entries if e["scale"] == scale_key]

        def means(entry: dict) -> list[float | None]:
            return [c["mean"] if (c := _visible(entry, k, threshold)) else None for k in keys]

        out.append(charts.mean_bars(
            title, _rows_by_section(instrument, mine, locale, means), series, scale.low, scale.high,
            scale.middle, fmt=lambda v: one_decimal(v, locale),
            low_label=scale.points[0].label.get(locale), high_label=scale.points[-1].label.get(locale),
            middle_label=gettext(locale, "Middle of the scale (%(middle)s)",
                                 middle=format_number(scale.middle, locale)),
            notes=[_polarity_note(mine, locale)], hidden=gettext(locale, "hidden")))
    return out


def distribution_charts(instrument: Instrument, results: dict, locale: str) -> list[Any]:
    """How the answers spread over the scale, per Likert item, for all managers (and top
    management), one chart per scale; only cells with at least the threshold of answers."""
    threshold = results["threshold"]
    entries = [e for e in results["items"] if e["kind"] == "likert" and _visible(e, "overall", threshold)]
    keys, series = _series(results, entries, locale)
    title = (gettext(locale, "Spread of the answers, all managers and top management") if len(keys) > 1
             else gettext(locale, "Spread of the answers, all managers"))
    out = []
    for scale_key in dict.fromkeys(e["scale"] for e in entries):
        scale = instrument.scale(scale_key)
        mine = [e for e in entries if e["scale"] == scale_key]

        def cells(entry: dict) -> list[dict | None]:
            return [_visible(entry, k, threshold) for k in keys]

        out.append(charts.distribution_bars(
            title, _rows_by_section(instrument, mine, locale, cells),
            [(str(p.value), p.label.get(locale)) for p in scale.points], series,
            count_label=lambda n: answers_text(n, locale), share=lambda v: format_percent(v, locale),
            notes=[gettext(locale, "Each bar is the share of the answers given to each point of the "
                                   "scale."), _polarity_note(mine, locale)],
            hidden=gettext(locale, "hidden")))
    return out


def time_use(instrument: Instrument, results: dict, locale: str) -> dict[str, Any] | None:
    """Time-use tables and charts of a logbook mapping (shown groups only in charts)."""
    data = results.get("time_use")
    if not data:
        return None
    cols = [(k, n) for k, n in columns(results, locale) if k != "management"]
    cells = {"overall": data["overall"], **data["groups"]}
    spec = instrument.logbook
    out: dict[str, Any] = {"headings": [n for _, n in cols], "hours": [
        one_decimal(cells[k]["hours_per_day"], locale) if cells.get(k) else None
        for k, _ in cols], "splits": [], "charts": []}
    for split, cats, title, chart_title in (
            ("areas", spec.areas, gettext(locale, "Time by area"),
             gettext(locale, "Share of the logged hours by area")),
            ("forms", spec.forms, gettext(locale, "Time by form of work"),
             gettext(locale, "Share of the logged hours by form of work"))):
        out["splits"].append({"title": title, "rows": [
            {"label": c.label.get(locale),
             "cells": [format_percent(cells[k][split][c.key], locale) if cells.get(k) else None
                       for k, _ in cols]} for c in cats]})
        shown = [(name, cells[k][split]) for k, name in cols if cells.get(k)]
        if shown:
            out["charts"].append(charts.stacked_shares(
                chart_title, shown, [(c.key, c.label.get(locale)) for c in cats],
                fmt=lambda v: format_percent(v, locale)))
    return out


def time_use_summary(instrument: Instrument, results: dict, locale: str) -> list[str]:
    """A few lines on all managers' time use: hours per day and the largest shares."""
    data = results.get("time_use")
    overall = data and data["overall"]
    if not overall:
        return []
    spec = instrument.logbook
    hours = one_decimal(overall["hours_per_day"], locale)
    lines = [gettext(locale, "%(hours)s hours per logged day", hours=hours)]
    for split, cats, count, msgid in (
            ("areas", spec.areas, 3, N_("Largest areas: %(shares)s")),
            ("forms", spec.forms, 2, N_("Largest forms of work: %(shares)s"))):
        labels = {c.key: c.label.get(locale) for c in cats}
        shares = ", ".join(f"{labels[key]} {format_percent(share, locale)}"
                           for key, share in largest_shares(overall[split], count))
        lines.append(gettext(locale, msgid, shares=shares))
    return lines


def largest_gaps(instrument: Instrument, results: dict, locale: str, count: int = 2) -> list[str]:
    """Where all managers and top management differ most (both shown), largest first."""
    threshold = results["threshold"]
    gaps = []
    for entry in results["items"]:
        if entry["kind"] != "likert":
            continue
        managers, management = _visible(entry, "overall", threshold), _visible(entry, "management", threshold)
        if managers and management:
            gaps.append((abs(management["mean"] - managers["mean"]), entry["key"], managers, management))
    gaps.sort(key=lambda g: (-g[0], g[1]))
    return [gettext(locale, "%(question)s: managers %(managers)s, top management %(management)s",
                    question=_short_question(instrument, key, locale),
                    managers=one_decimal(a["mean"], locale), management=one_decimal(b["mean"], locale))
            for gap, key, a, b in gaps[:count] if round(gap, 1) > 0]


def is_stem(section: Section, locale: str) -> bool:
    """Whether the section's title is the open start of its questions ("How easy is it to get
    support from ..."), so that each item reads as the end of that sentence."""
    return section.title.get(locale).rstrip().endswith(("...", "…"))


def in_context(instrument: Instrument, item: Item, locale: str) -> tuple[str | None, str]:
    """(section title, question) to show a question on its own; a stem section and its item
    become one sentence ("How easy is it to get support from IT") with no separate title."""
    section = section_of(instrument, item)
    if is_stem(section, locale):
        stem = section.title.get(locale).rstrip().rstrip(".…").rstrip()
        return None, f"{stem} {item.text.get(locale)}"
    return section.title.get(locale), item.text.get(locale)


def _short_question(instrument: Instrument, key: str, locale: str) -> str:
    return in_context(instrument, instrument.item(key), locale)[1]


def comparison(instrument: Instrument, before: dict, after: dict, locale: str) -> list[dict[str, Any]]:
    """Before and after per item and column where both are shown, with the change."""
    cols = columns(after, locale)
    previous = {e["key"]: e for e in before["items"]}
    rows = []
    for entry in after["items"]:
        if entry["kind"] != "likert" or entry["key"] not in previous:
            continue
        cells = []
        for key, _ in cols:
            a = _visible(previous[entry["key"]], key, before["threshold"])
            b = _visible(entry, key, after["threshold"])
            if a is None or b is None:
                cells.append(None)
                continue
            change = b["mean"] - a["mean"]
            sign = "+" if round(change, 1) > 0 else ""
            cells.append(f"{_mean(a, locale)} → {_mean(b, locale)} ({sign}{one_decimal(change, locale)})")
        item = instrument.item(entry["key"])
        rows.append({"text": item.text.get(locale), "section": section_of(instrument, item).title.get(locale),
                     "negative": item.polarity == "negative", "cells": cells})
    return rows
