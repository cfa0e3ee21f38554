"""Per-process caches of index results, kept only while the data they were computed from is unchanged.

A cached value is stored with a fingerprint of the responses, frames and targets it read; a look-up
with a different fingerprint is a miss, so a new response, frame row or target is seen at once without
any explicit invalidation. Each cache is bounded and drops its oldest entry first.
"""

from __future__ import annotations

from datetime import date
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.local_time import utc_bounds
from survey.models import Response, ResponseStatus, ServedCount, Target

V = TypeVar("V")


def data_fingerprint(session: Session, ids: set[int], first: date, last: date) -> tuple[object, ...]:
    """Moves whenever responses, frames or targets that a report reads change."""
    start, end = utc_bounds(first, last)
    responses = session.execute(
        sa.select(sa.func.count(), sa.func.max(Response.id),
                  sa.func.sum(sa.case((Response.status == ResponseStatus.VALID, 1), else_=0)),
                  # a flagged response confirmed as excluded moves neither count: the excluded list must
                  sa.func.sum(sa.case((Response.status == ResponseStatus.EXCLUDED, 1), else_=0)))
        .where(Response.unit_id.in_(ids), Response.submitted_at >= start, Response.submitted_at < end)).one()
    frames = session.execute(sa.select(sa.func.count(), sa.func.max(ServedCount.id),
                                       sa.func.sum(ServedCount.served))).one()
    targets = session.execute(sa.select(sa.func.count(), sa.func.max(Target.id),
                                        sa.func.sum(Target.target))).one()
    return (*responses, *frames, *targets)


class FingerprintCache(Generic[V]):
    """At most `size` values by key, each valid only for the fingerprint it was stored with."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[tuple[object, ...], tuple[tuple[object, ...], V]] = {}

    def get(self, key: tuple[object, ...], fingerprint: tuple[object, ...]) -> V | None:
        """The value stored under `key` if it was stored with `fingerprint`, else None."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] == fingerprint:
            return hit[1]
        return None

    def put(self, key: tuple[object, ...], fingerprint: tuple[object, ...], value: V) -> None:
        """Store `value`, first dropping the oldest entry when the cache is full."""
        if len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (fingerprint, value)
