"""Generate a realistic survey database at N responses, for the scale benchmarks (prints figures).

Run from the repository root:

    .venv/bin/python bench/generate_db.py /tmp/scale.db [--responses 1000000] [--units 1000]
    .venv/bin/python bench/generate_db.py postgresql+psycopg://user@localhost/scale --responses 100000

The target is a new SQLite file (refused if it exists) or an empty PostgreSQL database (its schema is
created by the migrations). The data model is the demo's (`survey.demo`): the demo province and its
small tree, plus `--units` more units (half communes, half their service points, each point with two
counters), twelve months of responses (December 2025 to November 2026) drawn from the demo's answer
models (`survey.demo.province`): SIPAS counter forms at most points, the quick rating at one point in
seven, the outpatient form at one in twenty (hospital desks), 8 % with a comment, 1 % flagged, and
served-dossier frames per point, field and month. Unit volumes are log-normal (a few busy desks, many
quiet ones) and each point has its own true satisfaction. The RNG is seeded (`--seed`), so a run is
reproducible. Rows go in with Core `executemany` in chunks, response ids assigned here (no read-back).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import Counter as Tally
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIPAS, QUICK, OUTPATIENT = ("sipas-counter", "2025.1"), ("quick-rating", "2025.1"), ("outpatient", "2025.1")
FIELDS = ("tu-phap", "dat-dai")
LOCAL_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh, no daylight saving time


def _url(target: str) -> str:
    if "://" in target:
        return target
    path = Path(target).resolve()
    if path.exists():
        raise SystemExit(f"{path} exists: give a new file (the generator never appends to a database)")
    return f"sqlite:///{path}"


def _months() -> list[date]:
    from survey.demo.province import FIRST_MONTH, MONTHS

    out, day = [], FIRST_MONTH
    for _ in range(MONTHS):
        out.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


Point = tuple[int, list[tuple[int, str]]]  # service point id, [(counter id, procedure field)]


def _build_tree(session: Any, units: int) -> list[Point]:
    """Communes with one service point and two counters each; returns (point id, [(counter id, field)])."""
    import sqlalchemy as sa

    from survey.demo.tree import REFORM_DAY, seed_demo
    from survey.models import Counter, Unit, UnitKind

    seed_demo(session)
    province = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    communes = math.ceil(units / 2)
    connection = session.connection()
    unit_table = cast(sa.Table, Unit.__table__)
    connection.execute(sa.insert(unit_table), [
        {"code": f"G{i:05d}", "kind": UnitKind.COMMUNE, "name_vi": f"Xã Mẫu {i}",
         "name_en": f"Demo Commune {i}", "parent_id": province.id, "valid_from": REFORM_DAY}
        for i in range(communes)])
    parents = dict(connection.execute(sa.select(Unit.code, Unit.id).where(Unit.code.like("G%"))).all())
    connection.execute(sa.insert(unit_table), [
        {"code": f"G{i:05d}-1", "kind": UnitKind.SERVICE_POINT, "name_vi": f"Bộ phận Một cửa xã Mẫu {i}",
         "name_en": f"Demo Commune {i} one-stop desk", "parent_id": parents[f"G{i:05d}"],
         "valid_from": REFORM_DAY} for i in range(communes)])
    points = dict(connection.execute(sa.select(Unit.code, Unit.id).where(Unit.code.like("G%-1"))).all())
    connection.execute(sa.insert(cast(sa.Table, Counter.__table__)), [
        {"unit_id": point_id, "code": f"Q{k + 1}", "name_vi": f"Quầy {k + 1}", "name_en": f"Counter {k + 1}",
         "procedure_field": field, "active": True, "key_version": 1}
        for point_id in points.values() for k, field in enumerate(FIELDS)])
    counters: dict[int, list[tuple[int, str]]] = {}
    for counter_id, unit_id, field in connection.execute(
            sa.select(Counter.id, Counter.unit_id, Counter.procedure_field)).all():
        counters.setdefault(unit_id, []).append((counter_id, field))
    return [(point_id, counters[point_id]) for _, point_id in sorted(points.items())]


def _outpatient_answers(rng: np.random.Generator, response_id: int, latent: float, criteria: list[str],
                        out: list[dict[str, object]]) -> None:
    from survey.demo.province import _scale_code

    probabilities = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.5, len(criteria)))))
    for item, p, u in zip(criteria, probabilities, rng.random(len(criteria)), strict=True):
        out.append({"response_id": response_id, "item_id": item, "code": _scale_code(rng, u < p)})


def generate(url: str, responses: int, units: int, seed: int, chunk: int) -> None:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from instruments.registry import get_registered
    from survey import create_app
    from survey.database import refresh_planner_statistics
    from survey.demo.province import COMMENTS, _calibrated_logit, _quick_answers, _sipas_answers
    from survey.extensions import db
    from survey.models import ALL, Answer, FrameUpload, Response, ServedCount, TextAnswer
    from survey.services.reporting.aggregate_rebuild import rebuild

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-only"})
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        session = db.session()
        if session.scalar(sa.select(sa.func.count(Response.id))):
            raise SystemExit(f"{url} already holds responses: give an empty database")
        points = _build_tree(session, units)
        session.commit()
        unit_count = session.scalar(sa.select(sa.func.count()).select_from(sa.table("units")))
        print(f"schema and {unit_count} units: {time.perf_counter() - started:.1f} s")

        registered = {key: get_registered(*key) for key in (SIPAS, QUICK, OUTPATIENT)}
        sipas_criteria = [c for e in registered[SIPAS].instrument.index.elements for c in e.criteria]
        outpatient_criteria = [c for e in registered[OUTPATIENT].instrument.index.elements
                               for c in e.criteria]
        offsets = np.random.default_rng(seed + 1).normal(0, 0.35, len(sipas_criteria))
        offsets -= offsets.mean()
        volume = rng.lognormal(0, 1.0, len(points))
        volume /= volume.sum()
        share = rng.uniform(0.70, 0.96, len(points))
        instrument_of = [OUTPATIENT if i % 20 == 0 else QUICK if i % 7 == 0 else SIPAS
                         for i in range(len(points))]
        months = _months()
        first_id = (session.scalar(sa.select(sa.func.max(Response.id))) or 0) + 1
        served: Tally[tuple[int, int, str]] = Tally()
        connection = session.connection()
        if connection.dialect.name == "sqlite":  # a scratch database: durability is not wanted here
            connection.exec_driver_sql("PRAGMA synchronous=OFF")
        tables = {name: cast(sa.Table, model.__table__)
                  for name, model in (("r", Response), ("a", Answer), ("t", TextAnswer))}
        rows = 0
        generated = 0
        while generated < responses:
            size = min(chunk, responses - generated)
            which = rng.choice(len(points), size, p=volume)
            month_index = rng.integers(0, len(months), size)
            day = rng.integers(0, 28, size)
            minute = rng.integers(7 * 60 + 30, 17 * 60, size)
            response_rows: list[dict[str, object]] = []
            answers: list[dict[str, object]] = []
            texts: list[dict[str, object]] = []
            for j in range(size):
                response_id = first_id + generated + j
                p = int(which[j])
                point_id, counters = points[p]
                counter_id, field = counters[int(rng.integers(len(counters)))]
                key = instrument_of[p]
                local = datetime.combine(months[int(month_index[j])] + timedelta(days=int(day[j])),
                                         datetime.min.time()) + timedelta(minutes=int(minute[j]))
                flagged = rng.random() < 0.01
                response_rows.append({
                    "id": response_id, "instrument_id": key[0], "instrument_version": key[1],
                    "instrument_hash": registered[key].content_hash, "unit_id": point_id,
                    "counter_id": counter_id, "procedure_field": field,
                    "channel": "qr" if rng.random() < 0.8 else "kiosk", "language": "vi",
                    "submitted_at": (local - LOCAL_OFFSET).replace(tzinfo=UTC),
                    "status": "flagged" if flagged else "valid",
                    "status_reason": "burst" if flagged else None,
                    "idempotency_key": f"gen-{response_id}"})
                served[(point_id, int(month_index[j]), field)] += 1
                latent = _calibrated_logit(round(float(share[p]), 2)) + float(rng.normal(0, 0.9))
                if key == SIPAS:
                    _sipas_answers(rng, response_id, latent, sipas_criteria, offsets, field, answers)
                elif key == QUICK:
                    _quick_answers(rng, response_id, latent, answers)
                else:
                    _outpatient_answers(rng, response_id, latent, outpatient_criteria, answers)
                if rng.random() < 0.08:
                    texts.append({"response_id": response_id, "item_id": "comment",
                                  "text": COMMENTS[int(rng.integers(len(COMMENTS)))]})
            connection.execute(sa.insert(tables["r"]), response_rows)
            connection.execute(sa.insert(tables["a"]), answers)
            if texts:
                connection.execute(sa.insert(tables["t"]), texts)
            session.commit()
            connection = session.connection()
            generated += size
            rows += size + len(answers) + len(texts)
            elapsed = time.perf_counter() - started
            print(f"  {generated:>10,} responses, {rows:>12,} rows, {rows / elapsed:,.0f} rows/s", flush=True)

        upload = FrameUpload(source="csv", rows=len(served))
        session.add(upload)
        session.flush()
        frames = []
        for (point_id, m, field), count in served.items():
            last = (months[m].replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            frames.append({"unit_id": point_id, "procedure_field": field or ALL, "channel": ALL,
                           "period_start": months[m], "period_end": last,
                           "served": int(count / (0.15 + 0.25 * rng.random())) + 1, "upload_id": upload.id})
        session.connection().execute(sa.insert(cast(sa.Table, ServedCount.__table__)), frames)
        if session.get_bind().dialect.name == "postgresql":  # ids were given explicitly: move the sequence on
            session.execute(sa.text("SELECT setval(pg_get_serial_sequence('responses', 'id'), "
                                    "(SELECT max(id) FROM responses))"))
        session.commit()
        elapsed = time.perf_counter() - started
        aggregated = time.perf_counter()
        cells = rebuild(session, None)  # the rows went in directly: their dashboard sums are computed once
        refresh_planner_statistics(session)  # as `flask aggregates rebuild` does after a bulk import
        session.commit()
        aggregated = time.perf_counter() - aggregated
        print(f"index aggregates rebuilt: {cells:,} cells in {aggregated:.1f} s")
        print(f"{responses:,} responses, {rows:,} rows (responses, answers, comments) and {len(frames):,} "
              f"frame counts in {elapsed:.1f} s: {rows / elapsed:,.0f} rows/s, {responses / elapsed:,.0f} "
              "responses/s")
        print(f"database size: {_size(session, url) / 1e6:,.0f} MB")


def _size(session: Any, url: str) -> int:
    import sqlalchemy as sa

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    return int(session.scalar(sa.text("SELECT pg_database_size(current_database())")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="a new SQLite file, or a PostgreSQL URL (postgresql+psycopg://...)")
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=1_000, help="units added to the demo tree (>= 1000)")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--chunk", type=int, default=20_000, help="responses per insert batch")
    args = parser.parse_args()
    if args.units < 1_000:
        parser.error("--units must be at least 1000 (a province-scale tree)")
    if args.responses < 1:
        parser.error("--responses must be positive")
    generate(_url(args.target), args.responses, args.units, args.seed, args.chunk)


if __name__ == "__main__":
    main()
