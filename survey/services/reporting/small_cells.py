"""The small-cell rule on every published table of units, decided once for reports and the web.

A unit's row of a table (its count, estimate and interval) is hidden when the unit has 1 to
``SMALL_CELL - 1`` responses, and so is whatever would let a reader work such a count out by
subtracting the other units from their parent's total (complementary suppression,
`analysis.small_cells`). The PDF/XLSX/CSV reports, the dashboard's unit table, its sparklines, ranked
chart and CSV/XLSX download, and the unit page's tables and league table all ask this module which
units to hide, per period for trends: the same counts give the same hidden cells everywhere. Pages
and reports ask through `viewer_cells`, which makes the decision once per viewer on their scope's trees.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from analysis.small_cells import Relation, suppress_small_cells
from survey.services.reporting.formats import finite_number

if TYPE_CHECKING:  # indices imports this module for its league table
    from survey.services.reporting.index_report import IndexReport

SMALL_CELL = 5  # counts 0 < n < 5 are never published (docs/bad-input.md, "Export anonymity")
SMALL_CELL_FLAG = "small_cell"  # the precision flag a hidden figure carries (labels.FLAG_TEXT)


def protected_codes(counts: Mapping[str, int], parents: Mapping[str, str | None]) -> frozenset[str]:
    """Units whose figures a table must hide: counts 0 < n < SMALL_CELL, and the complements that stop
    one being worked out from its parent's total (`analysis.small_cells`). A parent's own responses
    (its total minus its children's) are a hidden term of each sum."""
    # A pure function of the counts and the tree, asked for every period of a trend on every page view,
    # and after a new response only the current period's counts differ: remembered by value.
    return _protected(tuple(counts.items()), tuple(parents.items()))


@functools.lru_cache(maxsize=64)  # a trend of 12 periods for a few trees; each entry holds a tree
def _protected(count_items: tuple[tuple[str, int], ...],
               parent_items: tuple[tuple[str, str | None], ...]) -> frozenset[str]:
    counts, parents = dict(count_items), dict(parent_items)
    values = dict(counts)
    children: dict[str, list[str]] = {}
    for code in counts:
        parent = parents.get(code)
        if parent is not None and parent in counts:
            children.setdefault(parent, []).append(code)
    relations, hidden = [], set()
    for parent, kids in children.items():
        own = f"{parent}\x00own"
        values[own] = counts[parent] - sum(counts[k] for k in kids)
        if values[own] < 0:  # not additive (should not happen): leave the sum out rather than guess
            del values[own]
            continue
        hidden.add(own)
        relations.append(Relation(parent, (*kids, own)))
    return suppress_small_cells(values, relations, threshold=SMALL_CELL, hidden=hidden).suppressed


def row_count(row: Mapping[str, Any] | None) -> int:
    """The response count of a `compute_indices` row (0 for a missing row or count)."""
    return int(row["n"]) if row is not None and finite_number(row["n"]) is not None else 0


def _counts_by_period(trend: pd.DataFrame) -> dict[str, dict[str, int]]:
    """period label -> unit code -> count (`row_count`) of a trend's overall rows, column by column: a
    province's year of months is 12,000 rows."""
    n = pd.to_numeric(trend["n"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    counts = np.where(np.isfinite(n), n, 0).astype(np.int64)
    periods, labels = pd.factorize(trend["period"].astype(str))
    domains = trend["domain"].astype(str).to_numpy(dtype=object)
    return {str(label): dict(zip(domains[periods == i].tolist(), counts[periods == i].tolist(), strict=True))
            for i, label in enumerate(labels.tolist())}


def hidden_row(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """An estimate row with every figure taken out (count, estimate, interval, test, design effect) and
    marked ``small_cell``: what a web table or download shows for a unit the rule hides."""
    kept = {"period", "level", "domain", "parent", "stat_type", "stat", "target"}
    out: dict[str, Any] = {k: v for k, v in (row or {}).items() if k in kept}
    out.update(n=None, df=math.nan, est=math.nan, se=math.nan, ci_lo=math.nan, ci_hi=math.nan,
               deff_kish=math.nan, n_eff=math.nan, n_eff_floor=math.nan, p_value=math.nan,
               verdict="suppressed", flags=SMALL_CELL_FLAG, small_cell=True)
    return out


def hidden_units(report: IndexReport) -> frozenset[str]:
    """Units of `report`'s tree whose overall figures are hidden in its period."""
    if "hidden_units" not in report.derived:
        table = report.estimates
        overall = table[(table["stat_type"] == "overall_index") & (table["stat"] == "overall")]
        found = {str(domain): row_count({"n": n})
                 for domain, n in zip(overall["domain"].tolist(), overall["n"].tolist(), strict=True)}
        counts = {code: found.get(code, 0) for code in report.parents}
        report.derived["hidden_units"] = protected_codes(counts, report.parents)
    return cast(frozenset[str], report.derived["hidden_units"])


def hidden_units_by_period(report: IndexReport, last: IndexReport | None = None) -> dict[str, frozenset[str]]:
    """period label (as in `IndexReport.trend_labels`) -> units of the tree hidden in that period's trend.

    `last`: the same report on older data, whose decisions are kept for the periods whose counts it
    shares (after a new response, all but the response's own period): the decision is a function of the
    counts and the tree alone."""
    if "hidden_by_period" not in report.derived:
        counts = _counts_by_period(report.trend)
        kept: Mapping[str, frozenset[str]] = {}
        before: dict[str, dict[str, int]] = {}
        if last is not None and last.parents == report.parents and "hidden_by_period" in last.derived:
            kept, before = last.derived["hidden_by_period"], _counts_by_period(last.trend)
        report.derived["hidden_by_period"] = {
            label: kept[label] if label in kept and before.get(label) == found
            else protected_codes(found, report.parents)
            for label, found in counts.items()}
    return dict(report.derived["hidden_by_period"])
