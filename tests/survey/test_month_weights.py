"""A quarter's or a year's cell weights put together from its months' (`month_weights`) are those of the
whole period weighed at once (`period_weights.cell_weights`): the same weight for every cell to the
last bit, the same merged cells, the same report of merged cells and the same statement; when a month
cannot stand on its own, the period is weighed whole. After a new response only its month is weighed
again."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from analysis.weights import CellWeights
from survey.extensions import db
from survey.models import FrameUpload, ServedCount, Unit
from survey.services.reporting import index_source, month_weights
from survey.services.reporting.indices import instrument_for
from survey.services.reporting.period_weights import WEIGHTED_METHOD, cell_weights
from survey.services.reporting.periods import Period
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import KEY, demo_with_responses, respond_at

QUARTER, YEAR = Period.quarter(2026, 4), Period.year(2026)
MIN_CELL = 5


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 160, seed=8)


def _counts(session: Session, period: Period) -> tuple[pd.DataFrame, set[int]]:
    root = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    ids = subtree_ids(session, [root.id])
    rows = index_source._aggregate_rows(session, ids, period, instrument_for(KEY))
    counts = pd.DataFrame([(code, field, month, n) for _, code, month, field, n, *_ in rows],
                          columns=["unit", "field", "month", "respondents"])
    return counts, ids


def _both(session: Session, period: Period) -> tuple[tuple[CellWeights | None, str],
                                                     tuple[CellWeights | None, str], pd.DataFrame]:
    counts, ids = _counts(session, period)
    month_weights._MONTHS._entries.clear()
    ours = month_weights.period_cell_weights(session, counts, ids, period, KEY, True, MIN_CELL)
    whole = cell_weights(session, counts, ids, period.first, period.last, True, MIN_CELL)
    return ours, whole, counts


def _assert_same(ours: CellWeights, whole: CellWeights, counts: pd.DataFrame) -> None:
    leaves = pd.MultiIndex.from_frame(counts[["unit", "month", "field"]])
    assert ours.weight.reindex(leaves).tolist() == whole.weight.reindex(leaves).tolist()  # bit for bit
    assert ours.weight.reindex(leaves).notna().all()
    # the same partition into merged cells, whatever the codes
    mine, theirs = ours.cell.reindex(leaves).to_numpy(), whole.cell.reindex(leaves).to_numpy()
    assert len(set(zip(mine, theirs, strict=True))) == len(set(mine)) == len(set(theirs))
    order = ["unit", "month", "field"]
    pd.testing.assert_frame_equal(ours.collapsed.sort_values(order).reset_index(drop=True),
                                  whole.collapsed.sort_values(order).reset_index(drop=True))


@pytest.mark.parametrize("period", [QUARTER, YEAR])
def test_a_period_weighed_month_by_month_is_the_period_weighed_whole(capp: Flask, period: Period) -> None:
    with capp.app_context():
        (ours, statement), (whole, whole_statement), counts = _both(db.session(), period)
        assert statement == whole_statement == WEIGHTED_METHOD
        assert ours is not None and whole is not None
        assert set(counts["month"]) == {"2026-10", "2026-11"} and len(whole.collapsed) > 0
        _assert_same(ours, whole, counts)


def _frame(session: Session, code: str, month: int, served: int) -> None:
    upload = FrameUpload(source="csv", rows=1)
    session.add(upload)
    session.flush()
    unit = session.scalar(sa.select(Unit.id).where(Unit.code == code))
    assert unit is not None
    last = (date(2026, month + 1, 1) - date.resolution) if month < 12 else date(2026, 12, 31)
    session.add(ServedCount(unit_id=unit, procedure_field="", channel="", period_start=date(2026, month, 1),
                            period_end=last, served=served, upload_id=upload.id))
    session.commit()


def test_a_month_that_cannot_stand_alone_weighs_the_period_whole(capp: Flask) -> None:
    with capp.app_context():
        session = db.session()
        # September: dossiers served but no response, so the report lists a cell never answered
        _frame(session, "HL-AB-1", 9, 140)
        (ours, statement), (whole, whole_statement), counts = _both(session, YEAR)
        assert statement == whole_statement and ours is not None and whole is not None
        assert "2026-09" in set(whole.collapsed["month"])
        _assert_same(ours, whole, counts)
        # October: a desk's frame gone while it has responses: the period cannot be weighted, and says why
        session.execute(sa.delete(ServedCount).where(
            ServedCount.period_start == date(2026, 10, 1),
            ServedCount.unit_id == session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB-1"))))
        session.commit()
        (ours, statement), (whole, whole_statement), _ = _both(session, YEAR)
        assert ours is None and whole is None and statement == whole_statement != WEIGHTED_METHOD


def test_a_new_response_weighs_its_own_month_again(capp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with capp.app_context():
        session = db.session()
        counts, ids = _counts(session, YEAR)
        month_weights.period_cell_weights(session, counts, ids, YEAR, KEY, True, MIN_CELL)
        respond_at(session)
        weighed: list[Any] = []
        real = month_weights.cell_weights

        def recording(session: Session, counts: pd.DataFrame, ids: Any, first: date, *args: Any) -> Any:
            weighed.append(first)
            return real(session, counts, ids, first, *args)

        monkeypatch.setattr(month_weights, "cell_weights", recording)
        counts, ids = _counts(session, YEAR)
        ours, _ = month_weights.period_cell_weights(session, counts, ids, YEAR, KEY, True, MIN_CELL)
        assert weighed == [date(2026, 10, 1)]
        monkeypatch.setattr(month_weights, "cell_weights", real)
        whole, _ = cell_weights(session, counts, ids, YEAR.first, YEAR.last, True, MIN_CELL)
        assert ours is not None and whole is not None
        _assert_same(ours, whole, counts)
