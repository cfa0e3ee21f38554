"""Engine settings that make the embedded SQLite database safe to serve from."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask

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
