"""One scenario for the index aggregates, run on SQLite (test_aggregates.py) and on PostgreSQL
(test_postgresql.py): submissions through the submission service, a flag review, a damaged row, the
`flask aggregates` commands, and at every step the dashboard's figures from the aggregates compared
with the analysis package's computation from the response rows (to 1e-12)."""

from __future__ import annotations

import logging
import uuid
from collections import Counter as Tally
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from instruments.index import IndexDefinition
from instruments.registry import get_registered
from survey.demo.tree import seed_demo
from survey.extensions import db
from survey.models import (
    Counter,
    FrameUpload,
    IndexAggregate,
    Response,
    ResponseStatus,
    Role,
    ServedCount,
    Unit,
    UnitKind,
    User,
)
from survey.services.citizens.flag_review import Decision, decide
from survey.services.citizens.form_nonce import FormNonce
from survey.services.citizens.submissions import Outcome, Stored, Validation, store_response
from survey.services.reporting import (
    index_source,
    indices,
    league,
    period_change,
    period_tables,
    respondent_data,
    response_counts,
)
from survey.services.reporting.aggregate_rebuild import check
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.index_source import (
    PeriodEstimates,
    Source,
    period_estimates,
    responses_estimates,
)
from survey.services.reporting.indices import MIN_N, instrument_for
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import unit_parent_map
from survey.services.staff.access import subtree_ids
from tests.survey.staff_helpers import staff_app

KEY = "sipas-counter@2025.1"
PERIODS = (Period.month(2026, 10), Period.month(2026, 11), Period.quarter(2026, 4))
FIGURES = ["est", "se", "ci_lo", "ci_hi", "p_value", "deff_kish"]
SIZES = ["n_eff", "n_eff_floor"]
EXACT = ["period", "level", "domain", "parent", "stat_type", "stat", "n", "df", "verdict", "flags"]


def respond_at_first_counter(app: Flask, answers: dict[str, int], when: datetime) -> None:
    """One response at the demo's first counter through the submission service, committed."""
    with app.app_context():
        counter = db.session.scalars(sa.select(Counter).order_by(Counter.id)).first()
        assert counter is not None
        submit(db.session(), counter, answers, when)
        db.session.commit()


def submit(session: Session, counter: Counter, answers: dict[str, int], when: datetime,
           flags: tuple[str, ...] = ()) -> Response:
    """Store one response through the submission service, as the citizen form does."""
    registered = get_registered("sipas-counter", "2025.1")
    nonce = FormNonce(uuid.uuid4().hex, counter.id, registered.key, when)
    validation = Validation(Outcome.ACCEPTED, 200, answers={k: (v,) for k, v in answers.items()}, nonce=nonce)
    assert store_response(session, validation, counter=counter, registered=registered, channel="qr",  # type: ignore[arg-type]
                          language="vi", now=when, flags=flags) is Stored.STORED
    found = session.scalar(sa.select(Response).where(Response.idempotency_key == nonce.key))
    assert found is not None
    return found


def respond_at(session: Session, unit_code: str = "HL-AB-1",
               when: datetime = datetime(2026, 10, 12, 3, tzinfo=UTC)) -> Response:
    """One more response at the unit's first counter, through the service, committed."""
    counter = session.scalars(sa.select(Counter).join(Unit).where(Unit.code == unit_code)).first()
    assert counter is not None
    response = submit(session, counter, {"e1_info": 4, "overall": 5}, when)
    session.commit()
    return response


def _answers(rng: np.random.Generator, level: float) -> dict[str, int]:
    registered = get_registered("sipas-counter", "2025.1")
    out: dict[str, int] = {}
    for element in registered.instrument.index.elements:
        for item in element.criteria:
            draw = rng.random()
            if draw < 0.08:
                continue  # not answered
            out[item] = 0 if draw < 0.13 else int(np.clip(np.round(rng.normal(level, 1.1)), 1, 5))
    if rng.random() < 0.9:
        out["overall"] = int(rng.integers(1, 6))
    if rng.random() < 0.8:
        out["harassment"] = int(rng.integers(1, 3))
    return out


