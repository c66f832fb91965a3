"""Time-use shares from the five-day logbooks (pure functions, no I/O).

For a set of logbooks: hours per logged day on average, and each area's and each
form's share of all logged hours (pooled, so a long day weighs more than a short
one). Group cells follow the same publication as the mapping's participation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from surveys.anonymity import Publication
from surveys.schema import Instrument


def _days(doc: dict) -> list[dict]:
    return [d for d in (doc.get("days") or []) if d]


def time_use_cell(instrument: Instrument, docs: Iterable[dict]) -> dict[str, Any]:
    """Mean hours per day and the shares by area and by form over ``docs``."""
    spec = instrument.logbook
    docs = list(docs)
    days = [day for doc in docs for day in _days(doc)]
    total = sum([day["hours"] for day in days])

    def shares(split: str, keys: list[str]) -> dict[str, float]:
        parts = [day[split] for day in days]
        sums = {k: sum([part.get(k, 0.0) for part in parts]) for k in keys}  # lists: faster than generators
        whole = sum(sums.values())
        return {k: (v / whole if whole else 0.0) for k, v in sums.items()}

    return {
        "n": len(docs),
        "days": len(days),
        "hours_per_day": total / len(days) if days else 0.0,
        "areas": shares("areas", [c.key for c in spec.areas]),
        "forms": shares("forms", [c.key for c in spec.forms]),
    }


def summarise_time_use(instrument: Instrument, rows: list[tuple[str, dict]], managers: list[str],
                       publication: Publication) -> dict[str, Any]:
    """Time use overall and per shown manager group (hidden groups carry no numbers)."""
    by_group: dict[str, list[dict]] = {}
    for group, doc in rows:
        by_group.setdefault(group, []).append(doc)
    overall_docs = [doc for g in managers for doc in by_group.get(g, [])]
    return {
        "overall": time_use_cell(instrument, overall_docs) if publication.parent_shown else None,
        "groups": {g: (time_use_cell(instrument, by_group.get(g, []))
                       if publication.shown(g) else None) for g in managers},
    }


def largest_shares(shares: dict[str, float], count: int) -> list[tuple[str, float]]:
    """The ``count`` largest (key, share) pairs of one split, largest first (for display)."""
    return sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))[:count]
