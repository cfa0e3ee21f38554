"""The database's own count of valid responses (`models.ResponseTally`, kept by triggers): equal, after
every kind of write, to the responses counted here in Python by their local month (`local_time`),
whatever wrote them; checked and rebuilt by `flask aggregates`. The same scenario runs on PostgreSQL
(tests/survey/test_postgresql.py)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.local_time import local_month
from survey.models import Channel, Response, ResponseStatus, ResponseTally, Unit
from survey.services.reporting.periods import Period
from survey.services.reporting.response_counts import window_counts
from survey.services.reporting.response_tallies import rebuild_tallies, tally_differences
from tests.survey.aggregate_helpers import demo_with_responses, new_process

TallyKey = tuple[str, str, int, str]


def counted_in_python() -> dict[TallyKey, int]:
    """Valid responses by (local month, instrument, unit, version), from the rows themselves."""
    rows = db.session.execute(sa.select(Response.submitted_at, Response.instrument_id, Response.unit_id,
                                        Response.instrument_version)
                              .where(Response.status == ResponseStatus.VALID))
    return dict(Counter((local_month(when), instrument, unit, version)
                        for when, instrument, unit, version in rows))


def tallied() -> dict[TallyKey, int]:
    """The tallies that are not zero."""
    return {(m, i, u, v): n for m, i, u, v, n in db.session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.valid)) if n != 0}


def _assert_tallies_hold() -> None:
    db.session.flush()
    assert tallied() == counted_in_python()


def follow_every_change(app: Flask) -> None:
    """Responses written around the submission service, one kind of change at a time, each followed
    by the tallies; then a damaged tally found by the check and mended by the rebuild."""
    with app.app_context():
        session = db.session()
        assert len(tallied()) >= 4
        _assert_tallies_hold()
        units = list(session.scalars(sa.select(Unit.id).order_by(Unit.id).limit(2)))
        # 17:00 UTC on 31 October is already 1 November in Vietnam
        row = Response(instrument_id="sipas-counter", instrument_version="2025.1", instrument_hash="0" * 64,
                       unit_id=units[0], channel=Channel.QR, language="vi",
                       submitted_at=datetime(2026, 10, 31, 17, 0, tzinfo=UTC), status=ResponseStatus.VALID,
                       idempotency_key=uuid.uuid4().hex)
        session.add(row)
        _assert_tallies_hold()
        assert tallied()[("2026-11", "sipas-counter", units[0], "2025.1")] >= 1
        changes = [("submitted_at", datetime(2026, 10, 31, 16, 59, 59, tzinfo=UTC)),  # back to October
                   ("status", ResponseStatus.FLAGGED), ("status", ResponseStatus.VALID),
                   ("unit_id", units[1]), ("instrument_version", "2025.2"),
                   ("instrument_id", "sipas-other"), ("status", ResponseStatus.EXCLUDED),
                   ("unit_id", units[0]),  # a change while left out counts nothing
                   ("status", ResponseStatus.VALID)]
        for column, value in changes:
            setattr(row, column, value)
            _assert_tallies_hold()
        session.delete(row)
        _assert_tallies_hold()
        # many rows in one statement, as a review or an import would
        some = list(session.scalars(sa.select(Response.id).where(Response.status == ResponseStatus.VALID)
                                    .order_by(Response.id).limit(7)))
        session.execute(sa.update(Response).where(Response.id.in_(some)).values(status=ResponseStatus.FLAGGED))
        _assert_tallies_hold()
        session.commit()

        assert tally_differences(session, None) == []
        # the aggregates, kept by the submission service alone, now differ; the tallies do not
        runner = app.test_cli_runner()
        checked = runner.invoke(args=["aggregates", "check"])
        assert checked.exit_code == 1 and "0 tallies differ" in checked.output
        assert "tallied" not in checked.output
        assert runner.invoke(args=["aggregates", "rebuild"]).exit_code == 0
        assert runner.invoke(args=["aggregates", "check"]).exit_code == 0
        key = next(iter(sorted(tallied())))
        session.execute(sa.update(ResponseTally).values(valid=ResponseTally.valid + 3)
                        .where(ResponseTally.month == key[0], ResponseTally.instrument_id == key[1],
                               ResponseTally.unit_id == key[2], ResponseTally.instrument_version == key[3]))
        session.commit()
        expected = counted_in_python()[key]
        assert tally_differences(session, None) == [(key, expected + 3, expected)]
        checked = runner.invoke(args=["aggregates", "check"])
        assert checked.exit_code == 1 and "0 cells and 1 tallies differ" in checked.output
        assert f"month {key[0]} instrument {key[1]}@{key[3]}: tallied {expected + 3}, counted {expected}" in (
            checked.output)
        assert runner.invoke(args=["aggregates", "rebuild"]).exit_code == 0
        assert tally_differences(session, None) == []
        assert tallied() == counted_in_python()
        session.commit()


def test_tallies_follow_every_change_on_sqlite(migrated_db: Path, tmp_path: Path) -> None:
    follow_every_change(demo_with_responses(migrated_db, tmp_path, 150, seed=31))


def test_rebuild_of_a_scope_leaves_the_rest(migrated_db: Path, tmp_path: Path) -> None:
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=32)
    with app.app_context():
        session = db.session()
        session.execute(sa.update(ResponseTally).values(valid=ResponseTally.valid + 1))
        november = Period.month(2026, 11)
        some_unit = session.scalar(sa.select(ResponseTally.unit_id).where(ResponseTally.month == "2026-11"))
        assert some_unit is not None
        rebuild_tallies(session, [some_unit], november.first, november.last)
        wrong = {key for key, _, _ in tally_differences(session, None)}
        assert wrong and not any(key[0] == "2026-11" and key[2] == some_unit for key in wrong)
        assert any(key[2] == some_unit for key in wrong)  # its October is still off
        session.rollback()


def test_the_month_counts_read_the_tallies(migrated_db: Path, tmp_path: Path) -> None:
    """The guard's counts (`response_counts`) are the tallies': equal to the rows counted here, and a
    tally moved by hand moves them (in a new process, whose caches are empty)."""
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=33)
    with app.app_context():
        session = db.session()
        ids = set(session.scalars(sa.select(Unit.id)))
        october = Period.month(2026, 10)
        expected: Counter[int] = Counter()
        for (month, instrument, unit, version), n in counted_in_python().items():
            if month == "2026-10" and instrument == "sipas-counter" and version == "2025.1":
                expected[unit] += n
        assert window_counts(session, ids, october, "sipas-counter").valid_by_unit("2025.1") == dict(expected)
        unit = min(expected)
        session.execute(sa.update(ResponseTally).values(valid=ResponseTally.valid + 2)
                        .where(ResponseTally.month == "2026-10", ResponseTally.unit_id == unit,
                               ResponseTally.instrument_id == "sipas-counter"))
        new_process()
        moved = window_counts(db.session(), ids, october, "sipas-counter").valid_by_unit("2025.1")
        assert moved == {**expected, unit: expected[unit] + 2}
        session.rollback()
