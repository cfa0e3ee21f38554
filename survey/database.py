"""Engine settings that make the embedded SQLite database safe to serve from, and keep its query
planner informed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from survey.extensions import db


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; synchronous=FULL keeps acknowledged submissions
    # through a power loss (docs/bad-input.md, "Durability"); the busy timeout queues writers instead
    # of failing them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)


def refresh_planner_statistics(session: Session) -> None:
    """Refresh SQLite's query-planner statistics (``ANALYZE``, sampled); PostgreSQL's autovacuum keeps
    its own (nothing to do there).

    Without statistics SQLite guesses, and for a ward's comments or counts over a year it guessed the
    index on (status, submitted_at), reading every valid response of the year (at a million responses)
    instead of the ward's own. The scheduled alerts job and
    `flask aggregates rebuild` (after a bulk import) call this. `analysis_limit` bounds the work by
    sampling about a thousand rows of each index (15 ms at a million responses; sqlite.org, "ANALYZE",
    "Approximate ANALYZE for large databases").
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA analysis_limit=1000"))
        session.execute(sa.text("ANALYZE"))
