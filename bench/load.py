"""Load test of the citizen form under gunicorn, beside a bare Flask + SQLite insert endpoint in the same
run (prints figures; no pass/fail).

Run from the repository root (gunicorn comes with the `deploy` extra):

    .venv/bin/python bench/load.py [--workers 2] [--clients 4,8,32] [--seconds 10] [--max-per-client 2000]
                                   [--floor] [--flagged]

Both apps are served by gunicorn with `--workers` sync workers on 127.0.0.1, each on a new SQLite
file (the survey's made by `flask db upgrade` and `flask seed demo`). Each client loops GET form, then
POST the answers (the survey: every radio question answered, the form's nonce and CSRF token sent back
with its session cookie), until `--seconds` have passed or it has sent `--max-per-client` forms.
Printed per level: completed submissions (303) per second, the ratio survey / bare, p50 and p99 of
GET and POST, and the count of 5xx answers and of connection errors; then where the machine's CPU
went: the server's (the gunicorn process group's, from /proc) and the clients' (this process's) CPU
per completed form, and the share of the machine's CPU time left idle during the level. While the
cores are busy, the ratio is about (server + client CPU of a bare form) / (the same of a survey form).

With `--floor` a third app runs beside them, `bench/floor_app.py`: the survey's own form page and the
least work a Flask app must do to take a SIPAS completion (checks, one response and its answers, one
aggregate row, one commit; raw sqlite3). Its ratio to the bare endpoint bounds what the survey could reach.
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.bare_app import prepare_database  # noqa: E402  (after the path: run as a script)

BIN = Path(sys.executable).parent
COUNTERS = ("HL-TTHCC-1/Q1", "HL-TTHCC-1/Q2", "HL-AB-1/Q1")
_INPUT = re.compile(r"<input\b[^>]*>")
# Attribute values quoted or bare: the form writes option values without quotes (`value=4`).
_ATTRIBUTE = re.compile(r'(\w[\w-]*)=(?:"([^"]*)"|([^\s">]+))')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The plausibility flags' thresholds that every bench client would cross: all come from 127.0.0.1 and
# answer a few counters many times a minute. Raised (with `--valid`, the default), the responses are
# stored valid and pay what a real citizen's valid response does (the index aggregates' upsert in a
# savepoint); left as shipped (`--flagged`), they are stored flagged `burst` and skip it.
VALID_PATH_RULES = {"burst_per_minute": 1_000_000, "counter_flag_from": 1_000_000,
                    "address_flag_from": 1_000_000}


def survey_env(database_url: str, *, valid: bool = True) -> dict[str, str]:
    rules = {"address_limit": "1000000 per 10 minutes", "counter_limit": "1000000 per 10 minutes"}
    return {"FLASK_APP": "survey", "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_SECRET_KEY": "bench-only-secret-key-0123456789abcdef", "PATH": os.environ.get("PATH", ""),
            "FLASK_RATELIMIT_ENABLED": "false",
            # A person needs seconds to fill the form; the clients here answer at once, and the bench
            # measures the server's cost per submission, not the anti-bot delay.
            "FLASK_MIN_FILL_SECONDS": "0", "FLASK_MIN_FILL_SECONDS_BY_INSTRUMENT": "{}",
            # Every client is 127.0.0.1 and they all answer a few counters: the per-address and
            # per-counter submission limits would refuse the load itself (as they should a flood).
            "FLASK_SUBMISSION_RULES": json.dumps({**rules, **(VALID_PATH_RULES if valid else {})})}


def prepare_survey(database_url: str) -> list[str]:
    """Migrate and seed the demo tree; return the form paths (/s/<token>) of a few counters."""
    env = survey_env(database_url)
    for command in (["db", "upgrade"], ["seed", "demo"]):
        subprocess.run([str(BIN / "flask"), *command], check=True, env=env, cwd=ROOT, capture_output=True)
    import sqlalchemy as sa

    from survey import create_app
    from survey.extensions import db
    from survey.models import Counter, Unit
    from survey.services.qr.qr_tokens import issue_token, token_secret

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": env["FLASK_SECRET_KEY"]})
    paths = []
    with app.app_context():
        for spec in COUNTERS:
            unit_code, counter_code = spec.split("/")
            counter = db.session.scalar(sa.select(Counter).join(Unit).where(
                Unit.code == unit_code, Counter.code == counter_code))
            assert counter is not None, spec
            paths.append(f"/s/{issue_token(counter, token_secret(app.config))}")
    return paths


@contextmanager
def gunicorn(app_spec: str, port: int, workers: int,
             env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn in its own process group on 127.0.0.1:`port`, stopped (the whole group) on exit."""
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         app_spec], cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_listening(port)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def wait_ready(port: int, path: str, timeout: float = 120) -> None:
    """Until `path` answers 200: the master listens before its workers have imported the app."""
    wait_listening(port, timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", path, "")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"127.0.0.1:{port}{path} did not answer 200 within {timeout:.0f} s")


def wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def input_attributes(html: str) -> list[dict[str, str]]:
    """The attributes of every <input> of the page, quoted or bare."""
    return [{name: quoted or bare for name, quoted, bare in _ATTRIBUTE.findall(tag)}
            for tag in _INPUT.findall(html)]


def radio_offers(inputs: list[dict[str, str]]) -> dict[str, list[str]]:
    """Every radio question's offered values, by name, from a page's inputs (`input_attributes`)."""
    offered: dict[str, list[str]] = {}
    for attributes in inputs:
        if attributes.get("type") == "radio" and "name" in attributes:
            offered.setdefault(attributes["name"], []).append(attributes.get("value", ""))
    return offered


def form_fields(html: str, rng: random.Random | None = None) -> dict[str, str]:
    """Hidden fields as given, and one offered value of every radio question: with `rng` a random one
    (answers vary as citizens' do, so no run of identical answers is flagged `repeated`), else the first."""
    inputs = input_attributes(html)
    fields = {attributes["name"]: attributes.get("value", "") for attributes in inputs
              if attributes.get("type") == "hidden" and "name" in attributes}
    for name, values in radio_offers(inputs).items():
        fields[name] = values[0] if rng is None else rng.choice(values)
    fields.setdefault("website", "")  # the honeypot stays empty
    return fields


@dataclass
class Tally:
    get_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    completed: int = 0
    server_errors: int = 0
    other_status: int = 0
    connection_errors: int = 0
    elapsed: float = 0.0  # seconds the level ran
    lock: threading.Lock = field(default_factory=threading.Lock)


def request(port: int, method: str, path: str, cookie: str, body: str = "") -> tuple[int, str, str, float]:
    """One request on a new connection: (status, body, cookies to send next, milliseconds)."""
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    elapsed = (time.perf_counter() - started) * 1000
    # Every cookie the answer sets (the session and the browser cookie), merged into those sent:
    # keeping only the first Set-Cookie lost the session, and with it the CSRF token.
    jar = dict(part.split("=", 1) for part in cookie.split("; ") if "=" in part)
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value
    return response.status, text, "; ".join(f"{name}={value}" for name, value in jar.items()), elapsed


def client_loop(port: int, paths: list[str], index: int, deadline: float, limit: int, tally: Tally) -> None:
    rng = random.Random(index)
    for n in range(limit):
        if time.monotonic() >= deadline:
            return
        path = paths[(index + n) % len(paths)]
        cookie = ""  # a new citizen each time: a browser that has answered at a counter is thanked, not asked
        try:
            status, html, cookie, get_ms = request(port, "GET", path, cookie)
            if status != 200:
                with tally.lock:
                    tally.server_errors += status >= 500
                    tally.other_status += status < 500
                continue
            body = urllib.parse.urlencode(form_fields(html, rng))
            status, _, cookie, post_ms = request(port, "POST", path, cookie, body)
        except (OSError, http.client.HTTPException):  # refused, reset or cut short
            with tally.lock:
                tally.connection_errors += 1
            continue
        with tally.lock:
            tally.get_ms.append(get_ms)
            tally.post_ms.append(post_ms)
            tally.completed += status == 303
            tally.server_errors += status >= 500
            tally.other_status += status < 500 and status != 303


TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` and its children (the gunicorn workers), from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    user = system = 0.0
    for process in [pid, *map(int, children)]:
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]) / TICKS, system + int(fields[12]) / TICKS
    return user, system


def machine_times() -> tuple[int, int]:
    """(idle, total) CPU ticks of the machine since boot, all cores (/proc/stat)."""
    ticks = [int(part) for part in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)  # idle and I/O wait


@dataclass(frozen=True)
class CpuShares:
    """Where the CPU of one level went: per completed form (ms) and the machine's idle share."""

    server_ms: float
    client_ms: float
    idle: float

    @classmethod
    def measure(cls, server_pid: int, run: Callable[[], Tally]) -> tuple[Tally, CpuShares]:
        server, client, machine = sum(group_cpu(server_pid)), time.process_time(), machine_times()
        tally = run()
        server = sum(group_cpu(server_pid)) - server
        client = time.process_time() - client
        idle, total = (after - before for after, before in zip(machine_times(), machine, strict=True))
        done = max(tally.completed, 1)
        return tally, cls(1000 * server / done, 1000 * client / done, idle / total if total else float("nan"))


def run_level(port: int, paths: list[str], clients: int, seconds: float, limit: int) -> Tally:
    tally = Tally()
    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(port, paths, i, started + seconds, limit, tally))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.elapsed = time.monotonic() - started
    return tally


def status_counts(database_url: str) -> dict[str, int]:
    """Responses in the survey's SQLite database by status (valid, flagged, excluded)."""
    with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
        return dict(connection.execute("SELECT status, count(*) FROM responses GROUP BY status").fetchall())


def stored_since(database_url: str, before: dict[str, int]) -> str:
    """How the responses sent since `before` were stored, e.g. "valid 2,310, flagged 0": the path measured."""
    after = status_counts(database_url)
    return ", ".join(f"{status} {after.get(status, 0) - before.get(status, 0):,}"
                     for status in ("valid", "flagged"))


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", default="4,8,32")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-per-client", type=int, default=2000)
    parser.add_argument("--flagged", action="store_true",
                        help="keep the shipped flag thresholds: the bench's responses are stored flagged "
                             "(burst) and skip the index aggregates (the default stores them valid)")
    parser.add_argument("--floor", action="store_true",
                        help="also serve bench/floor_app.py: the least a Flask app does for this form")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2")
    levels = [int(part) for part in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="hailong-load-") as scratch, ExitStack() as servers:
        survey_url, bare_db = f"sqlite:///{Path(scratch) / 'survey.db'}", Path(scratch) / "bare.db"
        paths = prepare_survey(survey_url)
        seeded = status_counts(survey_url)
        prepare_database(str(bare_db))
        apps: dict[str, tuple[int, list[str], subprocess.Popen[bytes]]] = {}
        port = free_port()
        apps["survey"] = (port, paths, servers.enter_context(gunicorn(
            "survey:create_app()", port, args.workers, survey_env(survey_url, valid=not args.flagged))))
        if args.floor:
            port = free_port()
            env = floor_env(Path(scratch), apps["survey"][0], paths[0])
            apps["floor"] = (port, ["/form"], servers.enter_context(gunicorn(
                "bench.floor_app:app", port, args.workers, env)))
        port = free_port()
        env = {"BARE_DB": str(bare_db), "PATH": os.environ.get("PATH", "")}
        apps["bare"] = (port, ["/form"], servers.enter_context(gunicorn(
            "bench.bare_app:app", port, args.workers, env)))
        print(f"gunicorn, {args.workers} sync workers each, {args.seconds:.0f} s per level "
              f"(at most {args.max_per_client} forms per client)")
        print(f"{'clients':>7} {'app':6} {'forms/s':>8} {'ratio':>6} {'GET p50':>8} {'GET p99':>8} "
              f"{'POST p50':>9} {'POST p99':>9} {'5xx':>4} {'conn err':>8} {'other':>5}")
        shares: list[tuple[int, str, CpuShares]] = []
        for clients in levels:
            figures = {}
            for name, (port, targets, server) in apps.items():
                run_level(port, targets, 2, 1.0, 5)  # warm the workers
                tally, share = CpuShares.measure(server.pid, functools.partial(
                    run_level, port, targets, clients, args.seconds, args.max_per_client))
                figures[name] = (tally, tally.completed / tally.elapsed)
                shares.append((clients, name, share))
            bare_rate = figures["bare"][1]
            for name, (tally, rate) in figures.items():
                ratio = rate / bare_rate if bare_rate else float("nan")
                print(f"{clients:>7} {name:6} {rate:8.1f} {ratio:6.2f} "
                      f"{percentile(tally.get_ms, 50):6.1f}ms {percentile(tally.get_ms, 99):6.1f}ms "
                      f"{percentile(tally.post_ms, 50):7.1f}ms {percentile(tally.post_ms, 99):7.1f}ms "
                      f"{tally.server_errors:>4} {tally.connection_errors:>8} {tally.other_status:>5}",
                      flush=True)
        print(f"\n{'clients':>7} {'app':6} {'server CPU':>11} {'client CPU':>11} {'idle':>5}  (per form)")
        for clients, name, share in shares:
            print(f"{clients:>7} {name:6} {share.server_ms:8.2f} ms {share.client_ms:8.2f} ms "
                  f"{100 * share.idle:4.0f}%")
        servers.close()
        print(f"survey responses stored: {stored_since(survey_url, seeded)} "
              f"(load {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
        if args.floor:
            with sqlite3.connect(Path(scratch) / "floor.db") as connection:
                stored = connection.execute("SELECT count(*), (SELECT count(*) FROM answers) FROM responses")
                print("floor responses stored: {:,} ({:,} answers)".format(*stored.fetchone()))
            connection.close()


def floor_env(scratch: Path, survey_port: int, form_path: str) -> dict[str, str]:
    """The floor app's environment: its database, and the survey's form page as the survey serves it
    (its CSRF token and nonce made placeholders), so that the clients parse and answer the same HTML."""
    # Here, not at the top: bench/floor_app.py reads this module's page parser.
    from bench.floor_app import form_page
    from bench.floor_app import prepare_database as prepare_floor

    wait_ready(survey_port, form_path)
    html = request(survey_port, "GET", form_path, "")[1]
    hidden = {attributes.get("name"): attributes.get("value", "") for attributes in input_attributes(html)
              if attributes.get("type") == "hidden"}
    page = scratch / "floor-page.html"
    page.write_text(form_page(html, hidden["csrf_token"], hidden["nonce"]), encoding="utf-8")
    prepare_floor(str(scratch / "floor.db"))
    return {"FLOOR_DB": str(scratch / "floor.db"), "FLOOR_PAGE": str(page),
            "PATH": os.environ.get("PATH", "")}


if __name__ == "__main__":
    main()
