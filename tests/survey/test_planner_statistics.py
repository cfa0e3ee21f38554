"""SQLite's query-planner statistics are refreshed by the scheduled job and after a rebuild."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.commands import alerts as commands_alerts
from survey.extensions import db
from tests.survey.report_helpers import add_responses
from tests.survey.staff_helpers import running, staff_app


@pytest.fixture
def papp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def _analysed_tables(app: Flask) -> set[str]:
    with app.app_context():
        exists = db.session.scalar(sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        return set(db.session.scalars(sa.text("SELECT tbl FROM sqlite_stat1"))) if exists else set()


@pytest.mark.parametrize("command", [["alerts", "refresh", "--period", "2026-10"], ["aggregates", "rebuild"]])
def test_the_jobs_refresh_the_planner_statistics(papp: Flask, command: list[str]) -> None:
    add_responses(papp, "HL-AB-1", [5, 4, 2] * 4)
    assert "responses" not in _analysed_tables(papp)
    result = papp.test_cli_runner().invoke(args=command)
    assert result.exit_code == 0, result.output
    assert {"responses", "answers"} <= _analysed_tables(papp)  # an empty table gets no row



def test_the_job_holds_no_write_lock_while_it_computes(papp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Citizens submit while the nightly job computes: the statistics' write is committed before."""
    add_responses(papp, "HL-AB-1", [5, 4, 2] * 4)
    path = papp.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    real = commands_alerts.refresh_all_alerts
    wrote: list[bool] = []

    def computing(*args: Any, **kwargs: Any) -> Any:
        with sqlite3.connect(path, timeout=0) as other:  # timeout 0: a held lock fails at once
            other.execute("CREATE TABLE IF NOT EXISTS lock_probe (x)")
        wrote.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(commands_alerts, "refresh_all_alerts", computing)
    result = papp.test_cli_runner().invoke(args=["alerts", "refresh", "--period", "2026-10"])
    assert result.exit_code == 0, result.output
    assert wrote == [True]
