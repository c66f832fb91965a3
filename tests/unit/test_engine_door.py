"""The one-door rule, read from the source: only ``flows/engine`` changes an engine object's status.

An engine object is a row of a model with a ``status`` column whose changes the engine audits
(process, step, task, gate, plan, action, delegation, development area, follow-up meeting).
Outside ``flows/engine`` no module may assign ``.status`` (or ``setattr(..., "status", ...)``),
construct such a row, or write its table with SQL (``update``/``insert`` of the model, its
``__table__``, raw ``UPDATE``/``INSERT``). Status writes that remain outside the engine are to
models with a lifecycle of their own and are listed below with the model they concern.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import models

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "flows/engine/"
# Production packages. Not scanned: tests/ (fixtures), bench/ (benchmark set-ups) and
# migrations/ (a data migration may set a new column for existing rows, e.g. delegation status).
PACKAGES = ("api", "chefoskop", "chefoskop_cli", "flows", "roles", "models", "notifications",
            "surveys", "plans")

# Models with a status that is not process state, so not the engine's: each has its own owner.
OWNED_ELSEWHERE = {
    "OutboxMessage": "notifications/: delivery state of a mail (pending, sent, failed, dead, ...)",
    "SimulationRun": "chefoskop/simulate.py: bookkeeping of a simulation run (running, completed)",
    "Survey": "surveys/: a mapping's own lifecycle (open, closed), audited by surveys/distribution.py",
    "Response": "surveys/: a survey answer (draft, submitted), kept apart from identities",
}

# Status writes outside flows/engine that are legitimate: (file, receiver as written) -> why.
ALLOWED_STORES = {
    ("api/problems.py", "self"): "Problem.status is the HTTP status of an error answer, not a model",
    ("chefoskop/privacy.py", "row"): "OutboxMessage: erasure marks a person's undelivered mail failed",
    ("chefoskop/simulate.py", "s.get(SimulationRun, state.run_id)"): "SimulationRun bookkeeping",
    ("chefoskop/simulate.py", "state"): "SimState, the in-memory twin of the SimulationRun row",
    ("notifications/digest.py", "row"): "OutboxMessage: a message bundled into a digest",
    ("surveys/distribution.py", "survey"): "Survey: closing a mapping (audited there)",
    ("surveys/respond.py", "response"): "Response: an answer submitted",
}
ALLOWED_VALUES = {
    ("notifications/sender.py", "OUTBOX"): "OutboxMessage.__table__: retrying dead mail",
    ("surveys/unlink.py", "_TABLE"): "Response.__table__: rewriting rows so they cannot be linked",
}


def status_models() -> dict[str, str]:
    """Mapped class name -> table name, for every model with a ``status`` column."""
    return {m.class_.__name__: m.local_table.name for m in models.Base.registry.mappers
            if "status" in m.columns}


def engine_models() -> dict[str, str]:
    return {name: table for name, table in status_models().items() if name not in OWNED_ELSEWHERE}


def breaches(source: str, engine: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, kind, receiver) of every status write, engine-row construction and engine-table
    write in ``source``."""
    found: list[tuple[int, str, str]] = []
    tables = "|".join(engine.values())
    # raw SQL that sets a status or adds a row (flows/batch.py's no-op lock "UPDATE task SET id = id
    # WHERE 1 = 0" does neither)
    sql = re.compile(rf"\bupdate\s+\"?({tables})\"?\s+set\b.*\bstatus\b|\binsert\s+into\s+\"?({tables})\b",
                     re.I | re.S)
    for node in ast.walk(ast.parse(source)):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and sub.attr == "status" and isinstance(sub.ctx, ast.Store):
                    found.append((node.lineno, "store", ast.unparse(sub.value)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and sql.search(node.value):
            found.append((node.lineno, "sql", node.value.strip()[:60]))
        if isinstance(node, ast.Attribute) and node.attr == "__table__" and \
                isinstance(node.value, ast.Name) and node.value.id in engine:
            found.append((node.lineno, "table", node.value.id))
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == "setattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value == "status":
            found.append((node.lineno, "store", ast.unparse(node.args[0])))
        elif name in engine:
            found.append((node.lineno, "construct", name))
        elif name in ("update", "insert", "bulk_update_mappings", "bulk_insert_mappings") and \
                node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in engine:
            found.append((node.lineno, name, node.args[0].id))
        elif name == "values" and (any(k.arg == "status" for k in node.keywords) or any(
                isinstance(a, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "status"
                                                for k in a.keys) for a in node.args)):
            found.append((node.lineno, "values", _written_table(func)))
    return found


def _written_table(expr: ast.expr) -> str:
    """The table a ``....values(...)`` chain writes: ``update(X).where(...)`` -> X, ``X.update()`` -> X."""
    while True:
        if isinstance(expr, ast.Call):
            if isinstance(expr.func, ast.Name) and expr.args:
                return ast.unparse(expr.args[0])
            expr = expr.func
        elif isinstance(expr, ast.Attribute):
            if expr.attr in ("update", "insert"):
                return ast.unparse(expr.value)
            expr = expr.value
        else:
            return ast.unparse(expr)


def _scan() -> dict[tuple[str, str, str], list[int]]:
    engine = engine_models()
    seen: dict[tuple[str, str, str], list[int]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith(ENGINE):
                continue
            for line, kind, receiver in breaches(path.read_text(encoding="utf-8"), engine):
                seen.setdefault((rel, kind, receiver), []).append(line)
    return seen


def test_every_model_with_a_status_is_the_engines_or_named_as_owned_elsewhere():
    names = set(status_models())
    assert set(OWNED_ELSEWHERE) <= names, set(OWNED_ELSEWHERE) - names
    assert {"Process", "StepInstance", "Task", "Gate", "ActionPlan", "Action", "Delegation"} <= \
        set(engine_models())


def test_no_module_outside_the_engine_writes_an_engine_status():
    found = _scan()
    allowed = {(path, "store", receiver) for path, receiver in ALLOWED_STORES} | \
        {(path, "values", receiver) for path, receiver in ALLOWED_VALUES}
    breaking = {f"{path}:{lines[0]} {kind} {receiver}" for (path, kind, receiver), lines in found.items()
                if (path, kind, receiver) not in allowed}
    assert not breaking, sorted(breaking)
    stale = allowed - set(found)
    assert not stale, f"allow-list entries no longer in the code: {sorted(stale)}"


def test_the_scan_sees_status_writes():
    """The scanner itself: each way around the door is reported, and the engine's own
    ``transition`` (flows/engine/core.py) is found when the engine is not skipped."""
    engine = engine_models()
    sample = textwrap.dedent('''
        task.status = "completed"
        setattr(gate, "status", "approved")
        self.process.status += ""
        session.execute(update(Task).where(Task.id == 1).values(status="open"))
        session.execute(Gate.__table__.update().values({"status": "approved"}))
        session.add(Task(status="open"))
        session.execute(text("UPDATE task SET status = 'open'"))
        session.bulk_update_mappings(Action, [])
    ''')
    found = breaches(sample, engine)
    assert sorted({kind for _, kind, _ in found}) == [
        "bulk_update_mappings", "construct", "sql", "store", "table", "update", "values"]
    assert sorted(r for _, kind, r in found if kind == "store") == ["gate", "self.process", "task"]
    assert sorted(r for _, kind, r in found if kind == "values") == ["Gate.__table__", "Task"]
    core = (ROOT / ENGINE / "core.py").read_text(encoding="utf-8")
    assert ("store", "obj") in {(kind, receiver) for _, kind, receiver in breaches(core, engine)}
