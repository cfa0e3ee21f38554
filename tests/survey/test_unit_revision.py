"""A change to the unit tree (a unit renamed, moved, added) is seen by every cached figure at once: the
units' revision, kept by triggers on `units` whoever writes them, is part of every data version
(`index_cache`), and the trees read once per process are kept under it (`unit_trees`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Unit, UnitKind, UnitRevision
from survey.services.reporting import respondent_data
from survey.services.staff import access
from tests.survey.aggregate_helpers import demo_with_responses, new_process, province_report


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 80, seed=2)


def _revision() -> int:
    found = db.session.scalar(sa.select(UnitRevision.revision))
    assert found is not None
    return found


def revision_follows_every_write(app: Flask) -> None:
    """Every insert, update and delete of units moves the revision, through the ORM or in SQL; nothing
    else does (here: answers, targets). Shared with tests/survey/test_postgresql.py."""
    with app.app_context():
        start = _revision()
        parent = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert parent is not None
        db.session.add(Unit(code="HL-NEW", kind=UnitKind.COMMUNE, name_vi="Xã Mới", parent=parent))
        db.session.commit()
        added = _revision()
        db.session.execute(sa.text("UPDATE units SET name_en = 'New commune' WHERE code = 'HL-NEW'"))
        db.session.commit()
        renamed = _revision()
        db.session.execute(sa.text("DELETE FROM units WHERE code = 'HL-NEW'"))
        db.session.commit()
        deleted = _revision()
        db.session.execute(sa.text("UPDATE units SET name_en = name_en WHERE code = 'NOT-A-UNIT'"))
        db.session.commit()
        assert start < added < renamed < deleted
        assert _revision() >= deleted  # a statement that changes no row may move it (PostgreSQL's do)
        db.session.rollback()


def test_the_revision_follows_every_write_to_the_units(capp: Flask) -> None:
    revision_follows_every_write(capp)


def test_a_renamed_unit_is_named_so_at_once(capp: Flask) -> None:
    before = province_report(capp)
    with capp.app_context():
        db.session.execute(sa.update(Unit).where(Unit.code == "HL-AB").values(name_vi="Tên mới"))
        db.session.commit()
    after = province_report(capp)
    assert before.names["HL-AB"][1] != "Tên mới"
    assert after.names["HL-AB"][1] == "Tên mới"


def test_a_moved_unit_is_counted_under_its_new_parent_at_once(capp: Flask) -> None:
    """The moved unit's responses leave its old parent's figures and join the new one's, on the next view,
    as a computation from nothing gives them."""
    before = province_report(capp)
    assert before.parents["HL-AB-1"] == "HL-AB"
    with capp.app_context():
        db.session.execute(sa.update(Unit).where(Unit.code == "HL-AB-1").values(
            parent_id=sa.select(Unit.id).where(Unit.code == "HL-HL").scalar_subquery()))
        db.session.commit()
    after = province_report(capp)
    assert after.parents["HL-AB-1"] == "HL-HL"
    new_process()
    fresh = province_report(capp)
    pd.testing.assert_frame_equal(after.estimates, fresh.estimates, check_exact=True)
    def n(report: Any, code: str) -> int:
        row = report.overall(code)
        assert row is not None, code
        return int(row["n"])

    assert n(before, "HL-AB-1") > 0
    assert n(after, "HL-AB") == n(before, "HL-AB") - n(before, "HL-AB-1")
    assert n(after, "HL-HL") == n(before, "HL-HL") + n(before, "HL-AB-1")


def _statements(app: Flask) -> list[str]:
    found: list[str] = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *args: found.append(str(args[2])))
    return found


def test_a_tree_is_read_once_per_process_until_a_unit_is_written(capp: Flask) -> None:
    def read(app: Flask) -> tuple[Any, ...]:
        with app.app_context():
            root = db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL"))
            assert root is not None
            ids = access.subtree_ids(db.session(), [root])
            found = (ids, respondent_data.unit_parent_map(db.session(), root),
                     respondent_data.unit_names(db.session(), ids))
            db.session.rollback()
            return found

    first = read(capp)
    statements = _statements(capp)
    assert read(capp) == first  # another session: kept
    assert not [s for s in statements if "FROM units" in s and "units.code =" not in s]
    with capp.app_context():
        db.session.execute(sa.update(Unit).where(Unit.code == "HL-HL-1").values(name_en="Renamed"))
        db.session.commit()
    statements.clear()
    again = read(capp)
    assert [s for s in statements if "FROM units" in s and "units.code =" not in s]  # read again
    assert again[2]["HL-HL-1"][2] == "Renamed" and again[:2] == first[:2]
