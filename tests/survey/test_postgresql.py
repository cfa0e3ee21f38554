"""The same models, migrations, citizen flow and indices on PostgreSQL as on the embedded SQLite.

A real PostgreSQL server (tests/survey/postgres.py), a fresh database per test, the schema made by the
Alembic migrations only.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy.orm import Session

from instruments.registry import get_instrument
from survey import create_app
from survey.demo.tree import seed_demo
from survey.extensions import db
from survey.models import (
    CounterRevision,
    IndexAggregate,
    Response,
    ResponseStatus,
    ResponseTally,
    SettingsRevision,
    Unit,
    UnitRevision,
)
from survey.query_lists import one_of
from survey.services.reporting.aggregates import CellKey, add_sums, decode, sums_layout
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import load_respondents_cached
from tests.survey.aggregate_helpers import (
    a_failed_update_keeps_the_response,
    add_frames,
    assert_dashboard_reads_aggregates,
    damage_one_row,
    run_scenario,
    submit_many,
)
from tests.survey.conftest import TEST_SECRET
from tests.survey.postgres import Server, temporary_server
from tests.survey.report_helpers import AB_CODES, HL_CODES, PHONE_COMMENT, add_responses
from tests.survey.staff_helpers import CHEAP_ARGON2, Clock
from tests.survey.survey_helpers import VALID, kitchen_sink_paths, serve_kitchen_sink_on
from tests.survey.test_counter_lines import revision_follows_every_write as counter_revision_follows
from tests.survey.test_data_versions import revision_follows_every_write as settings_revision_follows
from tests.survey.test_migrations import REVISED_TABLES, trigger_events
from tests.survey.test_raw_rows import rows_as_the_session_reads_them
from tests.survey.test_respondent_data import NOVEMBER, add_response
from tests.survey.test_response_tallies import follow_every_change
from tests.survey.test_response_tallies import revisions as tally_revisions
from tests.survey.test_unit_revision import revision_follows_every_write

_numbers = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with temporary_server() as running:
        yield running


@pytest.fixture
def pg_url(server: Server) -> Iterator[str]:
    name = f"hailong_{next(_numbers)}"
    server.execute(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _app(url: str, **overrides: Any) -> Flask:
    config = {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": url,
              "WTF_CSRF_ENABLED": False, "MIN_FILL_SECONDS": 0, **CHEAP_ARGON2, "CLOCK": Clock()}
    return create_app({**config, **overrides})


def _close() -> None:
    """Return the session's connection to the pool, then close the pool (the database is dropped next)."""
    db.session.remove()
    db.engine.dispose()


def _migrated(app: Flask) -> Flask:
    with app.app_context():
        upgrade()
    return app


def _seeded(url: str) -> Flask:
    """An app on database `url`, migrated, with the demo's tree (no responses)."""
    app = _migrated(_app(url))
    with app.app_context():
        seed_demo(db.session)
        db.session.commit()
    return app


def test_migrations_build_the_models_schema_on_postgresql_and_go_back(pg_url: str) -> None:
    app = _app(pg_url)
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
        assert app.test_cli_runner().invoke(args=["db", "check"]).exit_code == 0
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"} == set()
        _close()


def test_citizen_answers_once_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    served = serve_kitchen_sink_on(_migrated(_app(pg_url, INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path))))
    url = served.url()
    data = {**served.open_form(url), **VALID}
    first = served.client.post(url, data=data)
    assert first.status_code == 303
    again = served.client.post(url, data=data)  # the same nonce: PostgreSQL's UNIQUE keeps one row
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]  # thank-you
    assert served.counts() == (1, 6, 1)
    [stored] = served.stored()
    assert stored.submitted_at.tzinfo is not None  # timestamptz round-trips as an aware UTC time
    with served.app.app_context():
        _close()


def _report(app: Flask) -> pd.DataFrame:
    with app.app_context():
        seed_demo(db.session)
        db.session.commit()
    add_responses(app, "HL-AB-1", AB_CODES, comments=(PHONE_COMMENT,))
    add_responses(app, "HL-TTHCC-1", HL_CODES)
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        report = compute_unit_indices(db.session, root, "sipas-counter@2025.1", Period.month(2026, 10),
                                      weighted=False)
        _close()
    return report.estimates.sort_values(["domain", "stat_type", "stat"]).reset_index(drop=True)


