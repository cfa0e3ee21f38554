"""The one cache mechanism of the reporting services: per-process values kept while the data they were
computed from is unchanged, checked through what the index aggregates already hold.

A cached value is stored with the *version* of the data it read (`data_version`); a look-up with
another version is a miss, so a change is seen at once without any explicit invalidation. A version is
made of three stamps, each one cheap query, and each computed at most once per database session (a
request) and subtree, however many caches ask:

* per local month, the subtree's index aggregates (cells, respondents, last row id): a valid response
  stored by the submission service, a reinstated one, a rebuild or a damaged row moves its month's
  stamp, and only that month's;
* the responses of the window that are not valid (count, last id, excluded): a flagged response, or a
  review that confirms or reinstates one, changes the counts of responses left out;
* the frames of dossiers served and the targets (count, last id, sum), which weights and verdicts read.

So a new citizen response recomputes only its own month: the eleven past months of a trend stay cached.
A valid response stored *without* the submission service (a bulk import) moves no stamp; it is seen
once `flask aggregates rebuild` has run, which such an import needs anyway (docs/dashboard.md,
"Aggregates"). Each cache is bounded and drops its oldest entry first.

A cache given a `name` also keeps its values in the store shared between processes
(`share_between_processes`: a directory, or Redis, through cachelib), checked against the same
version: every gunicorn worker, a restarted server and the `flask alerts refresh` job then compute a
period's table once between them, not once each. Entries are namespaced by a digest of the code that
computes them (analysis, instruments, services), so a new release never reads an old one's figures.
The store holds pickled figures, never personal data; it must be writable by the app alone, like its
database.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.local_time import utc_bounds
from survey.models import IndexAggregate, Response, ResponseStatus, ServedCount, Target
from survey.services.reporting.periods import month_spans

_LOG = logging.getLogger(__name__)
V = TypeVar("V")
Version = tuple[object, ...]
_MEMO = "reporting.data_versions"  # session.info key: the stamps read in this session


@dataclass
class _Stamps:
    """The stamps read in one session."""

    # (ids, month) and (ids, first, last); ids None: every unit
    aggregates: dict[tuple[frozenset[int] | None, str], Version] = field(default_factory=dict)
    left_out: dict[tuple[frozenset[int] | None, date, date], Version] = field(default_factory=dict)
    settings: Version | None = None


def _stamps(session: Session) -> _Stamps:
    stamps = session.info.get(_MEMO)
    if not isinstance(stamps, _Stamps):
        stamps = session.info[_MEMO] = _Stamps()
    return stamps


@sa.event.listens_for(Session, "after_flush")
@sa.event.listens_for(Session, "after_commit")
@sa.event.listens_for(Session, "after_rollback")
def _forget(session: Session, *_args: object) -> None:
    """A session that writes (or ends its transaction) may see other data: read the stamps again."""
    session.info.pop(_MEMO, None)


def _months(first: date, last: date) -> list[str]:
    """The labels of the calendar months first..last touches ("2026-11")."""
    return [start.strftime("%Y-%m") for start, _ in month_spans(first, last)]


def _aggregate_stamps(session: Session, ids: frozenset[int] | None, months: list[str]) -> list[Version]:
    """(cells, respondents, last row id) of the subtree's aggregates per month; one grouped query for
    the months not yet read in this session. Every unit's (`ids` None) are read for every month at once:
    without a unit to narrow it the query scans the table whatever months it asks for (12 ms at a
    million responses), and a page asks for each of its trend's months."""
    known = _stamps(session).aggregates
    if ids is None and (None, _EVERY_MONTH) in known:  # every month read: the others have no row
        return [known.get((None, m), _NO_ROWS) for m in months]
    wanted = [m for m in months if (ids, m) not in known]
    if wanted:
        query = (sa.select(IndexAggregate.month, sa.func.count(), sa.func.sum(IndexAggregate.respondents),
                           sa.func.max(IndexAggregate.id))
                 .group_by(IndexAggregate.month))
        if ids is not None:
            query = query.where(IndexAggregate.unit_id.in_(list(ids)), IndexAggregate.month >= wanted[0],
                                IndexAggregate.month <= wanted[-1])
        found = {month: (int(n), int(total or 0), last) for month, n, total, last in session.execute(query)}
        for month in wanted:
            known[ids, month] = found.get(month, _NO_ROWS)
        if ids is None:
            known.update({(None, month): stamp for month, stamp in found.items()})
            known[None, _EVERY_MONTH] = ()
    return [known[ids, m] for m in months]


