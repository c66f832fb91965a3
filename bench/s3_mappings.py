"""Scenario 3: the mappings at scale: ingesting answers and computing every group's results.

Set-up (not timed): O organisations of M managers, each with a started process
whose three mappings (steps 4, 5 and 6: two surveys and the five-day logbook)
are sent out with ``surveys.distribution.open_survey`` (the walk to step 4 is
skipped: it is scenario 1's business). Ours: every invited manager answers
through ``surveys.simulate`` (the respondent's own path, one transaction per
survey), then ``compute_results`` aggregates each closed survey with the
anonymity rules. Baseline: the same answers counted per survey, group, item and
value with one SQL GROUP BY (plus one for the logbook hours) in the same
database, cells under the threshold dropped.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from datetime import timedelta

from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.orm import Session

from bench.common import Config, Row, Sample, ScenarioResult, alternate, compare, median
from bench.database import BenchDatabase
from bench.walk import NOW
from chefoskop import clock
from chefoskop.seed import build_organisation
from flows import engine
from flows.engine.steps import process_step
from models import Response
from surveys.distribution import close_survey, open_survey
from surveys.loader import shipped_instruments
from surveys.results import compute_results
from surveys.simulate import simulate_answers

MIB = 2**20
ANSWERED = NOW + timedelta(hours=2)
ITEMS_SQL = {
    "sqlite": """SELECT r.survey_id, r.group_id, j.key, j.value, count(*) FROM survey_response r,
        json_each(r.answers, '$.items') j WHERE r.status = 'submitted' AND j.key NOT IN :skip
        GROUP BY r.survey_id, r.group_id, j.key, j.value""",
    "postgresql": """SELECT r.survey_id, r.group_id, j.key, j.value, count(*) FROM survey_response r
        CROSS JOIN LATERAL jsonb_each_text(r.answers -> 'items') j WHERE r.status = 'submitted'
        AND j.key NOT IN :skip GROUP BY r.survey_id, r.group_id, j.key, j.value""",
}
HOURS_SQL = {
    "sqlite": """SELECT r.survey_id, r.group_id, a.key, sum(a.value), count(*) FROM survey_response r,
        json_each(r.answers, '$.days') d, json_each(d.value, '$.areas') a
        WHERE r.status = 'submitted' GROUP BY r.survey_id, r.group_id, a.key""",
    "postgresql": """SELECT r.survey_id, r.group_id, a.key, sum(a.value::numeric), count(*)
        FROM survey_response r CROSS JOIN LATERAL jsonb_array_elements(r.answers -> 'days') d
        CROSS JOIN LATERAL jsonb_each_text(d -> 'areas') a WHERE r.status = 'submitted'
        GROUP BY r.survey_id, r.group_id, a.key""",
}


def sizes(cfg: Config) -> tuple[int, int]:
    """(organisations, managers each): national scale with --full, 1/100 of it otherwise."""
    return (311, 161) if cfg.full else (5, 100)


def send_out(db: Engine, organisations: int, managers: int) -> list[int]:
    """Organisations with a started process and its three mappings open; the survey ids."""
    ids: list[int] = []
    for i in range(organisations):
        with Session(db, expire_on_commit=False) as s:
            org = build_organisation(s, f"Kartkommun {i + 1}", managers, seed=7000 + i)
            ctx = engine.Context(s, engine.Actor.person(org.by_role["processledare"][0].id), NOW)
            process = engine.start_process(ctx, org.organisation.id, "Chefoskopet", org.roster)
            ids += [open_survey(ctx, process_step(ctx, process, n)).id for n in (4, 5, 6)]
            s.commit()
    return ids


def ingest(db: Engine, survey_ids: list[int]) -> tuple[int, float]:
    """Every invited manager answers (about nine in ten); returns (responses, seconds)."""
    rng, answered = random.Random(1), 0
    started = time.perf_counter()
    with clock.simulated_clock(lambda: ANSWERED):
        for survey_id in survey_ids:
            with Session(db) as s:
                answered += simulate_answers(s, survey_id, rng)
                s.commit()
    return answered, time.perf_counter() - started


def close_all(db: Engine, survey_ids: list[int]) -> None:
    """Close every survey (not timed)."""
    with Session(db) as s:
        ctx = engine.Context(s, engine.SYSTEM, ANSWERED)
        for survey_id in survey_ids:
            close_survey(ctx, survey_id)
        s.commit()


def ours(db: Engine, survey_ids: list[int]) -> Sample:
    """compute_results for every survey, one read transaction each."""
    started = time.perf_counter()
    groups = 0
    for survey_id in survey_ids:
        with Session(db) as s:
            groups += len(compute_results(s, survey_id)["participation"]["groups"])
    return Sample(groups, time.perf_counter() - started)


def baseline(db: Engine, threshold: int = 5) -> Sample:
    """The GROUP BY counts, then n, mean and distribution per published cell."""
    started = time.perf_counter()
    cells: dict[tuple, dict] = {}
    items = text(ITEMS_SQL[db.dialect.name]).bindparams(bindparam("skip", expanding=True))
    with db.connect() as conn:
        for survey, group, key, value, n in conn.execute(items, {"skip": free_text_keys()}):
            cell = cells.setdefault((survey, group, key), {"n": 0, "sum": 0.0, "distribution": {}})
            cell["n"] += n
            cell["distribution"][value] = n
            if isinstance(value, int | float) or str(value).lstrip("-").replace(".", "", 1).isdigit():
                cell["sum"] += float(value) * n
        hours = conn.execute(text(HOURS_SQL[db.dialect.name])).all()
    shown = {k: c for k, c in cells.items() if c["n"] >= threshold}
    for cell in shown.values():
        cell["mean"] = cell["sum"] / cell["n"]
    return Sample(len({(s, g) for s, g, _ in shown}), time.perf_counter() - started,
                  extra={"cells": len(shown), "hour_rows": len(hours)})


def free_text_keys() -> list[str]:
    """Keys of free-text questions, which results never aggregate."""
    return sorted({item.key for instrument in shipped_instruments().values()
                   for item in instrument.items() if item.kind == "free_text"})


def traced(call) -> float:
    """Peak traced memory of ``call()`` in MiB."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def run(cfg: Config, db: BenchDatabase) -> ScenarioResult:
    """Ingest once, then alternate the aggregation with the GROUP BY baseline."""
    organisations, managers = sizes(cfg)
    engine_ = db.fresh()
    survey_ids = send_out(engine_, organisations, managers)
    responses, ingest_seconds = ingest(engine_, survey_ids)
    close_all(engine_, survey_ids)
    s = alternate(cfg.reps, {"ours": lambda: ours(engine_, survey_ids), "sql": lambda: baseline(engine_)})
    mem_ours = traced(lambda: ours(engine_, survey_ids))
    mem_sql = traced(lambda: baseline(engine_))
    with Session(engine_) as session:
        stored = session.scalar(select(func.count()).select_from(Response)) or 0
    name = "3 mappings"
    rows = [Row(name, f"ingest {responses} responses ({organisations}x{managers} managers)", "1/s",
                responses / ingest_seconds),
            compare(name, "aggregate every survey", "s", [x.seconds for x in s["ours"]],
                    [x.seconds for x in s["sql"]], "SQL GROUP BY", ("<=", 2.0)),
            compare(name, "peak traced memory, aggregation", "MiB", [mem_ours], [mem_sql], "SQL GROUP BY")]
    details = {"organisations": organisations, "managers": managers, "surveys": len(survey_ids),
               "responses": stored, "ingest_seconds": ingest_seconds,
               "ours_seconds_median": median([x.seconds for x in s["ours"]]),
               "groups_published": s["ours"][0].count, "sql_extra": s["sql"][0].extra}
    return ScenarioResult(name, rows, details)
