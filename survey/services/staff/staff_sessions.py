"""Server-side staff sessions: the cookie holds a random id, the database only its SHA-256.

Flask-Login alone keeps the login in a signed cookie that stays valid after logout if someone copied
it (docs/bad-input.md, pitfall P4). Here every request looks the row up; logout, an admin, a deactivation,
the idle limit (30 min) or the absolute limit (12 h) ends it for every copy of the cookie.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import StaffSession, User
from survey.services.staff.audit import engine_of

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at precision: one write a minute, not one per request


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(session: Session, user: User, *, now: datetime,
          second_factor_done: bool) -> tuple[str, StaffSession]:
    """Open a session for `user`; return the token for the cookie (shown nowhere else) and the row."""
    token = secrets.token_urlsafe(32)
    row = StaffSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
                       second_factor_done=second_factor_done)
    session.add(row)
    session.flush()
    return token, row


def find_live(session: Session, token: str, *, now: datetime, lifetime: Lifetime) -> StaffSession | None:
    """The session behind `token` if it is neither revoked, idle too long, past its absolute limit,
    nor owned by a deactivated account."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(sa.select(StaffSession).where(StaffSession.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if now - row.last_seen_at > lifetime.idle or now - row.created_at > lifetime.absolute:
        return None
    return row


def needs_touch(row: StaffSession, now: datetime) -> bool:
    return now - row.last_seen_at >= TOUCH_EVERY


def touch_independently(session: Session, row: StaffSession, now: datetime) -> None:
    """Move last_seen_at forward in its own tiny transaction, so a GET page needs no commit and a
    failing request still counts as activity."""
    try:
        with engine_of(session).connect() as conn:
            conn.execute(sa.update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now))
            conn.commit()
    except sa.exc.OperationalError:
        # Best effort: if this request already holds SQLite's write lock, the next request touches.
        log.warning("could not record staff session activity", exc_info=True)
        return
    sa.orm.attributes.set_committed_value(row, "last_seen_at", now)


def revoke(row: StaffSession, *, now: datetime) -> None:
    if row.revoked_at is None:
        row.revoked_at = now


def revoke_all(session: Session, user: User, *, now: datetime) -> int:
    """Revoke every live session of `user` (admin action, deactivation, password change); return how many."""
    result = session.execute(
        sa.update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session="fetch")
    )
    # a DML statement's result is a CursorResult (it has rowcount); Session.execute is typed Result
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune(session: Session, *, now: datetime, keep: timedelta) -> int:
    """Delete sessions revoked, or last seen, more than `keep` ago (long dead: the idle limit is
    minutes). Returns how many; the audit log keeps the sign-ins themselves."""
    cutoff = now - keep
    result = session.execute(
        sa.delete(StaffSession)
        .where(sa.or_(StaffSession.revoked_at < cutoff, StaffSession.last_seen_at < cutoff))
        .execution_options(synchronize_session=False)
    )
    # a DML statement's result is a CursorResult (it has rowcount); Session.execute is typed Result
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
