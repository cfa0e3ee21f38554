"""Index aggregates on SQLite: maintained by submissions and flag reviews, read by the dashboard when
they are complete, checked and rebuilt by `flask aggregates` (the same scenario runs on PostgreSQL in
test_postgresql.py). Figures are compared with the analysis package's computation from the response
rows, to 1e-12; that computation is itself checked against R (tests/analysis/test_calibration_r.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from survey.demo.tree import seed_demo
from survey.extensions import db
from survey.models import IndexAggregate
from survey.services.reporting.index_source import Source
from survey.services.reporting.periods import Period
from tests.survey.aggregate_helpers import (
    a_failed_update_keeps_the_response,
    assert_dashboard_reads_aggregates,
    both_ways,
    damage_one_row,
    delete_one_row,
    run_scenario,
)
from tests.survey.staff_helpers import staff_app


def test_submissions_and_flag_reviews_keep_the_aggregates_equal_to_the_rows(migrated_db: Path,
                                                                             tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    run_scenario(app)


def test_a_damaged_row_is_named_by_check_left_unread_and_fixed_by_rebuild(migrated_db: Path,
                                                                          tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    run_scenario(app)
    unit, month = damage_one_row(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["aggregates", "check"])
    assert result.exit_code == 1
    assert f"unit {unit} month {month} instrument sipas-counter@2025.1" in result.output
    assert "satisfied e1_info: stored" in result.output  # the criterion, stored and expected values
    scoped = runner.invoke(args=["aggregates", "rebuild", "--unit", unit, "--period", month])
    assert scoped.exit_code == 0, scoped.output
    assert runner.invoke(args=["aggregates", "check"]).exit_code == 0
    assert_dashboard_reads_aggregates(app, weighted_too=False)


def test_missing_rows_send_the_dashboard_to_the_responses_until_a_rebuild(migrated_db: Path,
                                                                          tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    run_scenario(app)
    with app.app_context():
        cells = db.session.scalar(sa.select(sa.func.count()).select_from(IndexAggregate))
    delete_one_row(app)
    with app.app_context():
        for month in ("2026-10", "2026-11"):
            chosen, _ = both_ways(db.session(), Period.from_text(month), True)
            if chosen.source is Source.RESPONSES:
                break
        else:
            raise AssertionError("a month with a deleted row was still read from the aggregates")
        db.session.rollback()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["aggregates", "check"]).exit_code == 1
    assert runner.invoke(args=["aggregates", "rebuild"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(IndexAggregate)) == cells
    assert_dashboard_reads_aggregates(app)


def test_cli_refuses_an_unknown_unit_and_a_bad_period(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    runner = app.test_cli_runner()
    unknown = runner.invoke(args=["aggregates", "rebuild", "--unit", "NOWHERE"])
    assert unknown.exit_code == 2 and "NOWHERE" in unknown.output
    bad = runner.invoke(args=["aggregates", "check", "--period", "2026-13"])
    assert bad.exit_code == 2 and "2026-13" in bad.output


def test_a_failed_update_keeps_the_response(migrated_db: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    app = staff_app(migrated_db, tmp_path)
    with app.app_context():
        seed_demo(db.session())
        db.session.commit()
    a_failed_update_keeps_the_response(app, monkeypatch)
