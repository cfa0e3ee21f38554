"""The unit report as a PDF: the HTML template `reports/unit_report.html` printed by WeasyPrint.

The template reuses the unit page's macros (`manage/dashboard/_macros.html`: estimate cells, verdict
badges) and its charts (`survey.charts`), so page and PDF show the same figures the same way.

Charts: WeasyPrint draws inline SVG with its own renderer, which does not apply the document's CSS
to SVG elements (checked with WeasyPrint 70: class selectors in the page stylesheet left the
interval bars unstyled). The chart functions style by class for the web page, so for print each
class gets SVG presentation attributes here instead.

Fonts come from fontconfig: "DejaVu Sans" (fonts-dejavu-core) covers all Vietnamese letters and the
verdict shapes; WeasyPrint embeds the subset used (check with `pdffonts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup
from weasyprint import HTML

from survey.charts import Point, interval_plot, trend_chart
from survey.services.reporting.labels import flag_text, weighting_text
from survey.services.reporting.report_content import ReportContent, method_pairs

FONT = "DejaVu Sans, Noto Sans, sans-serif"
_TEXT = f'font-family="{FONT}" fill="#222"'
PRINT_ATTRIBUTES: Mapping[str, str] = {
    "grid": 'stroke="#d0d0d0" stroke-width="0.8"',
    "tick": f'{_TEXT} font-size="11"',
    "label": f'{_TEXT} font-size="12"',
    "ci": 'stroke="#222" stroke-width="3" stroke-linecap="round"',
    "point": 'fill="#fff" stroke="#000" stroke-width="2"',
    "target": 'stroke="#a01010" stroke-width="1.6" stroke-dasharray="6 3"',
    "line": 'fill="none" stroke="#000" stroke-width="2"',
    "band": 'fill="#c8c8c8" fill-opacity="0.6" stroke="none"',
    "last": 'fill="#000"',
}
_CLASS = re.compile(r'class="([a-z]+)"')


_VIEWBOX = re.compile(r'viewBox="0 0 (\d+) (\d+)" width="(\d+)"')


def print_svg(svg: str, *, pad_right: int = 0) -> Markup:
    """Add presentation attributes to the chart's classed elements (see the module docstring).

    `pad_right` widens the canvas: the trend chart centres its last period label on the right edge,
    which cut "2026-Q3" in half on paper.
    """

    def attributes(match: re.Match[str]) -> str:
        extra = PRINT_ATTRIBUTES.get(match.group(1))
        return f"{match.group(0)} {extra}" if extra else match.group(0)

    def widen(match: re.Match[str]) -> str:
        width, height = int(match.group(1)) + pad_right, match.group(2)
        return f'viewBox="0 0 {width} {height}" width="{width}"'

    styled = _CLASS.sub(attributes, svg)
    return Markup(_VIEWBOX.sub(widen, styled, count=1) if pad_right else styled)


def css_string(text: str) -> Markup:
    """`text` as a quoted CSS string for the page margins (running header, "Page").

    Everything but letters, digits and spaces becomes a CSS escape, so a unit name can neither end
    the string nor the `<style>` element it sits in.
    """
    body = "".join(ch if ch.isalnum() or ch == " " else f"\\{ord(ch):x} " for ch in text)
    return Markup(f'"{body}"')


def charts(content: ReportContent) -> dict[str, Markup]:
    """The report's SVG charts: elements against the target, and the unit's overall index by period."""
    elements = [Point(f.label, f.est, f.ci_lo, f.ci_hi) for f in content.elements]
    trend = [Point(t.period, t.figure.est, t.figure.ci_lo, t.figure.ci_hi)
             for t in content.trend if t.unit_code == content.unit_code]
    return {
        # a unit whose figures are withheld has no element to plot: no empty axes
        "elements": Markup("") if content.withheld else print_svg(interval_plot(
            elements, target=content.target, title=_("Element indices"), width=680, label_width=250)),
        "trend": print_svg(trend_chart(trend, target=content.target, title=_("Overall index by period"),
                                       width=680, height=210), pad_right=30),
    }


def render_html(content: ReportContent) -> str:
    """The report as HTML (what WeasyPrint prints; also handy to debug the layout in a browser)."""
    context: dict[str, Any] = {
        "c": content, "charts": charts(content), "method": method_pairs(content),
        "weighting": weighting_text(content.weighting), "flag_text": flag_text,
        "own_trend": [t for t in content.trend if t.unit_code == content.unit_code],
        "below": [f for f in content.elements if f.verdict == "below"],
        "css_string": css_string,
    }
    return render_template("reports/unit_report.html", **context)


def _no_fetching(url: str, timeout: int = 10, ssl_context: object = None) -> dict[str, object]:
    """The report needs nothing from outside: refuse every URL (no file reads, no network)."""
    raise ValueError(f"report rendering does not fetch resources: {url[:40]}")


def render_pdf(content: ReportContent) -> bytes:
    """The report as PDF bytes, A4 portrait."""
    html = render_html(content)
    document = HTML(string=html, url_fetcher=_no_fetching)
    pdf = document.write_pdf()
    if not isinstance(pdf, bytes):  # None only when a target file is given
        raise RuntimeError("WeasyPrint returned no PDF")
    return pdf
