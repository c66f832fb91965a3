"""Hand-built SVG charts for the results report (no plotting library).

Every label is escaped; every chart is given only published cells, so a hidden
group never reaches a chart (a hidden cell is drawn as the marker text, never a
bar). Each chart carries a visible title, a ``<title>`` and a ``<desc>`` that
spells out every value for a screen reader, and labels that wrap instead of
being cut. Sizes are in CSS pixels and scale with the page; colours are
presentation attributes (no ``style``), so the page's CSP needs no exception.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f5f8b", "#e07b39", "#3a9a5b", "#8e5ea2", "#c9a227", "#7f7f7f")
# Answer points of a scale, lowest to highest: shades of one hue, so no point reads as "good".
SHADES = ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594")
WIDTH = 700
LABEL_WIDTH = 300
PLOT_WIDTH = 340
ROW = 22
LINE = 13  # one line of 11 px text
LABEL_CHARS = 43  # what fits in LABEL_WIDTH at 11 px before a label wraps (with a margin)
CHAR_PX = 6.6  # a rough width of one character at 11 px, for laying out legends
FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="11"'
MUTED = "#555"
TAIL_WIDTH = 160  # right of a distribution bar: the series and its number of answers

# A row is (label, values); values None makes the row a section heading.
Row = tuple[str, Sequence | None]


def wrap(text: str, width: int = LABEL_CHARS) -> list[str]:
    """``text`` broken into lines of at most ``width`` characters (words kept whole if they fit)."""
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _lines(x: float, y: float, lines: Sequence[str], anchor: str = "start", extra: str = "") -> str:
    """A text element of several lines (tspans), the first baseline at ``y``."""
    spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{spans}</text>'


def _svg(height: float, body: list[str], title: str, desc: str) -> Markup:
    ident = "chart-" + hashlib.sha1((title + desc).encode()).hexdigest()[:10]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc" {FONT}>')
    return Markup(head + f'<title id="{ident}-title">{escape(title)}</title>'
                  f'<desc id="{ident}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _heading(title: str, notes: Sequence[str]) -> tuple[list[str], float]:
    """The visible title and notes at the top; returns the parts and the y where they end."""
    lines = wrap(title, 80)
    parts = [_lines(0, 14, lines, extra=' font-size="13" font-weight="bold"')]
    y = 14 + LINE * 1.2 * (len(lines) - 1) + 6
    for note in notes:
        note_lines = wrap(note, 100)
        parts.append(_lines(0, y + LINE, note_lines, extra=f' fill="{MUTED}"'))
        y += LINE * len(note_lines)
    return parts, y + 6


def _flow_legend(entries: Sequence[tuple[str, str]], top: float, left: float = 0) -> tuple[list[str], float]:
    """Swatches and labels laid out left to right, wrapping to new lines; returns (parts, bottom).

    An entry is (swatch, label): a colour, or ``"dash"`` for the dashed middle line.
    """
    parts, x, y = [], left, top
    for swatch, label in entries:
        width = 16 + CHAR_PX * len(label) + 14
        if x > left and x + width > WIDTH:
            x, y = left, y + 16
        if swatch == "dash":
            parts.append(f'<line x1="{x:.1f}" y1="{y + 5}" x2="{x + 12:.1f}" y2="{y + 5}" '
                         f'stroke="{MUTED}" stroke-dasharray="4 3"/>')
        else:
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="10" height="10" fill="{swatch}" '
                         'stroke="#999" stroke-width="0.5"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y + 9}">{escape(label)}</text>')
        x += width
    return parts, y + 18


def _x(value: float, low: float, high: float, left: float = LABEL_WIDTH, width: float = PLOT_WIDTH) -> float:
    return left + (value - low) / (high - low) * width


def _axis(low: int, high: int, top: float, bottom: float, middle: float | None,
          low_label: str | None, high_label: str | None) -> tuple[list[str], float]:
    parts = []
    for tick in range(low, high + 1):
        x = _x(tick, low, high)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 12}" text-anchor="middle">{tick}</text>')
    if middle is not None:
        x = _x(middle, low, high)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     f'stroke="{MUTED}" stroke-dasharray="4 3"/>')
    end = bottom + 14
    if low_label or high_label:
        # The scale's ends in words, under the first and the last tick.
        half = int(PLOT_WIDTH / 2 / CHAR_PX)
        left = wrap(f"{low} = {low_label}", half) if low_label else []
        right = wrap(f"{high} = {high_label}", half) if high_label else []
        if left:
            parts.append(_lines(_x(low, low, high) - 4, bottom + 26, left, extra=f' fill="{MUTED}"'))
        if right:
            parts.append(_lines(_x(high, low, high) + 4, bottom + 26, right, "end", extra=f' fill="{MUTED}"'))
        end = bottom + 26 + LINE * (max(len(left), len(right)) - 1) + 4
    return parts, end


def _row_height(label: str, values: Sequence | None, per_row: int) -> tuple[list[str], float]:
    if values is None:  # a section heading, in bold: kept clear of the plot
        lines = wrap(label, LABEL_CHARS - 7)
        return lines, LINE * len(lines) + 10
    lines = wrap(label)
    return lines, max(ROW * per_row + 6, LINE * len(lines) + 8)


def _section_heading(lines: list[str], y: float) -> str:
    return _lines(0, y + 13, lines, extra=' font-weight="bold"')


def _lay_out_rows(rows: Sequence[Row], per_row: int, y: float, body: list[str], desc: list[str],
                  draw: Callable[[Sequence, float], str]) -> float:
    """Lay the rows out from ``y`` down: each row's label on the left and its bars beside it,
    drawn by ``draw(values, bars_top)``, which returns what the chart's description says of
    them; a row whose values are None is a section heading. Returns the y below the last row."""
    for label, values in rows:
        lines, height = _row_height(label, values, per_row)
        if values is None:
            body.append(_section_heading(lines, y))
            desc.append(label + ":")
        else:
            text_y = y + height / 2 - LINE * (len(lines) - 1) / 2 + 4
            body.append(_lines(LABEL_WIDTH - 6, text_y, lines, "end"))
            desc.append(f"{label}: {draw(values, y + (height - ROW * per_row) / 2)}.")
        y += height
    return y


def mean_bars(title: str, rows: Sequence[Row], series: Sequence[str], low: int, high: int,
              middle: float | None = None, fmt: Callable[[float], str] = "{:.1f}".format, *,
              low_label: str | None = None, high_label: str | None = None,
              middle_label: str | None = None, notes: Sequence[str] = (),
              hidden: str = "–") -> Markup:
    """Horizontal bars of means on a ``low``-``high`` scale, one bar per series for each row.

    A row whose values are None is a section heading. A None value is a hidden cell: it is
    written as ``hidden``, never drawn.
    """
    per_row = max(1, len(series))
    body, y = _heading(title, notes)
    legend = [(PALETTE[s % len(PALETTE)], name) for s, name in enumerate(series)] if len(series) > 1 else []
    if middle is not None and middle_label:
        legend.append(("dash", middle_label))
    if legend:
        parts, y = _flow_legend(legend, y, LABEL_WIDTH)
        body += parts
    top = y
    desc = [title, *notes]

    def draw(values: Sequence, bars_top: float) -> str:
        said = []
        for s, value in enumerate(values):
            bar_y = bars_top + 3 + s * ROW
            if value is None:
                body.append(f'<text x="{LABEL_WIDTH + 4}" y="{bar_y + ROW - 10:.1f}" fill="{MUTED}" '
                            f'font-style="italic">{escape(hidden)}</text>')
                said.append(f"{series[s]}: {hidden}" if len(series) > 1 else hidden)
                continue
            x1 = _x(value, low, high)
            body.append(f'<rect x="{LABEL_WIDTH}" y="{bar_y:.1f}" width="{x1 - LABEL_WIDTH:.1f}" '
                        f'height="{ROW - 6}" fill="{PALETTE[s % len(PALETTE)]}"/>')
            body.append(f'<text x="{x1 + 4:.1f}" y="{bar_y + ROW - 10:.1f}">{escape(fmt(value))}</text>')
            said.append(f"{series[s]}: {fmt(value)}" if len(series) > 1 else fmt(value))
        return ", ".join(said)

    y = _lay_out_rows(rows, per_row, y, body, desc, draw)
    # Keep the axis (and the middle line) below the legend, over the rows only.
    axis, end = _axis(low, high, top, y, middle, low_label, high_label)
    return _svg(end + 4, axis + body, title, " ".join(desc))


def distribution_bars(title: str, rows: Sequence[Row], points: Sequence[tuple[str, str]],
                      series: Sequence[str], *, count_label: Callable[[int], str],
                      share: Callable[[float], str], notes: Sequence[str] = (),
                      hidden: str = "–") -> Markup:
    """One 100 % bar per series for each row, split by the answer ``points`` (key, label).

    A row's values are, per series, ``{"n": int, "distribution": {key: count}}`` or None (hidden:
    written as ``hidden``); a row whose values are None is a section heading.
    """
    per_row = max(1, len(series))
    plot = WIDTH - LABEL_WIDTH - TAIL_WIDTH
    body, y = _heading(title, notes)
    shades = _shades(len(points))
    parts, y = _flow_legend([(shades[i], f"{key} {label}") for i, (key, label) in enumerate(points)], y)
    body += parts
    desc = [title, *notes]

    def draw(values: Sequence, bars_top: float) -> str:
        said = []
        for s, cell in enumerate(values):
            bar_y = bars_top + 3 + s * ROW
            who = f"{series[s]}: " if len(series) > 1 else ""
            if cell is None or not cell.get("n"):
                body.append(f'<text x="{LABEL_WIDTH + 4}" y="{bar_y + ROW - 10:.1f}" fill="{MUTED}" '
                            f'font-style="italic">{escape(who + hidden)}</text>')
                said.append(who + hidden)
                continue
            n = cell["n"]
            x = float(LABEL_WIDTH)
            parts_said = []
            for i, (key, point_label) in enumerate(points):
                count = cell["distribution"].get(key, 0)
                width = count / n * plot
                if width > 0:
                    body.append(f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{width:.1f}" '
                                f'height="{ROW - 6}" fill="{shades[i]}"/>')
                if width >= 34:
                    ink = "#fff" if i >= len(points) / 2 else "#1f2328"
                    body.append(f'<text x="{x + width / 2:.1f}" y="{bar_y + ROW - 10:.1f}" '
                                f'text-anchor="middle" fill="{ink}">{escape(share(count / n))}</text>')
                parts_said.append(f"{point_label} {share(count / n)}")
                x += width
            body.append(f'<rect x="{LABEL_WIDTH}" y="{bar_y:.1f}" width="{plot}" height="{ROW - 6}" '
                        'fill="none" stroke="#999" stroke-width="0.5"/>')
            tail = f"{series[s]}, {count_label(n)}" if len(series) > 1 else count_label(n)
            body.append(f'<text x="{LABEL_WIDTH + plot + 6}" y="{bar_y + ROW - 10:.1f}" '
                        f'fill="{MUTED}">{escape(tail)}</text>')
            said.append(f"{who}{count_label(n)}: {', '.join(parts_said)}")
        return "; ".join(said)

    y = _lay_out_rows(rows, per_row, y, body, desc, draw)
    return _svg(y + 6, body, title, " ".join(desc))


def _shades(count: int) -> list[str]:
    if count <= 1:
        return [SHADES[3]]
    last = len(SHADES) - 1
    return [SHADES[round(i * last / (count - 1))] for i in range(count)]


def stacked_shares(title: str, rows: Sequence[tuple[str, Mapping[str, float]]],
                   categories: Sequence[tuple[str, str]],
                   fmt: Callable[[float], str] = lambda v: f"{round(v * 100)}%",
                   notes: Sequence[str] = ()) -> Markup:
    """One 100 % bar per row, split into the ``categories`` (key, label) by share."""
    body, y = _heading(title, notes)
    swatches = [(PALETTE[c % len(PALETTE)], label) for c, (_, label) in enumerate(categories)]
    parts, y = _flow_legend(swatches, y)
    body += parts
    desc = [title, *notes]
    for label, shares in rows:
        lines = wrap(label)
        height = max(ROW, LINE * len(lines) + 8)
        body.append(_lines(LABEL_WIDTH - 6, y + height / 2 - LINE * (len(lines) - 1) / 2 + 4, lines, "end"))
        x = float(LABEL_WIDTH)
        bar_y = y + (height - ROW) / 2 + 2
        for c, (key, _) in enumerate(categories):
            width = shares.get(key, 0.0) * PLOT_WIDTH
            if width > 0:
                body.append(f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{width:.1f}" height="{ROW - 6}" '
                            f'fill="{PALETTE[c % len(PALETTE)]}"/>')
            if width > 30:
                body.append(f'<text x="{x + width / 2:.1f}" y="{bar_y + 12:.1f}" text-anchor="middle" '
                            f'fill="#fff">{escape(fmt(shares[key]))}</text>')
            x += width
        desc.append(f"{label}: " + ", ".join(f"{name} {fmt(shares.get(key, 0.0))}"
                                             for key, name in categories) + ".")
        y += height
    return _svg(y + 8, body, title, " ".join(desc))
