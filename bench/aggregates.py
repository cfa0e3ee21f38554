"""Index aggregates against the response rows on a generated database (prints figures; no pass/fail).

Run from the repository root, on a copy of a database made by bench/generate_db.py (the script
migrates it and rebuilds the aggregates):

    cp /tmp/scale.db /tmp/agg.db
    .venv/bin/python bench/aggregates.py /tmp/agg.db [--month 2026-11] [--year 2026]

It prints the time of `flask aggregates rebuild` and `check` on the whole database, the aggregates'
size, and for the province (every unit) one period's indices computed from the aggregates and from
the rows (`survey.services.reporting.index_source`), cold (no process cache), weighted as the
dashboard does, with the ratio and the largest difference between the two tables.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _flask(db_path: Path, *args: str) -> float:
    env = {"FLASK_APP": "survey", "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
           "FLASK_SECRET_KEY": "bench-only", "PATH": str(ROOT / ".venv" / "bin")}
    started = time.perf_counter()
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"flask {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _tables(db_path: Path, period_text: str) -> None:
    import sqlalchemy as sa

    from instruments.index import IndexDefinition
    from survey import create_app
    from survey.extensions import db
    from survey.models import Unit
    from survey.services.reporting.index_source import aggregate_estimates, responses_estimates
    from survey.services.reporting.indices import MIN_N, instrument_for
    from survey.services.reporting.periods import Period
    from survey.services.reporting.respondent_data import unit_parent_map
    from survey.services.staff.access import subtree_ids

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench-only"})
    period = Period.from_text(period_text)
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert root is not None
        ids = subtree_ids(db.session(), [root.id])
        parents = unit_parent_map(db.session(), root.id)
        instrument = instrument_for("sipas-counter@2025.1")
        definition = IndexDefinition.from_instrument(instrument)
        common = {"weighted": True, "targets": 0.8, "alpha": 0.05, "min_cell": 5, "min_n": MIN_N}
        started = time.perf_counter()
        ours = aggregate_estimates(db.session(), ids, parents, period, instrument, definition, **common)  # type: ignore[arg-type]
        from_sums = time.perf_counter() - started
        started = time.perf_counter()
        rows = responses_estimates(db.session(), ids, parents, period, instrument, definition, **common)  # type: ignore[arg-type]
        from_rows = time.perf_counter() - started
    figures = ["est", "se", "ci_lo", "ci_hi"]
    diff = max(float(np.nanmax(np.abs(ours.table[c].astype(float) - rows.table[c].astype(float))))
               for c in figures)
    print(f"province {period.label:8} {len(ours.table):>7,} rows {ours.responses:>7,} responses: "
          f"aggregates {from_sums:6.2f}s, rows {from_rows:6.2f}s ({from_rows / from_sums:5.1f}x); "
          f"largest |difference| of est/se/ci {diff:.1e}; {ours.weighting}", flush=True)


def main() -> None:
    from bench.dashboard import period_argument

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a copy of a SQLite database made by bench/generate_db.py")
    parser.add_argument("--month", default="2026-11", type=period_argument)
    parser.add_argument("--year", default="2026", type=period_argument)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _tables(args.db, args.one)
        return
    _flask(args.db, "db", "upgrade")
    rebuilt = _flask(args.db, "aggregates", "rebuild")
    checked = _flask(args.db, "aggregates", "check")
    import sqlite3

    with sqlite3.connect(args.db) as connection:
        query = "SELECT count(*), sum(length(sums)) FROM index_aggregates"
        cells, size = connection.execute(query).fetchone()
    print(f"rebuild {rebuilt:.1f}s, check {checked:.1f}s: {cells:,} cells, {size / 1e6:.1f} MB of sums")
    for period in (args.month, args.year):  # each in a fresh process: no cache from the other
        subprocess.run([sys.executable, __file__, str(args.db), "--one", period], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
