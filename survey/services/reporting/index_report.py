"""A unit report as the pages read it (`IndexReport`): the indices of a unit subtree for one period,
with the statements that go with them, and the look-ups a page makes in it (a domain's rows, its
change, its trend), made once per report however many a page makes. `indices` computes the reports.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from survey.services.reporting.periods import Period

TREND_LENGTH = {"month": 12, "quarter": 4, "year": 3}


@dataclass(frozen=True)
class IndexReport:
    """Indices of one unit subtree for one period, and the statements that go with them.

    `estimates` holds `analysis.tables.compute_indices` rows of the current period for the unit and
    every descendant (column ``domain`` = unit code); `trend` the overall index per period of the
    window for the same domains; `league` the shrunk league table of the comparison units (or None),
    the units the small-cell rule hides listed last with ``small_cell`` True and no figures;
    `change` the overall index change against the previous period for the unit (or None), its row of
    `changes` (every domain's, with the two periods' covariance: `period_change`).
    """

    unit_code: str
    root_code: str
    instrument_key: str
    formula: str
    period: Period
    previous: Period
    weighted: bool
    weighting: str
    alpha: float
    target: float
    estimates: pd.DataFrame
    trend: pd.DataFrame
    league: pd.DataFrame | None
    league_scope: str  # code of the unit whose children the league compares
    league_scope_name: tuple[str, str]  # its names (vi, en)
    changes: pd.DataFrame  # period_change.overall_changes: every domain's overall change (the alerts')
    collapsed: pd.DataFrame  # weighting cells merged this period (analysis PoststratResult.collapsed)
    min_cell: int  # the post-stratification's smallest cell
    excluded: pd.DataFrame
    served: int | None
    responses: int
    needed: int | None
    needed_half_width: float
    names: dict[str, tuple[int, str, str, str]]  # code -> (id, name_vi, name_en, kind)
    parents: dict[str, str | None]  # code -> parent code within the subtree (None at its root)

    @functools.cached_property
    def _positions(self) -> dict[str, dict[tuple[str, str], int]]:
        # Row positions of a domain, found when the domain is first looked up: a page reads a few domains
        # of a table of tens of thousands of rows (a dict of every row's key took 0.1 s; to_dict of the
        # whole table, seconds), and rows become dicts only when looked up.
        return {}

    @functools.cached_property
    def _domain_rows(self) -> dict[Any, Any]:
        return self.estimates.groupby("domain", sort=False).indices

    @functools.cached_property
    def _looked_up(self) -> dict[int, dict[str, Any]]:
        return {}

    @functools.cached_property
    def derived(self) -> dict[str, Any]:
        """What other modules compute from this report once (`small_cells`: the units it hides)."""
        return {}

    @functools.cached_property
    def _overall_rows(self) -> dict[str, dict[str, Any]]:
        # A province table asks for every unit's overall row, a unit page for its province's: all of them
        # at once (`records`), not one iloc each
        table = self.estimates
        overall = table[(table["stat_type"] == "overall_index") & (table["stat"] == "overall")]
        return {str(record["domain"]): record for record in records(overall)}

    def row(self, domain: str, stat_type: str, stat: str) -> dict[str, Any] | None:
        """The estimate row for `domain` and statistic, or None."""
        if stat_type == "overall_index" and stat == "overall":
            return self._overall_rows.get(domain)
        if domain not in self._positions:
            types, stats, rows = (self.estimates["stat_type"].to_numpy(), self.estimates["stat"].to_numpy(),
                                  self._domain_rows.get(domain, ()))
            self._positions[domain] = {(types[i], stats[i]): int(i) for i in rows}
        position = self._positions[domain].get((stat_type, stat))
        if position is None:
            return None
        if position not in self._looked_up:
            # the estimates' column labels are strings; pandas-stubs types a row's keys as Hashable
            self._looked_up[position] = cast(dict[str, Any], self.estimates.iloc[position].to_dict())
        return self._looked_up[position]

    def overall(self, domain: str | None = None) -> dict[str, Any] | None:
        """The overall index row of `domain` (default: the report's unit)."""
        return self.row(domain or self.unit_code, "overall_index", "overall")

    @functools.cached_property
    def _changes_by_domain(self) -> dict[str, dict[str, Any]]:
        # All rows in one pass when the first is asked for: a province table asks for hundreds, and a
        # `.loc` (or a Series) per unit cost 0.2-0.8 s at a thousand units.
        renamed = self.changes.rename(columns={"est0": "previous_est"})
        return dict(zip(map(str, renamed.index.tolist()), records(renamed), strict=True))

    def change_of(self, domain: str) -> Mapping[str, Any] | None:
        """`change`'s figures for any unit of the subtree, by column name: its overall index against the
        previous period, with the two periods' covariance (None when either period has no row for it)."""
        return self._changes_by_domain.get(domain)

    @property
    def change(self) -> Mapping[str, Any] | None:
        """The report's own unit's change (`change_of`)."""
        return self.change_of(self.unit_code)

    def trend_labels(self) -> list[str]:
        """Labels of the trend window, oldest first, ending with the report's period."""
        return list(self._trend_labels)

    @functools.cached_property
    def _trend_labels(self) -> tuple[str, ...]:
        # Once per report: a province table asks for every unit's trend (12 shifted periods each).
        return tuple(self.period.shifted(i).label for i in reversed(range(TREND_LENGTH[self.period.kind])))

    @functools.cached_property
    def _trend_by_domain(self) -> dict[str, dict[str, tuple[float, float, float]]]:
        out: dict[str, dict[str, tuple[float, float, float]]] = {}
        # Python lists first: iterating Arrow-backed columns value by value cost 0.04 s a province.
        columns = (self.trend[c].tolist() for c in ("domain", "period", "est", "ci_lo", "ci_hi"))
        for domain, label, est, lo, hi in zip(*columns, strict=True):
            out.setdefault(domain, {})[label] = (float(est), float(lo), float(hi))
        return out

    def trend_of(self, domain: str) -> list[tuple[str, float | None, float | None, float | None]]:
        """(label, est, ci_lo, ci_hi) per period of the window; None where there is no estimate."""
        found = self._trend_by_domain.get(domain, {})
        return [(label, *found.get(label, (None, None, None))) for label in self._trend_labels]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")``, the same values of the same types, column by column: to_dict boxes
    Arrow-backed values one at a time (a province's thousand overall rows: 14 ms, this 3.4 ms)."""
    columns = [frame[name].tolist() for name in frame.columns]
    names = [str(name) for name in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
