"""Scenario 5: scenario 1 (our side) at 1x, 10x and, by flag, 100x managers.

Time is the sum of the acts' durations (median of repetitions); peak memory is
traced with tracemalloc in one extra run per size (tracing slows Python down, so
it is never timed). The exponent is the least-squares slope of log(time) over
log(size), and over log(transitions) for the stricter reading.
"""

from __future__ import annotations

import gc
import math
import tracemalloc

from bench.common import Config, Row, ScenarioResult, median
from bench.database import BenchDatabase
from bench.walk import Walker

MIB = 2**20


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) over log(x)."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / den if den else math.nan


def measure(db: BenchDatabase, managers: int, reps: int) -> dict:
    """Time ``reps`` walks of one process with ``managers`` managers, then trace one."""
    times, count = [], 0
    for _ in range(reps):
        walk = Walker(db.fresh()).run(1, managers)
        times.append(sum(walk.durations))
        count = len(walk.durations)
    gc.collect()
    engine = db.fresh()
    tracemalloc.start()
    Walker(engine).run(1, managers)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"managers": managers, "transitions": count, "seconds": median(times),
            "all_seconds": times, "peak_mib": peak / MIB,
            "us_per_transition": median(times) / count * 1e6}


def reps_at(reps: int, factor: int) -> int:
    """Fewer repetitions for the larger sizes: all at 1x, half at 10x, one at 100x."""
    return reps if factor == 1 else (max(1, reps // 2) if factor == 10 else 1)


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Measure each size; fit the exponents of time and memory."""
    factors = [1, 10, 100] if cfg.growth_100x else [1, 10]
    points = [measure(db, cfg.managers * f, reps_at(cfg.reps, f)) for f in factors]
    sizes = [p["managers"] for p in points]
    secs, trans = [p["seconds"] for p in points], [p["transitions"] for p in points]
    name = "5 growth"
    rows = [Row(name, f"time at {f}x ({p['managers']} managers, {p['transitions']} transitions)", "s",
                p["seconds"]) for f, p in zip(factors, points, strict=True)]
    rows += [Row(name, f"peak traced memory at {f}x", "MiB", p["peak_mib"])
             for f, p in zip(factors, points, strict=True)]
    for label, xs in (("size", sizes), ("transitions", trans)):
        exp = slope(xs, secs)
        rows.append(Row(name, f"exponent of time over {label}", "", exp, goal="<= 1.1", met=exp <= 1.1))
    rows.append(Row(name, "exponent of memory over size", "", slope(sizes, [p["peak_mib"] for p in points]),
                    goal="<= 1.1", met=slope(sizes, [p["peak_mib"] for p in points]) <= 1.1))
    return ScenarioResult(name, rows, {"points": points})
