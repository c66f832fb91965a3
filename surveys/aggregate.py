"""Aggregating a mapping's answers into published results (pure functions, no I/O).

Input: the instrument, the mapping groups with their invitation counts, and the
submitted answers tagged only with their group. Output: a JSON-ready document in
which every group cell has passed ``surveys.anonymity`` (hidden cells carry no
numbers at all). Free-text answers are never aggregated into results.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from surveys.anonymity import Publication, single, suppress
from surveys.schema import Instrument, Item

# "Clearly" above or below, in scale points (shown in the report with the rule).
MIDDLE_MARGIN = 0.5
AVERAGE_MARGIN = 0.25


@dataclass(frozen=True)
class GroupInfo:
    """A mapping group as the results see it: no members, only counts."""

    key: str
    name: str
    kind: str  # "managers" or "management"
    invited: int
    answered: int


Answers = tuple[str, dict]  # (group key, answers document)


def _favourable(instrument: Instrument, item: Item, value: float) -> float:
    scale = instrument.scale(item.scale)
    return value if item.polarity == "positive" else scale.low + scale.high - value


def item_cell(instrument: Instrument, item: Item, values: Sequence[Any]) -> dict[str, Any]:
    """The statistics of one item over ``values`` (already known to be publishable)."""
    cell: dict[str, Any] = {"n": len(values)}
    if item.kind == "likert":
        points = [p.value for p in instrument.scale(item.scale).points]
        counts = Counter(values)
        cell["mean"] = statistics.fmean(values)
        cell["favourable"] = _favourable(instrument, item, cell["mean"])
        cell["distribution"] = {str(p): counts.get(p, 0) for p in points}
    elif item.kind == "single_choice":
        counts = Counter(values)
        cell["distribution"] = {o.value: counts.get(o.value, 0) for o in item.options}
    elif item.kind == "number":
        cell["mean"] = statistics.fmean(values)
        cell["median"] = statistics.median(values)
    return cell


def _values(rows: Iterable[Answers], item_key: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for group, doc in rows:
        value = (doc.get("items") or {}).get(item_key)
        if value is not None:
            found.setdefault(group, []).append(value)
    return found


def _cells(publication: Publication, keys: Iterable[str], make) -> dict[str, dict | None]:
    return {k: (make(k) if publication.shown(k) else None) for k in keys}


def summarise_item(instrument: Instrument, item: Item, rows: list[Answers], managers: list[str],
                   management: list[str], threshold: int, forced: frozenset) -> dict[str, Any]:
    """One item's published cells: overall, per manager group, and top management."""
    values = _values(rows, item.key)
    counts = {g: len(values.get(g, [])) for g in managers}
    pub = suppress(counts, threshold, forced=forced)
    overall_values = [v for g in managers for v in values.get(g, [])]
    mgmt_values = [v for g in management for v in values.get(g, [])]
    return {
        "key": item.key, "kind": item.kind, "polarity": item.polarity, "scale": item.scale,
        "overall": item_cell(instrument, item, overall_values) if pub.parent_shown else None,
        "groups": _cells(pub, managers, lambda g: item_cell(instrument, item, values[g])),
        "management": (item_cell(instrument, item, mgmt_values)
                       if management and single(len(mgmt_values), threshold) else None),
    }


def participation(groups: list[GroupInfo], respondents: Counter, threshold: int) -> tuple[dict, Publication]:
    """Response counts and rates per group and overall, with small groups hidden."""
    managers = [g for g in groups if g.kind == "managers"]
    pub = suppress({g.key: respondents[g.key] for g in managers}, threshold)

    def cell(gs: list[GroupInfo]) -> dict[str, Any]:
        invited = sum(g.invited for g in gs)
        n = sum(respondents[g.key] for g in gs)
        return {"invited": invited, "n": n, "rate": n / invited if invited else 0.0}

    rows = [{"key": g.key, "name": g.name, "kind": g.kind,
             "shown": pub.shown(g.key) if g.kind == "managers" else single(respondents[g.key], threshold)}
            for g in groups]
    for row, g in zip(rows, groups, strict=True):
        if row["shown"]:
            row.update(cell([g]))
        else:  # too few answers, or hidden so that a smaller group cannot be derived
            row["hidden_because"] = "few" if respondents[g.key] < threshold else "protects"
    overall = cell(managers) if pub.parent_shown else None
    return {"overall": overall, "groups": rows}, pub


def classify(favourable: float, middle: float, org_average: float) -> str | None:
    """'strength', 'development' or None, by the rule shown in the report."""
    if favourable >= middle + MIDDLE_MARGIN and favourable >= org_average + AVERAGE_MARGIN:
        return "strength"
    if favourable <= middle - MIDDLE_MARGIN and favourable <= org_average - AVERAGE_MARGIN:
        return "development"
    return None


def _org_average(instrument: Instrument, rows: list[Answers], managers: set[str]) -> float | None:
    scores = [_favourable(instrument, item, v) for group, doc in rows if group in managers
              for item in instrument.items() if item.kind == "likert"
              for v in [(doc.get("items") or {}).get(item.key)] if v is not None]
    return statistics.fmean(scores) if scores else None


def findings(instrument: Instrument, items: list[dict], org_average: float | None) -> dict:
    """Strengths and development areas overall and per shown group."""
    out: dict[str, dict[str, list[str]]] = {}
    if org_average is None:
        return out
    for entry in items:
        if entry["kind"] != "likert":
            continue
        middle = instrument.scale(entry["scale"]).middle
        cells = {"overall": entry["overall"], **entry["groups"]}
        for where, cell in cells.items():
            verdict = cell and classify(cell["favourable"], middle, org_average)
            if verdict:
                out.setdefault(where, {"strength": [], "development": []})[verdict].append(entry["key"])
    return out


def summarise(instrument: Instrument, groups: list[GroupInfo], rows: list[Answers],
              threshold: int) -> dict[str, Any]:
    """The published results of one mapping."""
    from surveys.timeuse import summarise_time_use

    respondents = Counter(group for group, _ in rows)
    part, pub = participation(groups, respondents, threshold)
    managers = [g.key for g in groups if g.kind == "managers"]
    management = [g.key for g in groups if g.kind == "management"]
    items = [summarise_item(instrument, item, rows, managers, management, threshold, pub.hidden)
             for item in instrument.items() if item.kind != "free_text"]
    average = _org_average(instrument, rows, set(managers)) if pub.parent_shown else None
    result = {
        "instrument": {"key": instrument.key, "version": instrument.version,
                       "mapping": instrument.mapping, "kind": instrument.kind},
        "threshold": threshold,
        "rule": {"middle_margin": MIDDLE_MARGIN, "average_margin": AVERAGE_MARGIN},
        "participation": part,
        "items": items,
        "org_average": average,
        "findings": findings(instrument, items, average),
    }
    if instrument.logbook is not None:
        result["time_use"] = summarise_time_use(instrument, rows, managers, pub)
    return result
