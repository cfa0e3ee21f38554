"""Answers kept for one database session: read once, read again as soon as the session writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Target, Unit
from survey.services.reporting.respondent_data import unit_parent_map
from survey.services.staff.access import subtree_ids
from survey.session_memo import has_written, remembered
from tests.survey.conftest import unit_id
from tests.survey.staff_helpers import running, staff_app


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def test_a_value_is_computed_once_until_the_session_writes(sapp: Flask) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    with sapp.app_context():
        session = db.session()
        assert [remembered(session, "k", compute) for _ in range(3)] == [1, 1, 1]
        unit = session.get(Unit, unit_id("HL-AB"))
        assert unit is not None
        unit.name_en = "changed"
        session.flush()
        assert remembered(session, "k", compute) == 2  # a flush: read again
        session.execute(sa.update(Unit).where(Unit.id == unit.id).values(name_en="again"))
        assert remembered(session, "k", compute) == 3  # a bulk UPDATE writes without a flush
        session.rollback()
        assert remembered(session, "k", compute) == 4  # the transaction ended
        assert remembered(session, "other", compute) == 5  # keys apart


def test_a_moved_unit_is_seen_in_the_same_session(sapp: Flask) -> None:
    with sapp.app_context():
        session = db.session()
        ab, point = unit_id("HL-AB"), unit_id("HL-HL-1")
        before = subtree_ids(session, [ab])
        parents = unit_parent_map(session, ab)
        assert point not in before and "HL-HL-1" not in parents
        before.add(-1)  # a caller's copy: changing it changes nothing kept
        parents["x"] = None
        assert -1 not in subtree_ids(session, [ab]) and "x" not in unit_parent_map(session, ab)

        moved = session.get(Unit, point)
        assert moved is not None
        moved.parent_id = ab
        session.flush()
        assert point in subtree_ids(session, [ab])
        assert unit_parent_map(session, ab)["HL-HL-1"] == "HL-AB"
        session.execute(sa.update(Unit).where(Unit.id == point).values(parent_id=unit_id("HL-HL")))
        assert point not in subtree_ids(session, [ab])
        assert "HL-HL-1" not in unit_parent_map(session, ab)
        session.rollback()


def test_the_tables_a_session_has_written_are_known_until_its_transaction_ends(sapp: Flask) -> None:
    with sapp.app_context():
        session = db.session()
        assert not has_written(session, ["units"])
        session.execute(sa.text("SELECT count(*) FROM units"))
        session.scalars(sa.select(Unit)).all()
        assert not has_written(session, ["units", "targets"])  # reads are not writes
        unit = session.get(Unit, unit_id("HL-AB"))
        assert unit is not None
        unit.name_en = "changed"
        session.flush()
        assert has_written(session, ["units"]) and not has_written(session, ["targets"])
        savepoint = session.begin_nested()  # a savepoint rolled back leaves the write before it
        session.execute(sa.update(Target).values(target=0.9))
        assert has_written(session, ["targets"])
        savepoint.rollback()
        assert has_written(session, ["units"])
        session.commit()
        assert not has_written(session, ["units"])
        session.execute(sa.delete(Target).where(Target.year == 1999))  # a bulk DELETE
        assert has_written(session, ["targets"]) and not has_written(session, ["units"])
        session.rollback()
        assert not has_written(session, ["targets"])
        session.execute(sa.text("  update units SET name_en = name_en WHERE id = 0"))
        assert has_written(session, ["counters"])  # SQL text that may write: every table
        session.rollback()
        session.execute(sa.text("WITH old AS (SELECT 1999 AS year) "
                                "DELETE FROM targets WHERE year IN (SELECT year FROM old)"))
        assert has_written(session, ["units"])
        session.rollback()
        assert not has_written(session, ["units"])
