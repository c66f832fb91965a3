"""Shared pieces: samples and their statistics, alternating repetitions, result rows."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Config:
    """What the command line asked for."""

    reps: int = 5
    full: bool = False
    processes: int = 2
    managers: int = 10
    growth_100x: bool = False
    mails: int = 2000
    prefect_server: bool = False
    seed: int = 1


@dataclass
class Sample:
    """One repetition of one contender: how many operations, total seconds, latencies."""

    count: int
    seconds: float
    latencies: Sequence[float] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.count / self.seconds if self.seconds else math.nan

    def pct(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in seconds (nan without latencies)."""
        return percentile(self.latencies, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median, ignoring nan; nan when nothing is left."""
    clean = [v for v in values if not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def alternate(reps: int, contenders: dict[str, Callable[[], Sample]]) -> dict[str, list[Sample]]:
    """Run every contender ``reps`` times, interleaved, reversing the order every other round."""
    names = list(contenders)
    out: dict[str, list[Sample]] = {name: [] for name in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else reversed(names):
            out[name].append(contenders[name]())
    return out


def paired_ratio(ours: list[float], base: list[float]) -> float:
    """Median of the per-repetition ratios ours/baseline (neighbours in time share the load)."""
    return median([o / b for o, b in zip(ours, base, strict=True) if b])


@dataclass
class Row:
    """One line of the table: a metric for ours and a baseline, their ratio and the goal."""

    scenario: str
    metric: str
    unit: str
    ours: float
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def compare(scenario: str, metric: str, unit: str, ours: list[float], base: list[float] | None,
            baseline_name: str = "", goal: tuple[str, float] | None = None) -> Row:
    """A row from per-repetition values; ``goal`` is ('>=' or '<=', bound) on the ratio."""
    row = Row(scenario, metric, unit, median(ours), samples={"ours": list(ours)})
    if base is not None:
        row.baseline, row.baseline_name = median(base), baseline_name
        row.ratio = paired_ratio(ours, base)
        row.samples["baseline"] = list(base)
    if goal is not None and row.ratio is not None:
        op, bound = goal
        row.goal = f"ratio {op} {bound:g}"
        row.met = row.ratio >= bound if op == ">=" else row.ratio <= bound
    return row


@dataclass
class ScenarioResult:
    """The rows of one scenario plus details for the JSON file."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
