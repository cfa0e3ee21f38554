"""The one cache mechanism of the reporting services: per-process values kept while the data they were
computed from is unchanged, checked through what the index aggregates already hold.

A cached value is stored with the *version* of the data it read (`data_version`); a look-up with
another version is a miss, so a change is seen at once without any explicit invalidation. A version is
made of three stamps, each one cheap query, and each computed at most once per database session (a
request) and subtree, however many caches ask:

* per local month, the subtree's index aggregates (cells, respondents, last row id): a valid response
  stored by the submission service, a reinstated one, a rebuild or a damaged row moves its month's
  stamp, and only that month's;
* per local month, the subtree's responses as the database itself tallies them (`models.ResponseTally`,
  kept by triggers: responses left out, their revision, excluded, the time of the last change): any
  insert, delete or change of a response's status, reason, unit, time or instrument moves its month's
  stamp, and only that month's (so a value kept per month has the same version whatever window asked
  for it), whoever wrote it;
* the revision of the frames of dossiers served and the targets, which weights and verdicts read
  (`models.SettingsRevision`), and the unit tree's (`models.UnitRevision`), both moved by triggers at
  every write, whoever wrote it: a frame corrected, a target set, a unit renamed, moved or added.

No version comes back for other data. The revisions only move forward (a rebuild moves the tallies on
too), and the tallies' times and the one-row revisions follow the database's clock (the migration
d9a2f6b4c8e1): the changes made after a database is restored from a backup take times, and so
versions, that the lost changes never had. A session that has written any of these tables and not
committed reads versions marked unsettled: a value it computes is not kept (its revisions may go to
another change if it rolls back; `_Unsettled`).

So a new citizen response recomputes only its own month: the eleven past months of a trend stay cached.
A valid response stored *without* the submission service (a bulk import) moves its month's stamp too:
the figures of that month are computed again at once, from the responses, until `flask aggregates
rebuild` has brought the aggregates level (docs/dashboard.md, "Aggregates"). Each cache is bounded and
drops its oldest entry first.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import (
    IndexAggregate,
    Response,
    ResponseStatus,
    ResponseTally,
    ServedCount,
    SettingsRevision,
    Target,
    Unit,
    UnitRevision,
)
from survey.query_lists import one_of
from survey.services.reporting.periods import month_spans
from survey.session_memo import has_written, remembered

_LOG = logging.getLogger(__name__)
V = TypeVar("V")
Version = tuple[object, ...]


class _Unsettled:
    """The mark of a version read by a session that has written, and not yet committed, what versions
    are made of: equal to nothing but itself, and never kept (`VersionedCache`). Its revisions may be
    handed to another change if it rolls back, so a value kept under them could later be served for
    data it was not computed from."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unsettled>"


# The tables whose writes move a version (directly, or through the triggers that move the tallies and
# the revisions).
_VERSIONED = frozenset(model.__tablename__ for model in (
    IndexAggregate, Response, ResponseTally, ServedCount, Target, SettingsRevision, Unit, UnitRevision))


@dataclass
class _Stamps:
    """The stamps read in one session."""

    # (ids, month) and (ids, first, last of a month's span); ids None: every unit
    aggregates: dict[tuple[frozenset[int] | None, str], Version] = field(default_factory=dict)
    left_out: dict[tuple[frozenset[int] | None, date, date], Version] = field(default_factory=dict)
    settings: Version | None = None
    units: int | None = None  # how many units there are
    unit_ids: frozenset[int] | None = None  # which, once a subtree that large has asked
    unsettled: _Unsettled | None = None  # this read's mark, once it has written (`_settled`)


def _stamps(session: Session) -> _Stamps:
    """The stamps read in this session; a session that writes (or ends its transaction) may see other
    data and reads them again (`session_memo`)."""
    return remembered(session, "reporting.data_versions", _Stamps)


def _months(first: date, last: date) -> list[str]:
    """The labels of the calendar months first..last touches ("2026-11")."""
    return [start.strftime("%Y-%m") for start, _ in month_spans(first, last)]


