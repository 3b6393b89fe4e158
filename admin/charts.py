"""Small SVG charts drawn on the server: no script, no library, nothing fetched from elsewhere.

Each function returns the SVG markup (a `Markup` string, so templates insert it as is; every
text it contains is escaped here). Colours are SVG attributes; sizes come from the viewBox, and
the `chart` class of admin.css scales the picture to its container.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#0b5cab", "#1f9d55", "#d98a00", "#b3261e", "#6b4fa0", "#5b6678")
CHAR_WIDTH = 6.2  # average width of an 11px system-ui character, for layout only
TITLE_HEIGHT = 22
LEGEND_HEIGHT = 20
TICKS = 5


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str = ""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float) -> str:
    """Tick and value labels: 1.234 for thousands (Vietnamese), one decimal at most."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def nice_ticks(maximum: float, count: int = TICKS) -> list[float]:
    """0 and round steps (1, 2 or 5 × 10^n, at least 1) up to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    step = max(step, 1)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(int(round(top / step)) + 1)]


def _wrap(label: str, width: float, lines: int = 2) -> list[str]:
    """Split a category label into at most `lines` lines fitting `width` (ellipsis beyond)."""
    limit = max(3, int(width / CHAR_WIDTH))
    out: list[str] = []
    current = ""
    for word in label.split():
        candidate = f"{current} {word}".strip()
        if len(candidate) <= limit or not current:
            current = candidate
        else:
            out.append(current)
            current = word
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: limit - 1].rstrip() + "…"
    return [line if len(line) <= limit else line[: limit - 1] + "…" for line in out]


@dataclass
class _Frame:
    """The plot area inside the picture, and the value-to-pixel scale."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    ticks: list[float]

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    def y(self, value: float) -> float:
        return self.top + self.plot_height * (1 - value / self.ticks[-1])


def _colors(series: Sequence[Series]) -> list[str]:
    return [s.color or PALETTE[i % len(PALETTE)] for i, s in enumerate(series)]


def _frame(
    width: int, height: int, series: Sequence[Series], x_lines: int, x_label: str, y_label: str
) -> _Frame:
    maximum = max((v for s in series for v in s.values), default=0)
    ticks = nice_ticks(maximum)
    widest = max(len(_number(t)) for t in ticks)
    left = 14 + widest * CHAR_WIDTH + (16 if y_label else 0)
    bottom = 10 + 13 * x_lines + (18 if x_label else 0)
    top = TITLE_HEIGHT + LEGEND_HEIGHT + 8
    return _Frame(width, height, left, top, 14, bottom, ticks)


def _open(frame: _Frame, title: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)}</title>",
        f'<text class="chart-title" x="{frame.left:.0f}" y="16" font-size="13" '
        f'font-weight="600" fill="#1c2430">{_text(title)}</text>',
    ]


def _legend(frame: _Frame, series: Sequence[Series], colors: list[str], mark: str) -> list[str]:
    parts = []
    x = frame.left
    y = TITLE_HEIGHT + 10
    for s, color in zip(series, colors, strict=True):
        if mark == "line":
            parts.append(
                f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 14:.1f}" y2="{y:.1f}" '
                f'stroke="{color}" stroke-width="2.5"/>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 5:.1f}" width="10" height="10" rx="2" fill="{color}"/>'
            )
        parts.append(f'<text x="{x + 18:.1f}" y="{y + 4:.1f}">{_text(s.name)}</text>')
        x += 18 + len(s.name) * CHAR_WIDTH + 18
    return parts


def _axes(frame: _Frame, x_label: str, y_label: str) -> list[str]:
    parts = []
    for tick in frame.ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left:.1f}" y1="{y:.1f}" '
            f'x2="{frame.width - frame.right:.1f}" y2="{y:.1f}" '
            f'stroke="{"#9aa4b2" if tick == 0 else "#e3e7ee"}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6:.1f}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_number(tick)}</text>'
        )
    if y_label:
        middle = frame.top + frame.plot_height / 2
        parts.append(
            f'<text x="12" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {middle:.1f})">{_text(y_label)}</text>'
        )
    if x_label:
        parts.append(
            f'<text x="{frame.left + frame.plot_width / 2:.1f}" '
            f'y="{frame.height - 5:.1f}" text-anchor="middle">{_text(x_label)}</text>'
        )
    return parts


