"""Pure parts of the dashboard: periods, SVG charts, Vietnamese number formats."""

from __future__ import annotations

import math
from datetime import date
from itertools import pairwise
from xml.etree import ElementTree

import pytest
from flask import Flask

from survey.charts import Point, common_axis, interval_plot, sparkline, trend_chart
from survey.services.reporting.periods import (
    Period,
    PeriodError,
    PeriodKind,
    is_calendar_month,
    month_end,
    month_spans,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("text", "label", "first", "last"),
    [
        ("2026-10", "2026-10", date(2026, 10, 1), date(2026, 10, 31)),
        ("2024-02", "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026q3", "2026Q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31)),
        ("nonsense", "2026-10", date(2026, 10, 1), date(2026, 10, 31)),  # last full month before today
        ("2026-13", "2026-10", date(2026, 10, 1), date(2026, 10, 31)),
    ],
)
def test_period_parse(text: str, label: str, first: date, last: date) -> None:
    period = Period.parse(text, date(2026, 11, 23))
    assert (period.label, period.first, period.last) == (label, first, last)


def test_period_shift_crosses_years() -> None:
    assert Period.parse("2026-01", date(2026, 5, 1)).shifted(1).label == "2025-12"
    assert Period.parse("2026Q1", date(2026, 5, 1)).shifted(1).label == "2025Q4"
    assert Period.parse("2026Q1", date(2026, 5, 1)).shifted(4).label == "2025Q1"
    assert Period.year(2026).shifted(2).label == "2024"
    assert Period.month(2026, 3).shifted(-1).kind is PeriodKind.MONTH


def _parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def test_month_ends_and_calendar_months_by_hand() -> None:
    assert month_end(date(2028, 2, 10)) == date(2028, 2, 29)  # a leap year
    assert month_end(date(2026, 12, 31)) == date(2026, 12, 31)
    assert is_calendar_month(date(2026, 2, 1), date(2026, 2, 28))
    assert not is_calendar_month(date(2026, 2, 1), date(2026, 2, 27))
    assert not is_calendar_month(date(2026, 2, 2), date(2026, 2, 28))
    assert not is_calendar_month(date(2026, 1, 1), date(2026, 2, 28))
    assert month_spans(date(2026, 1, 20), date(2026, 3, 2)) == [
        (date(2026, 1, 20), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 2))]


def test_charts_are_accessible_and_escape_labels() -> None:
    points = [Point("<b>Quầy 1</b>", 0.86, 0.8, 0.9), Point("Q2", None), Point("Q3", 0.7, 0.6, 0.78)]
    for svg in (
        interval_plot(points, target=0.8, title="Tiêu chí"),
        trend_chart(points, target=0.8, title="T"),
        sparkline(points, target=0.8, title="S"),
    ):
        root = _parse(str(svg))
        assert root.get("role") == "img"
        assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None
        assert "<b>" not in str(svg)
    desc = _parse(str(interval_plot(points, target=0.8, title="x"))).find(f"{SVG}desc")
    assert desc is not None and "86%" in (desc.text or "") and "Q2: –" in (desc.text or "")


def test_interval_plot_draws_point_bar_and_target_where_the_numbers_say() -> None:
    svg = _parse(
        str(interval_plot([Point("a", 0.5, 0.4, 0.6)], target=0.8, title="x", width=500, label_width=100))
    )
    circle = svg.find(f"{SVG}circle")
    bar = svg.find(f"{SVG}line[@class='ci']")
    target = svg.find(f"{SVG}line[@class='target']")
    assert circle is not None and bar is not None and target is not None
    x_point, x_lo, x_hi, x_target = (
        float(v) for v in (circle.get("cx"), bar.get("x1"), bar.get("x2"), target.get("x1"))
    )
    assert x_lo < x_point < x_hi < x_target
    assert math.isclose(x_point - x_lo, x_hi - x_point, rel_tol=1e-3)  # symmetric interval, symmetric bar


def test_sparkline_leaves_gaps_and_shares_an_axis() -> None:
    series = [[Point("1", 0.9), Point("2", None), Point("3", 0.8)], [Point("1", 0.5), Point("2", 0.6)]]
    axis = common_axis(series, 0.8)
    assert axis[0] <= 0.5 and axis[1] >= 0.9
    svg = str(sparkline(series[0], axis=axis))
    assert svg.count("<polyline") == 2  # two segments around the missing period


def test_percentages_are_vietnamese_in_vi(app: Flask) -> None:
    """Expected strings are CLDR's Vietnamese and English conventions, written out by hand: decimal
    comma and dot between thousands in vi, the reverse in en; the percent sign without a space."""
    from survey.blueprints.manage.template_filters import num, p_value, pct, signed

    with app.test_request_context("/?lang=vi"):
        assert pct(0.8642) == "86,4%" and pct(float("nan")) == "–" and pct(None) == "–"
        assert num(1434) == "1.434" and num(-0.01, 1) == "0,0" and num(1234567.891, 1) == "1.234.567,9"
        assert signed(2.345) == "+2,3" and signed(-1.04) == "-1,0" and signed(-0.01) == "0,0"
        assert p_value(0.0341) == "0,034" and p_value(0.00001) == "< 0,001"
    with app.test_request_context("/?lang=en"):
        assert pct(0.8642) == "86.4%" and num(1434) == "1,434" and num(1234567.891, 1) == "1,234,567.9"
        assert signed(2.345) == "+2.3" and p_value(0.0341) == "0.034"


