"""Submission limits that bind across workers and processes (docs/integrity.md, "Limits").

A submission is counted against up to four limits, each per counter and in fixed windows:

- `browser`: one browser, known by the signed first-party cookie issued with the form;
- `kiosk`: a registered counter tablet (survey.services.organisation.kiosks), which serves many
  citizens: its own allowance, keyed on the device, in place of `browser`. `?mode=kiosk` alone, or
  the URL of a revoked tablet, claims nothing: such a browser is counted as a phone;
- `cookieless`: one address sending without that cookie (a script, or a browser refusing cookies);
- `address`: one address, cookie or not; generous, because a centre's Wi-Fi or a carrier's NAT puts
  many honest citizens behind one address;
- `counter`: the counter as a whole, a last resort far above what a desk can serve (a flood well below
  it is flagged, not refused: `counter_flag_from`).

Client keys are HMACs under a key derived from SECRET_KEY and the UTC day (`survey.ratelimit.keyed`):
the store never holds an address or a cookie value, and yesterday's keys cannot be linked to today's.
The limits are hit from the client's own to the counter's, stopping at the first one exceeded, so a
refused client never uses up the counter's allowance for the honest citizens behind it.

The store is a database table by default (`SqlLimitStore`, one atomic multi-row UPSERT for a
submission's hits on SQLite and PostgreSQL, written in the request's transaction) or any `limits` storage URI (`redis://…`).
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import sqlalchemy as sa
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from survey.client_address import parse_client_ip
from survey.models import Counter, SubmissionHit, SubmissionRefusal, Unit
from survey.ratelimit import UNKNOWN_ADDRESS, keyed

LIMIT_ORDER = ("browser", "kiosk", "cookieless", "address", "counter")
DATABASE_STORE = "database"

# Every setting a counter can override, with its default (config SUBMISSION_RULES overrides these,
# SUBMISSION_RULES_BY_UNIT overrides those per unit code or "UNIT/COUNTER").
DEFAULT_RULES: Mapping[str, Any] = {
    "browser_limit": "3 per hour",
    # A registered counter tablet is one device for every citizen at the desk: its own allowance,
    # keyed on the device (not on a cookie or a query argument anyone can send), and no `device` flag.
    "kiosk_limit": "60 per hour",
    "cookieless_limit": "6 per 10 minutes",
    "address_limit": "120 per 10 minutes",
    # The counter as a whole: a hard cap that only protects the database (20 a second for ten minutes).
    # Refusing a counter refuses its honest citizens with the attacker, so well below the cap a flood is
    # flagged instead (`counter_flag_from`): stored, left out of the index, reviewable.
    "counter_limit": "12000 per 10 minutes",
    # Plausibility flags (survey.services.citizens.plausibility): the n-th submission in the limit's
    # window is flagged from these counts on, and so is one arriving when this many others came
    # to the counter in the last minute.
    "browser_flag_from": 2,
    "cookieless_flag_from": 3,
    "address_flag_from": 40,
    "counter_flag_from": 1200,  # the n-th submission in the counter's window and later: flagged `burst`
    "burst_per_minute": 4,
    "repeat_run": 4,  # this many identical answer vectors in a row at one counter
    "repeat_min_answers": 5,  # ... each with at least this many coded answers (a 3-button rating repeats)
    # A response sent later than this after the counter closes is flagged `after_hours`: a citizen
    # served at closing time answers on the way out, or on the bus home.
    "after_hours_grace_minutes": 30,
}


@dataclass(frozen=True)
class CounterRules:
    """The limits and thresholds in force at one counter."""

    limits: Mapping[str, RateLimitItem]
    thresholds: Mapping[str, int]

    def threshold(self, name: str) -> int:
        return self.thresholds[name]


def rules_for(counter: Counter, config: Mapping[str, Any]) -> CounterRules:
    """Defaults, then SUBMISSION_RULES, then SUBMISSION_RULES_BY_UNIT from the root unit down to the
    counter's unit, then the "UNIT/COUNTER" entry: the nearest setting wins."""
    return rules_at(counter.unit, config, counter.code)


def rules_at(at: Unit, config: Mapping[str, Any], counter_code: str | None = None) -> CounterRules:
    """The rules `rules_for` gives a counter of `at` (coded `counter_code`, or without an entry of its
    own), e.g. to show a unit's managers the grace after closing that applies there."""
    merged = {**DEFAULT_RULES, **config.get("SUBMISSION_RULES", {})}
    by_unit: Mapping[str, Mapping[str, Any]] = config.get("SUBMISSION_RULES_BY_UNIT", {})
    if by_unit:  # walking up loads each ancestor: only worth it when some unit has its own rules
        chain: list[Unit] = []
        unit: Unit | None = at
        while unit is not None and len(chain) < 32:
            chain.append(unit)
            unit = unit.parent
        for unit in reversed(chain):
            merged.update(by_unit.get(unit.code, {}))
        if counter_code is not None:
            merged.update(by_unit.get(f"{at.code}/{counter_code}", {}))
    return parse_rules(merged)


