"""One viewer's small-cell decision: the units whose figures every page and report hides for them.

`small_cells` decides on a tree of counts. If each page decided on the subtree it shows, a viewer who
may open both a parent and a child would read a complement's figures on the child's own page after
the parent's table hid them, and subtract again. So the decision is made once per viewer, period and
instrument, on each root of the viewer's scope (the whole subtree they may see; the roots' subtrees
are disjoint), and every page and report of that viewer looks units up in it.

A viewer always sees the roots of their own scope: no table they can open publishes the root's
parent, so nothing they can see lets them subtract a root's figures out of a larger total. A desk's
own manager therefore sees the desk's figures while a commune manager may find them hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Unit, User
from survey.query_lists import one_of
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.small_cells import hidden_units, hidden_units_by_period
from survey.services.staff.access import visible_unit_ids


@dataclass(frozen=True)
class ViewerCells:
    """The units hidden for one viewer: in the period (`current`) and in each period of its trend
    window (`by_period`: period label as in `IndexReport.trend_labels` -> codes)."""

    current: frozenset[str] = frozenset()
    by_period: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def hides(self, code: str) -> bool:
        """Whether `code`'s figures of the period are withheld."""
        return code in self.current

    def hides_in(self, label: str, code: str) -> bool:
        """Whether `code`'s figure of the trend period `label` is withheld."""
        return code in self.by_period.get(label, frozenset())


def cells_of(reports: Iterable[IndexReport]) -> ViewerCells:
    """The decision for the scope roots' reports (each on its root's whole subtree, same period)."""
    current: set[str] = set()
    by_period: dict[str, set[str]] = {}
    for report in reports:
        current |= hidden_units(report)
        for label, codes in hidden_units_by_period(report).items():
            by_period.setdefault(label, set()).update(codes)
    return ViewerCells(frozenset(current), {k: frozenset(v) for k, v in by_period.items()})


def scope_roots(session: Session, user: User) -> list[Unit]:
    """The roots of what `user` may see (units whose parent they may not see), by code."""
    visible = visible_unit_ids(session, user)
    # the parent links alone first: a province's thousand units as objects cost 5 ms a page
    links = session.execute(sa.select(Unit.id, Unit.parent_id).where(one_of(session, Unit.id, visible)))
    roots = [unit_id for unit_id, parent_id in links if parent_id not in visible]
    units = session.scalars(sa.select(Unit).where(one_of(session, Unit.id, roots))).all()
    return sorted(units, key=lambda u: u.code)


def viewer_cells(session: Session, user: User, instrument_key: str, period: Period, *, weighted: bool,
                 default_target: float, min_cell: int) -> ViewerCells:
    """`user`'s decision for `instrument_key` in `period`, from each scope root's report (the cached
    `unit_indices` the dashboard also uses), with the weighting of the page that asks: the decision
    protects the counts that page publishes."""
    return cells_of(unit_indices(session, root, instrument_key, period, weighted=weighted,
                                 default_target=default_target, min_cell=min_cell)
                    for root in scope_roots(session, user))
