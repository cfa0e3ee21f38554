"""Small server-side SVG charts: pure functions from numbers to SVG text (pages and PDF reports alike).

Every chart has ``role="img"``, a ``<title>`` and a ``<desc>`` text alternative, and every number it
draws is also in a table next to it. Proportions are drawn on a 0-100 % axis that is cropped to the
data's range (with the target inside), so narrow intervals stay readable; the axis is labelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from itertools import pairwise
from typing import TypeGuard

from markupsafe import Markup


@dataclass(frozen=True)
class Point:
    """One estimate: a label, the estimate and its interval (NaN/None when suppressed).

    `note` is said (and marked ⊘ on the chart) instead of the figure when the figure is withheld on
    purpose, e.g. "suppressed" by the small-cell rule, so that a gap is not read as "no responses".
    """

    label: str
    est: float | None
    lo: float | None = None
    hi: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Benchmark:
    """Another unit's estimates drawn beside a chart's own: one value per point (None: not shown), drawn
    as a `shape` ("diamond" or "square", so that two benchmarks differ without colour)."""

    label: str
    values: Sequence[float | None]
    shape: str = "diamond"


def _ok(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def common_axis(series: Sequence[Sequence[Point]], target: float | None) -> tuple[float, float]:
    """One axis for several series (the sparklines of one table)."""
    return _axis([p for points in series for p in points], target)


def _axis(points: Sequence[Point], target: float | None) -> tuple[float, float]:
    values = [v for p in points for v in (p.est, p.lo, p.hi) if _ok(v)]
    if _ok(target):
        values.append(float(target))
    if not values:
        return 0.0, 1.0
    low = max(0.0, math.floor(min(values) * 10 - 0.5) / 10)
    high = min(1.0, math.ceil(max(values) * 10 + 0.5) / 10)
    return low, high if high > low else low + 0.1


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def _interval_desc(points: Sequence[Point]) -> str:
    """Text alternative of estimates with intervals: "label: 86% (82%–90%)", "label: –" when suppressed."""
    return "; ".join(
        f"{p.label}: {_pct(p.est)} ({_pct(p.lo)}–{_pct(p.hi)})"
        if _ok(p.est) and _ok(p.lo) and _ok(p.hi)
        else f"{p.label}: {p.note or '–'}"
        for p in points
    )


def _benchmark_desc(points: Sequence[Point], benchmarks: Sequence[Benchmark]) -> str:
    """Text alternative of the benchmarks: "; Province: a 80%, b –"."""
    return "".join(
        f"; {b.label}: " + ", ".join(f"{p.label} {_pct(v) if _ok(v) else '–'}"
                                      for p, v in zip(points, b.values, strict=False))
        for b in benchmarks)


def _marker(shape: str, x: float, y: float) -> str:
    if shape == "square":
        return f'<rect class="bench bench-square" x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8"/>'
    return (f'<path class="bench bench-diamond" d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} '
            f'L{x:.1f},{y + 5:.1f} L{x - 5:.1f},{y:.1f} Z"/>')


def _open(width: int, height: int, title: str, desc: str, css: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(desc)}</desc>",
    ]


def _noted(x: str, y: float, size: int, last: bool) -> str:
    """The ⊘ drawn where a figure is withheld on purpose (its words are in the chart's <desc>); the
    last period's mark ends at the right edge instead of being cut in half by it."""
    anchor = "end" if last else "middle"
    return f'<text class="noted" x="{x}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}">⊘</text>'


def sparkline(
    points: Sequence[Point],
    *,
    target: float | None = None,
    title: str = "",
    width: int = 120,
    height: int = 28,
    axis: tuple[float, float] | None = None,
) -> Markup:
    """A tiny line of estimates over periods, with a dashed target line; gaps where suppressed.

    Give the same `axis` (low, high) to every sparkline of a table so that their heights compare.
    """
    low, high = axis if axis is not None else _axis(points, target)
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{2 + i * (width - 4) / n:.1f},{height - 2 - (v - low) / (high - low) * (height - 4):.1f}"

    desc = "; ".join(f"{p.label}: {_pct(p.est) if _ok(p.est) else (p.note or '–')}" for p in points)
    parts = _open(width, height, title, desc, "chart sparkline")
    if _ok(target):
        y = xy(0, float(target)).split(",")[1]
        parts.append(f'<line class="target" x1="0" x2="{width}" y1="{y}" y2="{y}"/>')
    segment: list[str] = []
    for i, p in enumerate(points):
        if _ok(p.est):
            segment.append(xy(i, float(p.est)))
        elif segment:
            parts.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
            if len(segment) == 1:  # a lone period between gaps: a line of one point draws nothing
                x, y = segment[0].split(",")
                parts.append(f'<circle class="point" cx="{x}" cy="{y}" r="2"/>')
            segment = []
    if segment:
        parts.append(f'<polyline class="line" points="{" ".join(segment)}"/>')
        parts.append(
            f'<circle class="last" cx="{segment[-1].split(",")[0]}" cy="{segment[-1].split(",")[1]}" '
            'r="2.5"/>'
        )
    parts.extend(_noted(xy(i, low).split(",")[0], height / 2 + 4, 11, i == len(points) - 1)
                 for i, p in enumerate(points) if p.note)
    parts.append("</svg>")
    return Markup("".join(parts))


def _percent_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Grid lines every 10 points between the axis ends: the share and its label."""
    return [(tick / 10, f"{tick * 10}%") for tick in range(round(low * 10), round(high * 10) + 1)]


def _opened(points: Sequence[Point], benchmarks: Sequence[Benchmark], frame: tuple[int, int, str, str],
            axis: tuple[float, float], gridline: Callable[[float, str], str]) -> list[str]:
    """An <svg> (`frame`: width, height, title, CSS class) described in words for screen readers, with
    one grid line and label per percent tick of `axis` drawn by `gridline(share, label)`."""
    width, height, title, css = frame
    parts = _open(width, height, title, _interval_desc(points) + _benchmark_desc(points, benchmarks), css)
    parts.extend(gridline(share, label) for share, label in _percent_ticks(*axis))
    return parts


def interval_plot(
    points: Sequence[Point],
    *,
    target: float | None,
    title: str,
    width: int = 900,
    row_height: int = 26,
    label_width: int = 330,
    benchmarks: Sequence[Benchmark] = (),
) -> Markup:
    """Horizontal interval plot: one row per estimate (point and CI bar), a vertical target line, and a
    hollow marker per benchmark on each row."""
    extra = [Point("", v) for b in benchmarks for v in b.values]
    low, high = _axis([*points, *extra], target)
    plot = width - label_width - 16
    height = row_height * len(points) + 34

    def x(v: float) -> float:
        return label_width + (v - low) / (high - low) * plot

    def gridline(share: float, label: str) -> str:
        tx = x(share)
        return (f'<line class="grid" x1="{tx:.1f}" x2="{tx:.1f}" y1="4" y2="{height - 22}"/>'
                f'<text class="tick" x="{tx:.1f}" y="{height - 6}" text-anchor="middle">{label}</text>')

    parts = _opened(points, benchmarks, (width, height, title, "chart intervals"), (low, high), gridline)
    for i, p in enumerate(points):
        y = 14 + i * row_height
        label = p.label if len(p.label) <= 52 else p.label[:51] + "…"
        parts.append(
            f'<text class="label" x="{label_width - 8}" y="{y + 4}" text-anchor="end">{escape(label)}</text>'
        )
        if _ok(p.lo) and _ok(p.hi):
            parts.append(
                f'<line class="ci" x1="{x(float(p.lo)):.1f}" x2="{x(float(p.hi)):.1f}" y1="{y}" y2="{y}"/>'
            )
        for bench in benchmarks:
            value = bench.values[i] if i < len(bench.values) else None
            if _ok(value):
                parts.append(_marker(bench.shape, x(value), y))
        if _ok(p.est):
            parts.append(f'<circle class="point" cx="{x(float(p.est)):.1f}" cy="{y}" r="4"/>')
    if _ok(target):
        tx = x(float(target))
        parts.append(f'<line class="target" x1="{tx:.1f}" x2="{tx:.1f}" y1="2" y2="{height - 22}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(
    points: Sequence[Point], *, target: float | None, title: str, width: int = 900, height: int = 240,
    benchmarks: Sequence[Benchmark] = (),
) -> Markup:
    """Line of estimates over periods with the confidence band and the target line; each benchmark a
    thin dashed line with its markers (gaps where it is not shown)."""
    low, high = _axis([*points, *(Point("", v) for b in benchmarks for v in b.values)], target)
    left, right, top, bottom = 44, 10, 10, 28
    n = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + i * (width - left - right) / n

    def y(v: float) -> float:
        return top + (high - v) / (high - low) * (height - top - bottom)

    def gridline(share: float, label: str) -> str:
        ty = y(share)
        return (f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
                f'<text class="tick" x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{label}</text>')

    parts = _opened(points, benchmarks, (width, height, title, "chart trend"), (low, high), gridline)
    shown = [(i, p.est, p.lo, p.hi) for i, p in enumerate(points) if _ok(p.est) and _ok(p.lo) and _ok(p.hi)]
    if shown:
        upper = " ".join(f"{x(i):.1f},{y(hi):.1f}" for i, _, _, hi in shown)
        lower = " ".join(f"{x(i):.1f},{y(lo):.1f}" for i, _, lo, _ in reversed(shown))
        parts.append(f'<polygon class="band" points="{upper} {lower}"/>')
        line = " ".join(f"{x(i):.1f},{y(est):.1f}" for i, est, _, _ in shown)
        parts.append(f'<polyline class="line" points="{line}"/>')
        parts.extend(
            f'<circle class="point" cx="{x(i):.1f}" cy="{y(est):.1f}" r="3"/>'
            for i, est, _, _ in shown
        )
    for bench in benchmarks:
        marked = [(i, v) for i, v in enumerate(bench.values[:len(points)]) if _ok(v)]
        if len(marked) > 1:
            line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in marked)
            parts.append(f'<polyline class="bench-line bench-{bench.shape}" points="{line}"/>')
        parts.extend(_marker(bench.shape, x(i), y(v)) for i, v in marked)
    if _ok(target):
        ty = y(float(target))
        parts.append(f'<line class="target" x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
    parts.extend(_noted(f"{x(i):.1f}", height - bottom - 4, 12, i == len(points) - 1 and i > 0)
                 for i, p in enumerate(points) if p.note)
    for i, anchor in _period_labels([p.label for p in points], [x(i) for i in range(len(points))]):
        parts.append(
            f'<text class="tick" x="{x(i):.1f}" y="{height - 8}" text-anchor="{anchor}">'
            f"{escape(points[i].label)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# Labels are not measured (no font metrics here): a character counts as 0.65 em, a little wider than
# DejaVu Sans's digits (0.636 em; the PDF's font) and most sans fonts', so the estimate errs towards
# thinning. 11 is the ticks' font size in manage.css and pdf_report.PRINT_ATTRIBUTES.
_CHAR_EM, _TICK_SIZE, _LABEL_GAP = 0.65, 11, 6


def _period_labels(labels: Sequence[str], xs: Sequence[float]) -> list[tuple[int, str]]:
    """The x axis's labels as (index, text-anchor): every `step`-th period counted back from the latest,
    so the latest is always labelled, with the smallest step at which no two labels come within
    `_LABEL_GAP` of each other (and at most about seven labels).

    The first label is anchored at its start and the last at its end, so that neither is cut by the
    canvas's edge; those two need more room than centred ones, which is why the boxes are checked.
    """
    last = len(labels) - 1
    if last < 0:
        return []

    def anchor(i: int) -> str:
        return "end" if i == last and last > 0 else "start" if i == 0 else "middle"

    def box(i: int) -> tuple[float, float]:
        width = len(labels[i]) * _CHAR_EM * _TICK_SIZE
        left = xs[i] - {"start": 0.0, "middle": width / 2, "end": width}[anchor(i)]
        return left, left + width

    step = max(1, len(labels) // 6)
    while True:  # ends by the time the step passes `last`: the latest label alone always fits
        shown = range(last % step, last + 1, step)
        boxes = [box(i) for i in shown]
        if all(a[1] + _LABEL_GAP <= b[0] for a, b in pairwise(boxes)):
            return [(i, anchor(i)) for i in shown]
        step += 1
