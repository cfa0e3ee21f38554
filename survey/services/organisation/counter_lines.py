"""The counter lines citizens' forms open, kept per process while no counter, assignment or unit changes.

Every GET and POST of a citizen's form starts with its counter, the counter's line of units and the
assignments open that day (`assignments.load_counter_line`): a quarter of a millisecond of ORM loading
each time, about a tenth of a completion's server CPU. They change only when a counter, an assignment or
a unit is written, which moves `models.CounterRevision` or `models.UnitRevision` (triggers on the
tables, whoever writes them): a line is kept under both revisions, read in one small statement.

The kept objects are detached from every session, the counter's unit and every parent up the line
loaded: read them, never add them to a session or change them (the citizen's paths only read them and
store ids). A session that has written counters, assignments or units and not committed reads the line
itself, uncached (`session_memo.has_written`): a line kept under its revision would be served, after a
rollback, for the change that takes that revision next.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Counter, CounterRevision, InstrumentAssignment, Unit, UnitRevision
from survey.services.organisation.assignments import CounterLine, ancestors_and_self, load_counter_line
from survey.services.reporting.index_cache import VersionedCache
from survey.session_memo import has_written

# Process-local: a line is a counter, a few units and their open assignments.
_LINES: VersionedCache[CounterLine] = VersionedCache(4096)
# What a line is read from and stamped by (the revisions are written by the tables' triggers).
_LINE_TABLES = frozenset(model.__tablename__ for model in (
    Counter, InstrumentAssignment, Unit, CounterRevision, UnitRevision))
# Built once (it runs on every citizen's GET and POST).
_STAMP = sa.select(sa.select(UnitRevision.revision).scalar_subquery(),
                   sa.select(CounterRevision.revision).scalar_subquery())


def kept_counter_line(session: Session, counter_id: int, unit_id: int, day: date) -> CounterLine:
    """`load_counter_line`'s line, read once per process while the counters, the assignments and the
    units are unchanged; read directly in a session that has written them and not committed."""
    if has_written(session, _LINE_TABLES):
        return load_counter_line(session, counter_id, unit_id, day)
    stamp = tuple(session.execute(_STAMP).one())
    key = (str(session.get_bind().engine.url), counter_id, unit_id, day)
    found = _LINES.get(key, stamp)
    if found is None:
        found = _detached(session, load_counter_line(session, counter_id, unit_id, day))
        _LINES.put(key, stamp, found)
    return found


def _detached(session: Session, line: CounterLine) -> CounterLine:
    """`line` with its objects out of `session`, their links up the tree loaded first (from the session's
    identity map: no query) so that reading them later needs no session."""
    if line.counter is not None:
        for _unit in ancestors_and_self(line.counter.unit):
            pass
    for kept in (line.counter, *line.units, *line.assignments):
        if kept is not None and kept in session:
            session.expunge(kept)
    return line
