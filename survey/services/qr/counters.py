"""Counter life cycle for QR codes: which counters get posters, key rotation and revocation.

Rotation and revocation only flush: the caller (a CLI command now, the manager pages later) commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session

from survey.errors import SurveyError
from survey.models import Counter, Unit
from survey.services.staff.access import subtree_ids


@dataclass(frozen=True)
class KeyChange:
    """What a rotation or revocation did, for the caller to show or write to an audit log."""

    counter_id: int
    old_key_version: int
    key_version: int
    revoked_at: datetime | None
    at: datetime


def is_live(counter: Counter) -> bool:
    """Whether the counter's current code is accepted (the rule `resolve_token` applies)."""
    return counter.active and counter.revoked_at is None


def rotate_key(counter: Counter, now: datetime) -> KeyChange:
    """Retire every code printed so far for `counter`; its new posters carry the next key version.

    A revoked counter cannot be rotated: revocation is final, and a fresh poster for it would never work.
    """
    if counter.revoked_at is not None:
        raise SurveyError(409, "E-COUNTER-REVOKED", _l("This counter's QR code has been revoked."))
    old = counter.key_version
    counter.key_version = old + 1
    _flush(counter)
    return KeyChange(counter.id, old, counter.key_version, None, now)


def revoke(counter: Counter, now: datetime) -> KeyChange:
    """Stop every code of `counter` for good. Revoking again keeps the first revocation time."""
    if counter.revoked_at is None:
        counter.revoked_at = now
        _flush(counter)
    return KeyChange(counter.id, counter.key_version, counter.key_version, counter.revoked_at, now)


def live_counters_under(session: Session, unit: Unit) -> list[Counter]:
    """Live counters of `unit` and of every unit below it (a commune's service points), in print order."""
    query = (
        sa.select(Counter)
        .join(Unit, Counter.unit_id == Unit.id)
        .where(Counter.unit_id.in_(subtree_ids(session, [unit.id])), Counter.active.is_(True),
               Counter.revoked_at.is_(None))
        .order_by(Unit.code, Counter.code)
    )
    return list(session.scalars(query))


def _flush(counter: Counter) -> None:
    session = object_session(counter)
    if session is None:
        raise ValueError(f"{counter!r} is not attached to a session")
    session.flush()