_NO_ROWS: Version = (0, 0, None)
_EVERY_MONTH = "*"  # the memo's mark that every unit's months were all read


def _left_out_stamp(session: Session, ids: frozenset[int] | None, first: date, last: date,
                    exact: bool = False) -> Version:
    """(count, last id, excluded) of the responses that are not valid, in first..last (of every unit:
    `ids` None). Unless `exact`, a stamp read in this session for a window that covers first..last is
    reused: it moves whenever this one would."""
    known = _stamps(session).left_out
    if exact and (ids, first, last) in known:
        return known[ids, first, last]
    for (subtree, since, until), stamp in known.items():
        if not exact and subtree == ids and since <= first and last <= until:
            return stamp
    start, end = utc_bounds(first, last)
    query = (
        sa.select(sa.func.count(), sa.func.max(Response.id),
                  # a flagged response confirmed as excluded moves neither the count nor the last id
                  sa.func.sum(sa.case((Response.status == ResponseStatus.EXCLUDED, 1), else_=0)))
        # the statuses named, not "!= valid": the (status, submitted_at) index then reads only these
        .where(Response.status.in_([s for s in ResponseStatus if s is not ResponseStatus.VALID]),
               Response.submitted_at >= start, Response.submitted_at < end))
    if ids is not None:
        query = query.where(Response.unit_id.in_(list(ids)))
    count, last_id, excluded = session.execute(query).one()
    known[ids, first, last] = stamp = (int(count), last_id, int(excluded or 0))
    return stamp


def read_month_stamps(session: Session, ids: set[int] | frozenset[int] | None, first: date,
                      last: date) -> None:
    """Read the stamps of every calendar month of first..last at once and keep them for the session,
    so that `data_version(..., exact=True)` of each month is answered without a query: a value kept
    per month asked for its own left-out stamp month by month, twelve queries for a year (0.2 s on
    PostgreSQL)."""
    subtree = None if ids is None else frozenset(ids)
    _aggregate_stamps(session, subtree, _months(first, last))
    known = _stamps(session).left_out
    spans = month_spans(first, last)
    if all((subtree, *span) in known for span in spans):
        return
    # Each response's month by its time against the (consecutive) months' ends, the months grouped in one
    # scan of the window's left-out responses (one CASE per month cost four times as much on SQLite).
    ends = [utc_bounds(since, until)[1] for since, until in spans]
    month = sa.case(*((Response.submitted_at < end, index) for index, end in enumerate(ends))).label("month")
    excluded = sa.case((Response.status == ResponseStatus.EXCLUDED, 1), else_=0)
    query = (sa.select(month, sa.func.count(), sa.func.max(Response.id), sa.func.sum(excluded))
             .where(Response.status.in_([s for s in ResponseStatus if s is not ResponseStatus.VALID]),
                    Response.submitted_at >= utc_bounds(*spans[0])[0], Response.submitted_at < ends[-1])
             .group_by(month))
    if subtree is not None:
        query = query.where(Response.unit_id.in_(list(subtree)))
    found = {int(index): (int(count), last_id, int(total or 0))
             for index, count, last_id, total in session.execute(query)}
    for index, (since, until) in enumerate(spans):
        known[subtree, since, until] = found.get(index, (0, None, 0))


def _settings_stamp(session: Session) -> Version:
    """(count, last id, sum) of the frames of dossiers served and of the targets, in one query."""
    stamps = _stamps(session)
    if stamps.settings is None:
        row = session.execute(sa.select(*(sa.select(f).scalar_subquery() for f in (
            sa.func.count(ServedCount.id), sa.func.max(ServedCount.id), sa.func.sum(ServedCount.served),
            sa.func.count(Target.id), sa.func.max(Target.id), sa.func.sum(Target.target))))).one()
        stamps.settings = tuple(row)
    return stamps.settings