def parse_rules(settings: Mapping[str, Any]) -> CounterRules:
    """Parse and check a merged rule set; ValueError naming the setting when one is wrong."""
    unknown = set(settings) - set(DEFAULT_RULES)
    if unknown:
        raise ValueError(f"unknown submission rule(s): {', '.join(sorted(unknown))}")
    limits: dict[str, RateLimitItem] = {}
    thresholds: dict[str, int] = {}
    for name, value in settings.items():
        if name.endswith("_limit"):
            try:
                limits[name.removesuffix("_limit")] = parse(str(value))
            except ValueError as error:
                raise ValueError(f"submission rule {name}: {value!r} is not a limit like "
                                 f"'3 per hour'") from error
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"submission rule {name}: {value!r} is not a whole number ≥ 1")
        else:
            thresholds[name] = value
    return CounterRules(limits, thresholds)


def check_rule_config(config: Mapping[str, Any]) -> None:
    """Fail at start-up, not at a citizen's submission, when a configured rule is malformed."""
    parse_rules({**DEFAULT_RULES, **config.get("SUBMISSION_RULES", {})})
    for where, rules in config.get("SUBMISSION_RULES_BY_UNIT", {}).items():
        try:
            parse_rules({**DEFAULT_RULES, **rules})
        except ValueError as error:
            raise ValueError(f"SUBMISSION_RULES_BY_UNIT[{where!r}]: {error}") from None


def client_network(address: str | None) -> str:
    """What identifies a client's connection: the IPv4 address, or the IPv6 /64 (one subscriber's
    prefix, inside which a host can pick any address)."""
    ip = parse_client_ip(address)
    if ip is None:
        return UNKNOWN_ADDRESS
    if ip.version == 4:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


@dataclass(frozen=True)
class Client:
    """A submitting client as the limits see it: keyed hashes only."""

    address_hash: str
    browser_hash: str | None  # None: no valid browser cookie came with the form
    kiosk_hash: str | None = None  # a registered, unrevoked tablet of this counter sent the form

    @classmethod
    def of(cls, address: str | None, browser_id: str | None, *, secret: str, day: str,
           kiosk_device_id: int | None = None) -> Client:
        """`kiosk_device_id`: the registered tablet the form came through, only once the caller has
        checked its signed token and that it is neither revoked nor another counter's."""
        browser = keyed("submit-browser", browser_id, secret=secret, day=day) if browser_id else None
        kiosk = (keyed("submit-kiosk", str(kiosk_device_id), secret=secret, day=day)
                 if kiosk_device_id is not None else None)
        return cls(keyed("submit-address", client_network(address), secret=secret, day=day), browser, kiosk)


def limit_keys(client: Client, counter_id: int) -> dict[str, str]:
    """The bucket each limit counts this submission in, in `LIMIT_ORDER`."""
    keys = {}
    if client.kiosk_hash is not None:  # the device, whatever cookie its browser holds
        keys["kiosk"] = f"k:{client.kiosk_hash}:{counter_id}"
    elif client.browser_hash is not None:
        keys["browser"] = f"b:{client.browser_hash}:{counter_id}"
    else:
        keys["cookieless"] = f"n:{client.address_hash}:{counter_id}"
    keys["address"] = f"a:{client.address_hash}:{counter_id}"
    keys["counter"] = f"c:{counter_id}"
    return keys


class LimitStore(Protocol):
    def hit_in_order(self, hits: Sequence[tuple[str, RateLimitItem]], now: float) -> list[int]:
        """Count one submission in each `(key, limit)`'s current window, in order, stopping after the
        first whose count exceeds its limit; return the counts of those hit."""
        ...


def _first_exceeded(counts: Sequence[int], hits: Sequence[tuple[str, RateLimitItem]]) -> int | None:
    return next((index for index, (count, (_, limit)) in enumerate(zip(counts, hits, strict=False))
                 if count > limit.amount), None)


def window_of(limit: RateLimitItem, now: float) -> tuple[int, int]:
    """(start, end) in UNIX seconds of the fixed window of `limit` holding `now`."""
    length = limit.get_expiry()
    start = math.floor(now / length) * length
    return start, start + length