def submit_many(app: Flask, n: int, seed: int, flagged_every: int = 0) -> list[int]:
    """`n` responses over the demo's counters in October and November 2026; returns the flagged ids."""
    rng = np.random.default_rng(seed)
    flagged = []
    with app.app_context():
        counters = list(db.session.scalars(sa.select(Counter).order_by(Counter.id)))
        for i in range(n):
            counter = counters[int(rng.integers(len(counters)))]
            when = datetime(2026, 10 + int(rng.integers(2)), 1 + int(rng.integers(28)), int(rng.integers(24)),
                            tzinfo=UTC)
            flags = ("device",) if flagged_every and i % flagged_every == 0 else ()
            response = submit(db.session(), counter, _answers(rng, 3.2 + counter.id % 3 * 0.5), when, flags)
            if flags:
                flagged.append(response.id)
        db.session.commit()
    return flagged


def add_frames(app: Flask) -> None:
    """Served dossiers for some desks and fields (others collapse or stay unweighted)."""
    with app.app_context():
        upload = FrameUpload(source="csv", rows=4)
        db.session.add(upload)
        db.session.flush()
        counts = (("HL-TTHCC-1", "dat-dai", 10, 31, 400), ("HL-TTHCC-1", "", 10, 31, 900),
                  ("HL-AB-1", "", 10, 31, 300), ("HL-HL-1", "", 10, 31, 120), ("HL-TTHCC-1", "", 11, 30, 800),
                  ("HL-AB-1", "", 11, 30, 250), ("HL-HL-1", "", 11, 30, 90))
        for code, field, month, last, served in counts:
            unit = db.session.scalar(sa.select(Unit.id).where(Unit.code == code))
            assert unit is not None
            db.session.add(ServedCount(unit_id=unit, procedure_field=field, channel="",
                                       period_start=date(2026, month, 1), period_end=date(2026, month, last),
                                       served=served, upload_id=upload.id))
        db.session.commit()


def add_desk(session: Session, code: str, parent_code: str, served: int) -> Counter:
    """A new one-stop desk `code` under `parent_code` with one counter and a frame of `served` dossiers in
    November 2026, and no response yet: its first response gives a unit its first cells."""
    parent = session.scalar(sa.select(Unit).where(Unit.code == parent_code))
    assert parent is not None, parent_code
    desk = Unit(code=code, kind=UnitKind.SERVICE_POINT, name_vi=f"Bàn {code}", parent=parent)
    counter = Counter(unit=desk, code="Q1", name_vi="Quầy 1", procedure_field=None)
    upload = FrameUpload(source="csv", rows=1)
    session.add_all([desk, counter, upload])
    session.flush()
    session.add(ServedCount(unit_id=desk.id, procedure_field="", channel="", period_start=date(2026, 11, 1),
                            period_end=date(2026, 11, 30), served=served, upload_id=upload.id))
    session.flush()
    return counter


def both_ways(session: Session, period: Period, weighted: bool,
              stat_types: tuple[str, ...] | None = None) -> tuple[PeriodEstimates, PeriodEstimates]:
    """The dashboard's period estimates (its choice of source; only `stat_types` when given, as for a
    trend's past month) and the full computation from the rows."""
    root = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert root is not None
    ids = subtree_ids(session, [root.id])
    parents = unit_parent_map(session, root.id)
    instrument = instrument_for(KEY)
    definition = IndexDefinition.from_instrument(instrument)
    common = {"weighted": weighted, "targets": 0.8, "alpha": 0.05, "min_cell": 5, "min_n": MIN_N}
    chosen = period_estimates(session, ids, parents, period, instrument, definition, **common,  # type: ignore[arg-type]
                              stat_types=stat_types)
    rows = responses_estimates(session, ids, parents, period, instrument, definition, **common)  # type: ignore[arg-type]
    return chosen, rows


