"""The database's own count of valid responses (`models.ResponseTally`), rebuilt and checked.

Triggers on `responses` keep the tallies (the migration that creates them says how); nothing in the
app writes them but `rebuild_tallies`, which `flask aggregates rebuild` runs beside the aggregates'
rebuild for a database whose triggers were once off (a data-only restore with triggers disabled, a
SQLite migration that rebuilt the table without them). `tally_differences` compares them with the
responses for `flask aggregates check`.

The local month is the month at UTC+7, Vietnam's offset since 1975 (`local_time`), as the triggers
compute it on both engines.
"""

from __future__ import annotations

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
             last: date | None) -> sa.Select[str, str, int, str, int]:
    """The valid responses of the scope counted by tally key."""
    month = _local_month(session, Response.submitted_at).label("month")
    query = (sa.select(month, Response.instrument_id, Response.unit_id, Response.instrument_version,
                       sa.func.count().label("valid"))
             .where(Response.status == ResponseStatus.VALID)
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
    every month) by a count of its valid responses; the number of tallies written. Run after the
    aggregates' rebuild has taken the write lock, in its transaction."""
    session.execute(sa.delete(ResponseTally).where(*_tally_scope(unit_ids, first, last)))
    counted = _counted(session, unit_ids, first, last).subquery()
    result = session.execute(sa.insert(ResponseTally).from_select(
        ["month", "instrument_id", "unit_id", "instrument_version", "valid"], sa.select(counted)))
    # a DML statement's result is a CursorResult (it has rowcount); Session.execute is typed Result
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def tally_differences(session: Session, unit_ids: Collection[int] | None, first: date | None = None,
                      last: date | None = None) -> list[tuple[TallyKey, int, int]]:
    """(key, tallied, counted) wherever the scope's tallies differ from a count of its valid responses
    (a tally of 0 and no tally are the same), in key order."""
    counted = {(m, i, u, v): int(n)
               for m, i, u, v, n in session.execute(_counted(session, unit_ids, first, last))}
    tallied = {(m, i, u, v): int(n) for m, i, u, v, n in session.execute(
        sa.select(ResponseTally.month, ResponseTally.instrument_id, ResponseTally.unit_id,
                  ResponseTally.instrument_version, ResponseTally.valid)
        .where(*_tally_scope(unit_ids, first, last)))}
    return [(key, tallied.get(key, 0), counted.get(key, 0)) for key in sorted(counted.keys() | tallied.keys())
            if tallied.get(key, 0) != counted.get(key, 0)]
