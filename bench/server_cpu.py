"""Server CPU per completion under gunicorn, the survey beside the bare insert endpoint (prints figures).

`bench/load.py` measures throughput, which on a shared machine depends on what else runs; this
measures what a completion (GET the form, POST the answers) costs the server: one client sends
`--completions` of them one after the other, and the CPU time of the gunicorn process group (master
and workers, user and system, from /proc) is divided by their number. Linux only.

Usage: python bench/server_cpu.py [--completions 300] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bare_app import prepare_database
from bench.load import (
    form_fields,
    free_port,
    group_cpu,
    gunicorn,
    prepare_survey,
    request,
    status_counts,
    stored_since,
    survey_env,
    wait_ready,
)


def completions(port: int, paths: list[str], count: int, rng: random.Random) -> None:
    for n in range(count):
        path = paths[n % len(paths)]
        _, html, cookie, _ = request(port, "GET", path, "")
        status, _, _, _ = request(port, "POST", path, cookie, urllib.parse.urlencode(form_fields(html, rng)))
        if status != 303:
            raise SystemExit(f"POST {path} answered {status}, not 303")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--completions", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flagged", action="store_true",
                        help="the shipped flag thresholds: responses stored flagged, no aggregates")
    args = parser.parse_args(argv)
    rng = random.Random(20261204)
    with tempfile.TemporaryDirectory() as tmp:
        survey_url = f"sqlite:///{tmp}/survey.db"
        prepare_database(f"{tmp}/bare.db")
        bare_env = {"BARE_DB": f"{tmp}/bare.db", "PATH": os.environ.get("PATH", "")}
        apps = (("survey", "survey:create_app()", survey_env(survey_url, valid=not args.flagged),
                  prepare_survey(survey_url)),
                ("bare", "bench.bare_app:app", bare_env, ["/form"]))
        print(f"gunicorn, {args.workers} sync workers, one client, {args.completions} completions each")
        for name, spec, env, paths in apps:
            port = free_port()
            with gunicorn(spec, port, args.workers, env) as server:
                wait_ready(port, paths[0])
                completions(port, paths, 20, rng)  # warm: templates compiled, caches filled, connections open
                before = status_counts(survey_url) if name == "survey" else {}
                (user, system), wall = group_cpu(server.pid), time.perf_counter()
                completions(port, paths, args.completions, rng)
                (user_after, system_after), wall = group_cpu(server.pid), time.perf_counter() - wall
            per = 1000 / args.completions
            print(f"{name:<7} server CPU per completion {(user_after - user) * per:6.2f} ms user "
                  f"+ {(system_after - system) * per:5.2f} ms system; wall {wall * per:6.2f} ms "
                  f"(load {os.getloadavg()[0]:.1f})")
            if name == "survey":
                print(f"        stored: {stored_since(survey_url, before)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
