"""Reading the audit log: filtered, paginated and exported, scoped like every other page.

An admin reads every event. A manager reads the events about units in their subtrees (`unit_id` set
and visible); events about no unit (sign-ins, accounts, sessions) are for admins only, since they
concern people, not units. The log stays append-only: nothing here writes to it except the audit of
an export itself (`audit.export`), which the caller records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.local_time import utc_bounds
from survey.models import AuditEvent, Role, Unit, User
from survey.services.staff import access

PER_PAGE = 50
EXPORT_LIMIT = 100_000  # rows in one CSV; narrow the filters for more


@dataclass(frozen=True)
class AuditFilter:
    """What the viewer's form asks for; empty fields do not filter. Days are local (Vietnam) days."""

    who: str = ""  # a username, exact (case-insensitive)
    unit_id: int | None = None  # this unit and every unit below it
    action: str = ""  # an action ("target.set") or a family ending in "." ("target.")
    first: date | None = None
    last: date | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str  # username; "" for the system (a CLI command)
    action: str
    object_type: str
    object_id: str
    unit_code: str
    unit_name_vi: str
    unit_name_en: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    pages: int


def _scoped(session: Session, actor: User, filters: AuditFilter,
            now: datetime) -> sa.Select[AuditEvent, str, str, str, str]:
    access.require_role(actor, Role.ADMIN, Role.MANAGER, now=now)
    query = (sa.select(AuditEvent, User.username, Unit.code, Unit.name_vi, Unit.name_en)
             .outerjoin(User, User.id == AuditEvent.actor_id).outerjoin(Unit, Unit.id == AuditEvent.unit_id))
    if actor.role != Role.ADMIN:
        query = query.where(AuditEvent.unit_id.in_(sorted(access.visible_unit_ids(session, actor))))
    if filters.unit_id is not None:
        unit = access.unit_or_404(session, actor, filters.unit_id, now=now, action="audit.view")
        query = query.where(AuditEvent.unit_id.in_(sorted(access.subtree_ids(session, [unit.id]))))
    if filters.who:
        query = query.where(sa.func.lower(User.username) == filters.who.strip().lower())
    if filters.action.endswith("."):
        query = query.where(AuditEvent.action.startswith(filters.action, autoescape=True))
    elif filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.first is not None:
        query = query.where(AuditEvent.at >= utc_bounds(filters.first, filters.first)[0])
    if filters.last is not None:
        query = query.where(AuditEvent.at < utc_bounds(filters.last, filters.last)[1])
    return query


def _row(event: AuditEvent, username: str | None, code: str | None, name_vi: str | None,
         name_en: str | None) -> AuditRow:
    try:
        detail = json.loads(event.detail) if event.detail else {}
    except ValueError:  # written by this app as JSON; an old or hand-made row is shown as text
        detail = {"text": event.detail}
    return AuditRow(event.id, event.at, username or "", event.action, event.object_type, event.object_id,
                    code or "", name_vi or "", name_en or name_vi or "",
                    detail if isinstance(detail, dict) else {"value": detail})


def audit_page(session: Session, actor: User, filters: AuditFilter, *, page: int, now: datetime,
               per_page: int = PER_PAGE) -> AuditPage:
    """One page of the events `actor` may read that match `filters`, newest first."""
    query = _scoped(session, actor, filters, now)
    total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    found = session.execute(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)).all()
    return AuditPage([_row(*r) for r in found], total, page, pages)


def audit_export(session: Session, actor: User, filters: AuditFilter, *, now: datetime,
                 limit: int = EXPORT_LIMIT) -> list[AuditRow]:
    """Every matching event (at most `limit`), oldest first, for the CSV."""
    query = _scoped(session, actor, filters, now).order_by(AuditEvent.at, AuditEvent.id).limit(limit)
    return [_row(*r) for r in session.execute(query).all()]


def action_names(session: Session, actor: User, *, now: datetime) -> list[str]:
    """The distinct actions among the events `actor` may read, for the filter's list."""
    scoped = _scoped(session, actor, AuditFilter(), now).subquery()
    return sorted(session.scalars(sa.select(scoped.c.action).distinct()))
