"""The baseline of bench/load.py: a bare Flask app that renders a small form and inserts each POST as
one SQLite row (WAL, one transaction per submission), answering 303 like the survey does.

Served by gunicorn (`bench.bare_app:app`), with BARE_DB naming the database file, which
`prepare_database` has made (bench/load.py calls it before the workers start: two workers' first
connections switching the journal to WAL at once could find the file locked and fail a request).
"""

from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

app = Flask(__name__)
_local = threading.local()
FORM = ('<!doctype html><form method="post">' + "".join(
    f'<input type="radio" name="q{i}" value="{v}">' for i in range(20) for v in range(1, 6))
    + '<input id="nonce" name="nonce" type="hidden" value="x"><button>Gửi</button></form>')


def prepare_database(path: str) -> None:
    """The file in WAL mode (kept in the file) with its one table."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE IF NOT EXISTS submissions (id INTEGER PRIMARY KEY, body TEXT)")
    connection.close()


def _db() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(os.environ["BARE_DB"], timeout=30)
        _local.connection = connection
    return connection


@app.get("/form")
def form() -> str:
    return FORM


@app.post("/form")
def submit() -> Response:
    connection = _db()
    connection.execute("INSERT INTO submissions (body) VALUES (?)", (request.get_data(as_text=True),))
    connection.commit()
    return redirect("/form", 303)