def settings_version(session: Session) -> Version:
    """The version of the frames of dossiers served and the targets alone: what a value that reads no
    response (a period's frame table) is kept under."""
    return _settings_stamp(session)


def data_version(session: Session, ids: set[int] | frozenset[int] | None, first: date, last: date, *,
                 exact: bool = False) -> Version:
    """The version of everything a report of subtree `ids` (every unit: None) over first..last reads
    (see the module). `exact`: the same value whichever window of the request was read first (the
    responses left out are counted for first..last itself), for a value kept per month and read by
    windows of every length."""
    subtree = None if ids is None else frozenset(ids)
    months = _months(first, last)
    return (tuple(_aggregate_stamps(session, subtree, months)),
            _left_out_stamp(session, subtree, first, last, exact), _settings_stamp(session))


class SharedStore(Protocol):
    """What a cache shared between processes offers (cachelib's BaseCache: files, Redis, ...)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any: ...


_shared: list[SharedStore | None] = [None]


def share_between_processes(store: SharedStore | None) -> None:
    """Keep the named caches' values in `store` as well (None: in this process only)."""
    _shared[0] = store


def _code_digest() -> str:
    """A digest of the source of everything a cached figure is computed by (see the module)."""
    root = Path(__file__).resolve().parents[3]
    digest = hashlib.sha256()
    for folder in ("analysis", "instruments", "survey/services"):
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


_CODE = _code_digest()


class VersionedCache(Generic[V]):
    """At most `size` values by key, each valid only for the data version it was stored with; a named
    cache also keeps them in the shared store (`share_between_processes`)."""

    def __init__(self, size: int, name: str | None = None) -> None:
        self.size = size
        self.name = name
        self._entries: dict[tuple[object, ...], tuple[Version, V]] = {}

    def get(self, key: tuple[object, ...], version: Version) -> V | None:
        """The value stored under `key` if it was stored with `version`, else None."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        shared = self._shared_get(key)
        if shared is not None and shared[0] == version:
            self._keep(key, version, shared[1])
            return shared[1]
        return None

    def latest(self, key: tuple[object, ...]) -> V | None:
        """The value last stored under `key`, whatever its version (None if none): what a computation
        that only redoes what changed starts from (`table_update`)."""
        hit = self._entries.get(key)
        if hit is not None:
            return hit[1]
        shared = self._shared_get(key)
        return None if shared is None else shared[1]

    def put(self, key: tuple[object, ...], version: Version, value: V) -> None:
        """Store `value`, first dropping the oldest entry when the cache is full."""
        self._keep(key, version, value)
        store, address = _shared[0], self._address(key)
        if store is not None and address is not None:
            try:
                store.set(address, (version, value))
            except Exception:  # a full disk or a lost Redis must not fail a page: the value is computed
                _LOG.warning("shared report cache: could not store %s", self.name, exc_info=True)

    def _keep(self, key: tuple[object, ...], version: Version, value: V) -> None:
        if key not in self._entries and len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (version, value)

    def _address(self, key: tuple[object, ...]) -> str | None:
        """The shared store's key: the code digest, the cache's name and a digest of the key."""
        if self.name is None:
            return None
        text = repr(key)
        if " at 0x" in text:  # an object without a stable repr: not shareable between processes
            return None
        return f"{_CODE}:{self.name}:{hashlib.sha256(text.encode()).hexdigest()[:32]}"

    def _shared_get(self, key: tuple[object, ...]) -> tuple[Version, V] | None:
        store, address = _shared[0], self._address(key)
        if store is None or address is None:
            return None
        try:
            found = store.get(address)
        except Exception:
            _LOG.warning("shared report cache: could not read %s", self.name, exc_info=True)
            return None
        return found if isinstance(found, tuple) and len(found) == 2 else None
