"""Alembic is the only way the schema changes: an empty database upgraded through every migration
must match the models exactly, and the history must be linear and reversible."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
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
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
    assert {"units", "counters", "responses", "answers", "text_answers", "users", "audit_events",
            "served_counts"} <= tables
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_check_notices_drift(tmp_path: Path) -> None:
    """Guards the test above: the same comparison does see a table the migrations did not create."""
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE alert_notes")
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert ("add_table", "alert_notes") in {(d[0], d[1].name) for d in diff if d[0] == "add_table"}


# The tables whose every write moves a revision that cached figures are checked against, through
# triggers (the migrations that create them say what for). Written out here, not read from the code.
REVISED_TABLES = ("counters", "instrument_assignments", "responses", "served_counts", "targets", "units")


def trigger_events(connection: sa.Connection) -> dict[str, set[str]]:
    """The row events (INSERT, UPDATE, DELETE) each table has a trigger on; shared with
    tests/survey/test_postgresql.py."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(sa.text(
            "SELECT event_object_table, event_manipulation FROM information_schema.triggers"))
    else:
        kind = re.compile(r"\b(?:AFTER|BEFORE)\s+(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
        rows = ((table, match.group(1).upper()) for table, sql in connection.execute(sa.text(
                    "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
                if (match := kind.search(sql)) is not None)
    found: dict[str, set[str]] = {}
    for table, event in rows:
        found.setdefault(table, set()).add(event)
    return found


def test_every_revised_table_keeps_its_triggers_at_head(tmp_path: Path) -> None:
    """A SQLite migration that rebuilds a table in batch mode drops its triggers with it, silently: the
    revisions would stop moving and cached figures outlive the data they were computed from."""
    app = _app(tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            events = trigger_events(connection)
    for table in REVISED_TABLES:
        assert events.get(table) == {"INSERT", "UPDATE", "DELETE"}, table


def test_history_is_linear_and_downgrades_to_empty(tmp_path: Path) -> None:
    app = _app(tmp_path)
    with app.app_context():
        config = current_app.extensions["migrate"].migrate.get_config()
        assert len(ScriptDirectory.from_config(config).get_heads()) == 1
        upgrade()
        downgrade(revision="base")
        remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()


def test_migration_files_do_not_import_application_code() -> None:
    versions = Path(__file__).resolve().parents[2] / "migrations" / "versions"
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "survey." not in text and "import survey" not in text, path.name
