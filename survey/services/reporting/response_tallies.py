"""The database's own count of responses by status (`models.ResponseTally`), rebuilt and checked.

Triggers on `responses` keep the tallies (the migrations that create them say how); nothing in the
app writes them but `rebuild_tallies`, which `flask aggregates rebuild` runs beside the aggregates'
rebuild for a database whose triggers were once off (a data-only restore with triggers disabled, a
SQLite migration that rebuilt the table without them). `tally_differences` compares them with the
responses for `flask aggregates check`.

The local month is the month at UTC+7, Vietnam's offset since 1975 (`local_time`), as the triggers
compute it on both engines.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.local_time import utc_bounds
from survey.models import Response, ResponseStatus, ResponseTally

# A tally's key: (local month, instrument, unit id, instrument version)
TallyKey = tuple[str, str, int, str]


def _local_month(session: Session, moment: sa.orm.InstrumentedAttribute[datetime]) -> sa.ColumnElement[str]:
    """SQL for the "YYYY-MM" of `moment`'s local month, as the triggers write it."""
    if session.get_bind().dialect.name == "postgresql":
        local = sa.func.timezone("UTC", moment) + sa.literal_column("interval '7 hours'", sa.Interval)
        return sa.func.to_char(local, "YYYY-MM")
    return sa.func.strftime("%Y-%m", moment, "+7 hours")


def _counted(session: Session, unit_ids: Collection[int] | None, first: date | None,
             last: date | None) -> sa.Select[str, str, int, str, int, int, int, int]:
    """The responses of the scope counted by tally key and status (and a revision: their number)."""
    month = _local_month(session, Response.submitted_at).label("month")

    def of_status(status: ResponseStatus, name: str) -> sa.Label[int]:
        return sa.func.sum(sa.case((Response.status == status, 1), else_=0)).label(name)

    query = (sa.select(month, Response.instrument_id, Response.unit_id, Response.instrument_version,
                       of_status(ResponseStatus.VALID, "valid"), of_status(ResponseStatus.FLAGGED, "flagged"),
                       of_status(ResponseStatus.EXCLUDED, "excluded"), sa.func.count().label("revision"))
             .group_by(month, Response.instrument_id, Response.unit_id, Response.instrument_version))
    if unit_ids is not None:
        query = query.where(Response.unit_id.in_(list(unit_ids)))
    if first is not None and last is not None:
        start, end = utc_bounds(first, last)
        query = query.where(Response.submitted_at >= start, Response.submitted_at < end)
    return query


def _tally_scope(unit_ids: Collection[int] | None, first: date | None,
                 last: date | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if unit_ids is not None:
        where.append(ResponseTally.unit_id.in_(list(unit_ids)))
    if first is not None and last is not None:
        where += [ResponseTally.month >= first.strftime("%Y-%m"),
                  ResponseTally.month <= last.strftime("%Y-%m")]
    return where


def rebuild_tallies(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
                    last: date | None = None) -> int:
    """Replace the scope's tallies (every unit: `unit_ids` None; whole local months `first`..`last`, or
    every month) by a count of its responses; the number of tallies written. Run after the aggregates'
    rebuild has taken the write lock, in its transaction.

    Every tally of the scope moves forward, never back: a key's revision is one past the one it had (its
    count of responses if it had no tally), its time of change now (this server's clock) or one past the
    one it had, and a key whose responses are gone keeps a tally of zeros.
    So every month the rebuild touched gets a data version it never had (`index_cache`), and the figures
    kept from before it, on the aggregates it replaced, are computed again; the rebuilt aggregates alone
    would not move it (SQLite hands the deleted rows' ids out again, and mended sums keep their counts).
    """
    scope = _tally_scope(unit_ids, first, last)
    had = {(m, i, u, v): (int(r), int(t)) for m, i, u, v, r, t in session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.revision, ResponseTally.changed_at_us)
        .where(*scope))}
    counted = {(m, i, u, v): (int(a), int(b), int(c), int(n))
               for m, i, u, v, a, b, c, n in session.execute(_counted(session, unit_ids, first, last))}
    rows = []
    now = time.time_ns() // 1000
    for key in sorted(had.keys() | counted.keys()):
        valid, flagged, excluded, responses = counted.get(key, (0, 0, 0, 0))
        revision, changed = (had[key][0] + 1, had[key][1] + 1) if key in had else (responses, 0)
        month, instrument_id, unit_id, version = key
        rows.append({"month": month, "instrument_id": instrument_id, "unit_id": unit_id,
                     "instrument_version": version, "valid": valid, "flagged": flagged, "excluded": excluded,
                     "revision": revision, "changed_at_us": max(changed, now)})
    session.execute(sa.delete(ResponseTally).where(*scope))
    if rows:
        session.execute(sa.insert(ResponseTally), rows)
    return len(rows)


# valid, flagged, excluded
Counts = tuple[int, int, int]
_NONE: Counts = (0, 0, 0)


def tally_differences(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
                      last: date | None = None) -> list[tuple[TallyKey, Counts, Counts]]:
    """(key, tallied, counted) wherever the scope's tallies (valid, flagged, excluded) differ from a
    count of its responses (zeros and no tally are the same), in key order. Revisions are not counts."""
    counted = {(m, i, u, v): (int(a), int(b), int(c)) for m, i, u, v, a, b, c, _revision
               in session.execute(_counted(session, unit_ids, first, last))}
    tallied = {(m, i, u, v): (int(a), int(b), int(c)) for m, i, u, v, a, b, c in session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.valid, ResponseTally.flagged,
                  ResponseTally.excluded)
        .where(*_tally_scope(unit_ids, first, last)))}
    return [(key, tallied.get(key, _NONE), counted.get(key, _NONE))
            for key in sorted(counted.keys() | tallied.keys())
            if tallied.get(key, _NONE) != counted.get(key, _NONE)]
