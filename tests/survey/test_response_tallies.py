"""The database's own count of responses by status (`models.ResponseTally`, kept by triggers): equal,
after every kind of write, to the responses counted here in Python by their local month (`local_time`),
whatever wrote them, with a revision that every change moves; checked and rebuilt by `flask aggregates`.
The same scenario runs on PostgreSQL (tests/survey/test_postgresql.py)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from instruments.index import IndexDefinition
from survey.extensions import db
from survey.local_time import local_month
from survey.models import Answer, Channel, Response, ResponseStatus, ResponseTally, Unit
from survey.services.reporting.index_cache import data_version
from survey.services.reporting.index_source import Source, period_estimates
from survey.services.reporting.indices import instrument_for, unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import unit_parent_map
from survey.services.reporting.response_counts import window_counts
from survey.services.reporting.response_tallies import rebuild_tallies, tally_differences
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import KEY, demo_with_responses, new_process

TallyKey = tuple[str, str, int, str]


Counts = tuple[int, int, int]  # valid, flagged, excluded
STATUSES = (ResponseStatus.VALID, ResponseStatus.FLAGGED, ResponseStatus.EXCLUDED)


def counted_in_python() -> dict[TallyKey, Counts]:
    """Responses by (local month, instrument, unit, version) and status, from the rows themselves."""
    rows = db.session.execute(sa.select(Response.submitted_at, Response.instrument_id, Response.unit_id,
                                        Response.instrument_version, Response.status))
    found: dict[TallyKey, list[int]] = {}
    for when, instrument, unit, version, status in rows:
        key = (local_month(when), instrument, unit, version)
        found.setdefault(key, [0, 0, 0])[STATUSES.index(status)] += 1
    return {key: (a, b, c) for key, (a, b, c) in found.items()}


def tallied() -> dict[TallyKey, Counts]:
    """The tallies that are not all zero."""
    return {(m, i, u, v): (a, b, c) for m, i, u, v, a, b, c in db.session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.valid, ResponseTally.flagged,
                  ResponseTally.excluded)) if (a, b, c) != (0, 0, 0)}


def revisions() -> dict[TallyKey, int]:
    return {(m, i, u, v): r for m, i, u, v, r in db.session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.revision))}


def changed_at(key: TallyKey) -> int:
    """The tally's time of change (microseconds since 1970)."""
    return int(db.session.scalar(sa.select(ResponseTally.changed_at_us).where(
        ResponseTally.month == key[0], ResponseTally.instrument_id == key[1], ResponseTally.unit_id == key[2],
        ResponseTally.instrument_version == key[3])) or 0)


def _assert_tallies_hold() -> dict[TallyKey, int]:
    """The tallies equal the rows' counts; their revisions, for the next change to move."""
    db.session.flush()
    assert tallied() == counted_in_python()
    return revisions()


def _moved(before: dict[TallyKey, int], after: dict[TallyKey, int]) -> set[TallyKey]:
    return {key for key in after.keys() | before.keys() if after.get(key, 0) != before.get(key, 0)}


