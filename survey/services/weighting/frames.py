"""Served-dossier frames: import (CSV page, CLI, JSON API) with atomic replacement, and response rates.

An upload is checked completely before anything is written; then, for every unit it names, each stored
count whose period overlaps a period of the upload is deleted and the new counts inserted, in the
caller's single transaction. A refused upload therefore changes nothing, and an accepted one leaves no
mixture of old and new figures. Functions flush, the view or command commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey.local_time import VIETNAM
from survey.models import ALL, ApiClient, FrameUpload, Response, ResponseStatus, ServedCount, Unit, User
from survey.services.staff import access, audit
from survey.services.weighting.frame_levels import FrameCell, mismatches, served_by_field
from survey.services.weighting.frame_rows import (
    COLUMNS,
    FrameRow,
    RowError,
    check_record,
    decode_csv,
    overlap_errors,
    read_csv_records,
)

MAX_ROWS = 50_000

Source = Literal["csv", "api"]


class FramesRefused(Exception):
    """The upload was refused as a whole; `errors` lists every problem found, in line order."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = tuple(sorted(errors, key=lambda e: e.line))


@dataclass(frozen=True)
class FrameImport:
    upload_id: int
    rows: int
    units: int
    replaced: int  # stored counts deleted because the upload covers their unit and period


@dataclass(frozen=True)
class ResponseRate:
    """Dossiers served and valid responses for one unit's subtree over a window.

    `served` is None when no frame covers the window; `rate` is None when `served` is None or 0.
    `partial_periods` counts frame periods that straddle the window's edges: they are left out, so a
    non-zero value means `served` may be short and the dashboard should say so.
    """

    unit_id: int
    served: int | None
    responses: int
    rate: float | None
    partial_periods: int


# ---------------------------------------------------------------- import


def import_csv(session: Session, data: bytes, *, actor: User | None, now: datetime) -> FrameImport:
    """Import a CSV upload (see docs/manage.md) for `actor`'s units; `actor` None = the system (CLI)."""
    text, error = decode_csv(data)
    if error is not None or text is None:
        raise FramesRefused([error] if error else [])
    records, errors = read_csv_records(text, COLUMNS, ("unit_code", "served"))
    if errors and not records:  # the header or the file as a whole is unusable: rows would mislead
        raise FramesRefused(errors)
    rows = _checked(records, default_period=None, errors=errors)
    scope = None if actor is None or access.is_admin(actor) else access.visible_unit_ids(session, actor)
    return _import(session, rows, errors, scope=scope, source="csv", actor=actor, client=None, now=now)


def import_api(session: Session, client: ApiClient, period: tuple[date, date] | None,
               counts: Sequence[Mapping[str, object]], *, now: datetime) -> FrameImport:
    """Import an API body's counts (rows numbered from 1) for the client's unit subtree."""
    errors: list[RowError] = []
    rows = _checked(list(enumerate(counts, start=1)), default_period=period, errors=errors)
    scope = access.subtree_ids(session, [client.unit_id])
    return _import(session, rows, errors, scope=scope, source="api", actor=None, client=client, now=now)


def _checked(records: Sequence[tuple[int, Mapping[str, object]]], *, default_period: tuple[date, date] | None,
             errors: list[RowError]) -> list[FrameRow]:
    if len(records) > MAX_ROWS:
        errors.append(RowError(0, "too_many", _("more than %(n)d rows: split the file.", n=MAX_ROWS)))
        return []
    if not records:
        errors.append(RowError(0, "empty", _("there are no counts to import.")))
    rows: list[FrameRow] = []
    for line, record in records:
        row, row_errors = check_record(line, record, default_period)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    return rows


def _import(session: Session, rows: list[FrameRow], errors: list[RowError], *, scope: set[int] | None,
            source: Source, actor: User | None, client: ApiClient | None, now: datetime) -> FrameImport:
    units = _units_by_code(session, {row.unit_code for row in rows})
    for row in rows:
        unit = units.get(row.unit_code)
        if unit is None:
            errors.append(RowError(row.line, "unit_unknown", _("unit code '%(code)s' does not exist.",
                                                               code=row.unit_code[:40])))
        elif scope is not None and unit.id not in scope:
            errors.append(RowError(row.line, "unit_out_of_scope", _(
                "unit '%(code)s' is outside the units you may report for.", code=row.unit_code[:40])))
    errors.extend(overlap_errors(rows))
    errors.extend(_level_errors(rows))
    if errors:
        raise FramesRefused(errors)
    replaced = _delete_overlapping(session, rows, units)
    upload = FrameUpload(at=now, source=source, actor_id=actor.id if actor else None,
                         api_client_id=client.id if client else None, rows=len(rows))
    session.add(upload)
    session.flush()
    session.add_all(ServedCount(unit_id=units[row.unit_code].id, procedure_field=row.procedure_field,
                                channel=row.channel, period_start=row.period_start, period_end=row.period_end,
                                served=row.served, upload_id=upload.id) for row in rows)
    session.flush()
    unit_ids = {units[row.unit_code].id for row in rows}
    audit.record(session, actor=actor, action="frames.import", object_type="frame_upload",
                 object_id=str(upload.id), unit_id=next(iter(unit_ids)) if len(unit_ids) == 1 else None,
                 detail={"source": source, "rows": len(rows), "units": len(unit_ids), "replaced": replaced,
                         "api_client_id": client.id if client else None}, now=now)
    return FrameImport(upload.id, len(rows), len(unit_ids), replaced)


