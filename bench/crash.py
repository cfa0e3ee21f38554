"""Crash test: SIGKILL the whole gunicorn process group under load, again and again, then check that
every acknowledged submission is stored exactly once and the database is intact (prints figures).

Run from the repository root (gunicorn comes with the `deploy` extra):

    .venv/bin/python bench/crash.py [--cycles 20] [--clients 8] [--workers 2]

Each cycle starts gunicorn on the same SQLite file, lets `--clients` clients fill and send the form
(GET, then POST with a unique marker in the comment), kills the process group with SIGKILL a random
2-5 s (seeded) after the first form is served, and starts again. A submission counts as acknowledged
only when its POST got the 303 answer. At the end: every acknowledged marker must appear in exactly
one stored comment ("lost" and "duplicated" are counted, and must be 0), and `PRAGMA integrity_check`
must say ok.
Unacknowledged submissions may or may not be stored (the kill can fall after the commit and before
the answer); they are counted apart.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="hailong-crash-") as scratch:
        db_path = Path(scratch) / "survey.db"
        paths = prepare_survey(db_path)
        env = survey_env(db_path)
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
        with sqlite3.connect(db_path) as connection:
            stored = [text for (text,) in connection.execute(
                "SELECT text FROM text_answers WHERE text LIKE 'crash %'")]
            integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
            responses = connection.execute("SELECT count(*) FROM responses").fetchone()[0]
    counts: dict[str, int] = {}
    for text in stored:
        counts[text] = counts.get(text, 0) + 1
    lost = sum(1 for marker in acknowledged if counts.get(marker, 0) == 0)
    duplicated = sum(1 for count in counts.values() if count > 1)
    unacknowledged_stored = len(set(counts) - set(acknowledged))
    print(f"{args.cycles} SIGKILL cycles in {time.monotonic() - started:.0f} s, {args.clients} clients, "
          f"{args.workers} workers")
    print(f"sent {len(sent)}, acknowledged (303) {len(acknowledged)}, stored {len(counts)} distinct "
          f"({responses} responses in all); lost {lost}, duplicated {duplicated}, stored without "
          f"acknowledgement {unacknowledged_stored}; integrity_check: {integrity}")
    if lost or duplicated or integrity != "ok":
        sys.exit(1)


if __name__ == "__main__":
    main()
