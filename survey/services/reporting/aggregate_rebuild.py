"""Index aggregates recomputed from the responses: the rebuild and the check behind `flask aggregates`.

Both compute every cell's sums from the stored responses in the scope (all units or a unit's
subtree; all months or those of a period), month by month so that memory stays flat: the rebuild
replaces the stored rows with them, the check compares them with the stored rows and names every
difference (unit, month, instrument, field and the sum, e.g. ``valid e1_info``). The sums are
integers, so the comparison is exact.

The rebuild first deletes the scope's rows, taking the write lock (the whole table on PostgreSQL,
``LOCK TABLE ... IN EXCLUSIVE MODE``; the database on SQLite) before it reads the responses: a
submission committed meanwhile waits for the rebuild and then adds itself to the rebuilt row, so no
response is counted twice or lost.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analysis.cell_sums import Int64Array, cell_sums
from analysis.data import item_matrices
from instruments.registry import get_instrument
from survey.local_time import local_date, utc_bounds
from survey.models import ALL, IndexAggregate, Response, ResponseStatus, Unit
from survey.services.reporting.aggregates import (
    CellKey,
    aggregated,
    decode,
    encode,
    index_definition,
    sums_layout,
)
from survey.services.reporting.periods import month_spans
from survey.services.reporting.respondent_data import load_respondents
from survey.services.reporting.response_tallies import rebuild_tallies


@dataclass(frozen=True)
class Mismatch:
    """A cell whose stored sums differ from the responses'; `differences` are (sum, stored, expected)."""

    unit_code: str
    key: CellKey
    differences: tuple[tuple[str, int, int], ...]

    def describe(self) -> str:
        """One line per difference: unit, month, instrument, field, sum, stored and expected values."""
        where = (f"unit {self.unit_code} month {self.key.month} instrument "
                 f"{self.key.instrument_id}@{self.key.instrument_version} field {self.key.procedure_field!r}")
        return "\n".join(f"{where}: {name}: stored {stored}, from responses {expected}"
                         for name, stored, expected in self.differences)


def _in_scope(unit_ids: Collection[int] | None, first: date | None, last: date | None
              ) -> list[sa.ColumnElement[bool]]:
    """Conditions on `IndexAggregate` rows for the scope."""
    where: list[sa.ColumnElement[bool]] = []
    if unit_ids is not None:
        where.append(IndexAggregate.unit_id.in_(list(unit_ids)))
    if first is not None and last is not None:
        low, high = _month_range(first, last)
        where += [IndexAggregate.month >= low, IndexAggregate.month <= high]
    return where


def _month_range(first: date, last: date) -> tuple[str, str]:
    return first.strftime("%Y-%m"), last.strftime("%Y-%m")


def expected_cells(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
                   last: date | None = None) -> Iterator[tuple[CellKey, Int64Array]]:
    """Every non-empty cell's sums computed from the valid responses, month by month.

    `unit_ids` None means every unit; `first`/`last` (local days, whole months) None means every month
    that has responses.
    """
    ids = list(unit_ids) if unit_ids is not None else list(session.scalars(sa.select(Unit.id)))
    codes = dict(session.execute(sa.select(Unit.code, Unit.id).where(Unit.id.in_(ids))).all())
    where = [Response.unit_id.in_(ids), Response.status == ResponseStatus.VALID]
    if first is not None and last is not None:
        start, end = utc_bounds(first, last)
        where += [Response.submitted_at >= start, Response.submitted_at < end]
    instrument_columns = (Response.instrument_id, Response.instrument_version)
    versions = session.execute(sa.select(*instrument_columns, sa.func.min(Response.submitted_at),
                                         sa.func.max(Response.submitted_at))
                               .where(*where).group_by(*instrument_columns).order_by(*instrument_columns)).all()
    for instrument_id, version, earliest, latest in versions:
        if not aggregated(instrument_id, version):  # an instrument from INSTRUMENT_PATHS: none to rebuild
            continue
        instrument = get_instrument(instrument_id, version)
        definition = index_definition(instrument_id, version)
        span_first = first or local_date(earliest).replace(day=1)
        span_last = last or local_date(latest)
        for month_first, month_last in month_spans(span_first, span_last):
            data = load_respondents(session, ids, month_first, month_last, instrument).frame
            if data.empty:
                continue
            keys = pd.MultiIndex.from_frame(data[["unit", "field", "month"]].fillna({"field": ALL}))
            cell, cells = keys.factorize()
            sums = cell_sums(item_matrices(data, definition), cell.astype(np.intp), len(cells))
            for (unit_code, field, month), row in zip(cells, sums, strict=True):
                yield CellKey(codes[unit_code], month, field, instrument_id, version), row


