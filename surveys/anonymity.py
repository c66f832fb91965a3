"""Which result cells may be published (pure functions, no I/O).

A parent cell (the organisation overall) is the sum of its group cells. A group
with fewer respondents than the threshold is hidden (primary suppression). If
hiding stopped there, a single hidden group could be derived as the parent minus
the shown groups, so more groups are hidden, smallest first (complementary
suppression), until what can be derived (the hidden groups taken together) covers
at least two groups with answers and at least ``threshold`` respondents.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from chefoskop.settings import get_settings

K = TypeVar("K", bound=Hashable)
MINIMUM_THRESHOLD = 5


@dataclass(frozen=True)
class Publication:
    """The outcome for one parent and its groups: what is shown and what is hidden."""

    parent_shown: bool
    hidden: frozenset
    primary: frozenset

    def shown(self, key: Hashable) -> bool:
        """Whether the group ``key`` may be published."""
        return key not in self.hidden


def _derivable_set_safe(counts: Mapping[K, int], hidden: set[K], threshold: int) -> bool:
    with_answers = [k for k in hidden if counts[k] > 0]
    if not with_answers:
        return True  # the parent minus the shown groups is zero: nothing to learn
    return len(with_answers) >= 2 and sum(counts[k] for k in hidden) >= threshold


def suppress(counts: Mapping[K, int], threshold: int, forced: frozenset = frozenset()) -> Publication:
    """Decide which groups of one parent to hide so no hidden group can be shown or derived.

    ``forced`` groups are hidden whatever their count (e.g. hidden at a higher level).
    """
    keys = sorted(counts, key=lambda k: (counts[k], str(k)))
    if sum(counts.values()) < threshold:
        everything = frozenset(keys)
        return Publication(parent_shown=False, hidden=everything, primary=everything)
    primary = {k for k in keys if counts[k] < threshold}
    hidden = primary | (set(forced) & set(keys))
    candidates = [k for k in keys if k not in hidden]
    while hidden and not _derivable_set_safe(counts, hidden, threshold) and candidates:
        hidden.add(candidates.pop(0))
    return Publication(parent_shown=True, hidden=frozenset(hidden), primary=frozenset(primary))


def single(count: int, threshold: int) -> bool:
    """Whether a cell with no siblings (e.g. top management's answers) may be shown."""
    return count >= threshold


def effective_threshold(organisation_threshold: int | None) -> int:
    """The threshold in force: the organisation's, never below the configured minimum or 5."""
    floor = max(MINIMUM_THRESHOLD, get_settings().anonymity_threshold)
    return max(floor, organisation_threshold or floor)
