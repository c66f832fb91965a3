"""Anonymity: no published cell below the threshold, and no hidden cell derivable from published ones."""

from __future__ import annotations

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.aggregate import GroupInfo, summarise
from surveys.anonymity import effective_threshold, suppress
from surveys.loader import shipped_instruments

INSTRUMENT = shipped_instruments()[1]
LIKERT = [i for i in INSTRUMENT.items() if i.kind == "likert"]

counts_strategy = st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(0, 14), min_size=1, max_size=8)


def assert_safe(counts: dict[str, int], shown_groups: set[str], parent_shown: bool, threshold: int) -> None:
    """The published cells of one parent obey the threshold and hide no derivable group."""
    for key in shown_groups:
        assert counts[key] >= threshold, (key, counts)
    if not parent_shown:
        assert not shown_groups
        return
    assert sum(counts.values()) >= threshold
    hidden = [k for k in counts if k not in shown_groups and counts[k] > 0]
    # What can be derived is parent - shown = the hidden groups taken together.
    assert len(hidden) != 1, (counts, shown_groups)
    assert not hidden or sum(counts[k] for k in hidden) >= threshold


@given(counts_strategy, st.sampled_from([5, 6, 7, 10]))
def test_suppression_never_shows_or_leaks_a_small_group(counts, threshold):
    pub = suppress(counts, threshold)
    shown = {k for k in counts if pub.shown(k)}
    assert_safe(counts, shown, pub.parent_shown, threshold)
    assert pub.primary == {k for k in counts if counts[k] < threshold} or not pub.parent_shown


@given(counts_strategy)
def test_suppression_hides_no_more_than_it_must(counts):
    pub = suppress(counts, 5)
    if pub.parent_shown and all(n >= 5 for n in counts.values()):
        assert not pub.hidden


def _responses(draw_sizes: dict[str, int], data) -> list[tuple[str, dict]]:
    rows = []
    for group, size in draw_sizes.items():
        for _ in range(size):
            items = {i.key: data.draw(st.integers(1, 5)) for i in LIKERT
                     if data.draw(st.booleans()) or i.required}
            rows.append((group, {"items": items}))
    return rows


@settings(max_examples=60, deadline=None)
@given(counts_strategy, st.sampled_from([5, 7]), st.data())
def test_published_results_obey_the_threshold_for_any_answers_and_grouping(sizes, threshold, data):
    rows = _responses(sizes, data)
    groups = [GroupInfo(k, f"Grupp {k}", "managers", n + data.draw(st.integers(0, 3)), n)
              for k, n in sizes.items()]
    result = summarise(INSTRUMENT, groups, rows, threshold)
    part = result["participation"]
    shown = {g["key"] for g in part["groups"] if g["shown"]}
    assert_safe(dict(sizes), shown, part["overall"] is not None, threshold)
    for g in part["groups"]:
        assert g["shown"] or set(g) == {"key", "name", "kind", "shown", "hidden_because"}  # no numbers
    for entry in result["items"]:
        counts = {k: sum(1 for g, d in rows if g == k and entry["key"] in d["items"]) for k in sizes}
        cells = entry["groups"]
        shown_here = {k for k, cell in cells.items() if cell is not None}
        assert_safe(counts, shown_here, entry["overall"] is not None, threshold)
        for key in shown_here:
            assert cells[key]["n"] == counts[key]
        _assert_not_derivable(entry, rows, counts, shown_here)


def _assert_not_derivable(entry: dict, rows, counts: dict[str, int], shown: set[str]) -> None:
    """Overall sum minus the shown groups' sums equals a single hidden group's sum only by chance."""
    if entry["overall"] is None:
        return
    sums = {k: sum(d["items"][entry["key"]] for g, d in rows if g == k and entry["key"] in d["items"])
            for k in counts}
    total = entry["overall"]["mean"] * entry["overall"]["n"]
    derived = total - sum(entry["groups"][k]["mean"] * entry["groups"][k]["n"] for k in shown)
    hidden = [k for k in counts if k not in shown and counts[k] > 0]
    assert abs(derived - sum(sums[k] for k in hidden)) < 1e-6
    assert len(hidden) != 1


def test_overall_equals_the_plain_mean_of_every_answer():
    rows = [("A", {"items": {"workload_fits": v}}) for v in (1, 2, 3, 4, 5)]
    rows += [("B", {"items": {"workload_fits": v}}) for v in (5, 5, 4, 4, 4, 3)]
    groups = [GroupInfo("A", "A", "managers", 5, 5), GroupInfo("B", "B", "managers", 6, 6)]
    entry = next(e for e in summarise(INSTRUMENT, groups, rows, 5)["items"] if e["key"] == "workload_fits")
    assert entry["overall"]["mean"] == statistics.fmean([1, 2, 3, 4, 5, 5, 5, 4, 4, 4, 3])
    assert entry["groups"]["A"]["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}


def test_a_group_of_three_hides_the_next_smallest_group_too():
    pub = suppress({"A": 14, "B": 12, "C": 11, "D": 3}, 5)
    assert pub.hidden == {"D", "C"} and pub.primary == {"D"} and pub.parent_shown


def test_threshold_never_goes_below_five(monkeypatch):
    assert effective_threshold(None) == 5
    assert effective_threshold(3) == 5
    assert effective_threshold(8) == 8
