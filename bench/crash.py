"""Crash test: SIGKILL the whole gunicorn process group under load, again and again, then check that
every acknowledged submission is stored exactly once and the database is intact (prints figures).

Run from the repository root (gunicorn comes with the `deploy` extra):

    .venv/bin/python bench/crash.py [--cycles 20] [--clients 8] [--workers 2] [--engine sqlite|postgresql]

Each cycle starts gunicorn on the same database (a new SQLite file, or a database on a throw-away
PostgreSQL server started as the tests start theirs, tests/survey/postgres.py), lets `--clients`
clients fill and send the form (GET, then POST with a unique marker in the comment), kills the
process group with SIGKILL a random 2-5 s (seeded) after the first form is served, and starts again.
A submission counts as acknowledged only when its POST got the 303 answer. At the end: every
acknowledged marker must appear in exactly one stored comment ("lost" and "duplicated" are counted,
and must be 0), every stored crash response must hold all its answers (no half-written response),
on SQLite `PRAGMA integrity_check` must say ok, and the database's response tallies (kept by triggers in
each response's transaction) must equal the responses counted by local month and status.
Unacknowledged submissions may or may not be stored (the kill can fall after the commit and before
the answer); they are counted apart.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import BIN, form_fields, free_port, prepare_survey, request, survey_env, wait_ready  # noqa: E402


def client(port: int, paths: list[str], name: str, stop: threading.Event, acknowledged: list[str],
           sent: list[str], lock: threading.Lock) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        cookie = ""  # a new citizen each time
        marker = f"crash {name} {n}"
        path = paths[n % len(paths)]
        try:
            status, html, cookie, _ = request(port, "GET", path, cookie)
            if status != 200:
                continue
            fields = form_fields(html)
            fields["comment"] = marker
            with lock:
                sent.append(marker)
            status, _, cookie, _ = request(port, "POST", path, cookie, urllib.parse.urlencode(fields))
        except (OSError, http.client.HTTPException):  # the server was killed under this request
            continue
        if status == 303:
            with lock:
                acknowledged.append(marker)


@contextmanager
def database(engine: str, scratch: Path) -> Iterator[str]:
    """The URL of an empty database on `engine`, for the length of the run."""
    if engine == "sqlite":
        yield f"sqlite:///{scratch / 'survey.db'}"
        return
    from tests.survey.postgres import temporary_server

    with temporary_server() as server:
        server.execute("CREATE DATABASE crash")
        yield server.url("crash")


def check_store(url: str) -> tuple[list[str], int, int, str, int]:
    """Stored crash markers, responses in all, crash responses missing answers, integrity verdict, and
    the database's response tallies that differ from the responses counted here (the triggers write
    them in the response's own transaction, so a kill must not split the two)."""
    import sqlalchemy as sa

    from survey.local_time import local_month

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = list(connection.scalars(sa.text(
            "SELECT text FROM text_answers WHERE text LIKE 'crash %'")))
        responses = connection.scalar(sa.text("SELECT count(*) FROM responses")) or 0
        # Each crash client answers every radio question of the SIPAS form, so every one of its
        # responses has the same number of answers: fewer would be a half-written response.
        per_response = list(connection.scalars(sa.text(
            "SELECT count(a.id) FROM text_answers t JOIN responses r ON r.id = t.response_id "
            "LEFT JOIN answers a ON a.response_id = r.id WHERE t.text LIKE 'crash %' GROUP BY r.id")))
        full = max(per_response, default=0)
        short = sum(1 for count in per_response if count < full)
        integrity = (connection.scalar(sa.text("PRAGMA integrity_check")) if url.startswith("sqlite")
                     else "n/a (PostgreSQL: the server was not killed)")
        statuses = ("valid", "flagged", "excluded")
        counted: dict[tuple[object, ...], list[int]] = {}
        for when, instrument, unit, version, status in connection.execute(sa.text(
                "SELECT submitted_at, instrument_id, unit_id, instrument_version, status FROM responses")):
            moment = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
            key = (local_month(moment.replace(tzinfo=moment.tzinfo or UTC)), instrument, unit, version)
            counted.setdefault(key, [0, 0, 0])[statuses.index(status)] += 1
        tallied = {tuple(row[:4]): list(row[4:]) for row in connection.execute(sa.text(
            "SELECT month, instrument_id, unit_id, instrument_version, valid, flagged, excluded "
            "FROM response_tallies")) if any(row[4:])}
        tallies_off = sum(1 for key in counted.keys() | tallied.keys()
                          if counted.get(key, [0, 0, 0]) != tallied.get(key, [0, 0, 0]))
    engine.dispose()
    return stored, int(responses), short, str(integrity), tallies_off


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="hailong-crash-") as scratch, \
            database(args.engine, Path(scratch)) as url:
        paths = prepare_survey(url)
        env = survey_env(url)
        acknowledged: list[str] = []
        sent: list[str] = []
        lock = threading.Lock()
        started = time.monotonic()
        for cycle in range(args.cycles):
            port = free_port()
            process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-w", str(args.workers), "-b", f"127.0.0.1:{port}", "--log-level",
                 "critical", "survey:create_app()"], cwd=ROOT, env=env, start_new_session=True,
                stderr=subprocess.DEVNULL)
            wait_ready(port, paths[0])
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(port, paths, f"{cycle}.{i}", stop, acknowledged,
                                                             sent, lock)) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(2.0, 5.0))
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            stop.set()
            for thread in threads:
                thread.join()
            print(f"cycle {cycle + 1:>3}: {len(acknowledged):>6} acknowledged so far", flush=True)
        stored, responses, short, integrity, tallies_off = check_store(url)
    counts: dict[str, int] = {}
    for text in stored:
        counts[text] = counts.get(text, 0) + 1
    lost = sum(1 for marker in acknowledged if counts.get(marker, 0) == 0)
    duplicated = sum(1 for count in counts.values() if count > 1)
    unacknowledged_stored = len(set(counts) - set(acknowledged))
    print(f"{args.engine}: {args.cycles} SIGKILL cycles in {time.monotonic() - started:.0f} s, "
          f"{args.clients} clients, {args.workers} workers")
    print(f"sent {len(sent)}, acknowledged (303) {len(acknowledged)}, stored {len(counts)} distinct "
          f"({responses} responses in all); lost {lost}, duplicated {duplicated}, half-written {short}, "
          f"stored without acknowledgement {unacknowledged_stored}; integrity_check: {integrity}; "
          f"response tallies that differ from the responses: {tallies_off}")
    if not acknowledged:
        print("no submission was acknowledged: the run proves nothing (is the form refusing the clients?)")
        sys.exit(1)
    if lost or duplicated or short or tallies_off \
            or integrity not in {"ok", "n/a (PostgreSQL: the server was not killed)"}:
        sys.exit(1)


if __name__ == "__main__":
    main()
