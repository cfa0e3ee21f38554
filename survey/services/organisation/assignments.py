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
    # One query for the whole line of ancestors (it runs on every citizen's GET and POST), then the
    # nearest unit wins; within a unit the latest opening, then the latest row.
    depth = {node.id: level for level, node in enumerate(ancestors_and_self(unit))}
    candidates = session.scalars(
        sa.select(InstrumentAssignment)
        .where(InstrumentAssignment.unit_id.in_(depth), InstrumentAssignment.opens_on <= day,
               sa.or_(InstrumentAssignment.closes_on.is_(None), InstrumentAssignment.closes_on >= day))
    ).all()
    return min(candidates, key=lambda a: (depth[a.unit_id], -a.opens_on.toordinal(), -a.id), default=None)
