"""The results path cannot reach identity: no person, invitation secret or respondent key in it."""

from __future__ import annotations

import ast
from pathlib import Path

import surveys

RESULTS_PATH = ("aggregate.py", "anonymity.py", "timeuse.py", "results.py", "report.py",
                "report_view.py", "charts.py", "aggregation.py", "flows.py")
FORBIDDEN = {"Person", "person_id", "nonce", "respondent_key", "make_token", "read_token", "Invitation",
             "link_hash"}


def _names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name.rsplit(".", 1)[-1])
    return found


def test_no_results_module_names_anything_that_leads_to_a_person():
    root = Path(surveys.__file__).parent
    for name in RESULTS_PATH:
        assert not (_names(root / name) & FORBIDDEN), name
