"""A period's frame table (`respondent_data.frame_table`) is read once until a frame or a target changes:
a new response does not read it again, a changed frame does, and each caller gets its own copy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.models import Counter, ServedCount, Unit
from survey.services.reporting import respondent_data
from survey.services.reporting.respondent_data import frame_table
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import demo_with_responses, submit

FIRST, LAST = date(2026, 10, 1), date(2026, 12, 31)


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 30, seed=2)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[date, date]]:
    """The windows read from the database (not taken from the cache)."""
    found: list[tuple[date, date]] = []
    real = respondent_data._read_frame_table

    def recording(session: Session, ids: Any, first: date, last: date) -> Any:
        found.append((first, last))
        return real(session, ids, first, last)

    monkeypatch.setattr(respondent_data, "_read_frame_table", recording)
    return found


def _ids() -> set[int]:
    root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    return subtree_ids(db.session(), [root.id])


def test_a_new_response_does_not_read_the_frames_again(capp: Flask, reads: list[Any]) -> None:
    with capp.app_context():
        first = frame_table(db.session(), _ids(), FIRST, LAST)
        expected = first.copy()
        first.loc[:, "served"] = 0  # the caller's own copy: not what the cache keeps
        counter = db.session.scalars(sa.select(Counter).order_by(Counter.id)).first()
        assert counter is not None
        submit(db.session(), counter, {"e1_info": 5}, datetime(2026, 11, 3, 3, tzinfo=UTC))
        db.session.commit()
        again = frame_table(db.session(), _ids(), FIRST, LAST)
    assert reads == [(FIRST, LAST)]
    assert again.equals(expected) and len(expected) == 7


def test_a_changed_frame_is_read_again(capp: Flask, reads: list[Any]) -> None:
    with capp.app_context():
        frame_table(db.session(), _ids(), FIRST, LAST)
        row = db.session.scalars(sa.select(ServedCount).join(Unit).where(
            Unit.code == "HL-AB-1", ServedCount.period_start == date(2026, 11, 1))).one()
        row.served = 260
        db.session.commit()
        again = frame_table(db.session(), _ids(), FIRST, LAST)
    assert reads == [(FIRST, LAST)] * 2
    served = again.set_index(["unit", "month"])["served"]
    assert served["HL-AB-1", "2026-11"] == 260 and served["HL-HL-1", "2026-11"] == 90
