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


def collect_values(rows: Iterable[Answers], keys: Iterable[str]) -> dict[str, dict[str, list[Any]]]:
    """Item key -> group -> the answers to it, in row order, in one pass over the rows.

    Only ``keys`` are collected; a missing or null answer is no answer.
    """
    found: dict[str, dict[str, list[Any]]] = {key: {} for key in keys}
    for group, doc in rows:
        for key, value in (doc.get("items") or {}).items():
            by_group = found.get(key)
            if by_group is None or value is None:
                continue
            bucket = by_group.get(group)
            if bucket is None:
                by_group[group] = [value]
            else:
                bucket.append(value)
    return found


def _cells(publication: Publication, keys: Iterable[str], make) -> dict[str, dict | None]:
    return {k: (make(k) if publication.shown(k) else None) for k in keys}


def summarise_item(instrument: Instrument, item: Item, values: dict[str, list[Any]],
                   managers: list[str], management: list[str], threshold: int,
                   forced: frozenset) -> dict[str, Any]:
    """One item's published cells: overall, per manager group, and top management.

    ``values`` are the item's answers by group (see ``collect_values``).
    """
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


def _org_average(instrument: Instrument, values: dict[str, dict[str, list[Any]]],
                 managers: list[str]) -> float | None:
    """The mean favourable score of every Likert answer of the manager groups."""
    scores: list[float] = []
    for item in instrument.items():
        if item.kind != "likert":
            continue
        scale = instrument.scale(item.scale)
        flip = scale.low + scale.high
        for group in managers:
            found = values[item.key].get(group)
            if found:
                scores.extend(found if item.polarity == "positive" else [flip - v for v in found])
    return statistics.fmean(scores) if scores else None  # fsum: the order does not matter


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
    aggregated = [item for item in instrument.items() if item.kind != "free_text"]
    values = collect_values(rows, [item.key for item in aggregated])
    items = [summarise_item(instrument, item, values[item.key], managers, management, threshold,
                            pub.hidden) for item in aggregated]
    average = _org_average(instrument, values, managers) if pub.parent_shown else None
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