@pytest.mark.parametrize(
    ("text", "label"),
    [("2026-10", "2026-10"), (" 2026-10 ", "2026-10"), ("2026Q3", "2026Q3"), ("2026-q3", "2026Q3"),
     ("2026", "2026"), ("2000-01", "2000-01"), ("2100Q4", "2100Q4")],
)
def test_period_from_text_accepts_every_documented_form(text: str, label: str) -> None:
    assert Period.from_text(text).label == label


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "unrecognised form"), ("nonsense", "unrecognised form"), ("2026/10", "unrecognised form"),
     ("2026-1", "unrecognised form"), ("26-10", "unrecognised form"), ("2026-10-01", "unrecognised form"),
     ("2026-13", "the month must lie between 01 and 12"), ("2026-00", "the month must lie between 01 and 12"),
     ("2026Q5", "the quarter must lie between 1 and 4"), ("2026-Q0", "the quarter must lie between 1 and 4"),
     ("1999", "the year must lie between 2000 and 2100"),
     ("2101-01", "the year must lie between 2000 and 2100")],
)
def test_period_from_text_names_the_string_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(PeriodError) as raised:
        Period.from_text(text)
    assert raised.value.reason == reason
    assert str(raised.value).startswith(f"{text!r} is not a period: {reason}; expected a month (2026-10)")


def test_latest_complete_month_is_the_month_before_today() -> None:
    assert Period.latest_complete_month(date(2026, 1, 1)).label == "2025-12"
    assert Period.latest_complete_month(date(2026, 3, 31)).label == "2026-02"


# Width of a seven-character month label ("2026-10") in the charts' 11-unit tick font, from DejaVu Sans's
# advance widths (the PDF's font; the web's sans fonts are no wider): six digits of 0.636 em and a hyphen
# of 0.361 em make 4.18 em, 46 units. A label's box is where its text-anchor puts these 46 units.
MONTH_LABEL = 46.0
TWELVE_MONTHS = [f"2025-{m:02d}" for m in (12,)] + [f"2026-{m:02d}" for m in range(1, 12)]


def _period_labels(svg: str, height: int) -> list[tuple[str, float, str]]:
    """The x axis's labels (text, x, text-anchor), left to right; the y axis's sit elsewhere."""
    root = _parse(svg)
    return [(t.text or "", float(t.get("x", "nan")), t.get("text-anchor", ""))
            for t in root.iter(f"{SVG}text") if t.get("y") == str(height - 8)]


def _boxes(labels: list[tuple[str, float, str]]) -> list[tuple[float, float]]:
    shift = {"start": 0.0, "middle": MONTH_LABEL / 2, "end": MONTH_LABEL}
    return [(x - shift[anchor], x - shift[anchor] + MONTH_LABEL) for _, x, anchor in labels]


def test_trend_labels_at_the_pdf_width_are_thinned_back_from_the_latest_period() -> None:
    """The PDF's trend chart (680 wide, 12 months) once printed "2026-10" and "2026-11" on top of each
    other: every other month was labelled from the first, and the latest month was added at the end.

    By hand: the plot runs from x = 44 to 680 - 10 = 670, 626 units over 11 gaps, 56.91 apart. Labelling
    every month fails at once: the first, anchored at its start, covers 44-90 and the second, centred on
    100.91, covers 77.91-123.91. Every second month counted back from the latest: months 1, 3, ..., 11
    at 44 + 56.91 * i, the latest anchored at its end (624-670, 38 units clear of the 2026-09 box,
    533.18-579.18).
    """
    points = [Point(label, 0.8, 0.77, 0.83) for label in TWELVE_MONTHS]
    labels = _period_labels(str(trend_chart(points, target=0.9, title="t", width=680, height=210)), 210)
    assert [(text, anchor) for text, _, anchor in labels] == [
        ("2026-01", "middle"), ("2026-03", "middle"), ("2026-05", "middle"), ("2026-07", "middle"),
        ("2026-09", "middle"), ("2026-11", "end")]
    assert [x for _, x, _ in labels] == pytest.approx([100.9, 214.7, 328.5, 442.4, 556.2, 670.0], abs=0.06)
    boxes = _boxes(labels)
    assert all(left[1] < right[0] for left, right in pairwise(boxes))


def test_trend_labels_all_shown_when_they_fit() -> None:
    """Three quarters on the dashboard's 900 units: 44, 467 and 890, each label 7 characters (46 units):
    the first anchored at its start, the last at its end, nothing near another."""
    points = [Point(q, 0.8, 0.75, 0.85) for q in ("2026Q1", "2026Q2", "2026Q3")]
    labels = _period_labels(str(trend_chart(points, target=0.9, title="t")), 240)
    assert labels == [("2026Q1", 44.0, "start"), ("2026Q2", 467.0, "middle"), ("2026Q3", 890.0, "end")]


@pytest.mark.parametrize("width", [360, 680, 900])
@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 12, 13, 24, 36])
def test_trend_labels_never_overlap_and_the_latest_is_always_labelled(width: int, count: int) -> None:
    points = [Point(TWELVE_MONTHS[i % 12], 0.8, 0.75, 0.85) for i in range(count)]
    labels = _period_labels(str(trend_chart(points, target=0.9, title="t", width=width, height=200)), 200)
    # the latest period, at the plot's right end (a lone period sits at its left end, x = 44)
    text, x, _ = labels[-1]
    assert text == points[-1].label and x == pytest.approx(44 if count == 1 else width - 10)
    boxes = _boxes(labels)
    assert all(left[1] < right[0] for left, right in pairwise(boxes))
    assert boxes[0][0] >= 0 and boxes[-1][1] <= width  # inside the canvas