def assert_equal_estimates(ours: PeriodEstimates, rows: PeriodEstimates, min_rows: int = 100) -> None:
    assert ours.weighting == rows.weighting and ours.weighted == rows.weighted
    assert ours.responses == rows.responses > 0
    pd.testing.assert_frame_equal(ours.excluded.reset_index(drop=True), rows.excluded.reset_index(drop=True),
                                  check_dtype=False)
    a, b = ours.table, rows.table
    assert list(a.columns) == list(b.columns) and len(a) == len(b) > min_rows
    for column in EXACT:
        assert a[column].tolist() == b[column].tolist(), column
    for column in FIGURES:
        np.testing.assert_allclose(a[column].astype(float), b[column].astype(float), rtol=0, atol=1e-12,
                                   err_msg=column)
    for column in SIZES:
        np.testing.assert_allclose(a[column].astype(float), b[column].astype(float), rtol=1e-12, atol=0,
                                   err_msg=column)
    assert np.isfinite(a["se"].astype(float)).sum() > min_rows / 2


def assert_dashboard_reads_aggregates(app: Flask, *, weighted_too: bool = True) -> None:
    with app.app_context():
        assert check(db.session(), None) == []
        for period in PERIODS:
            for weighted in (False, True) if weighted_too else (False,):
                chosen, rows = both_ways(db.session(), period, weighted)
                assert chosen.source is Source.AGGREGATES and rows.source is Source.RESPONSES
                assert_equal_estimates(chosen, rows)
                # a trend's past month: the overall rows alone, the same figures as in the full table
                overall, _ = both_ways(db.session(), period, weighted, ("overall_index",))
                assert overall.source is Source.AGGREGATES
                assert set(overall.table["stat_type"]) == {"overall_index"}
                full = rows.table[rows.table["stat_type"] == "overall_index"].reset_index(drop=True)
                assert_equal_estimates(overall, replace(rows, table=full), min_rows=5)
        db.session.rollback()


def demo_with_responses(migrated_db: Path, tmp_path: Path, responses: int, seed: int,
                        **config: Any) -> Flask:
    """A staff app on the demo tree (`staff_app` seeds it) with the frames of `add_frames` and
    `responses` submissions (`submit_many`)."""
    app = staff_app(migrated_db, tmp_path, **config)
    add_frames(app)
    submit_many(app, responses, seed=seed)
    return app


def run_scenario(app: Flask) -> None:
    """Submissions, flag review, damage, check, rebuild: figures equal the rows' at every step."""
    with app.app_context():
        seed_demo(db.session())
        db.session.commit()
    add_frames(app)
    flagged = submit_many(app, 260, seed=1, flagged_every=9)
    assert len(flagged) >= 4
    assert_dashboard_reads_aggregates(app)
    with app.app_context():  # one weighted month is weighted with collapsed cells, not unweighted
        chosen, _ = both_ways(db.session(), Period.month(2026, 10), True)
        assert chosen.weighted, chosen.weighting
        db.session.rollback()

    submit_many(app, 25, seed=2)  # new submissions after the first reading
    assert_dashboard_reads_aggregates(app)

    with app.app_context():  # the flag review: one reinstated (counted again), one confirmed (kept out)
        actor = User(username="reviewer", password_hash="x", role=Role.MANAGER)
        db.session.add(actor)
        db.session.flush()
        now = datetime(2026, 12, 1, tzinfo=UTC)
        decisions = (Decision.REINSTATE, Decision.CONFIRM, Decision.REINSTATE)
        for response_id, decision in zip(flagged[:3], decisions, strict=True):
            response = db.session.get(Response, response_id)
            assert response is not None
            decide(db.session(), response, decision, actor=actor, note="", now=now)
        db.session.commit()
        statuses = [db.session.get(Response, i).status for i in flagged[:3]]  # type: ignore[union-attr]
        assert statuses == [ResponseStatus.VALID, ResponseStatus.EXCLUDED, ResponseStatus.VALID]
    assert_dashboard_reads_aggregates(app)