def stored_cells(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
                 last: date | None = None) -> dict[CellKey, Int64Array]:
    """The stored rows of the scope, decoded."""
    query = sa.select(IndexAggregate.unit_id, IndexAggregate.month, IndexAggregate.procedure_field,
                      IndexAggregate.instrument_id, IndexAggregate.instrument_version, IndexAggregate.sums
                      ).where(*_in_scope(unit_ids, first, last))
    return {CellKey(unit_id, month, field, instrument_id, version): decode(blob)
            for unit_id, month, field, instrument_id, version, blob in session.execute(query)}


def rebuild(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
            last: date | None = None) -> int:
    """Replace the scope's rows by sums computed from the responses, and its tallies of valid responses
    by their count (`response_tallies`); flushes. Returns the rows written."""
    if session.get_bind().dialect.name == "postgresql":
        # The tallies first: a submission writes its tally (a trigger) before its aggregate, so it has
        # either finished before the rebuild reads the responses or waits for it to commit.
        session.execute(sa.text("LOCK TABLE response_tallies, index_aggregates IN EXCLUSIVE MODE"))
    session.execute(sa.delete(IndexAggregate).where(*_in_scope(unit_ids, first, last)))
    rebuild_tallies(session, unit_ids, first, last)
    written = 0
    batch: list[dict[str, object]] = []
    for key, sums in expected_cells(session, unit_ids, first, last):
        batch.append({"unit_id": key.unit_id, "month": key.month, "procedure_field": key.procedure_field,
                      "instrument_id": key.instrument_id, "instrument_version": key.instrument_version,
                      "respondents": int(sums[0]), "sums": encode(sums)})
        if len(batch) >= 1000:
            session.execute(sa.insert(IndexAggregate), batch)
            written, batch = written + len(batch), []
    if batch:
        session.execute(sa.insert(IndexAggregate), batch)
        written += len(batch)
    session.flush()
    return written


def check(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
          last: date | None = None) -> list[Mismatch]:
    """Every cell of the scope whose stored sums differ from the responses' (missing rows count as zero)."""
    stored = stored_cells(session, unit_ids, first, last)
    expected = dict(expected_cells(session, unit_ids, first, last))
    codes = dict(session.execute(sa.select(Unit.id, Unit.code)).all())
    out = []
    for key in sorted(set(stored) | set(expected), key=lambda k: (codes.get(k.unit_id, ""), k.month,
                                                                   k.instrument_id, k.instrument_version,
                                                                   k.procedure_field)):
        names = sums_layout(key.instrument_id, key.instrument_version).names()
        zero = np.zeros(len(names), dtype=np.int64)
        have, want = stored.get(key, zero), expected.get(key, zero)
        if have.shape != want.shape:
            out.append(Mismatch(codes.get(key.unit_id, str(key.unit_id)), key,
                                (("length of the sums", len(have), len(want)),)))
        elif (have != want).any():
            differing = np.flatnonzero(have != want)
            out.append(Mismatch(codes.get(key.unit_id, str(key.unit_id)), key,
                                tuple((names[i], int(have[i]), int(want[i])) for i in differing)))
    return out
