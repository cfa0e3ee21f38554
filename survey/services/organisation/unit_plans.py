"""What a unit is measured with: instrument assignments (its targets are in `targets`).

Assignments are inherited down the tree (`assignments` in this package): a unit without its own
assignment uses its nearest ancestor's, and the pages show where an inherited one comes from.
Scope checks and audit events as in `survey.services.organisation.units`; functions flush, callers commit.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from instruments.registry import UnknownInstrument, get_registered, list_instruments
from survey.models import InstrumentAssignment, Role, Unit, User
from survey.services.organisation.assignments import assignment_for
from survey.services.organisation.units import UnitRefused
from survey.services.staff import access, audit

# The SIPAS counter survey: what a page that asks for one instrument offers first.
DEFAULT_INSTRUMENT = "sipas-counter@2025.1"


def instrument_keys() -> list[str]:
    """`id@version` of every shipped instrument, the default first (pickers, the assignment form)."""
    return sorted((entry.key for entry in list_instruments()), key=lambda key: key != DEFAULT_INSTRUMENT)


# ---------------------------------------------------------------- assignments


def own_assignments(session: Session, actor: User, unit_id: int, *,
                    now: datetime) -> list[InstrumentAssignment]:
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="assignment.view")
    return list(session.scalars(sa.select(InstrumentAssignment).where(InstrumentAssignment.unit_id == unit.id)
                                .order_by(InstrumentAssignment.opens_on.desc())))


def current_assignment(session: Session, unit: Unit, today: date) -> InstrumentAssignment | None:
    """The assignment in force today, own or inherited (its `unit` says which)."""
    return assignment_for(session, unit, today)


def add_assignment(session: Session, actor: User, unit_id: int, instrument_key: str, *, opens_on: date,
                   closes_on: date | None, now: datetime) -> InstrumentAssignment:
    """Assign a shipped instrument version to a unit (and, by inheritance, to the units below it).

    One unit uses one instrument at a time, so a period overlapping another own assignment is refused.
    """
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="assignment.create")
    instrument_id, _sep, version = (instrument_key or "").partition("@")
    try:
        get_registered(instrument_id, version or None)
    except UnknownInstrument:
        raise UnitRefused(_("Unknown instrument '%(key)s'.", key=instrument_key[:80])) from None
    if closes_on is not None and closes_on < opens_on:
        raise UnitRefused(_("The closing date is before the opening date."))
    overlap = session.scalar(sa.select(InstrumentAssignment.id).where(
        InstrumentAssignment.unit_id == unit.id,
        sa.or_(InstrumentAssignment.closes_on.is_(None), InstrumentAssignment.closes_on >= opens_on),
        *([InstrumentAssignment.opens_on <= closes_on] if closes_on is not None else []),
    ))
    if overlap is not None:
        raise UnitRefused(_("This period overlaps another assignment of this unit: close that one first."))
    assignment = InstrumentAssignment(unit=unit, instrument_id=instrument_id, instrument_version=version,
                                      opens_on=opens_on, closes_on=closes_on)
    session.add(assignment)
    session.flush()
    audit.record(session, actor=actor, action="assignment.create", object_type="instrument_assignment",
                 object_id=str(assignment.id), unit_id=unit.id,
                 detail={"instrument": instrument_key, "opens_on": opens_on.isoformat(),
                         "closes_on": closes_on.isoformat() if closes_on else None}, now=now)
    return assignment


def close_assignment(session: Session, actor: User, unit_id: int, assignment_id: int, *, closes_on: date,
                     now: datetime) -> InstrumentAssignment:
    """End one of the unit's own assignments on `closes_on` (its last day); the row stays, as history."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="assignment.close")
    assignment = session.get(InstrumentAssignment, assignment_id)
    if assignment is None or assignment.unit_id != unit.id:
        raise NotFound()
    if closes_on < assignment.opens_on:
        raise UnitRefused(_("The closing date is before the opening date."))
    assignment.closes_on = closes_on
    session.flush()
    audit.record(session, actor=actor, action="assignment.close", object_type="instrument_assignment",
                 object_id=str(assignment.id), unit_id=assignment.unit_id,
                 detail={"closes_on": closes_on.isoformat()}, now=now)
    return assignment
