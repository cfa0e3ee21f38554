"""A window's responses counted once per month (`response_counts`): the counts are those of the response
rows, counted here in Python from the rows themselves, and a new response recounts its own month only."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.local_time import local_date
from survey.models import Counter as CounterModel
from survey.models import Response, ResponseStatus, Unit
from survey.services.reporting import response_counts
from survey.services.reporting.periods import Period
from survey.services.reporting.response_counts import window_counts
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import demo_with_responses, submit

YEAR, NOVEMBER, QUARTER = Period.year(2026), Period.month(2026, 11), Period.quarter(2026, 4)
INSTRUMENT = "sipas-counter"


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=8)
    with app.app_context():  # some left out, for the reasons to be counted too
        counters = list(db.session.scalars(sa.select(CounterModel).order_by(CounterModel.id)))
        for i, counter in enumerate(counters[:6]):
            submit(db.session(), counter, {"e1_info": 2}, datetime(2026, 10 + i % 2, 5 + i, 2, tzinfo=UTC),
                   flags=("device",) if i % 2 else ("burst",))
        db.session.commit()
    return app


@pytest.fixture
def counted_months(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The months counted from the responses (not taken from the cache)."""
    months: list[str] = []
    real = response_counts._counted

    def recording(session: Session, month: Period, instrument_id: str) -> Any:
        months.append(month.label)
        return real(session, month, instrument_id)

    monkeypatch.setattr(response_counts, "_counted", recording)
    return months


def _province_ids(code: str = "HL") -> set[int]:
    root = db.session.scalar(sa.select(Unit).where(Unit.code == code))
    assert root is not None
    return subtree_ids(db.session(), [root.id])


def _by_hand(period: Period, ids: set[int]
             ) -> tuple[Counter[tuple[int, str]], Counter[tuple[int, str, str, str]]]:
    """Every response row of the window read, its local date compared with the period's days."""
    valid: Counter[tuple[int, str]] = Counter()
    left_out: Counter[tuple[int, str, str, str]] = Counter()
    for response in db.session.scalars(sa.select(Response).where(Response.instrument_id == INSTRUMENT)):
        day = local_date(response.submitted_at)
        if response.unit_id not in ids or not period.first <= day <= period.last:
            continue
        if response.status == ResponseStatus.VALID:
            valid[response.unit_id, response.instrument_version] += 1
        else:
            left_out[response.unit_id, response.instrument_version, ResponseStatus(response.status).value,
                     response.status_reason or ""] += 1
    return valid, left_out


@pytest.mark.parametrize("subtree", ["HL", "HL-AB"])
@pytest.mark.parametrize("period", [NOVEMBER, QUARTER, YEAR])
def test_the_counts_are_the_response_rows(capp: Flask, period: Period, subtree: str) -> None:
    with capp.app_context():
        ids = _province_ids(subtree)
        found = window_counts(db.session(), ids, period, INSTRUMENT)
        valid, left_out = _by_hand(period, ids)
    assert dict(found.valid) == dict(valid) and sum(valid.values()) > (50 if subtree == "HL" else 5)
    assert dict(found.left_out) == dict(left_out)
    assert len(left_out) >= (2 if period != NOVEMBER and subtree == "HL" else 0)
    by_unit: Counter[int] = Counter()
    for (unit_id, _), n in valid.items():
        by_unit[unit_id] += n
    assert found.valid_by_unit() == dict(by_unit) == found.valid_by_unit("2025.1")
    assert found.valid_by_unit("1999.9") == {} and found.left_out_of("1999.9") == {}


def test_a_new_response_recounts_its_own_month_only(capp: Flask, counted_months: list[str]) -> None:
    with capp.app_context():
        ids = _province_ids()
        window_counts(db.session(), ids, YEAR, INSTRUMENT)
        assert len(counted_months) == 12
        counter = db.session.scalars(sa.select(CounterModel).order_by(CounterModel.id)).first()
        assert counter is not None
        submit(db.session(), counter, {"e1_info": 5}, datetime(2026, 11, 25, 3, tzinfo=UTC))
        submit(db.session(), counter, {"e1_info": 1}, datetime(2026, 11, 26, 3, tzinfo=UTC),
               flags=("device",))
        db.session.commit()
        counted_months.clear()
        found = window_counts(db.session(), ids, YEAR, INSTRUMENT)
        assert counted_months == ["2026-11"]
        valid, left_out = _by_hand(YEAR, ids)
    assert dict(found.valid) == dict(valid) and dict(found.left_out) == dict(left_out)


def test_a_subtree_reads_the_months_another_page_counted(capp: Flask, counted_months: list[str]) -> None:
    """Counting one ward's month reads the whole month's index entries anyway: a month is counted for
    every unit once, and a ward's page takes its counts from what its province's page counted."""
    with capp.app_context():
        window_counts(db.session(), _province_ids(), QUARTER, INSTRUMENT)
        assert counted_months == ["2026-10", "2026-11", "2026-12"]
        ward = _province_ids("HL-AB")
        found = window_counts(db.session(), ward, QUARTER, INSTRUMENT)
        assert counted_months == ["2026-10", "2026-11", "2026-12"]  # nothing counted again
        valid, left_out = _by_hand(QUARTER, ward)
    assert dict(found.valid) == dict(valid) and dict(found.left_out) == dict(left_out) and valid


def test_a_month_counted_for_one_window_serves_every_window(capp: Flask, counted_months: list[str]) -> None:
    """A month's counts are kept under that month's own version, whichever window (a year, a quarter,
    the month) asked first: the year's page and the month's page do not recount each other's months."""
    with capp.app_context():
        window_counts(db.session(), _province_ids(), YEAR, INSTRUMENT)
        db.session.remove()  # the next page: a new session, its stamps read again
        window_counts(db.session(), _province_ids(), NOVEMBER, INSTRUMENT)
        db.session.remove()
        window_counts(db.session(), _province_ids("HL-AB"), QUARTER, INSTRUMENT)
    assert counted_months == [f"2026-{m:02d}" for m in range(1, 13)]