def _aggregate_stamps(session: Session, ids: frozenset[int] | None, months: list[str]) -> list[Version]:
    """(cells, respondents, last row id) of the subtree's aggregates per month; one grouped query for
    the months not yet read in this session. Every unit's (`ids` None) are read for every month at once:
    without a unit to narrow it the query scans the table whatever months it asks for (12 ms at a
    million responses), and a page asks for each of its trend's months."""
    known = _stamps(session).aggregates
    query = (sa.select(IndexAggregate.month, sa.func.count(), sa.func.sum(IndexAggregate.respondents),
                       sa.func.max(IndexAggregate.id))
             .group_by(IndexAggregate.month))
    if ids is None:
        if (None, _EVERY_MONTH) not in known:
            known.update({(None, month): (int(n), int(total or 0), last)
                          for month, n, total, last in session.execute(query)})
            known[None, _EVERY_MONTH] = ()
        return [known.get((None, m), _NO_ROWS) for m in months]
    wanted = [m for m in months if (ids, m) not in known]
    if wanted:
        found = {month: (int(n), int(total or 0), last) for month, n, total, last in session.execute(
            query.where(one_of(session, IndexAggregate.unit_id, ids), IndexAggregate.month >= wanted[0],
                        IndexAggregate.month <= wanted[-1]))}
        for month in wanted:
            known[ids, month] = found.get(month, _NO_ROWS)
    return [known[ids, m] for m in months]


_NO_ROWS: Version = (0, 0, None)
_EVERY_MONTH = "*"  # the memo's mark that every unit's months were all read
LEFT_OUT = [s for s in ResponseStatus if s is not ResponseStatus.VALID]


def _left_out_stamps(session: Session, ids: frozenset[int] | None,
                     spans: list[tuple[date, date]]) -> list[Version]:
    """(responses left out, revision, excluded, time of the last change) of the subtree's responses
    (every unit's: `ids` None) per span of `spans` (the consecutive months of a window: `month_spans`),
    from the database's own tallies (`models.ResponseTally`): the revision moves at every insert, delete
    and change of status, reason, unit, time or instrument of a response, whoever writes it, so a
    response stored around the submission service moves its month's version too; the time makes the
    changes after a restore from a backup differ from the lost ones. A span is stamped by its whole
    month. One grouped query for the window when a span was not read yet in this session."""
    known = _stamps(session).left_out
    if any((ids, *span) not in known for span in spans):
        months = [since.strftime("%Y-%m") for since, _until in spans]
        query = (sa.select(ResponseTally.month,
                           sa.func.sum(ResponseTally.flagged + ResponseTally.excluded),
                           sa.func.sum(ResponseTally.revision), sa.func.sum(ResponseTally.excluded),
                           sa.func.max(ResponseTally.changed_at_us))
                 .where(ResponseTally.month >= months[0], ResponseTally.month <= months[-1])
                 .group_by(ResponseTally.month))
        if ids is not None:
            query = query.where(one_of(session, ResponseTally.unit_id, ids))
        found = {month: (int(left_out or 0), int(revision or 0), int(excluded or 0), int(changed or 0))
                 for month, left_out, revision, excluded, changed in session.execute(query)}
        for month, span in zip(months, spans, strict=True):
            known[ids, *span] = found.get(month, (0, 0, 0, 0))
    return [known[ids, *span] for span in spans]


# The revisions of the frames and targets and of the unit tree, in one statement (built once).
_SETTINGS = sa.select(sa.select(SettingsRevision.revision).scalar_subquery(),
                      sa.select(UnitRevision.revision).scalar_subquery())


def _settings_stamp(session: Session) -> Version:
    """The revisions of the frames of dossiers served and the targets (`models.SettingsRevision`) and of
    the unit tree (`models.UnitRevision`), both moved by triggers at every write, in one query."""
    stamps = _stamps(session)
    if stamps.settings is None:
        stamps.settings = tuple(session.execute(_SETTINGS).one())
    return stamps.settings


def _settled(session: Session, version: Version) -> Version:
    """`version`, marked unsettled (`_Unsettled`, one mark per read of the session) when the session has
    written what versions are made of in its open transaction."""
    if not has_written(session, _VERSIONED):
        return version
    stamps = _stamps(session)
    if stamps.unsettled is None:
        stamps.unsettled = _Unsettled()
    return (*version, stamps.unsettled)


def _marked_unsettled(version: Version) -> bool:
    """Whether `version` was read by a session with uncommitted writes to what it is made of."""
    return bool(version) and isinstance(version[-1], _Unsettled)


def settings_version(session: Session) -> Version:
    """The version of the frames of dossiers served, the targets and the unit tree alone: what a value
    that reads no response (a period's frame table, a subtree) is kept under."""
    return _settled(session, _settings_stamp(session))


def _every_unit(session: Session, ids: frozenset[int]) -> bool:
    """Whether subtree `ids` is every unit (a province's whole tree): its stamps are then every unit's,
    read without a list of a thousand ids (each a filter on both tables: 4-5 ms a request)."""
    stamps = _stamps(session)
    if stamps.units is None:
        stamps.units = int(session.scalar(sa.select(sa.func.count(Unit.id))) or 0)
    if len(ids) < stamps.units:
        return False
    if stamps.unit_ids is None:
        stamps.unit_ids = frozenset(session.scalars(sa.select(Unit.id)))
    return ids >= stamps.unit_ids


