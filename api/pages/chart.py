"""Geometry of a horizontal bar chart, drawn as inline SVG by ``pages/_chart.html`` (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

LABEL_WIDTH = 230
BAR_AREA = 330
VALUE_GAP = 6
ROW_HEIGHT = 26
BAR_HEIGHT = 18
TOP = 8


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value, state (a CSS class) and where it is drawn."""

    label: str
    value: float
    state: str
    y: int
    width: float
    value_text: str


@dataclass(frozen=True)
class Chart:
    """A whole chart: its bars and its size."""

    bars: tuple[Bar, ...]
    width: int
    height: int
    label_width: int
    value_gap: int
    bar_height: int


def bar_chart(rows: list[tuple[str, float, str, str]]) -> Chart:
    """Lay out ``(label, value, state, value_text)`` rows, longest bar filling the bar area."""
    top = max((v for _, v, _, _ in rows), default=0.0) or 1.0
    bars = tuple(Bar(label, value, state, TOP + i * ROW_HEIGHT,
                     round(BAR_AREA * max(value, 0.0) / top, 1), text)
                 for i, (label, value, state, text) in enumerate(rows))
    width = LABEL_WIDTH + BAR_AREA + 90
    return Chart(bars, width, TOP * 2 + ROW_HEIGHT * len(rows), LABEL_WIDTH, VALUE_GAP, BAR_HEIGHT)