def _level_errors(rows: Sequence[FrameRow]) -> list[RowError]:
    """Refuse a unit × period whose breakdown exceeds its total (`frame_levels.mismatches`)."""
    groups: dict[tuple[str, date, date], list[FrameCell]] = defaultdict(list)
    for row in rows:
        groups[(row.unit_code, row.period_start, row.period_end)].append(
            FrameCell(row.procedure_field, row.channel, row.served, row.line))
    errors = []
    for cells in groups.values():
        for found in mismatches(cells):
            errors.append(RowError(found.check_lines[0], "breakdown_exceeds_total", _(
                "the rows on lines %(lines)s add up to %(served)d dossiers, more than the %(total)d of "
                "line %(check)d: a breakdown cannot exceed its total.",
                lines=", ".join(map(str, found.lines)), served=found.served, check=found.check_lines[0],
                total=found.check_served)))
    return errors


def _units_by_code(session: Session, codes: Iterable[str]) -> dict[str, Unit]:
    wanted = sorted(set(codes))
    found: dict[str, Unit] = {}
    for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
        chunk = wanted[start:start + 500]
        found.update((u.code, u) for u in session.scalars(sa.select(Unit).where(Unit.code.in_(chunk))))
    return found


def _delete_overlapping(session: Session, rows: Sequence[FrameRow], units: Mapping[str, Unit]) -> int:
    """Delete stored counts of the upload's units whose period overlaps one of that unit's new periods."""
    periods: dict[int, set[tuple[date, date]]] = defaultdict(set)
    for row in rows:
        periods[units[row.unit_code].id].add((row.period_start, row.period_end))
    deleted = 0
    for unit_id, spans in periods.items():
        overlapping = sa.or_(*(sa.and_(ServedCount.period_start <= end, ServedCount.period_end >= start)
                               for start, end in spans))
        result = session.execute(sa.delete(ServedCount).where(ServedCount.unit_id == unit_id, overlapping)
                                 .execution_options(synchronize_session=False))
        # a DML statement's result is a CursorResult (it has rowcount); Session.execute is typed Result
        deleted += result.rowcount  # type: ignore[attr-defined]
    return deleted


@dataclass(frozen=True)
class StoredPeriod:
    """One unit × period on file: how many count rows, their not-broken-down total, last upload time."""

    unit: Unit
    period_start: date
    period_end: date
    rows: int
    total: int | None
    uploaded: datetime


def stored_periods(session: Session, actor: User, *, limit: int = 50) -> list[StoredPeriod]:
    """The latest stored periods of the units `actor` may see, newest period first."""
    total = sa.func.sum(sa.case((sa.and_(ServedCount.procedure_field == ALL, ServedCount.channel == ALL),
                                 ServedCount.served)))
    query = (sa.select(ServedCount.unit_id, ServedCount.period_start, ServedCount.period_end,
                       sa.func.count(), total, sa.func.max(FrameUpload.at))
             .join(FrameUpload, ServedCount.upload_id == FrameUpload.id)
             .group_by(ServedCount.unit_id, ServedCount.period_start, ServedCount.period_end)
             .order_by(ServedCount.period_start.desc(), ServedCount.unit_id).limit(limit))
    if not access.is_admin(actor):
        query = query.where(ServedCount.unit_id.in_(access.visible_unit_ids(session, actor)))
    found = list(session.execute(query))
    units = {u.id: u for u in session.scalars(sa.select(Unit).where(Unit.id.in_({r[0] for r in found})))}
    return [StoredPeriod(units[unit_id], start, end, rows, total, uploaded)
            for unit_id, start, end, rows, total, uploaded in found]


# ---------------------------------------------------------------- response rates


