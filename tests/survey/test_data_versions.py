"""A data version (`index_cache.data_version`, `settings_version`) never comes back for other data: a
value kept under it would be served for data it was not computed from.

Four ways it did: a change that leaves a count, a last id and a sum where they were (two units'
dossiers swapped by a correction); a rebuild that wrote the same row ids and revisions over mended sums
(SQLite hands deleted ids out again); a session that read its own uncommitted write, kept a value
under it and rolled back, after which another change reached the same revision; and a database
restored from a backup, whose next change reached the revision a lost change had reached."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from survey.extensions import db
from survey.models import FrameUpload, IndexAggregate, ServedCount, SettingsRevision, Unit
from survey.services.reporting import respondent_data
from survey.services.reporting.aggregates import decode, encode
from survey.services.reporting.respondent_data import frame_table
from survey.services.staff.access import subtree_ids
from tests.survey.aggregate_helpers import (
    demo_with_responses,
    new_process,
    province_report,
    respond_at_first_counter,
)

FIRST, LAST = date(2026, 10, 1), date(2026, 12, 31)


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 60, seed=4)


def _ids() -> set[int]:
    root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    return subtree_ids(db.session(), [root.id])


def _november_row(code: str) -> ServedCount:
    return db.session.scalars(sa.select(ServedCount).join(Unit).where(
        Unit.code == code, ServedCount.period_start == date(2026, 11, 1))).one()


def _served(table: pd.DataFrame, code: str) -> int:
    return int(table.set_index(["unit", "month"])["served"][code, "2026-11"])


def _settings_revision() -> int:
    return int(db.session.scalar(sa.select(SettingsRevision.revision)) or 0)


def revision_follows_every_write(app: Flask) -> None:
    """Every insert, update and delete of frames and of targets moves the settings revision, through the
    ORM or in SQL. Shared with tests/survey/test_postgresql.py."""
    with app.app_context():
        seen = [_settings_revision()]
        upload = db.session.scalars(sa.select(FrameUpload.id)).first()
        unit = db.session.scalars(sa.select(Unit.id).where(Unit.code == "HL-AB-1")).one()
        db.session.add(ServedCount(unit_id=unit, procedure_field="new-field", period_start=date(2030, 1, 1),
                                   period_end=date(2030, 1, 31), served=5, upload_id=upload))
        db.session.commit()
        seen.append(_settings_revision())
        for statement in ("UPDATE served_counts SET served = 6 WHERE procedure_field = 'new-field'",
                          "DELETE FROM served_counts WHERE procedure_field = 'new-field'",
                          f"INSERT INTO targets (unit_id, instrument_id, year, target) "
                          f"VALUES ({unit}, 'sipas-counter', 2030, 0.8)",
                          "UPDATE targets SET target = 0.85 WHERE year = 2030",
                          "DELETE FROM targets WHERE year = 2030"):
            db.session.execute(sa.text(statement))
            db.session.commit()
            seen.append(_settings_revision())
        assert seen == sorted(set(seen)), seen  # strictly increasing: every write moved it


def test_the_settings_revision_follows_every_write_to_frames_and_targets(capp: Flask) -> None:
    revision_follows_every_write(capp)


def test_two_frames_swapped_by_one_correction_are_read_again(capp: Flask) -> None:
    """Count, last id and sum of the frames stay where they were; the frames do not."""
    with capp.app_context():
        frame_table(db.session(), _ids(), FIRST, LAST)
        ward, commune = _november_row("HL-AB-1"), _november_row("HL-HL-1")
        was = ward.served, commune.served
        assert was[0] != was[1]
        ward.served, commune.served = was[1], was[0]
        db.session.commit()
        again = frame_table(db.session(), _ids(), FIRST, LAST)
    assert (_served(again, "HL-AB-1"), _served(again, "HL-HL-1")) == (was[1], was[0])


def test_a_frame_read_by_a_session_that_rolled_back_is_not_kept(capp: Flask,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A session reads the frames with its own uncommitted change and rolls back; another change then
    moves the frames as far as the first had (the same revision): the table is read again."""
    reads: list[int] = []
    real = respondent_data._read_frame_table

    def counted(session: Session, *args: Any) -> pd.DataFrame:
        reads.append(1)
        return real(session, *args)

    monkeypatch.setattr(respondent_data, "_read_frame_table", counted)
    with capp.app_context():
        ward = _november_row("HL-AB-1")
        old = ward.served
        ward.served = old + 40
        db.session.flush()
        assert _served(frame_table(db.session(), _ids(), FIRST, LAST), "HL-AB-1") == old + 40
        db.session.rollback()
        commune = _november_row("HL-HL-1")
        commune.served += 40  # the same sum as the rolled-back change, and one write as it was
        db.session.commit()
        again = frame_table(db.session(), _ids(), FIRST, LAST)
        assert _served(again, "HL-AB-1") == old
        assert _served(again, "HL-HL-1") == _november_row("HL-HL-1").served
        # a session that has only read keeps what it reads
        frame_table(db.session(), _ids(), FIRST, LAST)
        db.session.rollback()
    assert len(reads) == 2


