"""Hand-built SVG charts for the results report (no plotting library).

Every label is escaped; every chart is given only published cells, so a hidden
group never reaches a chart. Sizes are in CSS pixels and scale with the page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f5f8b", "#e07b39", "#3a9a5b", "#8e5ea2", "#c9a227", "#7f7f7f")
LABEL_WIDTH = 300
PLOT_WIDTH = 360
ROW = 22
FONT = 'font-family="DejaVu Sans, Arial, sans-serif" font-size="10"'


def _short(text: str, limit: int = 46) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _svg(width: int, height: int, body: list[str], title: str) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>')
    return Markup(head + f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _x(value: float, low: float, high: float) -> float:
    return LABEL_WIDTH + (value - low) / (high - low) * PLOT_WIDTH


def _axis(low: int, high: int, top: int, bottom: int, middle: float | None) -> list[str]:
    parts = []
    for tick in range(low, high + 1):
        x = _x(tick, low, high)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 12}" text-anchor="middle">{tick}</text>')
    if middle is not None:
        x = _x(middle, low, high)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     'stroke="#555" stroke-dasharray="4 3"/>')
    return parts


def mean_bars(title: str, rows: Sequence[tuple[str, Sequence[float | None]]],
              series: Sequence[str], low: int, high: int, middle: float | None = None,
              fmt: Callable[[float], str] = "{:.1f}".format) -> Markup:
    """Horizontal bars of means on a ``low``-``high`` scale, one bar per series for each row."""
    per_row = max(1, len(series))
    band = ROW * per_row + 6
    top = 24 if len(series) > 1 else 8
    height = top + band * len(rows) + 22
    body = _legend(series) if len(series) > 1 else []
    body += _axis(low, high, top, top + band * len(rows), middle)
    for r, (label, values) in enumerate(rows):
        y0 = top + r * band
        body.append(f'<text x="{LABEL_WIDTH - 6}" y="{y0 + band / 2 + 4:.1f}" text-anchor="end">'
                    f"{escape(_short(label))}</text>")
        for s, value in enumerate(values):
            if value is None:
                continue
            y = y0 + 3 + s * ROW
            x1 = _x(value, low, high)
            body.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{x1 - LABEL_WIDTH:.1f}" '
                        f'height="{ROW - 6}" fill="{PALETTE[s % len(PALETTE)]}"/>')
            body.append(f'<text x="{x1 + 4:.1f}" y="{y + ROW - 10}">{escape(fmt(value))}</text>')
    return _svg(LABEL_WIDTH + PLOT_WIDTH + 40, height, body, title)


def _legend(series: Sequence[str]) -> list[str]:
    parts, x = [], LABEL_WIDTH
    for s, name in enumerate(series):
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[s % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="13">{escape(_short(name, 30))}</text>')
        x += 24 + 7 * len(_short(name, 30))
    return parts


def stacked_shares(title: str, rows: Sequence[tuple[str, dict[str, float]]],
                   categories: Sequence[tuple[str, str]]) -> Markup:
    """One 100 % bar per row, split into the ``categories`` (key, label) by share."""
    legend_rows = (len(categories) + 2) // 3
    top = 8 + 16 * legend_rows
    height = top + ROW * len(rows) + 10
    body = []
    for c, (_, label) in enumerate(categories):
        x, y = LABEL_WIDTH + (c % 3) * 120, 4 + (c // 3) * 16
        body.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{PALETTE[c % len(PALETTE)]}"/>')
        body.append(f'<text x="{x + 14}" y="{y + 9}">{escape(_short(label, 17))}</text>')
    for r, (label, shares) in enumerate(rows):
        y = top + r * ROW
        body.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end">'
                    f"{escape(_short(label))}</text>")
        x = float(LABEL_WIDTH)
        for c, (key, _) in enumerate(categories):
            width = shares.get(key, 0.0) * PLOT_WIDTH
            if width > 0:
                body.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{ROW - 6}" '
                            f'fill="{PALETTE[c % len(PALETTE)]}"/>')
            if width > 26:
                body.append(f'<text x="{x + width / 2:.1f}" y="{y + 14}" text-anchor="middle" '
                            f'fill="#fff">{round(shares[key] * 100)}%</text>')
            x += width
    return _svg(LABEL_WIDTH + PLOT_WIDTH + 40, height, body, title)