def response_rates(session: Session, unit_ids: Iterable[int], period_start: date, period_end: date,
                   instrument_id: str | None = None, *, tz: tzinfo = VIETNAM,
                   own_responses: Mapping[int, int] | None = None) -> dict[int, ResponseRate]:
    """Served dossiers, valid responses and their ratio for each unit's subtree, per requested unit.

    Parameters
    ----------
    unit_ids : the units to report (each counted with everything below it); the result keeps their order.
    period_start, period_end : the window, inclusive local calendar days (`tz`, Vietnam by default).
    instrument_id : count only responses to this instrument (any version); None = all instruments.
    own_responses : each unit's own valid responses in the window, when the caller has counted them
        (the dashboard: `reporting.response_counts`); None = counted here.

    Rules
    -----
    - Responses: status `valid` (flagged and excluded ones are not), submitted within the window.
    - Served: frame counts of the subtree's units whose period lies inside the window. A period that
      straddles an edge is left out and counted in `partial_periods` (no pro-rating: dossiers are not
      spread evenly over a month).
    - A unit's frame for one period may be broken down; to avoid double counting it contributes its
      not-broken-down row (field = channel = "") if present, else the sum of its by-field rows (channel
      ""), else the sum of its by-channel rows (field ""), else the sum of its field × channel rows.
    - A unit's counts are the dossiers served at that unit itself: report each dossier at one level
      (the commune or its service point), as the subtree sums them.
    - `rate` = responses / served, None when served is None or 0. It may exceed 1 when frames are
      missing for part of the subtree; the dashboard shows it as is.
    """
    ids = list(dict.fromkeys(unit_ids))
    trees = _subtrees(session, ids)
    everything = set().union(*trees.values()) if trees else set()
    own_served, own_partial = _served_by_unit(session, everything, period_start, period_end)
    if own_responses is None:
        own_responses = _responses_by_unit(session, everything, datetime.combine(period_start, time.min, tz),
                                           datetime.combine(period_end + timedelta(days=1), time.min, tz),
                                           instrument_id)
    result: dict[int, ResponseRate] = {}
    for unit_id in ids:
        tree = trees.get(unit_id, set())
        known = [own_served[u] for u in tree if u in own_served]
        served = sum(known) if known else None
        responses = sum(own_responses.get(u, 0) for u in tree)
        partial = sum(own_partial.get(u, 0) for u in tree)
        result[unit_id] = ResponseRate(unit_id, served, responses, responses / served if served else None,
                                       partial)
    return result


def _subtrees(session: Session, ids: Sequence[int]) -> dict[int, set[int]]:
    """Each requested unit with everything below it, from one read of the parent links."""
    children: dict[int | None, list[int]] = defaultdict(list)
    existing: set[int] = set()
    for unit_id, parent_id in session.execute(sa.select(Unit.id, Unit.parent_id)):
        children[parent_id].append(unit_id)
        existing.add(unit_id)
    trees: dict[int, set[int]] = {}
    for root in ids:
        if root not in existing:
            continue
        seen, stack = {root}, [root]
        while stack:  # iterative, and `seen` stops a corrupt cycle
            for child in children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        trees[root] = seen
    return trees


def _chunks(ids: set[int], size: int = 500) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]  # SQLite's bound-parameter limit


def _served_by_unit(session: Session, units: set[int], start: date, end: date
                    ) -> tuple[dict[int, int], dict[int, int]]:
    """Per unit: its own dossiers in frames inside the window, and how many of its frames straddle it."""
    frames: dict[tuple[int, date, date], list[tuple[str, str, int]]] = defaultdict(list)
    partial: dict[int, set[tuple[date, date]]] = defaultdict(set)
    for chunk in _chunks(units):
        rows = session.execute(
            sa.select(ServedCount.unit_id, ServedCount.period_start, ServedCount.period_end,
                      ServedCount.procedure_field, ServedCount.channel, ServedCount.served)
            .where(ServedCount.unit_id.in_(chunk), ServedCount.period_start <= end,
                   ServedCount.period_end >= start))
        for unit_id, p_start, p_end, field, channel, served in rows:
            if p_start < start or p_end > end:
                partial[unit_id].add((p_start, p_end))
            else:
                frames[(unit_id, p_start, p_end)].append((field, channel, served))
    totals: dict[int, int] = defaultdict(int)
    for (unit_id, _start, _end), rows_of_frame in frames.items():
        totals[unit_id] += _frame_total(rows_of_frame)
    return dict(totals), {unit_id: len(spans) for unit_id, spans in partial.items()}


def _responses_by_unit(session: Session, units: set[int], start_at: datetime, end_at: datetime,
                       instrument_id: str | None) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(units):
        query = (sa.select(Response.unit_id, sa.func.count())
                 .where(Response.unit_id.in_(chunk), Response.status == ResponseStatus.VALID,
                        Response.submitted_at >= start_at, Response.submitted_at < end_at)
                 .group_by(Response.unit_id))
        if instrument_id is not None:
            query = query.where(Response.instrument_id == instrument_id)
        counts.update((unit_id, int(n)) for unit_id, n in session.execute(query))
    return counts


def _frame_total(rows: Sequence[tuple[str, str, int]]) -> int:
    """One frame's dossiers: the sum of its weighting cells (`frame_levels`), never total + breakdown."""
    cells = [FrameCell(field, channel, served) for field, channel, served in rows]
    return sum(served_by_field(cells).values())
