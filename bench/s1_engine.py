"""Scenario 1: the whole nine-step process through the engine's door, against two baselines.

Ours: ``Walker`` drives P organisations of N managers each from start to the
end, one engine call and one commit per act. Baseline A (storage limit): the
rows of that walk written with SQLAlchemy Core in the same transactions.
Baseline B (peer): SpiffWorkflow walking the same shape in memory, serialising
after each step.
"""

from __future__ import annotations

from collections import defaultdict

from bench import spiff_shape
from bench.capture import StatementLog, Transaction, replay, statements_per_transaction
from bench.common import Config, Sample, ScenarioResult, alternate, compare, median, percentile
from bench.database import BenchDatabase
from bench.walk import Walker, WalkResult

MS = 1000.0


def record_walk(db: BenchDatabase, cfg: Config) -> tuple[WalkResult, list[Transaction], int]:
    """A warm-up walk that records every write (for baseline A)."""
    engine = db.fresh()
    log = StatementLog(engine)
    walk = Walker(engine, log).run(cfg.processes, cfg.managers, cfg.seed)
    log.detach()
    return walk, log.transactions, log.rows_written


def ours_sample(db: BenchDatabase, cfg: Config) -> Sample:
    """One walk through the engine on an empty database."""
    walk = Walker(db.fresh()).run(cfg.processes, cfg.managers, cfg.seed)
    return Sample(len(walk.durations), sum(walk.durations), walk.durations,
                  {"wall_seconds": walk.seconds})


def core_sample(db: BenchDatabase, transactions: list[Transaction]) -> Sample:
    """The recorded writes replayed with Core into an empty database."""
    durations = replay(db.fresh(), transactions)
    return Sample(len(durations), sum(durations), durations)


def spiff_sample(cfg: Config) -> Sample:
    """SpiffWorkflow walking ``cfg.processes`` workflows of the same shape."""
    result = spiff_shape.run(cfg.processes)
    return Sample(len(result.durations), sum(result.durations), result.durations,
                  {"serialised_bytes": result.serialised_bytes})


def per_kind(walk: WalkResult) -> dict[str, dict[str, float]]:
    """p50/p95 in ms of each kind of act, from the walker's ordered record."""
    groups: dict[str, list[float]] = defaultdict(list)
    sent: dict[str, int] = defaultdict(int)
    for kind, seconds, n in zip(walk.order, walk.durations, walk.statements, strict=True):
        groups[kind].append(seconds)
        sent[kind] += n
    return {k: {"n": len(v), "p50_ms": percentile(v, 50) * MS, "p95_ms": percentile(v, 95) * MS,
                "total_s": sum(v), "statements_per_act": sent[k] / len(v)}
            for k, v in sorted(groups.items())}


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Measure ours, Core and SpiffWorkflow, alternating, ``cfg.reps`` times."""
    warm, transactions, rows = record_walk(db, cfg)
    spiff_shape.process_spec()
    samples = alternate(cfg.reps, {
        "ours": lambda: ours_sample(db, cfg),
        "core": lambda: core_sample(db, transactions),
        "spiff": lambda: spiff_sample(cfg),
    })
    ours, core, spiff = samples["ours"], samples["core"], samples["spiff"]
    name = "1 engine"
    rows_out = [
        compare(name, "transitions/s vs Core", "1/s", [s.rate for s in ours], [s.rate for s in core],
                "Core replay", (">=", 0.5)),
        compare(name, "p50 per transition vs Spiff", "ms", [s.pct(50) * MS for s in ours],
                [s.pct(50) * MS for s in spiff], "SpiffWorkflow", ("<=", 0.5)),
        compare(name, "p95 per transition vs Spiff", "ms", [s.pct(95) * MS for s in ours],
                [s.pct(95) * MS for s in spiff], "SpiffWorkflow"),
        compare(name, "p50 per transaction vs Core", "ms", [s.pct(50) * MS for s in ours],
                [s.pct(50) * MS for s in core], "Core replay"),
        compare(name, "transitions/s vs Spiff", "1/s", [s.rate for s in ours], [s.rate for s in spiff],
                "SpiffWorkflow"),
        compare(name, "statements per transition", "", [sum(warm.statements) / len(warm.statements)],
                [statements_per_transaction(transactions)], "Core replay"),
    ]
    details = {
        "processes": cfg.processes, "managers": cfg.managers, "transitions": ours[0].count,
        "spiff_steps": spiff[0].count, "kinds": warm.kinds, "audit_events": warm.audit_events,
        "outbox_rows": warm.outbox_rows, "rows_written": rows,
        "per_kind_warmup": per_kind(warm),
        "spiff_serialised_bytes": spiff[0].extra["serialised_bytes"],
        "core_seconds_median": median([s.seconds for s in core]),
        "ours_seconds_median": median([s.seconds for s in ours]),
    }
    return ScenarioResult(name, rows_out, details)
