"""The engine's notion of 'now': real time, or a simulated clock set by ``simulate``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time (UTC, aware): simulated while ``simulated_clock`` is active."""
    return _source() if _source is not None else datetime.now(UTC)


@contextmanager
def simulated_clock(source: Callable[[], datetime]) -> Iterator[None]:
    """Make ``now()`` return ``source()`` inside the block (same process only)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