def _damage_november(app: Flask) -> None:
    """One satisfied answer taken from a November row, in SQL: no data stamp moves (the case
    `flask aggregates check` finds)."""
    with app.app_context():
        row = db.session.scalars(sa.select(IndexAggregate).where(IndexAggregate.month == "2026-11",
                                                                 IndexAggregate.respondents > 3)
                                 .order_by(IndexAggregate.id)).first()
        assert row is not None
        sums = decode(row.sums).copy()
        sums[1] -= 1  # position 1: "satisfied" of the first criterion (analysis.cell_sums.SumsLayout)
        db.session.execute(sa.update(IndexAggregate).where(IndexAggregate.id == row.id)
                           .values(sums=encode(sums)))
        db.session.commit()


def test_a_rebuild_is_seen_by_the_figures_kept_before_it(capp: Flask) -> None:
    """Figures computed from a damaged row are not served after `flask aggregates rebuild` has mended it,
    though the rebuilt rows may take the same ids (SQLite) and the same counts."""
    truth = province_report(capp).estimates
    new_process()
    _damage_november(capp)
    damaged = province_report(capp).estimates
    assert not damaged.equals(truth)
    assert capp.test_cli_runner().invoke(args=["aggregates", "rebuild"]).exit_code == 0
    pd.testing.assert_frame_equal(province_report(capp).estimates, truth)


def test_changes_after_a_restore_do_not_reach_a_version_of_the_lost_ones(capp: Flask, tmp_path: Path) -> None:
    """A database restored from a backup goes back in time, revisions with it: the first change after it
    takes the revision the first lost change took. The time it was made tells them apart (migration
    d9a2f6b4c8e1), so the figures kept from the lost change are not shown."""
    database = Path(capp.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    backup = tmp_path / "backup.db"
    with sqlite3.connect(database) as source, sqlite3.connect(backup) as target:
        source.backup(target)
    when = datetime(2026, 11, 20, 3, tzinfo=UTC)
    respond_at_first_counter(capp, {"e1_info": 5, "overall": 5}, when)  # to be lost
    lost = province_report(capp).estimates
    with capp.app_context():
        db.session.remove()
        db.engine.dispose()
    with sqlite3.connect(backup) as source, sqlite3.connect(database) as target:
        source.backup(target)  # the restore, as `sqlite3 hailong.db ".restore backup.db"` does
    respond_at_first_counter(capp, {"e1_info": 1, "overall": 1}, when)  # the same cell, the same ids
    shown = province_report(capp).estimates
    new_process()
    truth = province_report(capp).estimates
    assert not truth.equals(lost)
    pd.testing.assert_frame_equal(shown, truth)
