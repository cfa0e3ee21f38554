"""A period's cell weights from its months' own, each kept under that month's data version.

Post-stratification cells are unit × procedure field × month, and the collapse rule merges cells within
one unit's month (`analysis.poststratification`): a period's weights are its months' weights side by
side, each a ratio of whole counts (dossiers served over respondents) that does not depend on the other
months. So a quarter's or a year's weights are put together from each month's, kept per process under
that month's version (`index_cache`), and a new response weighs its own month again, not twelve (a
province's year at a million responses: 12,000 cells, 0.07 s).

Whenever a month cannot stand on its own the whole period is weighed as before, so that what the page
says is the period's own statement: a month whose respondents cannot be weighted (no frame, a frame
they do not fit), or a month without respondents whose frame would add cells served but never answered
to the report of merged cells. A month with neither respondents nor a frame (the rest of the current
year) adds nothing. Cell codes are renumbered so that no two months share one; the merged-cells report
lists each month's rows in turn (pages sort it).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Literal

import pandas as pd
from sqlalchemy.orm import Session

from analysis.weights import CellWeights
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.period_weights import WEIGHTED_METHOD, cell_weights
from survey.services.reporting.periods import Period, month_spans
from survey.services.reporting.respondent_data import frame_table

# What one month gives: its weights, nothing (no respondents, no frame), or "weigh the whole period".
MonthPart = tuple[Literal["weights", "nothing", "whole"], CellWeights | None]


def period_cell_weights(session: Session, counts: pd.DataFrame, ids: Collection[int], period: Period,
                        instrument_key: str, weighted: bool, min_cell: int) -> tuple[CellWeights | None, str]:
    """`period_weights.cell_weights` of the period's cells (`counts`: unit, field, month, respondents of
    one instrument version, `instrument_key`), put together from each month's (see the module)."""
    spans = month_spans(period.first, period.last)
    if not weighted or counts.empty or len(spans) == 1:
        return cell_weights(session, counts, ids, period.first, period.last, weighted, min_cell)
    by_month = {str(month): part for month, part in counts.groupby("month", sort=False)}
    pieces: list[CellWeights] = []
    for first, last in spans:
        kind, weights = month_part(session, by_month.get(first.strftime("%Y-%m")), ids, first, last,
                                   instrument_key, min_cell)
        if kind == "whole":
            return cell_weights(session, counts, ids, period.first, period.last, weighted, min_cell)
        if weights is not None:
            pieces.append(weights)
    return _side_by_side(pieces), WEIGHTED_METHOD


def month_part(session: Session, counts: pd.DataFrame | None, ids: Collection[int], first: date, last: date,
               instrument_key: str, min_cell: int) -> MonthPart:
    """The part of a period's weights of the month first..last (`MonthPart`), from its cells' counts
    (`counts`: unit, field, month, respondents; None when it has none), kept under the month's version."""
    url, subtree = str(session.get_bind().engine.url), frozenset(ids)
    key = (url, subtree, first.strftime("%Y-%m"), instrument_key, min_cell)
    version = data_version(session, subtree, first, last)
    found = _MONTHS.get(key, version)
    if found is None:
        found = _month(session, counts, ids, first, last, min_cell)
        _MONTHS.put(key, version, found)
    return found


def _month(session: Session, counts: pd.DataFrame | None, ids: Collection[int], first: date, last: date,
           min_cell: int) -> MonthPart:
    if counts is None or counts.empty:
        return ("nothing", None) if frame_table(session, ids, first, last).empty else ("whole", None)
    weights, _statement = cell_weights(session, counts, ids, first, last, True, min_cell)
    return ("whole", None) if weights is None else ("weights", weights)


def _side_by_side(pieces: list[CellWeights]) -> CellWeights:
    """The months' weights as one period's: cell codes renumbered so that each month's stay its own."""
    weights, cells, offset = [], [], 0
    for piece in pieces:
        if piece.weight.empty:
            continue
        weights.append(piece.weight)
        cells.append(piece.cell + offset)
        offset += int(piece.cell.max()) + 1
    reports = [piece.collapsed for piece in pieces if not piece.collapsed.empty]
    return CellWeights(
        weight=pd.concat(weights) if weights else pd.Series(dtype="float64"),
        cell=pd.concat(cells) if cells else pd.Series(dtype="int64"),
        collapsed=(pd.concat(reports, ignore_index=True) if reports
                   else pieces[0].collapsed if pieces else pd.DataFrame()))


# Process-local: a month of a province's cells is about a thousand weights.
_MONTHS: VersionedCache[MonthPart] = VersionedCache(256)
