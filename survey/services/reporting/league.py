"""The league table of a unit's children: their overall indices shrunk towards each other, with rank
intervals (`analysis.shrinkage.league_table`), the children the viewer's small-cell decision hides listed
last without figures.

Every child's page shows its parent's league, so it is kept apart from the unit reports, under the data
version of the parent's subtree and shared between processes like them: after a new response the first
child's page computes it and the others read it (a province's 500 communes: 65 ms).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from analysis.shrinkage import MIN_UNITS, LeagueTable, league_table
from instruments.index import IndexDefinition
from instruments.model import Instrument
from survey.models import Unit
from survey.services.reporting.index_cache import Version, VersionedCache, data_version
from survey.services.reporting.period_tables import PERIOD_TABLES, period_table, table_key, target_argument
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import unit_names, unit_parent_map
from survey.services.reporting.small_cells import protected_codes, row_count
from survey.services.staff.access import subtree_ids


def unit_league(session: Session, root: Unit, instrument: Instrument, definition: IndexDefinition,
                period: Period, *, weighted: bool, alpha: float, min_cell: int,
                viewer_hidden: frozenset[str] | None,
                default_target: float) -> PendingLeague:
    """Shrunk league table of `root`'s children on the overall index (no targets: ranks only), and
    `root`'s code; None when fewer than `analysis.shrinkage.MIN_UNITS` children can be ranked. The
    children hidden are those of the viewer's decision (`viewer_hidden`) when given, else those of the
    small-cell rule on `root`'s own subtree. `default_target` picks the root's report table to read
    the overall rows from (`period_tables.target_argument`).

    What the database gives is read now; the shrinkage and the ranks are computed in a thread of their
    own (`PendingLeague`), so the caller may compute something else meanwhile."""
    key = (str(session.get_bind().engine.url), root.id, instrument.key, period.label, weighted, alpha,
           min_cell, default_target, None if viewer_hidden is None else tuple(sorted(viewer_hidden)))
    version = data_version(session, subtree_ids(session, [root.id]), period.first, period.last)
    found = _LEAGUES.get(key, version)
    if found is not None:
        return PendingLeague(found)
    running = _RUNNING.get(key)
    if running is not None and running[0] == version:  # asked for ahead on this page (`indices.rank_ahead`)
        return running[1]
    rows, withheld, names = _league_rows(session, root, instrument, definition, period, weighted, alpha,
                                         min_cell, viewer_hidden, default_target)
    if len(rows) < MIN_UNITS:
        _LEAGUES.put(key, version, (None, root.code))
        return PendingLeague((None, root.code))
    figures = _THREADS.submit(league_table, rows["domain"].to_numpy(), rows["est"].to_numpy(float),
                              rows["n"].to_numpy(float), rows["n_eff"].to_numpy(float), level=1 - alpha)

    def finish(league: LeagueTable) -> tuple[pd.DataFrame | None, str]:
        _RUNNING.pop(key, None)
        table = league.table.assign(small_cell=False)
        if withheld:
            marked = pd.DataFrame({"unit": withheld, "small_cell": True})
            table = pd.concat([table, marked], ignore_index=True)
        table = table.assign(name_vi=[names[c][1] for c in table["unit"]],
                             name_en=[names[c][2] or names[c][1] for c in table["unit"]])
        _LEAGUES.put(key, version, (table, root.code))
        return table, root.code

    pending = PendingLeague(None, figures, finish)
    if key not in _RUNNING and len(_RUNNING) >= _LEAGUES.size:  # one started ahead and never asked for
        _RUNNING.pop(next(iter(_RUNNING)))
    _RUNNING[key] = (version, pending)
    return pending


class PendingLeague:
    """A league table (`unit_league`): at hand, or its figures being computed in a thread. The draws and
    sorts of the ranks (`analysis.shrinkage`) release the GIL, so on a unit's page they run beside the
    unit's own tables (a province's 500 communes: 45 ms of 60)."""

    def __init__(self, done: tuple[pd.DataFrame | None, str] | None,
                 figures: Future[LeagueTable] | None = None,
                 finish: Callable[[LeagueTable], tuple[pd.DataFrame | None, str]] | None = None) -> None:
        self._done, self._figures, self._finish = done, figures, finish

    def result(self) -> tuple[pd.DataFrame | None, str]:
        """The league table (None: too few children) and its root's code, kept once computed."""
        if self._done is None:
            assert self._figures is not None and self._finish is not None
            self._done = self._finish(self._figures.result())
        return self._done


