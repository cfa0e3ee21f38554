"""The change against the previous month is the same whether it is computed from the index aggregates'
cell sums (both months read from them) or from the responses (the aggregates emptied): the unit page,
the dashboard's change column, the reports and the alerts read `IndexReport.changes`.

The responses path is `analysis.period_contrast.change_with_covariance`, checked against R's
``svycontrast`` in tests/analysis/test_period_contrast.py and by hand in test_change_covariance.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from survey.extensions import db
from survey.models import IndexAggregate, ServedCount, Unit
from survey.services.reporting.index_source import period_sums
from survey.services.reporting.indices import DEFAULT_MIN_CELL, compute_unit_indices, instrument_for
from survey.services.reporting.periods import Period
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import KEY, demo_with_responses

PERIOD = Period.month(2026, 11)
FIGURES = ["est1", "est0", "ci_lo1", "ci_hi1", "diff", "se", "df", "lo", "hi", "p_value"]


def _changes(weighted: bool) -> tuple[pd.DataFrame, list[bool | None]]:
    """The report's changes and, per month, whether its sums are weighted (None: read from responses)."""
    session = db.session()
    root = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    report = compute_unit_indices(session, root, KEY, PERIOD, weighted=weighted)
    ids = subtree_ids(session, [root.id])
    sums = [period_sums(session, ids, p, instrument_for(KEY), weighted=weighted, min_cell=DEFAULT_MIN_CELL)
            for p in (PERIOD, PERIOD.shifted(1))]
    return report.changes, [None if s is None else s.weighted for s in sums]


@pytest.mark.parametrize(("weighted", "frames"), [(False, (10, 11)), (True, (10, 11)), (True, (10,))])
def test_the_change_is_the_same_from_the_aggregates_and_from_the_responses(
        migrated_db: Path, tmp_path: Path, weighted: bool, frames: tuple[int, ...]) -> None:
    """Unweighted, both months post-stratified, and November unweighted (no frame) after a weighted
    October."""
    app = demo_with_responses(migrated_db, tmp_path, 300, seed=3)
    with app.app_context():
        if 11 not in frames:
            db.session.execute(sa.delete(ServedCount).where(ServedCount.period_start == date(2026, 11, 1)))
            db.session.commit()
        summed, sources = _changes(weighted)
        # both months from the aggregates, weighted as asked when they have a frame
        assert sources == [weighted and 11 in frames, weighted and 10 in frames]
        db.session.execute(sa.delete(IndexAggregate))
        db.session.commit()
        rows, sources = _changes(weighted)
        assert sources == [None, None]
    assert list(summed.index) == list(rows.index) and len(rows) >= 5
    comparable = rows["direction"] != "not_comparable"
    assert comparable.sum() >= 3 and np.isfinite(rows.loc[comparable, "se"].astype(float)).all()
    for column in ("direction", "significant"):
        assert summed[column].tolist() == rows[column].tolist(), column
    for column in FIGURES:
        np.testing.assert_allclose(summed[column].astype(float), rows[column].astype(float), rtol=0,
                                   atol=1e-12, err_msg=column)
