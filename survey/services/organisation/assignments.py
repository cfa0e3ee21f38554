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


def load_line(session: Session, unit_id: int) -> list[Unit]:
    """Unit `unit_id` and all its ancestors, in one query (a recursive CTE; UNION ends a cycle).

    A citizen's GET and POST walk up from their counter's unit (the assignment, the receipts, the
    limits' rules): with the line loaded, `Unit.parent` finds each unit in the session rather than
    querying for each level. The session holds loaded objects weakly: keep the list while walking.
    """
    return list(session.scalars(_LINE, {"unit_id": unit_id}))


def _line_statement() -> sa.Select[Unit]:
    """Built once: building a recursive CTE cost more CPU than running it."""
    start = sa.select(Unit.id, Unit.parent_id).where(Unit.id == sa.bindparam("unit_id"))
    line = start.cte("line", recursive=True)
    line = line.union(sa.select(Unit.id, Unit.parent_id).join(line, Unit.id == line.c.parent_id))
    return sa.select(Unit).where(Unit.id.in_(sa.select(line.c.id)))


_LINE = _line_statement()
# Built once (it runs on every citizen's GET and POST): the units of the line and the day are bound.
_OPEN_ASSIGNMENTS = sa.select(InstrumentAssignment).where(
    InstrumentAssignment.unit_id.in_(sa.bindparam("units", expanding=True)),
    InstrumentAssignment.opens_on <= sa.bindparam("day"),
    sa.or_(InstrumentAssignment.closes_on.is_(None), InstrumentAssignment.closes_on >= sa.bindparam("day")))


def assignment_for(session: Session, unit: Unit, day: date) -> InstrumentAssignment | None:
    """The assignment open on `day` for `unit`, or for its nearest ancestor that has one."""
    # One query for the whole line of ancestors (it runs on every citizen's GET and POST), then the
    # nearest unit wins; within a unit the latest opening, then the latest row.
    depth = {node.id: level for level, node in enumerate(ancestors_and_self(unit))}
    candidates = session.scalars(_OPEN_ASSIGNMENTS, {"units": list(depth), "day": day}).all()
    return min(candidates, key=lambda a: (depth[a.unit_id], -a.opens_on.toordinal(), -a.id), default=None)
