"""Alembic is the only way the schema changes: an empty database upgraded through every migration
must match the models exactly, and the history must be linear and reversible."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from survey import create_app
from survey.extensions import db
from tests.survey.conftest import TEST_SECRET


def _app(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET,
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"})


def test_upgrade_on_empty_database_then_check_finds_no_drift(tmp_path: Path) -> None:
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
    assert {"units", "counters", "responses", "answers", "text_answers", "users", "audit_events",
            "served_counts"} <= tables
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
    assert "No new upgrade operations detected" in result.output


def test_history_is_linear_and_downgrades_to_empty(tmp_path: Path) -> None:
    app = _app(tmp_path)
    heads = app.test_cli_runner().invoke(args=["db", "heads"])
    assert heads.exit_code == 0 and len(heads.output.strip().splitlines()) == 1, heads.output
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()


def test_migration_files_do_not_import_application_code() -> None:
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "survey." not in text and "import survey" not in text, path.name
