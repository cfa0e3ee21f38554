"""Time the managers' pages on the demo province (prints figures; no pass/fail).

Run from the repository root:

    .venv/bin/python bench/dashboard.py [--db /tmp/bench-dashboard.db] [--period 2026-10]

Builds (once) a database with `flask seed demo --responses`, signs an admin in through the real
pages with the test client, then times each page three ways: cold (fresh process caches), warm
(nothing changed), and after one new response (its month is re-read and the indices recomputed).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ensure_db(path: Path) -> None:
    if path.exists():
        return
    env = {
        "FLASK_APP": "survey",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
        "FLASK_SECRET_KEY": "bench-only",
        "PATH": "/usr/bin:/bin",
    }
    flask = str(ROOT / ".venv" / "bin" / "flask")
    subprocess.run([flask, "db", "upgrade"], check=True, env=env, cwd=ROOT, capture_output=True)
    started = time.perf_counter()
    subprocess.run([flask, "seed", "demo", "--responses"], check=True, env=env, cwd=ROOT, capture_output=True)
    print(f"seed demo --responses: {time.perf_counter() - started:.1f} s")


def _add_response(app: object, unit_code: str) -> None:
    import sqlalchemy as sa

    from instruments.registry import get_registered
    from survey.extensions import db
    from survey.models import Answer, Response, Unit

    registered = get_registered("sipas-counter", "2025.1")
    with app.app_context():  # type: ignore[attr-defined]
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
        response = Response(
            instrument_id="sipas-counter",
            instrument_version="2025.1",
            instrument_hash=registered.content_hash,
            unit_id=unit.id,
            channel="qr",
            language="vi",
            submitted_at=datetime(2026, 10, 15, 3, 0, tzinfo=UTC),
            idempotency_key=f"bench-{time.time_ns()}",
        )
        db.session.add(response)
        db.session.flush()
        db.session.add(Answer(response_id=response.id, item_id="e1_info", code=5))
        db.session.commit()


def period_argument(text: str) -> str:
    """An argparse `type`: the period's label, or a usage error naming the bad string (the one parser
    of period strings is `Period.from_text`)."""
    from survey.services.reporting.periods import Period, PeriodError

    try:
        return Period.from_text(text).label
    except PeriodError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-dashboard.db"))
    parser.add_argument("--period", default="2026-10", type=period_argument)
    args = parser.parse_args()
    _ensure_db(args.db)

    from survey import create_app
    from survey.models import Role
    from tests.survey.conftest import unit_id
    from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, add_staff, sign_in

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.db}",
            "SECRET_KEY": "bench-only",
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "CLOCK": Clock(),
            **CHEAP_ARGON2,
        }
    )
    staff = add_staff(app, f"bench-{time.time_ns()}", Role.ADMIN, totp=True)
    client = app.test_client()
    sign_in(client, app, staff)
    pages = {
        "dashboard": f"/manage/?period={args.period}",
        "unit page (ward, league of the province)": (
            f"/manage/units/{unit_id('HL-PT', app)}?period={args.period}"
        ),
        "unit page (province)": f"/manage/units/{unit_id('HL', app)}?period={args.period}",
        "alerts": f"/manage/alerts?period={args.period}",
    }

    def timed(url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return time.perf_counter() - started

    print(f"{'page':45} {'cold':>7} {'warm (median of 5)':>19} {'after 1 new response':>21}")
    for name, url in pages.items():
        cold = timed(url)
        warm = statistics.median(timed(url) for _ in range(5))
        _add_response(app, "HL-PT-1")
        changed = timed(url)
        print(f"{name:45} {cold:6.2f}s {warm:18.3f}s {changed:20.2f}s")


if __name__ == "__main__":
    main()
