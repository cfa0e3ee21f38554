"""The audit log: who did what to which object, and every denied access. Append-only.

`record` adds an event to the caller's session (flush, never commit: the view commits once, so the
event lands with the change it describes, or not at all). `record_independently` is for denials only:
the request is about to fail, its transaction will never commit, yet the refusal must be kept.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import AuditEvent, User

log = logging.getLogger(__name__)

_MAX_OBJECT_ID = 80  # AuditEvent.object_id length


def record(session: Session, *, actor: User | None, action: str, object_type: str = "",
           object_id: str | int = "", unit_id: int | None = None,
           detail: Mapping[str, object] | None = None, now: datetime) -> AuditEvent:
    """Add an audit event (actor None = the system, e.g. a CLI command). Never pass secrets or PII in
    `detail`: no passwords, tokens, TOTP secrets, IP addresses, citizens' answers."""
    event = _event(actor_id=actor.id if actor is not None else None, action=action,
                   object_type=object_type, object_id=object_id, unit_id=unit_id, detail=detail, now=now)
    session.add(event)
    session.flush()
    return event


def record_independently(session: Session, *, actor: User | None, action: str, object_type: str = "",
                         object_id: str | int = "", unit_id: int | None = None,
                         detail: Mapping[str, object] | None = None, now: datetime) -> None:
    """Record and commit an event in its own short transaction on the same database.

    Used for refusals (`access.denied`, `role.denied`): the view raises, so its single commit never
    happens, but a denial that is not kept cannot be investigated. Call it before the request writes
    anything (a lookup comes first anyway): on SQLite a second writer would wait behind the request's
    own uncommitted write. A failure to write is logged, never turned into a 500 or an allowed access.
    """
    event = _event(actor_id=actor.id if actor is not None else None, action=action,
                   object_type=object_type, object_id=object_id, unit_id=unit_id, detail=detail, now=now)
    try:
        with Session(bind=engine_of(session)) as own, own.begin():
            own.add(event)
    except sa.exc.SQLAlchemyError:
        log.exception("could not record audit event %s", action)


def engine_of(session: Session) -> sa.Engine:
    """The engine behind a session: a new connection from it is a separate transaction."""
    bind = session.get_bind()
    return bind if isinstance(bind, sa.Engine) else bind.engine


def _event(*, actor_id: int | None, action: str, object_type: str, object_id: str | int,
           unit_id: int | None, detail: Mapping[str, object] | None, now: datetime) -> AuditEvent:
    return AuditEvent(
        at=now, actor_id=actor_id, action=action, object_type=object_type,
        object_id=str(object_id)[:_MAX_OBJECT_ID], unit_id=unit_id,
        detail=json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str) if detail else "",
    )
