"""Benchmarks of a unit page: the same period's and instrument's figures of the unit's parent and of the
province (the root of its tree), read from the same `indices.unit_indices` reports their own pages use.

A benchmark outside the viewer's scope is a figure only (no link to its page), and a figure of it is
left out wherever the benchmark minus the unit is a small cell (1 to `small_cells.SMALL_CELL` - 1
respondents): the rest of a parent with a few respondents besides the unit is a small group of other
units, which the small-cell rule protects. Inside the viewer's scope everything is shown, as on the
benchmark's own page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Unpack, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from survey.charts import Benchmark as ChartBenchmark
from survey.models import Unit
from survey.services.reporting.formats import finite_number
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.indices import IndexOptions, unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.small_cells import SMALL_CELL

PARENT, PROVINCE, PARENT_AND_PROVINCE = "parent", "province", "parent_province"
ROLE_LABELS = {PARENT: _l("Parent unit"), PROVINCE: _l("Province"),
               PARENT_AND_PROVINCE: _l("Parent unit (province)")}
SHAPES = {PARENT: "diamond", PROVINCE: "square", PARENT_AND_PROVINCE: "square"}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark unit's report next to the unit's own."""

    role: str  # PARENT, PROVINCE, or PARENT_AND_PROVINCE when the parent is the province
    unit: Unit
    visible: bool  # in the viewer's scope: shown in full and linked
    report: IndexReport
    own: IndexReport  # the unit page's report

    def name(self, lang: str) -> str:
        return self.unit.name_en if lang == "en" and self.unit.name_en else self.unit.name_vi

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS[self.role])

    @property
    def shape(self) -> str:
        return SHAPES[self.role]

    def series(self, stats: list[tuple[str, str]], lang: str) -> ChartBenchmark:
        """The benchmark's estimates of `stats` ((stat_type, stat) pairs) for an interval plot."""
        values = [finite_number(row["est"]) if (row := self.row(*stat)) is not None else None
                  for stat in stats]
        return ChartBenchmark(f"{self.role_label} ({self.name(lang)})", values, self.shape)

    def trend_series(self, lang: str) -> ChartBenchmark:
        return ChartBenchmark(f"{self.role_label} ({self.name(lang)})", self.trend, self.shape)

    def _shown(self, bench: dict[str, Any] | None, own_n: Any) -> bool:
        if bench is None or finite_number(bench["est"]) is None:
            return False
        if self.visible:
            return True
        rest = int(bench["n"]) - int(finite_number(own_n) or 0)
        return not 0 < rest < SMALL_CELL

    def row(self, stat_type: str, stat: str) -> dict[str, Any] | None:
        """The benchmark's estimate row of one statistic in the period, or None when not shown."""
        bench = self.report.row(self.unit.code, stat_type, stat)
        own = self.own.row(self.own.unit_code, stat_type, stat)
        return bench if self._shown(bench, own["n"] if own is not None else 0) else None

    @functools.cached_property
    def trend(self) -> list[float | None]:
        """The benchmark's overall index per period of the unit's trend window (None: not shown)."""
        def n_by_period(report: IndexReport, code: str) -> dict[str, dict[str, Any]]:
            rows = report.trend[report.trend["domain"] == code]
            # the trend's column labels are strings; pandas-stubs types a record's keys as Hashable
            records = cast(list[dict[str, Any]], rows.to_dict("records"))
            return {str(r["period"]): r for r in records}

        bench, own = n_by_period(self.report, self.unit.code), n_by_period(self.own, self.own.unit_code)
        out: list[float | None] = []
        for label in self.own.trend_labels():
            row = bench.get(label)
            mine = own.get(label)
            out.append(finite_number(row["est"]) if row is not None
                       and self._shown(row, mine["n"] if mine is not None else 0) else None)
        return out


def _province(unit: Unit) -> Unit:
    node = unit
    while node.parent is not None:
        node = node.parent
    return node


def benchmark_reports(session: Session, unit: Unit, instrument_key: str, period: Period, *, weighted: bool,
                      **options: Unpack[IndexOptions]) -> list[tuple[str, Unit, IndexReport]]:
    """(role, unit, report) of the parent's and the province's benchmarks of `unit` (one when they are the
    same unit, none at the province itself). `options` as for `unit_indices`, without a league
    (benchmarks need none).

    A unit page asks for them first, whoever the viewer is: after a new response the unit's own tables are
    then taken from the province's just computed (`period_tables`), not updated apart."""
    if unit.parent is None:
        return []
    settings: IndexOptions = {**options, "league_root": None}
    province = _province(unit)
    wanted = ([(PARENT_AND_PROVINCE, province)] if unit.parent.id == province.id
              else [(PARENT, unit.parent), (PROVINCE, province)])
    # the province's first: the parent's tables are then taken from it
    reports = {bench.id: unit_indices(session, bench, instrument_key, period, weighted=weighted, **settings)
               for _, bench in reversed(wanted)}
    return [(role, bench, reports[bench.id]) for role, bench in wanted]


def unit_benchmarks(found: list[tuple[str, Unit, IndexReport]], own: IndexReport,
                    visible: set[int]) -> list[Benchmark]:
    """The benchmarks of `benchmark_reports` beside the unit page's report `own`; those in the viewer's
    scope (`visible` ids) shown in full."""
    return [Benchmark(role, bench, bench.id in visible, report=report, own=own)
            for role, bench, report in found]
