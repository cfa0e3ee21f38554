"""Index aggregates kept up to date: each valid response adds its integer sums to its cell's row.

A cell is unit × procedure field × local month × instrument version (`survey.models.IndexAggregate`);
its vector is `analysis.cell_sums.SumsLayout` of the instrument's index definition. Only `valid`
responses are counted, as in the dashboard: a submission stored as valid adds itself, a flagged one
waits for its review, and a reinstated one adds itself then (`survey.services.citizens.flag_review`).
No status ever leaves `valid`, so nothing is ever subtracted. Every update happens in the caller's
transaction (flush, never commit), so a response and its sums are committed together or not at all.

Concurrent submissions to one cell: on PostgreSQL the row is locked (``SELECT ... FOR UPDATE``) from
the read to the commit; on SQLite the response's insert already holds the database's write lock.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from analysis.cell_sums import Int64Array, SumsLayout, cell_sums
from analysis.data import code_matrices, no_respondents
from instruments.index import IndexDefinition
from instruments.registry import UnknownInstrument, get_instrument
from survey.local_time import local_month
from survey.models import ALL, IndexAggregate, Response, ResponseStatus

_ENCODING = np.dtype("<i8")
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellKey:
    """Where a response's sums go."""

    unit_id: int
    month: str
    procedure_field: str
    instrument_id: str
    instrument_version: str


def encode(sums: Int64Array) -> bytes:
    """The stored form of a sums vector: little-endian 64-bit integers."""
    return np.asarray(sums, dtype=_ENCODING).tobytes()


def decode(blob: bytes) -> Int64Array:
    """A sums vector from its stored form."""
    return np.asarray(np.frombuffer(blob, dtype=_ENCODING), dtype=np.int64)  # read-only, no copy


def decode_rows(blobs: list[bytes], length: int) -> Int64Array:
    """Sums vectors of `length` from their stored forms, one row each (read-only): one copy of the
    bytes, not one array per row stacked (a year of a province is ten thousand rows)."""
    joined = np.frombuffer(b"".join(blobs), dtype=_ENCODING)
    return np.asarray(joined, dtype=np.int64).reshape(len(blobs), length)


@functools.cache
def index_definition(instrument_id: str, version: str) -> IndexDefinition:
    """The index definition of a registered instrument version (every instrument has an index).

    Raises
    ------
    UnknownInstrument
        For an instrument outside the shipped registry (one from the app's ``INSTRUMENT_PATHS``): the
        dashboards and their aggregates cover the shipped instruments (`aggregated`)."""
    return IndexDefinition.from_instrument(get_instrument(instrument_id, version))


@functools.cache
def aggregated(instrument_id: str, version: str) -> bool:
    """Whether responses to this instrument version have index aggregates: the shipped instruments, which
    the dashboards report. One from the app's ``INSTRUMENT_PATHS`` is stored and exported like any other,
    but has none; saying so once per process, rather than failing each of its responses' updates (and
    the `flask aggregates` commands) as if the aggregates were damaged."""
    try:
        get_instrument(instrument_id, version)
    except UnknownInstrument:
        _LOG.warning("instrument %s@%s is not a shipped one: its responses are stored without index "
                     "aggregates, and the dashboards do not report it", instrument_id, version)
        return False
    return True


@functools.cache
def sums_layout(instrument_id: str, version: str) -> SumsLayout:
    """The layout of the sums of an instrument version."""
    return SumsLayout.of(no_respondents(index_definition(instrument_id, version)))


def cell_key(response: Response) -> CellKey:
    """The aggregate cell of `response`."""
    return CellKey(response.unit_id, local_month(response.submitted_at), response.procedure_field or ALL,
                   response.instrument_id, response.instrument_version)


