"""The signed-in viewer's small-cell decision (`services.reporting.viewer_cells`), computed once per
request and instrument/period/weighting, so the unit page, its reports and the alerts all read one set."""

from __future__ import annotations

from flask import current_app, g

from survey.auth import current_staff
from survey.extensions import db
from survey.services.reporting.periods import Period
from survey.services.reporting.viewer_cells import ViewerCells, viewer_cells


def viewer_hidden(instrument_key: str, period: Period, weighted: bool) -> ViewerCells:
    """The units whose figures the signed-in viewer may not see for `instrument_key` in `period`."""
    cache: dict[tuple[str, str, bool], ViewerCells] = g.setdefault("viewer_cells", {})
    key = (instrument_key, period.label, weighted)
    if key not in cache:
        cache[key] = viewer_cells(db.session(), current_staff(), instrument_key, period, weighted=weighted,
                                  default_target=current_app.config["DEFAULT_TARGET"],
                                  min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    return cache[key]