def damage_one_row(app: Flask) -> tuple[str, str]:
    """Take one from the satisfied count of the first criterion of a stored row; returns (unit, month)."""
    from survey.services.reporting.aggregates import decode, encode

    with app.app_context():
        row = db.session.scalars(sa.select(IndexAggregate).where(IndexAggregate.respondents > 3)
                                 .order_by(IndexAggregate.id)).first()
        assert row is not None
        sums = decode(row.sums).copy()
        sums[1] -= 1  # position 1: "satisfied" of the first criterion (analysis.cell_sums.SumsLayout)
        row.sums = encode(sums)
        unit = db.session.get(Unit, row.unit_id)
        assert unit is not None
        found = (unit.code, row.month)
        db.session.commit()
    return found


def delete_one_row(app: Flask) -> None:
    with app.app_context():
        first = db.session.scalars(sa.select(IndexAggregate.id).order_by(IndexAggregate.id)).first()
        db.session.execute(sa.delete(IndexAggregate).where(IndexAggregate.id == first))
        db.session.commit()


def province_report(app: Flask) -> IndexReport:
    """The province's weighted report of November 2026 (through the caches)."""
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert root is not None
        report = indices.unit_indices(db.session(), root, KEY, Period.month(2026, 11), weighted=True)
        db.session.rollback()
        return report


def new_process() -> None:
    """What a new worker starts with: empty caches of its own (a shared store is kept)."""
    for cache in (indices._REPORTS, period_tables.PERIOD_TABLES, period_change._CHANGES,
                  respondent_data._FRAMES, response_counts._COUNTS, index_source._SUMS,
                  index_source._MONTH_ROWS, index_source._UNITS, league._LEAGUES):
        cache._entries.clear()


def domains_asked(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> list[Any]:
    """The `domains` argument of every call of `module.name` from now on (None: every domain)."""
    calls: list[Any] = []
    real = getattr(module, name)

    def recording(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("domains"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def counting_period_tables(monkeypatch: pytest.MonkeyPatch) -> Tally[str]:
    """Period labels of the period tables actually computed (cache misses)."""
    computed: Tally[str] = Tally()
    real = period_tables.period_estimates

    def counted(session: Any, ids: Any, parents: Any, period: Period, *args: Any, **kwargs: Any) -> Any:
        computed[period.label] += 1
        return real(session, ids, parents, period, *args, **kwargs)

    monkeypatch.setattr(period_tables, "period_estimates", counted)
    return computed


def a_failed_update_keeps_the_response(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """An aggregate update that fails in the database, after the cell's row was read (an existing cell)
    or inserted (a new one), is rolled back alone: the response is stored and committed, the failure
    logged, the rows left as they were, `flask aggregates check` names the cell and a rebuild counts the
    response. Shared with tests/survey/test_postgresql.py (where a failed statement aborts the whole
    transaction unless it ran in a savepoint)."""
    from survey.services.reporting import aggregates

    logged = _Logged()  # on the module's logger: a migration's logging set-up replaces the root's handlers
    monkeypatch.setattr(aggregates._LOG, "handlers", [*aggregates._LOG.handlers, logged])
    submit_many(app, 10, seed=5)
    with app.app_context():
        before = _aggregate_rows()
    monkeypatch.setattr(aggregates, "_STORE", sa.text("UPDATE index_aggregates SET no_such_column = 1"))
    with app.app_context():
        existing = respond_at(db.session(), when=datetime(2026, 10, 12, 3, tzinfo=UTC))  # an October cell
        new = respond_at(db.session(), when=datetime(2027, 3, 2, 3, tzinfo=UTC))  # a month with no row yet
        stored = db.session.scalars(sa.select(Response.id).where(Response.id.in_([existing.id, new.id])))
        assert sorted(stored) == sorted([existing.id, new.id])
        assert _aggregate_rows() == before  # neither the existing row's update nor the new row kept
        db.session.rollback()
    hint = "not updated; run `flask aggregates rebuild`"
    assert [message.endswith(hint) for message in logged.messages] == [True, True]
    monkeypatch.undo()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["aggregates", "check"]).exit_code == 1
    assert runner.invoke(args=["aggregates", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["aggregates", "check"]).exit_code == 0


def _aggregate_rows() -> dict[int, tuple[int, bytes]]:
    return {row.id: (row.respondents, row.sums) for row in db.session.scalars(sa.select(IndexAggregate))}


class _Logged(logging.Handler):
    """The messages of the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
