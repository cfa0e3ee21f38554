"""Time the province and ward dashboards on a generated database (prints figures; no pass/fail).

Run from the repository root, on a database made by bench/generate_db.py:

    .venv/bin/python bench/generate_db.py /tmp/scale.db --responses 100000
    .venv/bin/python bench/dashboard_scale.py /tmp/scale.db [--month 2026-11] [--year 2026]
    .venv/bin/python bench/dashboard_scale.py postgresql+psycopg://user@localhost/scale   # PostgreSQL

A manager whose scope is the province signs in through the real pages (test client); with `--viewer
commune`, the ward's own manager (its scope the ward alone: its "province" page is the commune's
dashboard, and its ward page decides small cells on the commune's tree). Each page and
period is measured in a fresh process, so "cold" is a first view after a restart (empty process
caches; the operating system's file cache stays warm): cold, warm (median of three views, nothing
changed) and after one new response (at the ward's service point, in the period's last month that has
served-dossier frames: a response in a month without one would switch a weighted quarter or year to
unweighted, and every figure with it, which happens once a month, not on every response). The ward
(`--ward`, default G00005) is a commune whose one-stop desk answers the SIPAS counter form at about the
average desk's volume (233 responses in November 2026 in the default database), so the response is an
ordinary one; `--ward G00000` (a hospital desk that never answered the form) measures a unit's first
response instead, as the bench did before 5 December 2026. Peak
memory is the process's maximum resident set (`resource.getrusage`) after the three measurements.
Once the app is built, the process does what a gunicorn worker does once it has loaded it
(`survey.worker_start`, the shipped deploy/gunicorn.conf.py).

Each page and period is measured twice, each in its own fresh process with its own shared report
store (`REPORT_CACHE_URI`, a new directory): "nothing shared" starts from an empty store (the first
view after the first start, nothing computed anywhere yet); "after the job" first runs
`flask alerts refresh --period P` in another process with the store, as the scheduled job does in a
deployment (its time is printed), then measures a new process that reads what the job computed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WARD = "G00005"  # a generated commune whose desk answers the SIPAS counter form (see the docstring)


def _add_response(app: object, point_code: str, when: datetime) -> None:
    import sqlalchemy as sa

    from instruments.registry import get_registered
    from survey.extensions import db
    from survey.models import Answer, Response, ResponseStatus, Unit
    from survey.services.reporting.aggregates import count_response

    registered = get_registered("sipas-counter", "2025.1")
    with app.app_context():  # type: ignore[attr-defined]
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == point_code))
        assert unit is not None, point_code
        response = Response(instrument_id="sipas-counter", instrument_version="2025.1",
                            instrument_hash=registered.content_hash, unit_id=unit.id, channel="qr",
                            language="vi", submitted_at=when, idempotency_key=f"bench-{time.time_ns()}",
                            status=ResponseStatus.VALID, answers=[Answer(item_id="e1_info", code=5)])
        db.session.add(response)
        db.session.flush()
        count_response(db.session(), response)  # as the submission service does, in the same transaction
        db.session.commit()


def _unit_id(app: object, code: str) -> int:
    import sqlalchemy as sa

    from survey.extensions import db
    from survey.models import Unit

    with app.app_context():  # type: ignore[attr-defined]
        found = db.session.scalar(sa.select(Unit.id).where(Unit.code == code))
        assert found is not None, code
        return found


def _last_framed_day(app: object) -> date:
    """The last day covered by a served-dossier frame (`ServedCount.period_end`)."""
    import sqlalchemy as sa

    from survey.extensions import db
    from survey.models import ServedCount

    with app.app_context():  # type: ignore[attr-defined]
        found = db.session.scalar(sa.select(sa.func.max(ServedCount.period_end)))
        assert found is not None, "no served-dossier frame: make the database with bench/generate_db.py"
        return found


def database_url(target: str) -> str:
    """A PostgreSQL URL as given, a SQLite file as a sqlite:/// URL."""
    return target if target.startswith("postgresql") else f"sqlite:///{target}"


