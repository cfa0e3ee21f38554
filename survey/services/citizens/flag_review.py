"""Managers' review of flagged responses: list them with their reasons, reinstate or confirm each.

Reinstating makes a flagged response count in the indices again (status `valid`); confirming keeps it
out for good (status `excluded`). The reason codes stay on the row, and every decision is an audit
event carrying the reason and the decision, written in the same transaction (flush, never commit).
Only a response still `flagged` can be decided: a second decision is refused, not silently applied.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Counter, Response, ResponseStatus, SubmissionRefusal, Unit, User
from survey.services.reporting.aggregates import count_response
from survey.services.staff.audit import record

MAX_LISTED = 500


class Decision(StrEnum):
    REINSTATE = "reinstate"
    CONFIRM = "confirm"


DECIDED_STATUS = {Decision.REINSTATE: ResponseStatus.VALID, Decision.CONFIRM: ResponseStatus.EXCLUDED}


class AlreadyDecided(Exception):
    """The response is no longer flagged: someone decided it already."""


@dataclass(frozen=True)
class FlaggedRow:
    response_id: int
    unit_id: int
    unit_code: str
    unit_name_vi: str
    unit_name_en: str
    counter_code: str | None
    submitted_at: datetime
    status_reason: str | None
    instrument_key: str  # id@version: the index a reinstated response would enter


def flagged_responses(session: Session, unit_ids: Collection[int], start: datetime, end: datetime
                      ) -> list[FlaggedRow]:
    """Responses still `flagged` in `unit_ids`, submitted in [start, end), newest first (at most 500)."""
    rows = session.execute(
        sa.select(Response.id, Unit.id, Unit.code, Unit.name_vi, Unit.name_en, Counter.code,
                  Response.submitted_at, Response.status_reason,
                  Response.instrument_id + "@" + Response.instrument_version)
        .join(Unit, Unit.id == Response.unit_id).outerjoin(Counter, Counter.id == Response.counter_id)
        .where(Response.status == ResponseStatus.FLAGGED, Response.unit_id.in_(list(unit_ids)),
               Response.submitted_at >= start, Response.submitted_at < end)
        .order_by(Response.submitted_at.desc(), Response.id.desc()).limit(MAX_LISTED))
    return [FlaggedRow(*row) for row in rows]


def flagged_counts(session: Session, unit_ids: Collection[int], start: datetime, end: datetime,
                   instrument_id: str, instrument_version: str) -> dict[int, int]:
    """Unit id -> responses to that instrument version still `flagged` there (the unit itself, not its
    descendants) in [start, end): those a review could bring into its index."""
    rows = session.execute(
        sa.select(Response.unit_id, sa.func.count())
        .where(Response.status == ResponseStatus.FLAGGED, Response.unit_id.in_(list(unit_ids)),
               Response.instrument_id == instrument_id, Response.instrument_version == instrument_version,
               Response.submitted_at >= start, Response.submitted_at < end)
        .group_by(Response.unit_id))
    return {unit_id: int(n) for unit_id, n in rows}


def refusal_counts(session: Session, unit_ids: Collection[int], first: date, last: date
                   ) -> list[tuple[str, str, str, int]]:
    """(unit code, counter code, limit name, submissions refused) on local days first..last."""
    rows = session.execute(
        sa.select(Unit.code, Counter.code, SubmissionRefusal.limit_name,
                  sa.func.sum(SubmissionRefusal.refused))
        .join(Counter, Counter.id == SubmissionRefusal.counter_id).join(Unit, Unit.id == Counter.unit_id)
        .where(Counter.unit_id.in_(list(unit_ids)), SubmissionRefusal.day >= first,
               SubmissionRefusal.day <= last)
        .group_by(Unit.code, Counter.code, SubmissionRefusal.limit_name)
        .order_by(Unit.code, Counter.code, SubmissionRefusal.limit_name))
    return [(unit, counter, name, int(n)) for unit, counter, name, n in rows]


def decide(session: Session, response: Response, decision: Decision, *, actor: User, note: str,
           now: datetime) -> None:
    """Reinstate or confirm a flagged response, with an audit event; AlreadyDecided if not flagged.

    The caller has checked that `actor` may see the response's unit.
    """
    if response.status is not ResponseStatus.FLAGGED:
        raise AlreadyDecided(response.id)
    response.status = DECIDED_STATUS[decision]
    count_response(session, response)  # a reinstated response enters the dashboard's sums
    record(session, actor=actor, action=f"response.{decision.value}", object_type="response",
           object_id=response.id, unit_id=response.unit_id,
           detail={"reason": response.status_reason or "", "note": note}, now=now)
