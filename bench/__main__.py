"""``python -m bench [scenario ...]``: run the benchmarks, print a table, write JSON."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from dataclasses import replace

os.environ.setdefault("CHEFOSKOP_ENVIRONMENT", "test")
os.environ.setdefault("CHEFOSKOP_FLOW_MODE", "direct")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect's own database for the benchmarks, kept between runs (a fresh one costs ~10 s more).
os.environ.setdefault("PREFECT_HOME", os.path.join(tempfile.gettempdir(), "chefoskop-bench-prefect"))

from bench.common import Config, ScenarioResult  # noqa: E402

SCENARIOS = {
    "engine": "bench.s1_engine",
    "inbox": "bench.s2_inbox",
    "mappings": "bench.s3_mappings",
    "mail": "bench.s4_mail",
    "growth": "bench.s5_growth",
    "prefect": "bench.s6_prefect",
}


def parse(argv: list[str]) -> tuple[list[str], Config, str | None]:
    """Scenario names, the configuration and an optional scenario to profile."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], metavar="scenario",
                   help=f"any of {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--reps", type=int, default=5, help="repetitions per contender (default 5)")
    p.add_argument("--full", action="store_true", help="issue sizes: 10,000 mails, 100x growth")
    p.add_argument("--processes", type=int, default=2, help="processes (organisations) in scenario 1")
    p.add_argument("--managers", type=int, default=10, help="managers per organisation in scenario 1")
    p.add_argument("--mails", type=int, default=None, help="notifications in scenario 4 (default 2000)")
    p.add_argument("--growth-100x", action="store_true", help="add the 100x size to scenario 5")
    p.add_argument("--prefect-server", action="store_true", help="also measure against a local server")
    p.add_argument("--profile", metavar="scenario", choices=["engine", "mail", "growth", "inbox"],
                   help="profile our side of one scenario with pyinstrument instead")
    a = p.parse_args(argv)
    cfg = Config(reps=max(1, a.reps), full=a.full, processes=a.processes, managers=a.managers,
                 growth_100x=a.growth_100x or a.full, prefect_server=a.prefect_server)
    mails = a.mails or (10_000 if a.full else cfg.mails)
    return a.scenarios or list(SCENARIOS), replace(cfg, mails=mails), a.profile


def run_scenario(name: str, cfg: Config, db) -> ScenarioResult:
    """Run one scenario; a failure becomes a note instead of stopping the run."""
    started = time.perf_counter()
    try:
        result = importlib.import_module(SCENARIOS[name]).run(cfg, db)
    except Exception as exc:  # a benchmark run reports, it does not stop
        traceback.print_exc()
        result = ScenarioResult(name, note=f"failed: {type(exc).__name__}: {exc}")
    result.details["scenario_seconds"] = round(time.perf_counter() - started, 1)
    print(f"  {name}: {result.details['scenario_seconds']} s", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios (or profile one) and report."""
    names, cfg, profile = parse(sys.argv[1:] if argv is None else argv)
    from bench.database import BenchDatabase
    from bench.report import code_version, machine, table, write_json

    db = BenchDatabase()
    try:
        if profile:
            from bench.profile import profile_scenario

            print(profile_scenario(profile, cfg, db))
            return 0
        print(f"database: {db.kind}; scenarios: {', '.join(names)}", file=sys.stderr)
        results = [run_scenario(name, cfg, db) for name in names]
    finally:
        db.close()
    print(table(results))
    meta = {"machine": machine(), "database": db.kind, "schema": db.schema, "code": code_version(),
            "config": cfg.__dict__, "argv": sys.argv[1:]}
    print(f"\nwritten: {write_json(results, meta)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
