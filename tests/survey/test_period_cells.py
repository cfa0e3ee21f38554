"""A quarter's or a year's aggregate cells put together from its months (`period_cells`) are those of the
period weighed at once: the same cells in the rows' order, the same weights to the bit, the same merged
cells and units' digests, before and after a new response (which makes only its own month again); when a
month cannot stand on its own the period is weighed whole, with the same digests as month by month."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.models import ServedCount, Unit
from survey.services.reporting import index_source, period_cells
from survey.services.reporting.indices import instrument_for
from survey.services.reporting.period_cells import WeightedCells, weighted_cells
from survey.services.reporting.period_weights import WEIGHTED_METHOD, cell_weights
from survey.services.reporting.periods import Period
from survey.services.reporting.table_update import unit_digests
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import KEY, demo_with_responses, respond_at

QUARTER, YEAR = Period.quarter(2026, 4), Period.year(2026)
MIN_CELL = 5


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 160, seed=9)


def _province(session: Session) -> set[int]:
    root = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    return subtree_ids(session, [root.id])


def _whole(session: Session, ids: set[int], period: Period, rows: list[Any]) -> tuple[pd.DataFrame, str]:
    """The period's cells weighed at once (`period_weights.cell_weights`), written out here."""
    cells = pd.DataFrame([(code, month, field, n) for _, code, month, field, n, *_ in rows],
                         columns=["unit", "month", "field", "respondents"])
    weights, statement = cell_weights(session, cells[["unit", "field", "month", "respondents"]], ids,
                                      period.first, period.last, True, MIN_CELL)
    if weights is not None:
        leaves = pd.MultiIndex.from_frame(cells[["unit", "month", "field"]])
        cells["weight"] = weights.weight.reindex(leaves).to_numpy()
        cells["calibration_cell"] = weights.cell.reindex(leaves).to_numpy()
    return cells, statement


def _assert_as_weighed_whole(session: Session, period: Period) -> WeightedCells:
    ids = _province(session)
    rows = index_source._aggregate_rows(session, ids, period, instrument_for(KEY))
    found = weighted_cells(session, rows, ids, period, KEY, True, MIN_CELL)
    whole, statement = _whole(session, ids, period, rows)
    assert found.weighting == statement
    assert len(found.cells) == len(rows) >= 6 and found.cells["month"].nunique() == 2
    pd.testing.assert_frame_equal(found.cells.drop(columns="calibration_cell"),
                                  whole.drop(columns="calibration_cell"), check_exact=True)
    # the same merged cells, whatever their codes
    assert {frozenset(v) for v in found.cells.groupby("calibration_cell").indices.values()} == {
        frozenset(v) for v in whole.groupby("calibration_cell").indices.values()}
    assert found.digests == unit_digests(whole, [row[6] for row in rows], True)
    return found


@pytest.mark.parametrize("period", [QUARTER, YEAR], ids=["quarter", "year"])
def test_a_period_from_its_months_is_the_period_weighed_at_once(capp: Flask, period: Period) -> None:
    with capp.app_context():
        period_cells._MONTHS._entries.clear()
        found = _assert_as_weighed_whole(db.session(), period)
        assert found.weighting == WEIGHTED_METHOD and found.weighted


def test_a_new_response_makes_its_own_month_again(capp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with capp.app_context():
        session = db.session()
        period_cells._MONTHS._entries.clear()
        before = _assert_as_weighed_whole(session, YEAR)
        respond_at(session)
        made: list[date] = []
        real = period_cells._month

        def recording(session: Session, rows: Any, ids: Any, first: date, *args: Any) -> Any:
            made.append(first)
            return real(session, rows, ids, first, *args)

        monkeypatch.setattr(period_cells, "_month", recording)
        after = _assert_as_weighed_whole(session, YEAR)
        assert made == [date(2026, 10, 1)]
        moved = {unit for unit, digest in after.digests.items() if before.digests.get(unit) != digest}
        assert moved == {"HL-AB-1"}


def test_a_month_that_cannot_stand_alone_weighs_the_period_whole(capp: Flask) -> None:
    with capp.app_context():
        session = db.session()
        # a desk's frame gone in October while it has responses: the period cannot be weighted, says why
        session.execute(sa.delete(ServedCount).where(
            ServedCount.period_start == date(2026, 10, 1),
            ServedCount.unit_id == session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB-1"))))
        session.commit()
        period_cells._MONTHS._entries.clear()
        ids = _province(session)
        rows = index_source._aggregate_rows(session, ids, YEAR, instrument_for(KEY))
        found = weighted_cells(session, rows, ids, YEAR, KEY, True, MIN_CELL)
        whole, statement = _whole(session, ids, YEAR, rows)
        assert not found.weighted and found.weighting == statement != WEIGHTED_METHOD
        assert "weight" not in found.cells
        assert found.digests == unit_digests(whole, [row[6] for row in rows], False)


def test_a_month_read_again_digests_only_the_sums_that_moved(capp: Flask,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """After a new response a month's aggregate rows are read again: the cells whose sums are the bytes
    read last time keep their digest, the moved one is hashed again, and every digest is its sums'."""
    with capp.app_context():
        session = db.session()
        ids = _province(session)
        index_source._MONTH_ROWS._entries.clear()
        first_read = index_source._aggregate_rows(session, ids, YEAR, instrument_for(KEY))
        before = {row[:4]: row[5] for row in first_read}
        respond_at(session)
        hashed: list[bytes] = []
        real = index_source.sums_digest

        def recording(sums: bytes) -> bytes:
            hashed.append(sums)
            return real(sums)

        monkeypatch.setattr(index_source, "sums_digest", recording)
        rows = index_source._aggregate_rows(db.session(), ids, YEAR, instrument_for(KEY))
        moved = [row[5] for row in rows if before.get(row[:4]) != row[5]]
        assert len(moved) == 1 and hashed == moved
        assert all(row[6] == real(row[5]) for row in rows)
