"""The floor of bench/load.py: the least a Flask app can do for a SIPAS completion, to tell how far the
survey's throughput could rise beside the bare insert endpoint at all.

It serves the survey's own form page (captured from the survey server by `bench/load.py --floor`, its
CSRF token and nonce swapped for this app's), so a client reads and answers the same HTML, and on POST
does the work no survey can skip, with the standard library's sqlite3 and nothing between:

- the CSRF token compared with the session's, the form's nonce checked (HMAC) and its age;
- every radio question's answer checked against the codes the page offers;
- one address-limit hit counted (an upsert) and the counter's recent responses counted (a burst flag);
- the response inserted (its nonce UNIQUE: a twin is refused), its answers in one executemany, the
  month's aggregate row read and rewritten (valid and satisfied counts per item), one commit.

It leaves out what the survey does besides: translations, the ORM, the counter's token and line,
every flag but one, the per-counter limits, the revisions the dashboards' caches read, the tallies'
triggers. Its ratio to the bare endpoint is therefore an upper bound on what the survey could reach.
Served by gunicorn (`bench.floor_app:app`) with FLOOR_DB naming the database `prepare_database` made
and FLOOR_PAGE the captured page.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from flask import Flask, redirect, request, session
from werkzeug.wrappers import Response

from bench.load import input_attributes, radio_offers

app = Flask(__name__)
app.secret_key = "floor-only-secret-key-0123456789abcdef"
_NONCE_KEY = b"floor-only-nonce-key"
_NONCE_MAX_AGE = 3600.0
_local = threading.local()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (id INTEGER PRIMARY KEY, counter_id INTEGER NOT NULL,
    submitted_at REAL NOT NULL, status TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS responses_counter_time ON responses (counter_id, submitted_at);
CREATE TABLE IF NOT EXISTS answers (response_id INTEGER NOT NULL, item_id TEXT NOT NULL,
    code INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS hits (key TEXT, window_start INTEGER, hits INTEGER,
    PRIMARY KEY (key, window_start));
CREATE TABLE IF NOT EXISTS aggregates (id INTEGER PRIMARY KEY, month TEXT NOT NULL UNIQUE,
    respondents INTEGER NOT NULL, sums TEXT NOT NULL);
"""


def prepare_database(path: str) -> None:
    """The file in WAL mode with the floor's tables (made before the workers start, as the bare's)."""
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
    connection.close()


def form_page(html: str, csrf: str, nonce: str) -> str:
    """A captured survey page with its CSRF token's and nonce's values replaced by placeholders."""
    return html.replace(csrf, "{csrf_token}").replace(nonce, "{nonce}")


_PAGE = Path(os.environ["FLOOR_PAGE"]).read_text(encoding="utf-8") if "FLOOR_PAGE" in os.environ else ""
_OFFERED = {name: frozenset(codes) for name, codes in radio_offers(input_attributes(_PAGE)).items()}


def _db() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = sqlite3.connect(os.environ["FLOOR_DB"], timeout=30, isolation_level=None)
        _local.connection = connection
    return connection


def _signed(payload: str) -> str:
    return f"{payload}.{hmac.new(_NONCE_KEY, payload.encode(), hashlib.sha256).hexdigest()}"


@app.get("/form")
def form() -> str:
    csrf = session.setdefault("csrf", secrets.token_hex(16))
    nonce = _signed(f"{time.time():.3f}.{secrets.token_hex(8)}")
    return _PAGE.replace("{csrf_token}", csrf).replace("{nonce}", nonce)


@app.post("/form")
def submit() -> Response | tuple[str, int]:
    posted = request.form
    if not hmac.compare_digest(posted.get("csrf_token", ""), session.get("csrf", "")):
        return "E-CSRF", 400
    nonce = posted.get("nonce", "")
    payload = nonce.rpartition(".")[0]
    if not hmac.compare_digest(_signed(payload), nonce):
        return "E-NONCE", 400
    if time.time() - float(payload.split(".", 1)[0]) > _NONCE_MAX_AGE:
        return "E-NONCE", 400
    answers = []
    for item, codes in _OFFERED.items():
        code = posted.get(item)
        if code not in codes:
            return f"E-VALUE {item}", 422
        answers.append((item, int(code)))
    now = time.time()
    connection = _db()
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("INSERT INTO hits VALUES (?, ?, 1) ON CONFLICT (key, window_start) "
                           "DO UPDATE SET hits = hits + 1", (request.remote_addr, int(now // 600)))
        recent = connection.execute("SELECT count(*) FROM responses WHERE counter_id = 1 "
                                    "AND submitted_at > ?", (now - 60,)).fetchone()[0]
        status = "valid" if recent < 1_000_000 else "flagged"
        response_id = connection.execute(
            "INSERT INTO responses (counter_id, submitted_at, status, idempotency_key) VALUES (1, ?, ?, ?) "
            "RETURNING id", (now, status, nonce)).fetchone()[0]
        connection.executemany("INSERT INTO answers VALUES (?, ?, ?)",
                               [(response_id, item, code) for item, code in answers])
        month = time.strftime("%Y-%m", time.gmtime(now))
        row = connection.execute("SELECT respondents, sums FROM aggregates WHERE month = ?",
                                 (month,)).fetchone()
        respondents, sums = (row[0], json.loads(row[1])) if row else (0, {})
        for item, code in answers:
            valid, satisfied = sums.get(item, (0, 0))
            sums[item] = (valid + (code > 0), satisfied + (code >= 4))
        connection.execute("INSERT INTO aggregates (month, respondents, sums) VALUES (?, ?, ?) "
                           "ON CONFLICT (month) DO UPDATE SET respondents = excluded.respondents, "
                           "sums = excluded.sums",
                           (month, respondents + 1, json.dumps(sums)))
        connection.execute("COMMIT")
    except sqlite3.IntegrityError:  # this form's twin is stored (a double tap): thanked, as it was
        connection.execute("ROLLBACK")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return redirect("/form", 303)