class SqlLimitStore:
    """Counts in the `submission_hits` table, inside the caller's transaction (flushed, not committed).

    The UPSERT increments and returns the count in one statement: two workers or two processes
    hitting the same key serialise on the row (PostgreSQL) or the database write lock (SQLite).
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def hit_in_order(self, hits: Sequence[tuple[str, RateLimitItem]], now: float) -> list[int]:
        """One multi-row UPSERT for every hit (a statement per limit was most of a submission's
        database time); the limits after the first exceeded are then taken back, as if never hit:
        decremented, or deleted where this hit had created the row. The transaction holds the rows
        until it ends, so no other submission sees the counts taken back."""
        if not hits:
            return []
        table = cast(sa.Table, SubmissionHit.__table__)
        rows = []
        for key, limit in hits:
            start, end = window_of(limit, now)
            rows.append({"key": _bucket(key, limit), "window_start": start, "hits": 1, "expires_at": end})
        _upsert_dialect(self.session)
        parameters = {f"{name}{index}": row[column] for index, row in enumerate(rows)
                      for name, column in (("key", "key"), ("start", "window_start"), ("end", "expires_at"))}
        by_bucket = {key: int(count) for key, count
                     in self.session.execute(_upsert_hits(len(rows)), parameters).all()}
        counts = [by_bucket[row["key"]] for row in rows]
        # A new window of the last limit (the counter's, which every submission there hits): the
        # moment to sweep the windows that have ended (indexed). Not at every new row: each new
        # browser starts one, so that would be a statement on nearly every submission.
        if counts[-1] == 1:
            self.session.execute(sa.delete(SubmissionHit).where(SubmissionHit.expires_at <= now))
        exceeded = _first_exceeded(counts, hits)
        if exceeded is None:
            return counts
        for row, count in zip(rows[exceeded + 1:], counts[exceeded + 1:], strict=True):
            where = (table.c.key == row["key"]) & (table.c.window_start == row["window_start"])
            self.session.execute(sa.delete(table).where(where) if count == 1
                                 else sa.update(table).where(where).values(hits=table.c.hits - 1))
        return counts[:exceeded + 1]


@functools.cache
def _upsert_hits(rows: int) -> sa.TextClause:
    """The UPSERT of `rows` hits, in the syntax SQLite and PostgreSQL share. Written as text because
    SQLAlchemy compiles a multi-row INSERT afresh at every execution (it cannot cache it), which
    cost as much CPU as the rest of the submission's limits; a text statement is compiled once."""
    values = ", ".join(f"(:key{index}, :start{index}, 1, :end{index})" for index in range(rows))
    return sa.text(f'INSERT INTO {SubmissionHit.__tablename__} ("key", window_start, hits, expires_at) '
                   f'VALUES {values} ON CONFLICT ("key", window_start) DO UPDATE SET '
                   f'hits = {SubmissionHit.__tablename__}.hits + 1 RETURNING "key", hits')


def _insert(session: Session, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    """The dialect's INSERT with ON CONFLICT (an UPSERT): SQLite and PostgreSQL only."""
    return sqlite.insert(table) if _upsert_dialect(session) == "sqlite" else postgresql.insert(table)


def _upsert_dialect(session: Session) -> str:
    """The session's database, which must know INSERT ... ON CONFLICT: SQLite or PostgreSQL."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise RuntimeError(f"the database limit store supports SQLite and PostgreSQL, not {dialect}")
    return dialect


class StorageLimitStore:
    """Counts in a `limits` storage (Redis in production; memory in tests): shared by every worker
    that points at the same server, independent of the database transaction."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def hit_in_order(self, hits: Sequence[tuple[str, RateLimitItem]], now: float) -> list[int]:
        counts: list[int] = []
        for key, limit in hits:
            start, _ = window_of(limit, now)
            counts.append(int(self.storage.incr(f"hailong/{limit.key_for(key)}/{start}", limit.get_expiry())))
            if counts[-1] > limit.amount:
                break
        return counts


def _bucket(key: str, limit: RateLimitItem) -> str:
    """A limit's row key: a changed limit counts afresh rather than against the old one's hits."""
    return f"{key}/{limit.amount}/{limit.get_expiry()}"


_STORAGES: dict[str, Storage] = {}


def store_for(uri: str, session: Session) -> LimitStore:
    """The store configured by SUBMISSION_LIMIT_STORAGE: "database" or a `limits` storage URI."""
    if uri == DATABASE_STORE:
        return SqlLimitStore(session)
    if uri not in _STORAGES:
        _STORAGES[uri] = cast(Storage, storage_from_string(uri))
    return StorageLimitStore(_STORAGES[uri])


@dataclass(frozen=True)
class LimitCheck:
    """Counts per limit after this submission, and the limit that refused it (None: accepted)."""

    counts: Mapping[str, int]
    refused_by: str | None = None
    retry_after: int = 0


def apply_limits(store: LimitStore, client: Client, counter_id: int, rules: CounterRules,
                 now: float) -> LimitCheck:
    """Hit the limits from the client's own to the counter's; stop at the first one exceeded."""
    names = list(limit_keys(client, counter_id).items())
    hits = [(key, rules.limits[name]) for name, key in names]
    counts = dict(zip((name for name, _ in names), store.hit_in_order(hits, now), strict=False))
    exceeded = _first_exceeded(list(counts.values()), hits)
    if exceeded is not None:
        name, (_, limit) = names[exceeded][0], hits[exceeded]
        _, end = window_of(limit, now)
        return LimitCheck(counts, name, max(1, math.ceil(end - now)))
    return LimitCheck(counts)


def count_refusal(session: Session, counter_id: int, day: Any, limit_name: str) -> None:
    """Add one to the counter's refusals by this limit on `day` (flush, never commit)."""
    table = cast(sa.Table, SubmissionRefusal.__table__)
    values = {"counter_id": counter_id, "day": day, "limit_name": limit_name, "refused": 1}
    session.execute(_insert(session, table).values(**values)
                    .on_conflict_do_update(index_elements=["counter_id", "day", "limit_name"],
                                           set_={"refused": table.c.refused + 1}))
