"""The SQL pivot equals a Python pivot of the same long-form rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from instruments.registry import get_instrument
from survey.extensions import db
from survey.models import Answer, Response, ResponseStatus, Unit
from survey.services.reporting import respondent_data
from survey.services.reporting.periods import month_spans
from survey.services.reporting.respondent_data import (
    TEXT,
    load_respondents,
    load_respondents_cached,
    unit_parent_map,
)
from tests.survey.report_helpers import add_responses


def _flag_the_last_response() -> None:
    flagged = db.session.scalar(sa.select(Response).order_by(Response.id.desc()))
    assert flagged is not None
    flagged.status, flagged.status_reason = ResponseStatus.FLAGGED, "burst"
    db.session.commit()


def test_sql_pivot_equals_python_pivot(app: Flask, demo: dict[str, int]) -> None:
    add_responses(app, "HL-AB-1", [5, 4, 2, 0, 1, 3] * 3, day=10, harassment=False)
    # 31 Oct 03:00 UTC is 31 Oct in Vietnam
    add_responses(app, "HL-TTHCC-1", [4, 4, 5], day=31, harassment=False)
    with app.app_context():
        _flag_the_last_response()
        instrument = get_instrument("sipas-counter", "2025.1")
        root = db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL"))
        ids = [u for u in db.session.scalars(sa.select(Unit.id))]
        loaded = load_respondents(db.session, ids, date(2026, 10, 1), date(2026, 10, 31), instrument)
        long = pd.DataFrame(
            db.session.execute(
                sa.select(Answer.response_id, Answer.item_id, Answer.code)
                .join(Response)
                .where(Response.status == ResponseStatus.VALID)
            ).all(),
            columns=["response_id", "item_id", "code"],
        )
        parents = unit_parent_map(db.session, root)
    expected = long.pivot(index="response_id", columns="item_id", values="code").sort_index()
    got = loaded.frame.set_index("response_id").sort_index()
    assert list(got.index) == list(expected.index)
    for item in expected.columns:
        np.testing.assert_array_equal(got[item].to_numpy(float), expected[item].to_numpy(float))
    never_answered = [c for c in loaded.item_columns if c not in expected.columns]
    assert never_answered and got[never_answered].isna().all().all()
    assert loaded.excluded_total == 1 and loaded.excluded.iloc[0]["status_reason"] == "burst"
    assert set(got["unit"]) == {"HL-AB-1", "HL-TTHCC-1"} and parents["HL-AB-1"] == "HL-AB"
    assert (got["month"] == "2026-10").all()


def test_months_read_together_are_the_months_read_alone(app: Flask, demo: dict[str, int]) -> None:
    """A window's uncached months are read in one query and cut by month (`load_respondents_cached`):
    each month is the frame its own query gives, column types included, with its own left-out counts;
    a month without responses (October here) is read alone."""
    add_responses(app, "HL-AB-1", [5, 4, 2, 1], month=9, harassment=False)
    add_responses(app, "HL-TTHCC-1", [4, 3, 5], month=11, extra={"sex": [1, None, 2]})
    with app.app_context():
        _flag_the_last_response()
        instrument = get_instrument("sipas-counter", "2025.1")
        ids = list(db.session.scalars(sa.select(Unit.id)))
        window = load_respondents_cached(db.session, ids, date(2026, 9, 1), date(2026, 11, 30), instrument)
        spans = month_spans(date(2026, 9, 1), date(2026, 11, 30))
        alone = [load_respondents(db.session, ids, first, last, instrument) for first, last in spans]
        for (first, last), direct in zip(spans, alone, strict=True):
            kept = load_respondents_cached(db.session, ids, first, last, instrument)  # the window's month
            pd.testing.assert_frame_equal(kept.frame, direct.frame)
            pd.testing.assert_frame_equal(kept.excluded, direct.excluded)
    assert [len(d.frame) for d in alone] == [4, 0, 2] and alone[2].excluded_total == 1
    both = pd.concat([alone[0].frame, alone[2].frame], ignore_index=True)
    pd.testing.assert_frame_equal(window.frame, both)
    assert window.frame["counter"].isna().all() and window.frame["counter"].dtype == TEXT


NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def add_response(session: Session, unit_code: str, key: str, status: ResponseStatus = ResponseStatus.VALID,
                 version: str = "2025.1") -> None:
    """One response of 20 November 2026 (its overall answer only) stored as it is, with `status`, flushed
    (the caller commits)."""
    unit = session.scalar(sa.select(Unit).where(Unit.code == unit_code))
    assert unit is not None
    response = Response(instrument_id="sipas-counter", instrument_version=version, instrument_hash="x",
                        unit_id=unit.id, channel="qr", language="vi", idempotency_key=key,
                        submitted_at=datetime(2026, 11, 20, 3, tzinfo=UTC), status=status,
                        status_reason=None if status is ResponseStatus.VALID else "device")
    session.add(response)
    session.flush()
    session.add(Answer(response_id=response.id, item_id="overall", code=2))
    session.flush()


def _add(unit_code: str, key: str, status: ResponseStatus = ResponseStatus.VALID,
         version: str = "2025.1") -> None:
    add_response(db.session(), unit_code, key, status, version)
    db.session.commit()


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The `after_id` of every read of responses (`respondent_data._rows`; None: the whole month)."""
    found: list[int | None] = []
    real = respondent_data._rows

    def recording(*args: Any, after_id: int | None = None) -> pd.DataFrame:
        found.append(after_id)
        return real(*args, after_id=after_id)

    monkeypatch.setattr(respondent_data, "_rows", recording)
    return found


def _same_as_read_now(kept: Any, ids: list[int]) -> None:
    direct = load_respondents(db.session, ids, *NOVEMBER, get_instrument("sipas-counter", "2025.1"))
    pd.testing.assert_frame_equal(kept.frame, direct.frame, check_exact=True)
    pd.testing.assert_frame_equal(kept.excluded, direct.excluded, check_exact=True)


def test_a_month_with_responses_added_reads_them_alone(app: Flask, demo: dict[str, int],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After new responses, valid or not, a kept month reads the responses past its last id alone and is
    the month read whole; any other change (a status, a response to another version) reads it whole."""
    add_responses(app, "HL-AB-1", [5, 4, 2, 1], month=11, extra={"sex": [1, None, 2, 1]})
    with app.app_context():
        instrument = get_instrument("sipas-counter", "2025.1")
        ids = list(db.session.scalars(sa.select(Unit.id)))
        first = load_respondents_cached(db.session, ids, *NOVEMBER, instrument)
        last_id = int(first.frame["response_id"].max())
        _add("HL-TTHCC-1", "new-valid")
        _add("HL-AB-1", "new-flagged", ResponseStatus.FLAGGED)
        reads = _reads(monkeypatch)
        grown = load_respondents_cached(db.session, ids, *NOVEMBER, instrument)
        assert reads == [last_id]
        assert len(grown.frame) == len(first.frame) + 1 and grown.excluded_total == first.excluded_total + 1
        _same_as_read_now(grown, ids)
        for change in (_flag_the_last_response, lambda: _add("HL-AB-1", "other-version", version="2099.1")):
            change()
            reads.clear()
            again = load_respondents_cached(db.session, ids, *NOVEMBER, instrument)
            assert reads[-1] is None  # more changes than new rows: read whole
            _same_as_read_now(again, ids)
