"""Where a citizen's completion spends the server's CPU: GET the form, POST the answers, in-process.

The demo database is migrated and seeded as `bench/load.py` does; then `--completions` new citizens
(no cookie) each GET a counter's form and POST every radio question answered, through Flask's test
client (no network, no gunicorn), under cProfile with the process CPU clock. The profile's own time is
grouped by the package the code belongs to (templates, translations, forms and CSRF, signing, the
ORM, the database driver, the app's own code...), printed as milliseconds of CPU per completion and as
shares, beside the top functions by cumulative time. Profiling slows Python code down, so read the
shares rather than the absolute figures; the wall and CPU time without the profiler come first.

`--phase get` or `--phase post` profiles only the GETs or only the POSTs (the other runs unprofiled);
the CPU of each, without the profiler, is printed apart too. The responses are stored valid, as a real
citizen's are (the bench's many answers a minute from one address would otherwise be flagged `burst`
and skip the index aggregates); `--flagged` measures that flagged path instead.

Usage: python bench/submit_profile.py [--completions 300] [--top 25] [--phase both|get|post] [--flagged]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import VALID_PATH_RULES, form_fields, prepare_survey, status_counts, stored_since, survey_env

# The first matching fragment of a function's file path names its group.
GROUPS = (
    ("jinja2", "templates (Jinja2)"),
    ("/templates/", "templates (Jinja2)"),
    ("babel", "translations and formats (Babel)"),
    ("flask_babel", "translations and formats (Babel)"),
    ("wtforms", "forms and CSRF (WTForms)"),
    ("flask_wtf", "forms and CSRF (WTForms)"),
    ("itsdangerous", "signing (itsdangerous)"),
    ("hmac", "signing (itsdangerous)"),
    ("hashlib", "signing (itsdangerous)"),
    ("sqlalchemy", "ORM and SQL (SQLAlchemy)"),
    ("sqlite3", "database driver (sqlite3)"),
    ("flask_limiter", "rate limiter"),
    ("limits", "rate limiter"),
    ("werkzeug", "request and response (Werkzeug, Flask)"),
    ("/flask/", "request and response (Werkzeug, Flask)"),
    ("/survey/", "the app's own code (survey/)"),
    ("/instruments/", "the app's own code (instruments/)"),
)


def group_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "interpreter built-ins"
    for fragment, name in GROUPS:
        if fragment in filename:
            return name
    return "other (standard library, ...)"


RNG = random.Random(20261204)  # the answers: varied, as citizens' are


def completions(app: Flask, paths: list[str], count: int, profiler: cProfile.Profile | None = None,
                phase: str = "both", cpu: dict[str, float] | None = None) -> int:
    """`count` completions; with `profiler`, the requests of `phase` (get, post, both) are profiled,
    and `cpu` adds up the process CPU of the GETs and of the POSTs."""
    done = 0
    cpu = {} if cpu is None else cpu
    for n in range(count):
        path = paths[n % len(paths)]
        client = app.test_client()  # a new citizen each time: no cookie
        started = time.process_time()
        if profiler is not None and phase in ("get", "both"):
            profiler.enable()
        page = client.get(path)
        if profiler is not None and phase == "get":
            profiler.disable()
        cpu["get"] = cpu.get("get", 0.0) + time.process_time() - started
        body = urllib.parse.urlencode(form_fields(page.get_data(as_text=True), RNG))
        started = time.process_time()
        if profiler is not None and phase == "post":
            profiler.enable()
        answer = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
        if profiler is not None:
            profiler.disable()
        cpu["post"] = cpu.get("post", 0.0) + time.process_time() - started
        done += answer.status_code == 303
    return done


STATEMENT_SAMPLE = 20  # completions whose SQL statements are counted


def count_statements(app: Flask, paths: list[str], count: int = STATEMENT_SAMPLE) -> dict[str, int]:
    """SQL statements sent by `count` completions, by the request's method (GET, POST)."""
    from flask import has_request_context, request
    from sqlalchemy import event

    from survey.extensions import db

    counts: dict[str, int] = defaultdict(int)

    def counted(*_: object) -> None:
        counts[request.method if has_request_context() else "outside a request"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        completions(app, paths, count)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return dict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--phase", choices=("both", "get", "post"), default="both")
    parser.add_argument("--flagged", action="store_true",
                        help="the shipped flag thresholds: responses stored flagged, no aggregates")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "profile.db"
        paths = prepare_survey(f"sqlite:///{db_path}")
        env = survey_env(f"sqlite:///{db_path}")
        from survey import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
                          "SECRET_KEY": env["FLASK_SECRET_KEY"], "RATELIMIT_ENABLED": False,
                          "MIN_FILL_SECONDS": 0, "MIN_FILL_SECONDS_BY_INSTRUMENT": {},
                          # Every test-client request comes from 127.0.0.1: one address, many citizens.
                          "SUBMISSION_RULES": {"address_limit": "1000000 per 10 minutes",
                                               "counter_limit": "1000000 per 10 minutes",
                                               **({} if args.flagged else VALID_PATH_RULES)}})
        completions(app, paths, 20)  # warm caches: templates compiled, instruments loaded
        statements = count_statements(app, paths)
        before = status_counts(f"sqlite:///{db_path}")
        by_method: dict[str, float] = {}
        wall, cpu = time.perf_counter(), time.process_time()
        done = completions(app, paths, args.completions, cpu=by_method)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if done != args.completions:
            raise SystemExit(f"only {done} of {args.completions} submissions were stored (303)")
        print(f"{done} completions (GET form + POST answers), in-process, no profiler: "
              f"{1000 * wall / done:.2f} ms wall, {1000 * cpu / done:.2f} ms CPU per completion "
              f"(load {os.getloadavg()[0]:.1f}); of which GET {1000 * by_method['get'] / done:.2f} ms, "
              f"POST {1000 * by_method['post'] / done:.2f} ms (test client included)")
        print(f"stored: {stored_since(f'sqlite:///{db_path}', before)}")
        print("SQL statements per completion: " + ", ".join(f"{method} {count / STATEMENT_SAMPLE:.1f}"
                                                            for method, count in statements.items()))
        profiler = cProfile.Profile(time.process_time)
        profiled = completions(app, paths, args.completions, profiler, args.phase)
        if profiled != args.completions:
            raise SystemExit(f"profiled run: only {profiled} of {args.completions} submissions were stored")
    stats = pstats.Stats(profiler)
    by_group: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_group[group_of(filename)] += own
    total = sum(by_group.values())
    print(f"\nprofiled ({args.phase}) CPU per completion: {1000 * total / args.completions:.2f} ms, "
          "by package (own time)")
    for name, seconds in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<42} {1000 * seconds / args.completions:7.2f} ms  {100 * seconds / total:5.1f} %")
    print(f"\ntop {args.top} functions by cumulative time")
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
