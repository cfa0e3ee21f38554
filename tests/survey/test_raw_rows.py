"""`raw_rows` gives the rows the session gives, in the session's transaction (here SQLite; PostgreSQL's
binary format in tests/survey/test_postgresql.py)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import IndexAggregate, Unit
from survey.query_lists import one_of
from survey.raw_rows import raw_rows
from tests.survey.aggregate_helpers import submit_many
from tests.survey.staff_helpers import staff_app


def rows_as_the_session_reads_them(app: Flask) -> None:
    """The index aggregates (bytes, text, integers, a list of units, an IN list) read by `raw_rows` and
    by the session are the same rows, and `raw_rows` sees a change the session holds (flushed first, as
    `session.execute` does), not committed."""
    submit_many(app, 40, seed=35)
    with app.app_context():
        session = db.session()
        months = sorted(set(session.scalars(sa.select(IndexAggregate.month))))
        units = list(session.scalars(sa.select(Unit.id)))
        first = session.scalars(sa.select(IndexAggregate).order_by(IndexAggregate.id)).first()
        assert first is not None and months
        first.sums = first.sums + b"\x00\xff"  # not flushed: `raw_rows` flushes as the session would
        query = (sa.select(IndexAggregate.unit_id, Unit.code, IndexAggregate.month,
                           IndexAggregate.respondents, IndexAggregate.sums)
                 .join(Unit, Unit.id == IndexAggregate.unit_id)
                 .where(one_of(session, IndexAggregate.unit_id, units), IndexAggregate.month.in_(months))
                 .order_by(IndexAggregate.id))
        found = raw_rows(session, query)
        expected = [tuple(row) for row in session.execute(query)]
        assert len(found) > 5 and [tuple(row) for row in found] == expected
        assert found[0][4].endswith(b"\x00\xff") and isinstance(found[0][4], bytes)
        session.rollback()


def test_raw_rows_are_the_rows_in_the_sessions_transaction(migrated_db: Path, tmp_path: Path) -> None:
    rows_as_the_session_reads_them(staff_app(migrated_db, tmp_path))
