"""The dashboard's unit table, one row rendered once per content.

A province's table has over 400 rows; rendering them (macros, Babel's number formats, the change and
verdict badges, two links each) took about 0.12 s of every view, warm or not, although a new response
changes the figures of three or four rows. Each row is turned into a `RowView`, a tuple of plain values
holding everything its markup shows, and rendered by the ``unit_row`` macro from that tuple alone
(templates/manage/dashboard/_unit_row.html), so the tuple, the page's language and the link arguments
are the whole key of its markup: an unchanged row is taken from the cache, a changed one is rendered.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from flask import get_template_attribute, request
from markupsafe import Markup

from survey.i18n import current_locale

ROW_MACRO = ("manage/dashboard/_unit_row.html", "unit_row")


def _plain(value: Any) -> Any:
    """A figure as the key compares it: every NaN the one `math.nan` object (a NaN equals only itself,
    so rows with missing figures would otherwise never match), numpy scalars as Python numbers."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return math.nan if math.isnan(number) else number


class EstimateView(NamedTuple):
    """What `dash.estimate_cells` shows of an overall index row."""

    est: Any
    ci_lo: Any
    ci_hi: Any
    verdict: str
    n: Any
    small_cell: bool


class ChangeView(NamedTuple):
    """What `change_badge` shows of a unit's change."""

    direction: str
    diff: Any


class RateView(NamedTuple):
    rate: Any
    responses: int
    served: Any


class SourceView(NamedTuple):
    """The unit a target is inherited from."""

    code: str
    name_vi: str
    name_en: str | None

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" and self.name_en else self.name_vi


class TargetView(NamedTuple):
    value: Any
    own: bool
    source: SourceView | None


class ProposalView(NamedTuple):
    target: Any


class RowView(NamedTuple):
    """Everything one row of the unit table shows."""

    depth: int
    info: tuple[Any, ...]  # unit id, name (vi), name (en), kind
    overall: EstimateView | None
    change: ChangeView | None
    rate: RateView | None
    small_cell: bool
    flagged: int
    target: TargetView
    proposal: ProposalView | None
    spark: Markup


def row_view(row: Mapping[str, Any]) -> RowView:
    """The plain values of a row of `dashboard.dashboard_sections`."""
    overall, change, rate = row["overall"], row["change"], row["rate"]
    target, proposal = row["target"], row["proposal"]
    source = None if target.source is None else SourceView(target.source.code, target.source.name_vi,
                                                           target.source.name_en)
    return RowView(
        depth=int(row["depth"]),
        info=tuple(row["info"]),
        overall=None if overall is None else EstimateView(
            _plain(overall.get("est")), _plain(overall.get("ci_lo")), _plain(overall.get("ci_hi")),
            str(overall.get("verdict") or ""), _plain(overall.get("n")), bool(overall.get("small_cell"))),
        change=None if change is None else ChangeView(str(change["direction"]), _plain(change["diff"])),
        rate=None if rate is None else RateView(_plain(rate.rate), int(rate.responses), _plain(rate.served)),
        small_cell=bool(row["small_cell"]),
        flagged=int(row["flagged"]),
        target=TargetView(_plain(target.value), bool(target.own), source),
        proposal=None if proposal is None else ProposalView(_plain(proposal.target)),
        spark=Markup(row["spark"]),
    )


def rendered_rows(rows: Sequence[Mapping[str, Any]], period_label: str, instrument_key: str,
                  weighted: bool) -> list[Markup]:
    """Each row's ``<tr>``, rendered by `ROW_MACRO` or taken from the cache."""
    context = (current_locale(), request.script_root, period_label, instrument_key, weighted)
    return [_rendered(row_view(row), *context) for row in rows]


@functools.lru_cache(maxsize=8192)  # a few MB: a row's markup is 1-2 KB
def _rendered(view: RowView, lang: str, script_root: str, period_label: str, instrument_key: str,
              weighted: bool) -> Markup:
    """The row's markup: the macro reads `view` and these arguments only (`lang` and `script_root` are
    what its translations and links depend on, read by it from the request)."""
    del lang, script_root  # part of the cache key
    macro = get_template_attribute(*ROW_MACRO)
    return Markup(macro(view, period_label, instrument_key, weighted))
