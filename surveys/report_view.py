"""Turning published results into what the report shows (numbers formatted, charts drawn).

Works only on the published document from ``surveys.results``: a hidden cell is
``None`` there and becomes the hidden marker here, never a number or a bar.
"""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal

from chefoskop.i18n import BABEL_LOCALES, format_percent, gettext
from surveys import charts
from surveys.schema import Instrument


def one_decimal(value: float, locale: str) -> str:
    """A mean as people read it: one decimal, the locale's separator ('3,0')."""
    return format_decimal(value, format="#,##0.0", locale=BABEL_LOCALES[locale])


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
    if item_key in overall.get("strength", []):
        return "strength"
    if item_key in overall.get("development", []):
        return "development"
    return None


def item_rows(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Likert and number items: the mean per column (None where hidden)."""
    cols = columns(results, locale)
    rows = []
    for entry in results["items"]:
        if entry["kind"] not in ("likert", "number"):
            continue
        item = instrument.item(entry["key"])
        section = next(s for s in instrument.sections if item in s.items)
        rows.append({"key": item.key, "section": section.title.get(locale), "text": item.text.get(locale),
                     "negative": item.polarity == "negative", "finding": _finding_of(results, item.key),
                     "cells": [_mean(_cell(entry, k), locale) for k, _ in cols]})
    return rows


def choice_tables(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Single-choice items: each option's share per column (None where hidden)."""
    cols = columns(results, locale)
    tables = []
    for entry in results["items"]:
        if entry["kind"] != "single_choice":
            continue
        item = instrument.item(entry["key"])
        rows = []
        for option in item.options:
            cells = []
            for key, _ in cols:
                cell = _cell(entry, key)
                share = cell["distribution"][option.value] / cell["n"] if cell and cell["n"] else None
                cells.append(None if share is None else format_percent(share, locale))
            rows.append({"label": option.label.get(locale), "cells": cells})
        tables.append({"text": item.text.get(locale), "rows": rows})
    return tables


def findings_by_group(instrument: Instrument, results: dict, locale: str) -> list[dict[str, Any]]:
    """Strengths and development areas (question texts) overall and for each shown group."""
    names = dict(columns(results, locale))
    out = []
    for where, found in results["findings"].items():
        out.append({"name": names.get(where, where),
                    "strength": [instrument.item(k).text.get(locale) for k in found["strength"]],
                    "development": [instrument.item(k).text.get(locale) for k in found["development"]]})
    return out


def mean_charts(instrument: Instrument, results: dict, locale: str) -> list[Any]:
    """Means of the Likert items for all managers (and top management when shown), one chart per scale."""
    entries = [e for e in results["items"] if e["kind"] == "likert" and e["overall"]]
    with_mgmt = any(e["management"] for e in entries)
    series = [gettext(locale, "All managers")] + ([gettext(locale, "Top management")] if with_mgmt else [])
    charts_out = []
    for scale_key in dict.fromkeys(e["scale"] for e in entries):
        scale = instrument.scale(scale_key)
        rows = [(instrument.item(e["key"]).text.get(locale),
                 [e["overall"]["mean"]] + ([e["management"]["mean"] if e["management"] else None]
                                           if with_mgmt else []))
                for e in entries if e["scale"] == scale_key]
        charts_out.append(charts.mean_bars(gettext(locale, "Mean per question"), rows, series,
                                           scale.low, scale.high, scale.middle,
                                           fmt=lambda v: one_decimal(v, locale)))
    return charts_out


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
    for split, cats, title in (("areas", spec.areas, gettext(locale, "Time by area")),
                               ("forms", spec.forms, gettext(locale, "Time by form of work"))):
        out["splits"].append({"title": title, "rows": [
            {"label": c.label.get(locale),
             "cells": [format_percent(cells[k][split][c.key], locale) if cells.get(k) else None
                       for k, _ in cols]} for c in cats]})
        shown = [(name, cells[k][split]) for k, name in cols if cells.get(k)]
        if shown:
            out["charts"].append(charts.stacked_shares(
                title, shown, [(c.key, c.label.get(locale)) for c in cats]))
    return out


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
            a, b = _cell(previous[entry["key"]], key), _cell(entry, key)
            if a is None or b is None:
                cells.append(None)
                continue
            change = b["mean"] - a["mean"]
            sign = "+" if round(change, 1) > 0 else ""
            cells.append(f"{_mean(a, locale)} → {_mean(b, locale)} ({sign}{one_decimal(change, locale)})")
        rows.append({"text": instrument.item(entry["key"]).text.get(locale), "cells": cells})
    return rows
