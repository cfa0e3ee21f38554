"""Which instrument a unit uses on a day, inherited from the nearest ancestor; the tree walk up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import InstrumentAssignment, Unit


def ancestors_and_self(unit: Unit) -> Iterator[Unit]:
    """`unit`, its parent, and so on up to the root."""
    node: Unit | None = unit
    seen: set[int] = set()
    while node is not None and node.id not in seen:  # a cycle would be a data error; never loop forever
        seen.add(node.id)
        yield node
        node = node.parent


def assignment_for(session: Session, unit: Unit, day: date) -> InstrumentAssignment | None:
    """The assignment open on `day` for `unit`, or for its nearest ancestor that has one."""
    for node in ancestors_and_self(unit):
        found = session.scalars(
            sa.select(InstrumentAssignment)
            .where(InstrumentAssignment.unit_id == node.id, InstrumentAssignment.opens_on <= day,
                   sa.or_(InstrumentAssignment.closes_on.is_(None), InstrumentAssignment.closes_on >= day))
            .order_by(InstrumentAssignment.opens_on.desc(), InstrumentAssignment.id.desc())
        ).first()
        if found is not None:
            return found
    return None
