"""What a unit is measured with and against: instrument assignments and yearly targets.

Both are inherited down the tree (`assignments` in this package): a unit without its own assignment or
target uses its nearest ancestor's, and the pages show where an inherited value comes from.
Scope checks and audit events as in `survey.services.organisation.units`; functions flush, callers commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from instruments.registry import UnknownInstrument, get_registered, list_instruments
from survey.models import InstrumentAssignment, Role, Target, Unit, User
from survey.services.organisation.assignments import ancestors_and_self, assignment_for
from survey.services.organisation.units import UnitRefused
from survey.services.staff import access, audit

_TARGET_TEXT = re.compile(r"(\d+(?:[.,]\d+)?)\s*(%?)")


@dataclass(frozen=True)
class EffectiveTarget:
    """The target that applies to a unit, and where it comes from (`source` None = the default)."""

    instrument_id: str
    year: int
    value: float
    source: Unit | None
    own: bool


def instrument_keys() -> list[str]:
    """`id@version` of every shipped instrument, for the assignment form."""
    return [entry.key for entry in list_instruments()]


def parse_target(text: str) -> float:
    """Read a target typed by a person: "80", "80%", "80 %", "0.8" and "85,5" (Vietnamese decimal comma).

    A number with '%' or above 1 is a percentage; otherwise a share. The result must lie in (0, 1].
    """
    match = _TARGET_TEXT.fullmatch((text or "").strip())
    if match is None:
        raise UnitRefused(_("Enter the target as a percentage (%(percent)s) or a share (%(share)s).",
                            percent="80, 80%", share="0.8"))
    try:
        number = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise UnitRefused(_("Enter the target as a percentage (%(percent)s) or a share (%(share)s).",
                            percent="80, 80%", share="0.8")) from None
    share = number / 100 if match.group(2) or number > 1 else number
    if not 0 < share <= 1:
        raise UnitRefused(_("The target must be above 0 and at most %(max)s.", max="100%"))
    return float(round(share, 4))


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


# ---------------------------------------------------------------- targets


def effective_target(session: Session, unit: Unit, instrument_id: str, year: int,
                     default: float) -> EffectiveTarget:
    """The target for `unit`, or its nearest ancestor's, or `default`; with the unit it comes from."""
    for node in ancestors_and_self(unit):
        value = session.scalar(sa.select(Target.target).where(
            Target.unit_id == node.id, Target.instrument_id == instrument_id, Target.year == year))
        if value is not None:
            return EffectiveTarget(instrument_id, year, float(value), node, node.id == unit.id)
    return EffectiveTarget(instrument_id, year, default, None, False)


def set_target(session: Session, actor: User, unit_id: int, instrument_id: str, year: int, text: str, *,
               now: datetime) -> Target:
    """Set (or change) the unit's own target; it then applies to every unit below that has none."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="target.set")
    if instrument_id not in {entry.instrument.id for entry in list_instruments()}:
        raise UnitRefused(_("Unknown instrument '%(key)s'.", key=instrument_id[:80]))
    if not 2000 <= year <= 2100:
        raise UnitRefused(_("The year must lie between 2000 and 2100."))
    value = parse_target(text)
    target = _own_target(session, unit.id, instrument_id, year)
    before = target.target if target is not None else None
    if target is None:
        target = Target(unit_id=unit.id, instrument_id=instrument_id, year=year, target=value)
        session.add(target)
    else:
        target.target = value
    session.flush()
    audit.record(session, actor=actor, action="target.set", object_type="target", object_id=str(target.id),
                 unit_id=unit.id, detail={"instrument_id": instrument_id, "year": year, "before": before,
                                          "target": value}, now=now)
    return target


def clear_target(session: Session, actor: User, unit_id: int, instrument_id: str, year: int, *,
                 now: datetime) -> None:
    """Drop the unit's own target so that it inherits again (the audit event keeps the old value)."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="target.clear")
    target = _own_target(session, unit.id, instrument_id, year)
    if target is None:
        return
    session.delete(target)
    session.flush()
    audit.record(session, actor=actor, action="target.clear", object_type="target", object_id=str(target.id),
                 unit_id=unit.id, detail={"instrument_id": instrument_id, "year": year,
                                          "before": target.target}, now=now)


def _own_target(session: Session, unit_id: int, instrument_id: str, year: int) -> Target | None:
    return session.scalar(sa.select(Target).where(
        Target.unit_id == unit_id, Target.instrument_id == instrument_id, Target.year == year))