def data_version(session: Session, ids: set[int] | frozenset[int] | None, first: date, last: date) -> Version:
    """The version of everything a report of subtree `ids` (every unit: None) over first..last reads
    (see the module). Made of per-month stamps, a month's value has the same version whichever window
    of the request read the stamps first."""
    subtree = None if ids is None or _every_unit(session, frozenset(ids)) else frozenset(ids)
    return _settled(session, (tuple(_aggregate_stamps(session, subtree, _months(first, last))),
                              tuple(_left_out_stamps(session, subtree, month_spans(first, last))),
                              _settings_stamp(session)))


def responses_revision(version: Version) -> int:
    """The tallies' revision in a `data_version`, summed over its months: every insert, delete and change
    of a response of its subtree and window moves it (`_left_out_stamps`)."""
    stamps = cast(tuple[tuple[int, int, int, int], ...], version[1])
    return sum(stamp[1] for stamp in stamps)


def settings_of(version: Version) -> Version:
    """The frames, targets and tree stamp of a `data_version` (`settings_version`)."""
    return cast(Version, version[2])


class SharedStore(Protocol):
    """What a cache shared between processes offers (cachelib's BaseCache: files, Redis, ...)."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any: ...


_shared: list[SharedStore | None] = [None]


def share_between_processes(store: SharedStore | None) -> None:
    """Keep the named caches' values in `store` as well (None: in this process only)."""
    _shared[0] = store


Task = Callable[[Session], None]
_later: list[Callable[[Task], None] | None] = [None]


def prepare_later_with(schedule: Callable[[Task], None] | None) -> None:
    """How `prepare_later` runs its tasks (the web app: once the response is sent); None: never."""
    _later[0] = schedule


def prepare_later(task: Task) -> None:
    """Run `task` with a session of its own once the current response has been sent (as the app
    schedules it), or not at all: such a task only reads ahead what a later computation would read
    itself, so no figure ever depends on it."""
    schedule = _later[0]
    if schedule is not None:
        schedule(task)


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


_VERSION = ":version"  # a shared entry's version alone, beside the entry (`VersionedCache._shared_get`)


class VersionedCache(Generic[V]):
    """At most `size` values by key, each valid only for the data version it was stored with; a named
    cache also keeps them in the shared store (`share_between_processes`)."""

    def __init__(self, size: int, name: str | None = None) -> None:
        self.size = size
        self.name = name
        self._entries: dict[tuple[object, ...], tuple[Version, V]] = {}

    def get(self, key: tuple[object, ...], version: Version) -> V | None:
        """The value stored under `key` if it was stored with `version`, else None."""
        if _marked_unsettled(version):  # nothing is ever stored under it
            return None
        hit = self._entries.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        shared = self._shared_get(key, version)
        if shared is not None and shared[0] == version:
            self._keep(key, version, shared[1])
            return shared[1]
        return None

    def held(self, key: tuple[object, ...], version: Version) -> bool:
        """Whether this process holds the value of `key` for `version` (not only the shared store)."""
        hit = self._entries.get(key)
        return hit is not None and hit[0] == version

    def latest(self, key: tuple[object, ...], *, shared_too: bool = True) -> V | None:
        """The value last stored under `key`, whatever its version (None if none): what a computation
        that only redoes what changed starts from (`table_update`). `shared_too`: look in the shared
        store as well when this process has none."""
        hit = self._entries.get(key)
        if hit is not None:
            return hit[1]
        if not shared_too:
            return None
        shared = self._shared_get(key)
        return None if shared is None else shared[1]

    def put(self, key: tuple[object, ...], version: Version, value: V) -> None:
        """Store `value`, first dropping the oldest entry when the cache is full; a value read on
        uncommitted writes (`_marked_unsettled`) is not stored."""
        if _marked_unsettled(version):
            return
        self._keep(key, version, value)
        store, address = _shared[0], self._address(key)
        if store is not None and address is not None:
            try:
                store.set(address, (version, value))
                store.set(address + _VERSION, version)
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

    def _shared_get(self, key: tuple[object, ...],
                    version: Version | None = None) -> tuple[Version, V] | None:
        """The shared store's (version, value) of `key`; with `version`, only if that is the version stored,
        which is read first on its own: after a new response most look-ups find an older version, and a
        province's report is 20 MB to unpickle before its version can be compared."""
        store, address = _shared[0], self._address(key)
        if store is None or address is None:
            return None
        try:
            if version is not None and store.get(address + _VERSION) != version:
                return None
            found = store.get(address)
        except Exception:
            _LOG.warning("shared report cache: could not read %s", self.name, exc_info=True)
            return None
        return found if isinstance(found, tuple) and len(found) == 2 else None