# A child's page shows its siblings' league around itself: the first and last rows, and its neighbours.
LEAGUE_ENDS, LEAGUE_AROUND, LEAGUE_WHOLE = 3, 5, 25


@dataclass(frozen=True)
class LeftOut:
    """Consecutive rows of a league table a page leaves out (`league_window`)."""

    left_out: int


def league_window(table: pd.DataFrame, code: str) -> list[int | LeftOut]:
    """The positions of `table`'s rows a child's page shows, a `LeftOut` for each run of rows it does
    not: all of a league of at most `LEAGUE_WHOLE` rows, else the first and last `LEAGUE_ENDS` and
    `LEAGUE_AROUND` either side of unit `code`. A province's 500 communes on each commune's page were
    2,000 of its 2,300 figures and a long scroll on a phone; the page links to the whole table."""
    n = len(table)
    if n <= LEAGUE_WHOLE:
        return list(range(n))
    kept = set(range(LEAGUE_ENDS)) | set(range(n - LEAGUE_ENDS, n))
    for here in np.flatnonzero(table["unit"].to_numpy() == code).tolist():
        kept |= set(range(max(here - LEAGUE_AROUND, 0), min(here + LEAGUE_AROUND + 1, n)))
    shown: list[int | LeftOut] = []
    for at in range(n):
        if at in kept or (at - 1 in kept and at + 1 in kept):  # a gap of one row: the row itself
            shown.append(at)
        elif shown and isinstance(shown[-1], LeftOut):
            shown[-1] = LeftOut(shown[-1].left_out + 1)
        else:
            shown.append(LeftOut(1))
    return shown


_LEAGUES: VersionedCache[tuple[pd.DataFrame | None, str]] = VersionedCache(64, name="leagues")
# Leagues whose ranks are being computed, by key, with their data version: a page that starts one ahead
# of its report gets the same one back (taken off once finished).
_RUNNING: dict[tuple[object, ...], tuple[Version, PendingLeague]] = {}
# Threads start when first used, in the worker process (never before a fork); two, for a threaded server.
_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="league")


def _league_rows(session: Session, root: Unit, instrument: Instrument, definition: IndexDefinition,
                 period: Period, weighted: bool, alpha: float, min_cell: int,
                 viewer_hidden: frozenset[str] | None, default_target: float
                 ) -> tuple[pd.DataFrame, list[str], dict[str, tuple[int, str, str, str]]]:
    """The children's overall rows to rank, the children withheld (listed without figures, by name), and
    the subtree's names."""
    ids = subtree_ids(session, [root.id])
    parents = unit_parent_map(session, root.id)
    # The league ranks the overall index rows. The root's own report table holds them too, with the
    # same figures (targets change only verdicts): read it when the root's page or the alerts job has
    # computed it, rather than computing the overall rows again.
    _, targets = target_argument(session, root, parents, instrument.id, period.first.year, default_target)
    key = table_key(session, root, period, instrument, weighted, targets, alpha, min_cell, False)
    full = PERIOD_TABLES.get(key, data_version(session, ids, period.first, period.last))
    table = (full or period_table(session, root, ids, parents, period, instrument, definition, weighted,
                                  None, alpha, min_cell, overall_only=True)).table
    children = {code for code, parent in parents.items() if parent == root.code}
    overall = table[table["stat_type"] == "overall_index"]
    counts = {str(d): row_count({"n": n}) for d, n in zip(overall["domain"], overall["n"], strict=True)}
    # The league's counts and the root's total are published: the small-cell rule's hidden children
    # are left out of the shrinkage (nothing shown depends on them) and listed with a mark instead.
    decided = protected_codes(counts, parents) if viewer_hidden is None else viewer_hidden
    hidden = {c for c in decided & children if counts.get(c, 0) > 0}
    rows = overall[overall["domain"].isin(children - hidden)]
    rows = rows[np.isfinite(rows["est"].astype(float)) & (rows["n_eff"].astype(float) > 0)]
    names = unit_names(session, ids)
    return rows, sorted(hidden, key=lambda c: (names[c][1].casefold(), c)), names
