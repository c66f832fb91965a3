"""The printed table, the machine description and the JSON file of a run."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row, ScenarioResult

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, str]:
    """CPU, cores, memory, Python and load when the run started."""
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cores": str(os.cpu_count()), "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                      if line.startswith("Model name")), "")
        info["cpu"] = model
    except OSError:
        info["cpu"] = platform.processor()
    try:
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        info["memory_gib"] = f"{mem_kb / 2**20:.1f}"
    except (OSError, StopIteration):
        pass
    return info


def code_version() -> dict[str, str]:
    """The commit measured and how many files differed from it (others edit the tree too)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False,
                              cwd=RESULTS.parent.parent).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "changed_files": str(len(git("status", "--porcelain").splitlines()))}


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _met(row: Row) -> str:
    return "" if row.met is None else ("yes" if row.met else "NO")


def table(results: list[ScenarioResult]) -> str:
    """A Markdown table of every row, then the notes of scenarios that were skipped."""
    lines = ["| scenario | metric | unit | ours | baseline | baseline is | ratio ours/base | goal | met |",
             "|---|---|---|---:|---:|---|---:|---|---|"]
    for result in results:
        for r in result.rows:
            lines.append(f"| {r.scenario} | {r.metric} | {r.unit} | {_num(r.ours)} | {_num(r.baseline)} "
                         f"| {r.baseline_name} | {_num(r.ratio)} | {r.goal} | {_met(r)} |")
    notes = [f"- {r.name}: {r.note}" for r in results if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(results: list[ScenarioResult], meta: dict) -> Path:
    """Write the run to bench/results/<timestamp>.json and return the path."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}.json"
    doc = {"meta": meta, "scenarios": [
        {"name": r.name, "note": r.note, "rows": [row.as_dict() for row in r.rows], "details": r.details}
        for r in results]}
    path.write_text(json.dumps(_clean(doc), indent=2, default=str))
    return path