def measure_one(target: str, page: str, period_text: str, store: str,
                ward: str = WARD, viewer: str = "province") -> dict[str, float]:
    """Cold, warm and after-one-response times of one page and period, in this (fresh) process, with
    the shared report store in directory `store`."""
    from survey import create_app
    from survey.models import Role
    from survey.services.reporting.periods import Period
    from survey.worker_start import prepare_worker
    from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, add_staff, sign_in

    period = Period.from_text(period_text)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(target), "SECRET_KEY": "bench-only",
                      "TESTING": True, "WTF_CSRF_ENABLED": False, "CLOCK": Clock(), **CHEAP_ARGON2,
                      "REPORT_CACHE_URI": f"filesystem:{store}"})
    prepare_worker(app)  # as a gunicorn worker does once it has loaded the app (deploy/gunicorn.conf.py)
    scope = "HL" if viewer == "province" else ward
    staff = add_staff(app, f"bench-{time.time_ns()}", Role.MANAGER, (scope,), totp=True)
    client = app.test_client()
    sign_in(client, app, staff)
    url = (f"/manage/?period={period.label}" if page == "province"
           else f"/manage/units/{_unit_id(app, ward)}?period={period.label}")

    def timed() -> float:
        """The time to the page's last byte; then the response is closed, as the WSGI server does once it
        is sent, which writes the page's figures to the shared store (`survey.report_store`)."""
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        elapsed = time.perf_counter() - started
        response.close()
        return elapsed

    cold = timed()
    warm = statistics.median(timed() for _ in range(3))
    last_month_day = min(period.last, _last_framed_day(app)) - timedelta(days=3)
    _add_response(app, f"{ward}-1", datetime(last_month_day.year, last_month_day.month, last_month_day.day,
                                             3, 0, tzinfo=UTC))
    after = timed()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    return {"cold": cold, "warm": warm, "after": after, "peak_mb": peak_mb}


def run_job(target: str, period_text: str, store: str) -> float:
    """`flask alerts refresh --period P` in its own process with the shared store; its wall time."""
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database_url(target),
           "FLASK_SECRET_KEY": "bench-only", "FLASK_REPORT_CACHE_URI": f"filesystem:{store}"}
    started = time.perf_counter()
    flask = str(Path(sys.executable).with_name("flask"))
    done = subprocess.run([flask, "--app", "survey", "alerts", "refresh", "--period", period_text],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        sys.exit(f"alerts refresh {period_text} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def _measured(target: str, page: str, period: str, store: str, ward: str, viewer: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, target, "--one", page, period, store, "--ward", ward,
                           "--viewer", viewer], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"{page} {period} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    from bench.dashboard import period_argument

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="a SQLite file or a PostgreSQL URL (postgresql+psycopg://...) made by "
                                   "bench/generate_db.py")
    parser.add_argument("--month", default="2026-11", type=period_argument)
    parser.add_argument("--year", default="2026", type=period_argument)
    parser.add_argument("--ward", default=WARD, help="the commune whose page is measured (%(default)s)")
    parser.add_argument("--viewer", choices=("province", "commune"), default="province",
                        help="whose scope the signed-in manager has: the province or the ward (%(default)s)")
    parser.add_argument("--one", nargs=3, metavar=("PAGE", "PERIOD", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.db.startswith("postgresql") and not Path(args.db).exists():
        parser.error(f"{args.db} does not exist: make it with bench/generate_db.py")
    if args.one:
        print(json.dumps(measure_one(args.db, *args.one, ward=args.ward, viewer=args.viewer)))
        return
    print(f"{'page':9} {'period':8} {'store':15} {'cold':>8} {'warm (median of 3)':>19} "
          f"{'after 1 response':>17} {'peak RSS':>9}")
    for page in ("province", "ward"):
        for period in (args.month, args.year):
            with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as filled:
                rows = [("nothing shared", _measured(args.db, page, period, empty, args.ward, args.viewer))]
                job = run_job(args.db, period, filled)
                rows.append(("after the job", _measured(args.db, page, period, filled, args.ward,
                                                        args.viewer)))
            for label, figures in rows:
                print(f"{page:9} {period:8} {label:15} {figures['cold']:7.2f}s {figures['warm']:18.3f}s "
                      f"{figures['after']:16.2f}s {figures['peak_mb']:7.0f}MB", flush=True)
            print(f"{'':9} {period:8} (the job: flask alerts refresh --period {period}, {job:.1f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