def follow_every_change(app: Flask) -> None:
    """Responses written around the submission service, one kind of change at a time, each followed
    by the tallies; then a damaged tally found by the check and mended by the rebuild."""
    with app.app_context():
        session = db.session()
        assert len(tallied()) >= 4
        revised = _assert_tallies_hold()
        units = list(session.scalars(sa.select(Unit.id).order_by(Unit.id).limit(2)))
        # 17:00 UTC on 31 October is already 1 November in Vietnam
        row = Response(instrument_id="sipas-counter", instrument_version="2025.1", instrument_hash="0" * 64,
                       unit_id=units[0], channel=Channel.QR, language="vi",
                       submitted_at=datetime(2026, 10, 31, 17, 0, tzinfo=UTC), status=ResponseStatus.VALID,
                       idempotency_key=uuid.uuid4().hex)
        session.add(row)
        november = ("2026-11", "sipas-counter", units[0], "2025.1")
        now = _assert_tallies_hold()
        assert tallied()[november][0] >= 1 and _moved(revised, now) == {november}
        # the time of the change, on the database's clock (the same machine's here)
        times = [changed_at(november)]
        assert abs(times[0] - time.time_ns() // 1000) < 600_000_000
        changes = [("submitted_at", datetime(2026, 10, 31, 16, 59, 59, tzinfo=UTC)),  # back to October
                   ("status", ResponseStatus.FLAGGED), ("status_reason", "burst"),
                   ("status", ResponseStatus.VALID), ("unit_id", units[1]), ("instrument_version", "2025.2"),
                   ("instrument_id", "sipas-other"), ("status", ResponseStatus.EXCLUDED),
                   ("unit_id", units[0]), ("status", ResponseStatus.VALID)]
        for column, value in changes:
            setattr(row, column, value)
            before, now = now, _assert_tallies_hold()
            assert _moved(before, now), column  # every change moves its keys' revision, a reason's too
            times.append(changed_at(november))
        assert times == sorted(times) and times[-1] > times[0]  # only forward, whatever the clock's grain
        session.delete(row)
        before, now = now, _assert_tallies_hold()
        assert _moved(before, now)
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
        valid, flagged, excluded = counted_in_python()[key]
        assert tally_differences(session, None) == [(key, (valid + 3, flagged, excluded),
                                                     (valid, flagged, excluded))]
        checked = runner.invoke(args=["aggregates", "check"])
        assert checked.exit_code == 1 and "0 cells and 1 tallies differ" in checked.output
        assert (f"month {key[0]} instrument {key[1]}@{key[3]}: tallied valid {valid + 3} flagged {flagged} "
                f"excluded {excluded}, counted valid {valid} flagged {flagged} excluded {excluded}"
                in checked.output)
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


def test_a_rebuild_moves_every_tally_of_its_scope_forward(migrated_db: Path, tmp_path: Path) -> None:
    """No revision goes back (a figure kept under an older one would be served again): a tally is one past
    what it was, a tally deleted by hand comes back at its count of responses, and a key whose responses
    are all gone keeps a tally of zeros."""
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=36)
    with app.app_context():
        session = db.session()
        some = sa.select(Response.id).order_by(Response.id).limit(9).scalar_subquery()
        session.execute(sa.update(Response).where(Response.id.in_(some)).values(status=ResponseStatus.FLAGGED))
        keys = sorted(revisions())
        lost, emptied = keys[0], keys[-1]
        session.execute(sa.delete(ResponseTally).where(
            ResponseTally.month == lost[0], ResponseTally.instrument_id == lost[1],
            ResponseTally.unit_id == lost[2], ResponseTally.instrument_version == lost[3]))
        for response in counted_responses(session, emptied):
            session.delete(response)
        session.flush()
        before = revisions()
        assert tallied().get(emptied) is None and before[emptied] > 0
        assert any(r > sum(counted_in_python().get(k, (0, 0, 0))) for k, r in before.items())  # changes
        rebuild_tallies(session, None)
        after = revisions()
        assert after == {**{key: r + 1 for key, r in before.items()}, lost: sum(counted_in_python()[lost])}
        assert tallied() == counted_in_python()
        session.rollback()


def counted_responses(session: sa.orm.Session, key: TallyKey) -> list[Response]:
    """The responses of tally `key`, found by their local month here."""
    month, instrument, unit, version = key
    return [r for r in session.scalars(sa.select(Response).where(
        Response.instrument_id == instrument, Response.unit_id == unit,
        Response.instrument_version == version)) if local_month(r.submitted_at) == month]


def test_the_month_counts_read_the_tallies(migrated_db: Path, tmp_path: Path) -> None:
    """The guard's counts (`response_counts`) are the tallies': equal to the rows counted here, and a
    tally moved by hand moves them (in a new process, whose caches are empty)."""
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=33)
    with app.app_context():
        session = db.session()
        ids = set(session.scalars(sa.select(Unit.id)))
        october = Period.month(2026, 10)
        expected: Counter[int] = Counter()
        for (month, instrument, unit, version), (n, _flagged, _excluded) in counted_in_python().items():
            if month == "2026-10" and instrument == "sipas-counter" and version == "2025.1" and n:
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


def test_a_response_stored_around_the_service_is_seen_at_once(migrated_db: Path, tmp_path: Path) -> None:
    """A valid response written straight into the tables (a bulk import, a console) moves its month's
    tallies, so the month's data version moves at once: the province's report is made again, its period
    is read from the responses (the aggregates hold one respondent fewer than the tallies count), and it
    counts the new response. Before the tallies' revision, the cached report was served until a rebuild."""
    app = demo_with_responses(migrated_db, tmp_path, 120, seed=35)
    with app.app_context():
        session = db.session()
        province = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        desk = session.scalar(sa.select(Unit).where(Unit.code == "HL-AB-1"))
        assert province is not None and desk is not None
        november, instrument = Period.month(2026, 11), instrument_for(KEY)
        ids = subtree_ids(session, [province.id])

        def estimates() -> Source:
            return period_estimates(db.session(), ids, unit_parent_map(db.session(), province.id), november,
                                    instrument, IndexDefinition.from_instrument(instrument), weighted=False,
                                    targets=0.8, alpha=0.05, min_cell=5, min_n=10).source

        before = unit_indices(session, province, KEY, november, weighted=False)
        version = data_version(session, ids, november.first, november.last)
        assert estimates() is Source.AGGREGATES
        session.add(Response(instrument_id="sipas-counter", instrument_version="2025.1",
                             instrument_hash="0" * 64, unit_id=desk.id, channel=Channel.QR, language="vi",
                             submitted_at=datetime(2026, 11, 20, 3, tzinfo=UTC), status=ResponseStatus.VALID,
                             idempotency_key=uuid.uuid4().hex, answers=[Answer(item_id="e1_info", code=5)]))
        session.commit()
        assert data_version(db.session(), ids, november.first, november.last) != version
        assert estimates() is Source.RESPONSES
        after = unit_indices(db.session(), province, KEY, november, weighted=False)
        assert after.responses == before.responses + 1
        db.session.rollback()