def test_indices_read_from_postgresql_equal_those_read_from_sqlite(pg_url: str, tmp_path: Path) -> None:
    on_postgresql = _report(_migrated(_app(pg_url)))
    on_sqlite = _report(_migrated(_app(f"sqlite:///{tmp_path / 'same.db'}")))
    assert len(on_postgresql) > 100 and on_postgresql["n"].max() > 30
    pd.testing.assert_frame_equal(on_postgresql, on_sqlite, check_exact=False, rtol=1e-12, atol=1e-15)


def test_index_aggregates_equal_the_rows_on_postgresql(pg_url: str) -> None:
    """Submissions, a flag review, a damaged row, check and rebuild (tests/survey/aggregate_helpers.py):
    the dashboard's figures from the aggregates equal the computation from the rows at every step."""
    app = _migrated(_app(pg_url))
    run_scenario(app)
    unit, month = damage_one_row(app)
    runner = app.test_cli_runner()
    damaged = runner.invoke(args=["aggregates", "check"])
    assert damaged.exit_code == 1 and f"unit {unit} month {month}" in damaged.output
    assert runner.invoke(args=["aggregates", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["aggregates", "check"]).exit_code == 0
    assert_dashboard_reads_aggregates(app)
    with app.app_context():
        _close()


def test_response_tallies_follow_every_change_on_postgresql(pg_url: str) -> None:
    """The tallies' triggers (tests/survey/test_response_tallies.py), and a TRUNCATE, which fires no row
    trigger, sets every tally to zero and moves its revision forward (never back: a month's data version
    must not come back for other data)."""
    app = _seeded(pg_url)
    submit_many(app, 80, seed=34)
    follow_every_change(app)
    with app.app_context():
        before = tally_revisions()
        db.session.execute(sa.text("TRUNCATE responses CASCADE"))
        counts = sa.select(ResponseTally.valid, ResponseTally.flagged, ResponseTally.excluded)
        assert {tuple(row) for row in db.session.execute(counts)} == {(0, 0, 0)}
        assert tally_revisions() == {key: revision + 1 for key, revision in before.items()}
        db.session.rollback()
        _close()


def _truncate_moves_it(app: Flask, table: str, revision: sa.ColumnElement[int]) -> None:
    """A TRUNCATE of `table`, which fires no row trigger, moves `revision` forward (a statement
    trigger)."""
    with app.app_context():
        before = db.session.scalar(sa.select(revision))
        db.session.execute(sa.text(f"TRUNCATE {table} CASCADE"))
        assert (db.session.scalar(sa.select(revision)) or 0) > (before or 0)
        db.session.rollback()
        _close()


def test_the_unit_revision_follows_every_write_on_postgresql(pg_url: str) -> None:
    """The units' statement trigger (tests/survey/test_unit_revision.py), a TRUNCATE included."""
    app = _seeded(pg_url)
    revision_follows_every_write(app)
    _truncate_moves_it(app, "units", UnitRevision.revision)


def test_the_counter_revision_follows_every_write_on_postgresql(pg_url: str) -> None:
    """The counters' and assignments' statement triggers (tests/survey/test_counter_lines.py), a TRUNCATE
    included."""
    app = _seeded(pg_url)
    counter_revision_follows(app)
    _truncate_moves_it(app, "instrument_assignments", CounterRevision.revision)


def test_the_settings_revision_follows_every_write_on_postgresql(pg_url: str) -> None:
    """The frames' and targets' statement triggers (tests/survey/test_data_versions.py), a TRUNCATE
    included; every revised table keeps its triggers at head (tests/survey/test_migrations.py)."""
    app = _seeded(pg_url)
    add_frames(app)
    settings_revision_follows(app)
    _truncate_moves_it(app, "targets", SettingsRevision.revision)
    with app.app_context():
        events = trigger_events(db.session.connection())
        for table in REVISED_TABLES:
            assert events.get(table) == {"INSERT", "UPDATE", "DELETE"}, table
        db.session.rollback()
        _close()


def test_two_first_responses_to_a_cell_at_once_both_count_on_postgresql(pg_url: str) -> None:
    """The cell's row is looked for before it is created: two first responses find none, both insert
    it (the second waits for the first's commit, then does nothing), and each adds its sums in turn."""
    app = _seeded(pg_url)
    with app.app_context():
        engine, unit = db.engine, db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB-1"))
        assert unit is not None
        layout = sums_layout("sipas-counter", "2025.1")
        key = CellKey(unit, "2026-11", "ALL", "sipas-counter", "2025.1")
        first, second = (np.arange(layout.length, dtype=np.int64) + 1,
                         np.full(layout.length, 7, dtype=np.int64))
        first[0] = second[0] = 1  # one respondent each
        with Session(engine) as one, Session(engine) as two:
            add_sums(one, key, first)  # the row created, locked, not committed
            waiting = threading.Thread(target=lambda: (add_sums(two, key, second), two.commit()))
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()  # the second's insert waits for the first's transaction
            one.commit()
            waiting.join(10)
            assert not waiting.is_alive()
        row = db.session.execute(sa.select(IndexAggregate.respondents, IndexAggregate.sums)
                                 .where(IndexAggregate.unit_id == unit)).one()
        assert row.respondents == 2
        np.testing.assert_array_equal(decode(row.sums), first + second)
        _close()


def test_a_failed_aggregate_update_keeps_the_response_on_postgresql(pg_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/survey/aggregate_helpers.py: the failed statement, which aborts a PostgreSQL transaction,
    is rolled back to its savepoint and the response is committed."""
    app = _seeded(pg_url)
    a_failed_update_keeps_the_response(app, monkeypatch)
    with app.app_context():
        _close()


def test_a_response_committed_late_under_an_older_id_is_read_on_postgresql(pg_url: str) -> None:
    """PostgreSQL hands ids out before commit: a response with a smaller id may become visible after a
    larger one was read. A kept month then sees more changes than responses past its last id, and is read
    whole (`respondent_data._grown`), the late response included."""
    app = _seeded(pg_url)
    with app.app_context():
        instrument = get_instrument("sipas-counter", "2025.1")
        ids = list(db.session.scalars(sa.select(Unit.id)))
        with Session(db.engine) as late:
            add_response(late, "HL-AB-1", "late")  # its id first, its commit last
            add_response(db.session(), "HL-TTHCC-1", "early")
            db.session.commit()
            seen = load_respondents_cached(db.session, ids, *NOVEMBER, instrument)
            db.session.commit()  # a new transaction sees what commits next
            late.commit()
        kept = load_respondents_cached(db.session, ids, *NOVEMBER, instrument)
        assert sorted(kept.frame["response_id"]) == sorted(
            db.session.scalars(sa.select(Response.id).where(Response.status == ResponseStatus.VALID)))
        assert len(kept.frame) == len(seen.frame) + 1
        db.session.rollback()
        _close()


def test_a_list_of_units_is_one_array_parameter_on_postgresql(pg_url: str) -> None:
    """`one_of` selects what IN selects, with one parameter however long the list (psycopg parses a
    statement of more than 50 parameters anew at every execution)."""
    app = _seeded(pg_url)
    with app.app_context():
        session = db.session()
        units: dict[int, str] = {uid: code for uid, code in session.execute(sa.select(Unit.id, Unit.code))}
        wanted = [*sorted(units)[::2], 10**9]  # and an id no unit has
        sent: list[int] = []

        def count_parameters(*args: Any) -> None:
            sent.append(len(args[3]))  # (connection, cursor, statement, parameters, context, many)

        sa.event.listen(db.engine, "before_cursor_execute", count_parameters)
        found = set(session.scalars(sa.select(Unit.id).where(one_of(session, Unit.id, wanted))))
        plain_in = set(session.scalars(sa.select(Unit.id).where(Unit.id.in_(wanted))))
        sa.event.remove(db.engine, "before_cursor_execute", count_parameters)
        assert found == plain_in == set(sorted(units)[::2])
        assert sent == [1, len(wanted)]  # what the driver parses: one array against one per value
        codes = sorted(units.values())[:3]
        assert sorted(session.scalars(sa.select(Unit.code).where(one_of(session, Unit.code, codes)))) == codes
        assert list(session.scalars(sa.select(Unit.id).where(one_of(session, Unit.id, [])))) == []
        _close()


def test_raw_rows_are_the_rows_in_the_sessions_transaction(pg_url: str) -> None:
    """`raw_rows` on PostgreSQL (binary format): tests/survey/test_raw_rows.py."""
    app = _seeded(pg_url)
    rows_as_the_session_reads_them(app)
    with app.app_context():
        _close()