def response_sums(definition: IndexDefinition, answers: Iterable[tuple[str, int]]) -> Int64Array:
    """The sums vector of one respondent from its (item, code) answers (others are missing).

    Goes through `analysis.data.code_matrices`, the one reading of validity and satisfaction.
    """
    row = {item: float(code) for item, code in answers}
    items = code_matrices(lambda name: np.array([row.get(name, np.nan)]), 1, definition)
    return np.asarray(cell_sums(items, np.zeros(1, dtype=np.intp), 1)[0], dtype=np.int64)


def count_response(session: Session, response: Response,
                   answers: Mapping[str, Sequence[int]] | None = None) -> bool:
    """Add a valid response to its cell's sums, in a savepoint; True if it was counted. `answers`
    (item id -> codes), when the caller has them, spares reading the response's answers back.

    Never raises: the response matters more than its aggregate. Should the update fail (a lock
    timeout, a row of another layout), the savepoint is rolled back, the failure is logged, and the
    response is still stored; its cell then disagrees with the responses, so the dashboard reads
    the responses there (`survey.services.reporting.index_source`) until `flask aggregates rebuild`.
    """
    if response.status is not ResponseStatus.VALID or not aggregated(response.instrument_id,
                                                                     response.instrument_version):
        return False
    try:
        with session.begin_nested():
            definition = index_definition(response.instrument_id, response.instrument_version)
            coded = (((a.item_id, a.code) for a in response.answers) if answers is None
                     else ((item_id, code) for item_id, codes in answers.items() for code in codes))
            sums = response_sums(definition, coded)
            add_sums(session, cell_key(response), sums)
    except Exception:
        _LOG.exception("index aggregate of response %s not updated; run `flask aggregates rebuild`",
                       response.id)
        return False
    return True


_CELL_COLUMNS = ("unit_id", "month", "procedure_field", "instrument_id", "instrument_version")
_AGGREGATES = cast(sa.Table, IndexAggregate.__table__)
# Built once: building these constructs cost as much CPU as running them, on every valid submission.
_CREATE_EMPTY = {"postgresql": postgresql.insert(_AGGREGATES).on_conflict_do_nothing(),
                 "sqlite": sqlite.insert(_AGGREGATES).on_conflict_do_nothing()}
_LOCK_ROW = (sa.select(IndexAggregate.id, IndexAggregate.sums)
             .where(*(getattr(IndexAggregate, name) == sa.bindparam(name) for name in _CELL_COLUMNS))
             .with_for_update())
_STORE = (sa.update(_AGGREGATES).where(_AGGREGATES.c.id == sa.bindparam("row_id"))
          .values(respondents=sa.bindparam("new_respondents"), sums=sa.bindparam("new_sums")))


def add_sums(session: Session, key: CellKey, sums: Int64Array) -> None:
    """Add `sums` to the row of `key`, creating it at zero first if there is none; the row stays locked
    until commit. The row is looked for first: it exists for all but a cell's first response, and the
    insert that would create it was a statement more on every submission."""
    columns = {"unit_id": key.unit_id, "month": key.month, "procedure_field": key.procedure_field,
               "instrument_id": key.instrument_id, "instrument_version": key.instrument_version}
    found = session.execute(_LOCK_ROW, columns).one_or_none()
    if found is None:  # the cell's first response (or so it seems: another may be creating it now)
        empty = {**columns, "respondents": 0, "sums": encode(np.zeros_like(sums))}
        # A concurrent first response to the same cell makes the same insert: one wins, the other waits
        # for it (PostgreSQL) and does nothing; both then lock the one row and add to it in turn.
        session.execute(_CREATE_EMPTY[session.get_bind().dialect.name], empty)
        found = session.execute(_LOCK_ROW, columns).one()
    stored = decode(found.sums)
    if stored.shape != sums.shape:  # a row of another layout: the instrument version's items changed
        raise ValueError(f"aggregate {found.id} holds {stored.shape[0]} sums, the response {sums.shape[0]}")
    total = stored + sums
    session.execute(_STORE, {"row_id": found.id, "new_respondents": int(total[0]), "new_sums": encode(total)})
    session.flush()
