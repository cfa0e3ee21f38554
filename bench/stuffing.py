"""Ballot stuffing against gunicorn with the shipped config: how many stuffed answers count as valid?

Run from the repository root (needs the `test` extra for gunicorn; traffic stays on 127.0.0.1):

    .venv/bin/python bench/stuffing.py [--seconds 60] [--workers 2]

It builds a demo database in a temporary folder, starts gunicorn with deploy/gunicorn.conf.py
(2 workers, TRUSTED_PROXIES = 127.0.0.1 so X-Forwarded-For names the client, CSRF on, the shipped
limits and flags; the provincial centre HL-TTHCC gets a busy centre's allowance), then runs:

- attack A: one client on one counter (HL-AB-1/Q1, the SIPAS survey) for --seconds, flat out: it
  fetches forms continuously with a fresh cookie each time (the best a script can do against the
  per-browser limit) and posts each one as soon as it is older than the instrument's minimum fill
  time, all top answers;
- attack B: 64 addresses on one counter (HL-HL-1/Q1, the quick rating) for --seconds, the same way;
- honest background traffic all along: 30 citizens behind one address at the busy centre's counter
  HL-TTHCC-1/Q1, and 10 citizens with their own addresses at each attacked counter, each reading for
  25-60 s (12-25 s on the quick rating) before sending, and sending again after a 429 (their
  answers are kept) until it is stored or the run ends.

Every loop is bounded by time and count. Prints, per counter: stuffed responses stored and counted as
valid, refusals, honest answers lost, and honest answers flagged (the false-positive rate).
Responses are told apart by a comment only the honest citizens write; the defence never reads it.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import input_attributes  # noqa: E402  (after the path: run as a script)

BUSY_CENTRE = {"HL-TTHCC": {"counter_limit": "2400 per 10 minutes", "burst_per_minute": 20,
                            "address_limit": "300 per 10 minutes", "address_flag_from": 60}}
NAT_ADDRESS = "198.51.100.77"
MAX_REQUESTS = 20000  # a hard bound on every attacker loop, whatever the speed


@dataclass
class Tally:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int) -> None:
        with self.lock:
            self.sent += 1
            self.statuses[status] += 1


class Browser:
    """One browser: its own cookies, seen by the app as `address` (X-Forwarded-For via the trusted proxy)."""

    def __init__(self, base: str, address: str) -> None:
        self.base, self.address = base, address
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies, _NoRedirect())

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        request.add_header("X-Forwarded-For", self.address)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def form(self, path: str) -> tuple[dict[str, str], dict[str, list[str]]]:
        status, html = self._open(urllib.request.Request(self.base + path))
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        hidden: dict[str, str] = {}
        choices: dict[str, list[str]] = {}
        for attributes in input_attributes(html):
            name, kind, value = attributes.get("name"), attributes.get("type"), attributes.get("value")
            if name is None or value is None:
                continue
            if kind == "radio":
                choices.setdefault(name, []).append(value)
            elif kind == "hidden" and name in ("nonce", "csrf_token"):
                hidden[name] = value
        return hidden, choices

    def post(self, path: str, data: dict[str, str]) -> int:
        body = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST",
                                         headers={"Referer": self.base + path})
        return self._open(request)[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _top_answers(choices: dict[str, list[str]]) -> dict[str, str]:
    """Every scale and single choice at its highest code (the top of a satisfaction scale)."""
    return {name: max(values, key=int) for name, values in choices.items() if name != "rating"} | (
        {"rating": "3"} if "rating" in choices else {})


def _attacker(base: str, path: str, addresses: list[str], min_fill: float, until: float,
              tally: Tally) -> None:
    """Fetch forms flat out (fresh cookie each), post each one once it is older than `min_fill`."""
    waiting: list[tuple[float, Browser, dict[str, str], dict[str, list[str]]]] = []
    for n in range(MAX_REQUESTS):
        now = time.monotonic()
        if now >= until:
            break
        browser = Browser(base, addresses[n % len(addresses)])
        try:
            hidden, choices = browser.form(path)
            waiting.append((now, browser, hidden, choices))
            while waiting and time.monotonic() - waiting[0][0] > min_fill:
                _, ready, fields, offered = waiting.pop(0)
                tally.add(ready.post(path, {**fields, **_top_answers(offered)}))
        except (OSError, RuntimeError):
            tally.add(0)


def _citizen(base: str, path: str, address: str, read: float, until: float, marker: str,
             tally: Tally, rng: random.Random) -> None:
    """Read the form for `read` seconds, send; after a 429 wait and send the same answers again."""
    browser = Browser(base, address)
    try:
        hidden, choices = browser.form(path)
    except (OSError, RuntimeError):
        tally.add(0)
        return
    answers = {name: rng.choice(values) for name, values in choices.items()}
    if answers.get("rating") != "1":
        answers.pop("reasons", None)
    time.sleep(read)
    for _ in range(20):
        status = browser.post(path, {**hidden, **answers, "comment": marker})
        tally.add(status)
        if status != 429 or time.monotonic() + 30 > until:
            return
        time.sleep(30)


def _prepare(folder: Path, secret: str) -> tuple[Path, dict[str, str]]:
    """A migrated demo database; return its path and the survey path of every counter."""
    from flask_migrate import upgrade

    from survey import create_app
    from survey.demo.tree import seed_demo
    from survey.extensions import db
    from survey.services.qr.qr_tokens import issue_token, token_secret

    database = folder / "bench.db"
    app = create_app({"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
                      "TESTING": True})
    with app.app_context():
        upgrade()
        counters = seed_demo(db.session)
        db.session.commit()
        secret_key = token_secret(app.config)
        paths = {f"{c.unit.code}/{c.code}": f"/s/{issue_token(c, secret_key)}" for c in counters}
        db.engine.dispose()
    return database, paths


def _results(database: Path) -> dict[str, Counter[tuple[bool, str]]]:
    """counter -> Counter of (honest, status) over stored responses."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT u.code || '/' || c.code, r.status, t.text FROM responses r "
            "JOIN counters c ON c.id = r.counter_id JOIN units u ON u.id = c.unit_id "
            "LEFT JOIN text_answers t ON t.response_id = r.id AND t.item_id = 'comment'").fetchall()
    out: dict[str, Counter[tuple[bool, str]]] = {}
    for counter, status, text in rows:
        out.setdefault(counter, Counter())[(bool(text and text.startswith("honest-")), status)] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each attack")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="hailong-stuffing-"))
    secret = "bench-" + os.urandom(8).hex()
    database, paths = _prepare(folder, secret)
    port = 20000 + os.getpid() % 20000
    env = {**os.environ, "FLASK_SECRET_KEY": secret,
           "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "FLASK_TRUSTED_PROXIES": '["127.0.0.1"]',
           "FLASK_SUBMISSION_RULES_BY_UNIT": json.dumps(BUSY_CENTRE),
           "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": str(args.workers)}
    log = (folder / "gunicorn.log").open("w")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen([gunicorn, "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log,
                              stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        start = time.monotonic()
        total = 2 * args.seconds + 75
        honest = {"HL-TTHCC-1/Q1": Tally(), "HL-AB-1/Q1": Tally(), "HL-HL-1/Q1": Tally()}
        threads = []
        for i in range(30):  # behind one NAT address at the busy centre, spread over the run
            threads.append(threading.Timer(rng.uniform(0, total - 70), _citizen, (
                base, paths["HL-TTHCC-1/Q1"], NAT_ADDRESS, rng.uniform(25, 60), start + total,
                f"honest-nat-{i}", honest["HL-TTHCC-1/Q1"], random.Random(rng.random()))))
        schedule = (("HL-AB-1/Q1", 0.0, (25, 60)), ("HL-HL-1/Q1", args.seconds, (12, 25)))
        for counter, offset, (low, high) in schedule:
            for i in range(10):  # during that counter's attack, each with an address of their own
                threads.append(threading.Timer(offset + rng.uniform(0, args.seconds - 10), _citizen, (
                    base, paths[counter], f"192.0.2.{len(threads)}", rng.uniform(low, high), start + total,
                    f"honest-{counter}-{i}", honest[counter], random.Random(rng.random()))))
        for thread in threads:
            thread.start()
        attack_a, attack_b = Tally(), Tally()
        attackers = [threading.Thread(target=_attacker, args=(base, paths["HL-AB-1/Q1"], ["203.0.113.66"],
                                                              21.0, start + args.seconds, attack_a))]
        addresses = [f"203.0.113.{i}" for i in range(100, 164)]
        attackers += [threading.Thread(target=_attacker, args=(
            base, paths["HL-HL-1/Q1"], addresses[k::8], 4.0, start + 2 * args.seconds, attack_b))
            for k in range(8)]
        attackers[0].start()
        time.sleep(max(0.0, start + args.seconds - time.monotonic()))
        for thread in attackers[1:]:
            thread.start()
        for thread in [*attackers, *threads]:
            thread.join(timeout=total + 60)
        elapsed = time.monotonic() - start
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    results = _results(database)
    print(f"# Stuffing bench: gunicorn, {args.workers} workers, attacks of {args.seconds:.0f} s, "
          f"{elapsed:.0f} s in all\n")
    print("| attack | counter | posts | 429 | stored | stuffed counted as valid |")
    print("|---|---|---:|---:|---:|---:|")
    for name, counter, tally in (("A: one client", "HL-AB-1/Q1", attack_a),
                                 ("B: 64 addresses", "HL-HL-1/Q1", attack_b)):
        stored = sum(n for (is_honest, _), n in results.get(counter, Counter()).items() if not is_honest)
        valid = results.get(counter, Counter())[(False, "valid")]
        print(f"| {name} | {counter} | {tally.sent} | {tally.statuses[429]} | {stored} | {valid} |")
    print("\n| honest citizens at | answered | stored | lost | flagged (false positives) | 429 met |")
    print("|---|---:|---:|---:|---:|---:|")
    for counter, tally in honest.items():
        got = results.get(counter, Counter())
        stored = got[(True, "valid")] + got[(True, "flagged")]
        people = 30 if counter == "HL-TTHCC-1/Q1" else 10
        print(f"| {counter} | {people} | {stored} | {people - stored} | {got[(True, 'flagged')]} "
              f"({got[(True, 'flagged')] / max(stored, 1):.0%}) | {tally.statuses[429]} |")
    other = {s: n for s, n in {**attack_a.statuses, **attack_b.statuses}.items() if s not in (303, 429)}
    if other:
        print(f"\nother statuses seen by the attackers: {other}")
    print(f"\n(database and gunicorn log in {folder})")


if __name__ == "__main__":
    main()
