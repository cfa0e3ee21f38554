"""Which instrument a unit uses on a day, inherited from the nearest ancestor; the tree walk up."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Counter, InstrumentAssignment, Unit


def ancestors_and_self(unit: Unit) -> Iterator[Unit]:
    """`unit`, its parent, and so on up to the root."""
    node: Unit | None = unit
    seen: set[int] = set()
    while node is not None and node.id not in seen:  # a cycle would be a data error; never loop forever
        seen.add(node.id)
        yield node
        node = node.parent


def _line_ids() -> sa.Select[Any]:
    """The ids of unit `:unit_id` and its ancestors: a recursive CTE (UNION ends a cycle). Statements
    using it are built once: building a recursive CTE cost more CPU than running it."""
    start = sa.select(Unit.id, Unit.parent_id).where(Unit.id == sa.bindparam("unit_id"))
    line = start.cte("line", recursive=True)
    line = line.union(sa.select(Unit.id, Unit.parent_id).join(line, Unit.id == line.c.parent_id))
    return sa.select(line.c.id)


# Built once: the units of the line and the day are bound.
_OPEN_ASSIGNMENTS = sa.select(InstrumentAssignment).where(
    InstrumentAssignment.unit_id.in_(sa.bindparam("units", expanding=True)),
    InstrumentAssignment.opens_on <= sa.bindparam("day"),
    sa.or_(InstrumentAssignment.closes_on.is_(None), InstrumentAssignment.closes_on >= sa.bindparam("day")))


def assignment_for(session: Session, unit: Unit, day: date) -> InstrumentAssignment | None:
    """The assignment open on `day` for `unit`, or for its nearest ancestor that has one."""
    # One query for the whole line of ancestors, then the nearest unit wins.
    line = [node.id for node in ancestors_and_self(unit)]
    return nearest_assignment(unit, session.scalars(_OPEN_ASSIGNMENTS, {"units": line, "day": day}).all())


def nearest_assignment(unit: Unit, candidates: Iterable[InstrumentAssignment]) -> InstrumentAssignment | None:
    """Of the assignments open on a day for `unit`'s line (`candidates`), the one in force at `unit`:
    the nearest unit's; within a unit the latest opening, then the latest row."""
    depth = {node.id: level for level, node in enumerate(ancestors_and_self(unit))}
    return min((a for a in candidates if a.unit_id in depth),
               key=lambda a: (depth[a.unit_id], -a.opens_on.toordinal(), -a.id), default=None)


def _counter_line_statement() -> sa.Select[Unit, Counter, InstrumentAssignment]:
    """A counter, its unit's line and the assignments open on a day there, in one statement: a row
    per unit of the line and open assignment of that unit, the counter on its own unit's rows."""
    return (sa.select(Unit, Counter, InstrumentAssignment)
            .outerjoin(Counter, sa.and_(Counter.unit_id == Unit.id, Counter.id == sa.bindparam("counter_id")))
            .outerjoin(InstrumentAssignment, sa.and_(
                InstrumentAssignment.unit_id == Unit.id, InstrumentAssignment.opens_on <= sa.bindparam("day"),
                sa.or_(InstrumentAssignment.closes_on.is_(None),
                       InstrumentAssignment.closes_on >= sa.bindparam("day"))))
            .where(Unit.id.in_(_line_ids())))


# Built once (it runs on every citizen's GET and POST): the counter, its unit and the day are bound.
_COUNTER_LINE = _counter_line_statement()


@dataclass(frozen=True)
class CounterLine:
    """What `load_counter_line` read: the counter (None if it is not in that unit), the units of the
    line (hold them while walking up: the session keeps loaded objects weakly) and the open assignments."""

    counter: Counter | None
    units: tuple[Unit, ...]
    assignments: tuple[InstrumentAssignment, ...]


def load_counter_line(session: Session, counter_id: int, unit_id: int, day: date) -> CounterLine:
    """Counter `counter_id` if it belongs to unit `unit_id`, the unit's line, and the assignments open
    on `day` along it, in one statement (what `session.get`, a walk up the tree and `assignment_for` read
    in three or more): the citizen's GET and POST each start with it."""
    counters: dict[int, Counter] = {}
    units: dict[int, Unit] = {}
    assignments: dict[int, InstrumentAssignment] = {}
    for unit, counter, assignment in session.execute(
            _COUNTER_LINE, {"counter_id": counter_id, "unit_id": unit_id, "day": day}):
        units[unit.id] = unit
        if counter is not None:
            counters[counter.id] = counter
        if assignment is not None:
            assignments[assignment.id] = assignment
    return CounterLine(counters.get(counter_id), tuple(units.values()), tuple(assignments.values()))