def _x_labels(
    frame: _Frame, labels: Sequence[str], centre: Callable[[int], float], slot: float
) -> list[str]:
    """Category labels under the axis; when they are many, only every n-th (and the last)."""
    parts = []
    wide = max((len(label) for label in labels), default=1) * CHAR_WIDTH + 4
    every = max(1, math.ceil(wide / slot)) if slot < wide and len(labels) > 8 else 1
    for index, label in enumerate(labels):
        if every > 1 and index % every and index != len(labels) - 1:
            continue
        if every > 1 and index != len(labels) - 1 and len(labels) - 1 - index < every:
            continue  # too close to the last label, which is always shown
        lines = _wrap(label, slot * every - 4) if every == 1 else [label]
        x = centre(index)
        y = frame.height - frame.bottom + 16
        spans = "".join(
            f'<tspan x="{x:.1f}" dy="{0 if n == 0 else 13}">{_text(line)}</tspan>'
            for n, line in enumerate(lines)
        )
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{spans}</text>')
    return parts


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str = "",
    y_label: str = "",
    width: int = 560,
    height: int = 280,
) -> Markup:
    """Grouped bars: one group per category, one bar per series, value written above it."""
    colors = _colors(series)
    slot_guess = (width - 60) / max(len(categories), 1)
    lines = max((len(_wrap(c, slot_guess - 4)) for c in categories), default=1)
    frame = _frame(width, height, series, lines if len(categories) <= 8 else 1, x_label, y_label)
    slot = frame.plot_width / max(len(categories), 1)
    bar = min(44.0, slot * 0.8 / max(len(series), 1))
    group = bar * len(series)
    show_values = len(categories) * len(series) <= 40
    parts = (
        _open(frame, title) + _legend(frame, series, colors, "bar") + _axes(frame, x_label, y_label)
    )

    def centre(index: int) -> float:
        return frame.left + slot * (index + 0.5)

    for index, category in enumerate(categories):
        x0 = centre(index) - group / 2
        for number, (s, color) in enumerate(zip(series, colors, strict=True)):
            value = s.values[index] if index < len(s.values) else 0
            x = x0 + number * bar
            y = frame.y(value)
            h = frame.top + frame.plot_height - y
            tip = f"{category} · {s.name}: {_number(value)}"
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_text(tip)}</title></rect>'
            )
            if show_values and value:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" '
                    f'text-anchor="middle">{_number(value)}</text>'
                )
    parts += _x_labels(frame, categories, centre, slot)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str = "",
    y_label: str = "",
    width: int = 560,
    height: int = 280,
) -> Markup:
    """One line per series over the same x positions (days, say), dots when they are few."""
    colors = _colors(series)
    frame = _frame(width, height, series, 1, x_label, y_label)
    count = max(len(x_labels), 1)
    step = frame.plot_width / max(count - 1, 1)

    def x_of(index: int) -> float:
        if count == 1:
            return frame.left + frame.plot_width / 2
        return frame.left + step * index

    parts = (
        _open(frame, title)
        + _legend(frame, series, colors, "line")
        + _axes(frame, x_label, y_label)
    )
    for s, color in zip(series, colors, strict=True):
        points = [(x_of(i), frame.y(v)) for i, v in enumerate(s.values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" '
            f'stroke-width="2" stroke-linejoin="round"/>'
        )
        if len(points) <= 62:
            for (x, y), label, value in zip(points, x_labels, s.values, strict=False):
                tip = f"{label} · {s.name}: {_number(value)}"
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}">'
                    f"<title>{_text(tip)}</title></circle>"
                )
    parts += _x_labels(frame, x_labels, x_of, step if count > 1 else frame.plot_width)
    parts.append("</svg>")
    return Markup("".join(parts))
