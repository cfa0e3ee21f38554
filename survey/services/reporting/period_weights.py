"""The dashboard's weights for a period: post-stratified to served dossiers per unit × procedure field ×
month, from the respondents (`respondent_weights`) or from their counts per cell (`cell_weights`, for
the index aggregates). One collapse rule (`analysis.poststratification`) and one set of statements
say how the figures were weighted, whichever source they were computed from.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date
from typing import TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from analysis.weights import CellWeights, PoststratResult, WeightingError, poststratify, poststratify_counts
from survey.models import ALL
from survey.services.reporting.respondent_data import frame_table

W = TypeVar("W", PoststratResult, CellWeights)

WEIGHTED_METHOD = "post-stratified to served dossiers (unit × procedure field × month)"
UNWEIGHTED_METHOD = "unweighted: no frame"
CHOSEN_UNWEIGHTED = "unweighted (chosen)"
NO_RESPONSES = "no responses in this period"


def respondent_weights(session: Session, data: pd.DataFrame, ids: Collection[int], first: date, last: date,
                       weighted: bool, min_cell: int) -> tuple[PoststratResult | None, str]:
    """The weights of `data` (respondents of units `ids` on days first..last) with their weighting cells
    (for the calibrated variance), and how they were made: post-stratified to served dossiers per unit
    x procedure field x month, or None and why not. The dashboard and the microdata export both weight
    with this, so their figures agree."""
    def weigh(frame: pd.DataFrame) -> PoststratResult:
        cells = data[["unit", "field", "month"]].fillna({"field": ALL})
        return poststratify(cells, frame, ["field"], unit_col="unit", count_col="served",
                            period_col="month", min_cell=min_cell)

    return _weighted(session, data.empty, ids, first, last, weighted, weigh)


def cell_weights(session: Session, counts: pd.DataFrame, ids: Collection[int], first: date, last: date,
                 weighted: bool, min_cell: int) -> tuple[CellWeights | None, str]:
    """`respondent_weights` from respondents counted per cell: `counts` has columns unit, field, month
    and respondents. The same weights, cells and statements."""
    def weigh(frame: pd.DataFrame) -> CellWeights:
        return poststratify_counts(counts, frame, ["field"], unit_col="unit", count_col="served",
                                   period_col="month", min_cell=min_cell)

    return _weighted(session, counts.empty, ids, first, last, weighted, weigh)


def _weighted(session: Session, empty: bool, ids: Collection[int], first: date, last: date, weighted: bool,
              weigh: Callable[[pd.DataFrame], W]) -> tuple[W | None, str]:
    """`weigh(frame)` with the period's frame, or None and the statement saying why the figures are not
    weighted: not asked, no responses, no frame, or a frame the responses cannot be weighted to."""
    if not weighted:
        return None, CHOSEN_UNWEIGHTED
    if empty:
        return None, NO_RESPONSES
    frame = frame_table(session, ids, first, last)
    if frame.empty:
        return None, UNWEIGHTED_METHOD
    try:
        return weigh(frame), WEIGHTED_METHOD
    except WeightingError as error:
        return None, f"{UNWEIGHTED_METHOD} ({error})"
