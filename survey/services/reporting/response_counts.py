"""A window's responses per unit, counted once per calendar month and data version.

Two things on every dashboard count a window's responses: the check that the index aggregates hold
exactly the valid responses of every unit (`index_source`), and the response rates. The valid ones come
from the database's own tallies (`models.ResponseTally`, kept by triggers on the responses whatever
writes them): a month of every unit is about a thousand rows, where counting the responses read the
month's 80,000 entries of the covering status index (26 ms at a million responses a year, on every view
after a new response). The few left out are counted from the responses, by status and reason.

Each month is still kept under its data version (`index_cache.data_version`, made of per-month stamps)
for every unit at once: a new response reads its own month again, and the other eleven of a year come
from the cache, shared between processes like the reports; a ward's page uses the counts its province's
page (or the scheduled job) read.

A valid response stored without the submission service (a bulk import) is in the tallies at once, and
moves its month's data version with them (`index_cache`): its month is counted again, finds the
aggregates short, and is read from the responses until `flask aggregates rebuild`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.local_time import utc_bounds
from survey.models import Response, ResponseStatus, ResponseTally
from survey.services.reporting.index_cache import LEFT_OUT, VersionedCache, data_version
from survey.services.reporting.periods import Period, month_spans


@dataclass(frozen=True)
class ResponseCounts:
    """Responses to one instrument in a window, by version of it."""

    valid: Mapping[tuple[int, str], int]  # (unit id, instrument version) -> valid responses
    left_out: Mapping[tuple[int, str, str, str], int]  # (unit id, version, status, reason) -> responses

    def valid_by_unit(self, version: str | None = None) -> dict[int, int]:
        """Valid responses per unit, to `version` only or to any version (None)."""
        found: Counter[int] = Counter()
        for (unit_id, answered), n in self.valid.items():
            if version is None or answered == version:
                found[unit_id] += n
        return dict(found)

    def left_out_of(self, version: str) -> dict[tuple[str, str], int]:
        """Responses to `version` that are not valid, by (status, reason)."""
        found: Counter[tuple[str, str]] = Counter()
        for (_, answered, status, reason), n in self.left_out.items():
            if answered == version:
                found[status, reason] += n
        return dict(found)

    def of_units(self, ids: Collection[int]) -> ResponseCounts:
        """The counts of units `ids` alone."""
        return ResponseCounts({key: n for key, n in self.valid.items() if key[0] in ids},
                              {key: n for key, n in self.left_out.items() if key[0] in ids})


_COUNTS: VersionedCache[ResponseCounts] = VersionedCache(512, name="response-counts")


def window_counts(session: Session, ids: Collection[int], period: Period,
                  instrument_id: str) -> ResponseCounts:
    """The responses of units `ids` (a subtree) to `instrument_id` in `period`: the sum of its months'."""
    subtree = frozenset(ids)
    valid: Counter[tuple[int, str]] = Counter()
    left_out: Counter[tuple[int, str, str, str]] = Counter()
    # Every month's stamps read at once and kept for the request: each month's version then reads them
    # (a query per month scanned every unit's aggregates twelve times, 0.4 s for a year).
    data_version(session, None, period.first, period.last)
    for first, _last in month_spans(period.first, period.last):
        month = _month_counts(session, Period.month(first.year, first.month), instrument_id).of_units(subtree)
        valid.update(month.valid)
        left_out.update(month.left_out)
    return ResponseCounts(dict(valid), dict(left_out))


def _month_counts(session: Session, month: Period, instrument_id: str) -> ResponseCounts:
    """Every unit's responses in `month`, kept under the version of every unit's data."""
    key = (str(session.get_bind().engine.url), month.label, instrument_id)
    version = data_version(session, None, month.first, month.last)
    found = _COUNTS.get(key, version)
    if found is None:
        found = _counted(session, month, instrument_id)
        _COUNTS.put(key, version, found)
    return found


def _counted(session: Session, month: Period, instrument_id: str) -> ResponseCounts:
    """The valid responses from the database's own tallies (`models.ResponseTally`: a month is a
    thousand rows where counting its responses read 80,000 index entries, 26 ms), and the few left out
    from the responses, for their reasons."""
    valid = {(unit_id, version): int(n) for unit_id, version, n in session.execute(
        sa.select(ResponseTally.unit_id, ResponseTally.instrument_version, ResponseTally.valid)
        .where(ResponseTally.month == month.label, ResponseTally.instrument_id == instrument_id,
               ResponseTally.valid != 0))}
    start, end = utc_bounds(month.first, month.last)
    in_window = (Response.instrument_id == instrument_id, Response.submitted_at >= start,
                 Response.submitted_at < end)
    left_out: Counter[tuple[int, str, str, str]] = Counter()
    keys = (Response.unit_id, Response.instrument_version, Response.status, Response.status_reason)
    left_out_query = sa.select(*keys, sa.func.count()).where(Response.status.in_(LEFT_OUT), *in_window)
    for unit_id, version, status, reason, n in session.execute(left_out_query.group_by(*keys)):
        left_out[unit_id, version, ResponseStatus(status).value, reason or ""] += int(n)
    return ResponseCounts(valid, dict(left_out))
