"""Where a period's indices come from: the index aggregates when they hold every valid response of
the subtree and period, otherwise the responses themselves. `_trusted_rows` is the one rule, read by
`period_estimates` (the period's table) and `period_sums` (its cell sums, for the change against the
previous period); both ways give the same table (`analysis.sums_tables.indices_from_sums` equals
`analysis.tables.compute_indices` on the same respondents).

The aggregates are trusted for a subtree, period and instrument version when, unit by unit, their
respondents add up to the valid responses stored there (`response_counts`: the database's own tallies,
kept by triggers on the responses, not by the submission service that keeps the aggregates; and the
excluded responses' counts by status and reason). A response stored without going through the
submission service (a bulk import, a migration before `flask aggregates rebuild`), or an aggregate
update that failed, makes its unit disagree, and that period is then read from the responses: slower,
never wrong.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from analysis.cell_sums import Int64Array
from analysis.poststratification import CellWeights, PoststratResult
from analysis.sums_tables import indices_from_unit_statistics
from analysis.tables import compute_indices
from analysis.unit_statistics import UnitStatistics, unit_statistics, updated
from instruments.index import IndexDefinition
from instruments.model import Instrument
from survey.models import IndexAggregate, Unit
from survey.query_lists import one_of
from survey.raw_rows import raw_rows
from survey.services.reporting.aggregates import decode_rows, sums_layout
from survey.services.reporting.index_cache import Version, VersionedCache, data_version, prepare_later
from survey.services.reporting.period_cells import AggregateRow, WeightedCells, weighted_cells
from survey.services.reporting.period_weights import respondent_weights
from survey.services.reporting.periods import Period, month_spans
from survey.services.reporting.respondent_data import load_respondents_cached
from survey.services.reporting.response_counts import window_counts
from survey.services.reporting.table_update import (
    TableInputs,
    domain_order,
    domains_to_update,
    narrowed,
    spliced,
    sums_digest,
    table_inputs,
)

EMPTY_COLUMNS = ["period", "level", "domain", "parent", "stat_type", "stat", "n", "df", "est", "se", "ci_lo",
                 "ci_hi", "deff_kish", "n_eff", "n_eff_floor", "target", "verdict", "p_value", "flags"]
Targets = float | dict[str, float] | None
StatTypes = tuple[str, ...] | None  # only these statistic types (None: all)


class Source(StrEnum):
    AGGREGATES = "aggregates"
    RESPONSES = "responses"


@dataclass(frozen=True)
class PeriodEstimates:
    """`compute_indices` rows of one subtree and period (domain "total" dropped), and how they were made."""

    table: pd.DataFrame
    weighted: bool
    weighting: str
    responses: int
    excluded: pd.DataFrame
    source: Source
    collapsed: pd.DataFrame  # the post-stratification's merged cells (PoststratResult.collapsed)
    inputs: TableInputs | None = None  # digests of the aggregates read (`table_update`), None: responses


@dataclass(frozen=True)
class PeriodCounts:
    valid: dict[int, int]  # unit id -> valid responses
    excluded: pd.DataFrame  # status, status_reason, n


def period_response_counts(session: Session, ids: Collection[int], period: Period,
                           instrument: Instrument) -> PeriodCounts:
    """The period's valid responses to this version of the instrument per unit, and those left out by
    (status, reason), as `respondent_data.load_respondents` reports them (counted once per month:
    `response_counts`)."""
    counts = window_counts(session, ids, period, instrument.id)
    left_out = counts.left_out_of(instrument.version)
    excluded = pd.DataFrame([(s, r, n) for (s, r), n in sorted(left_out.items())],
                            columns=["status", "status_reason", "n"])
    if excluded.empty:
        excluded = pd.DataFrame({"status": [], "status_reason": [], "n": []})
    return PeriodCounts(counts.valid_by_unit(instrument.version), excluded)


def _aggregate_rows(session: Session, ids: Collection[int], period: Period,
                    instrument: Instrument) -> list[AggregateRow]:
    """The period's aggregate rows of the subtree with respondents, by (unit id, month, field).

    Each month's rows are kept per process under that month's data version (`index_cache`): after a new
    response a year's table reads its one changed month again, not twelve (a province's year at a
    million responses is 9,000 rows and 60 MB of sums, 0.1-0.3 s to fetch)."""
    subtree, url = frozenset(ids), str(session.get_bind().engine.url)
    data_version(session, subtree, period.first, period.last)  # every month's stamps in one query
    rows: list[AggregateRow] = []
    missing: dict[str, tuple[tuple[object, ...], Version]] = {}
    for first, last in month_spans(period.first, period.last):
        month = first.strftime("%Y-%m")
        key, version = (url, subtree, month, instrument.key), data_version(session, subtree, first, last)
        hit = _MONTH_ROWS.get(key, version)
        if hit is None:
            missing[month] = (key, version)
        else:
            rows.extend(hit)
    if missing:
        fetched: dict[str, list[AggregateRow]] = {month: [] for month in missing}
        # The month's rows this process last read, on older data: a cell whose sums are the same bytes
        # keeps its digest (after a new response, one cell of a province's month has moved, and hashing
        # the other 800 sums again took 15 ms).
        known = {(row[0], row[2], row[3]): row for month, (key, _) in missing.items()
                 for row in _MONTH_ROWS.latest(key, shared_too=False) or ()}
        query = (sa.select(IndexAggregate.unit_id, Unit.code, IndexAggregate.month,
                           IndexAggregate.procedure_field, IndexAggregate.respondents, IndexAggregate.sums)
                 .join(Unit, Unit.id == IndexAggregate.unit_id)
                 .where(one_of(session, IndexAggregate.unit_id, subtree),
                        IndexAggregate.instrument_id == instrument.id,
                        IndexAggregate.instrument_version == instrument.version,
                        IndexAggregate.month.in_(list(missing)), IndexAggregate.respondents > 0))
        for unit_id, code, month, field, respondents, sums in raw_rows(session, query):
            earlier = known.get((unit_id, month, field))
            digest = earlier[6] if earlier is not None and earlier[5] == sums else sums_digest(sums)
            fetched[month].append((unit_id, code, month, field, respondents, sums, digest))
        for month, found in fetched.items():
            _MONTH_ROWS.put(*missing[month], found)
            rows.extend(found)
    rows.sort(key=lambda row: (row[0], row[2], row[3]))  # the same order however the months were read
    return rows


def read_sums_later(session: Session, ids: Collection[int], periods: Collection[Period],
                    instrument: Instrument, *, weighted: bool, min_cell: int) -> None:
    """Compute, once the response is sent (`index_cache.prepare_later`), the cell sums and unit
    statistics (`period_unit_statistics`) of those of `periods` this process has never computed. A report
    read from the shared store computed nothing here; the first table and change computed after a new
    response would otherwise fetch and weigh every month of the period and of the previous one (a
    province's year from PostgreSQL: 60 MB of sums), not the one month that changed."""
    url, subtree = str(session.get_bind().engine.url), frozenset(ids)
    unread = [p for p in periods  # the key of `_sums_key`, without reading the period's stamps
              if _UNITS.latest((url, subtree, p.label, instrument.key, weighted, min_cell)) is None]

    def compute(later: Session) -> None:
        for period in unread:
            period_unit_statistics(later, ids, period, instrument, weighted=weighted, min_cell=min_cell)

    if unread:
        prepare_later(compute)


# Process-local: a province-month's rows are 2-3 MB (the sums); three years of a province and its largest
# subtrees fit.
_MONTH_ROWS: VersionedCache[list[AggregateRow]] = VersionedCache(128)


def _trusted_rows(session: Session, ids: Collection[int], period: Period, instrument: Instrument
                  ) -> tuple[PeriodCounts, list[AggregateRow] | None]:
    """The period's response counts, and its aggregate rows when they hold exactly the valid responses
    of every unit (None otherwise): the one rule for reading a period from the aggregates."""
    counts = period_response_counts(session, ids, period, instrument)
    rows = _aggregate_rows(session, ids, period, instrument)
    summed: dict[int, int] = {}
    for row in rows:
        summed[row[0]] = summed.get(row[0], 0) + row[4]
    return counts, rows if summed == counts.valid else None


@dataclass(frozen=True)
class PeriodSums:
    """A period's cells from the aggregates, as `analysis.unit_statistics.unit_statistics` reads them."""

    cells: pd.DataFrame  # unit, month, field, respondents and, when weighted, weight and calibration_cell
    # Each cell's stored sums, decoded only where statistics are computed: after a new response, those
    # of one unit (a province's year is 60 MB of sums, kept once, in the month rows' cache).
    blobs: Sequence[bytes]
    length: int  # of a sums vector (`aggregates.sums_layout`)
    weighted: bool
    digests: Mapping[str, int]  # unit code -> `table_update.unit_digests` of its cells

    @staticmethod
    def of(cells: WeightedCells, rows: list[AggregateRow], instrument: Instrument) -> PeriodSums:
        """The cells of aggregate rows `rows` (`period_cells`), with their stored sums."""
        length = sums_layout(instrument.id, instrument.version).length
        return PeriodSums(cells.cells, [row[5] for row in rows], length, cells.weighted, cells.digests)

    def sums(self, rows: npt.NDArray[np.bool_] | None = None) -> Int64Array:
        """The sums of the cells (of those where `rows` is true), decoded."""
        chosen = self.blobs if rows is None else [blob for blob, keep in zip(self.blobs, rows, strict=True)
                                                  if keep]
        return decode_rows(list(chosen), self.length)


def period_sums(session: Session, ids: Collection[int], period: Period, instrument: Instrument, *,
                weighted: bool, min_cell: int) -> PeriodSums | None:
    """The cells and sums `period_estimates` computes the period's table from, weighted as it weighs
    them; None when it reads the period from the responses. Kept per process while the period's data
    is unchanged (`index_cache`): the change against the previous period reads both months' sums
    right after their tables were computed from them."""
    key, version = _sums_key(session, ids, period, instrument, weighted, min_cell)
    if (hit := _SUMS.get(key, version)) is not None:
        return hit
    _, rows = _trusted_rows(session, ids, period, instrument)
    if rows is None:
        return None
    weighed = weighted_cells(session, rows, ids, period, instrument.key, weighted, min_cell)
    found = PeriodSums.of(weighed, rows, instrument)
    _SUMS.put(key, version, found)
    return found


# Process-local only: a province-month's sums are megabytes, and computing them is what is shared.
_SUMS: VersionedCache[PeriodSums] = VersionedCache(32)


def period_unit_statistics(session: Session, ids: Collection[int], period: Period, instrument: Instrument, *,
                           weighted: bool, min_cell: int) -> tuple[PeriodSums, UnitStatistics] | None:
    """The period's cells (`period_sums`) and each unit's statistics of them, as its table and its change
    against another period read them; None when the period is read from the responses."""
    found = period_sums(session, ids, period, instrument, weighted=weighted, min_cell=min_cell)
    if found is None:
        return None
    key, version = _sums_key(session, ids, period, instrument, weighted, min_cell)
    return found, _unit_statistics(key, version, found, instrument)


def _unit_statistics(key: tuple[object, ...], version: Version, found: PeriodSums,
                     instrument: Instrument) -> UnitStatistics:
    """`found`'s unit statistics, kept under the period's version. The units whose digest is the one they
    had when last computed under `key` (the same subtree and period, on older data) are taken from then:
    after a new response only its unit is computed again (`analysis.unit_statistics.updated`)."""
    if (hit := _UNITS.get(key, version)) is not None:
        return hit[1]
    layout = sums_layout(instrument.id, instrument.version)
    last = _UNITS.latest(key)
    if last is None or last[1].calibrated != found.weighted:
        units = unit_statistics(layout, found.cells, found.sums(), weighted=found.weighted)
    else:
        digests, kept = last
        moved = {unit for unit, digest in found.digests.items() if digests.get(unit) != digest}
        rows = found.cells["unit"].isin(moved).to_numpy()
        units = updated(kept, unit_statistics(layout, found.cells[rows], found.sums(rows),
                                              weighted=found.weighted), found.digests.keys())
    _UNITS.put(key, version, (found.digests, units))
    return units


# Process-local, beside `_SUMS`: a unit's statistics are about 15 kB (a province's, 15 MB), and those of
# a subtree's current and previous periods are what a new response reuses.
_UNITS: VersionedCache[tuple[Mapping[str, int], UnitStatistics]] = VersionedCache(16)


def _sums_key(session: Session, ids: Collection[int], period: Period, instrument: Instrument,
              weighted: bool, min_cell: int) -> tuple[tuple[object, ...], Version]:
    subtree = frozenset(ids)
    key = (str(session.get_bind().engine.url), subtree, period.label, instrument.key, weighted, min_cell)
    return key, data_version(session, subtree, period.first, period.last)


def period_estimates(session: Session, ids: Collection[int], parents: Mapping[str, str | None],
                     period: Period, instrument: Instrument, definition: IndexDefinition, *, weighted: bool,
                     targets: Targets, alpha: float, min_cell: int, min_n: int,
                     stat_types: StatTypes = None,
                     previous: PeriodEstimates | None = None) -> PeriodEstimates:
    """The indices of units `ids` (a subtree, `parents` its hierarchy) in `period`: from the aggregates
    when they hold exactly the valid responses of every unit, else from the responses. `stat_types`:
    only those rows (a trend's past month needs the overall index alone), same figures. `previous`:
    this table as last computed with the same arguments on other data, or the table of a tree that
    contains this subtree; only what differs from it is computed again (`table_update`)."""
    counts, rows = _trusted_rows(session, ids, period, instrument)
    if rows is not None:
        return _from_aggregates(session, rows, ids, parents, period, instrument, definition,
                                weighted=weighted, targets=targets, alpha=alpha, min_cell=min_cell,
                                min_n=min_n, excluded=counts.excluded, stat_types=stat_types, trusted=True,
                                previous=previous)
    found = responses_estimates(session, ids, parents, period, instrument, definition, weighted=weighted,
                                targets=targets, alpha=alpha, min_cell=min_cell, min_n=min_n)
    if stat_types is None:
        return found
    kept = found.table[found.table["stat_type"].isin(list(stat_types))].reset_index(drop=True)
    return replace(found, table=kept)


def aggregate_estimates(session: Session, ids: Collection[int], parents: Mapping[str, str | None],
                        period: Period, instrument: Instrument, definition: IndexDefinition, *,
                        weighted: bool, targets: Targets, alpha: float, min_cell: int,
                        min_n: int) -> PeriodEstimates:
    """`period_estimates` from the aggregates, whatever they hold (for tests and benchmarks)."""
    counts = period_response_counts(session, ids, period, instrument)
    return _from_aggregates(session, _aggregate_rows(session, ids, period, instrument), ids, parents, period,
                            instrument, definition, weighted=weighted, targets=targets, alpha=alpha,
                            min_cell=min_cell, min_n=min_n, excluded=counts.excluded)


def _finished(table: pd.DataFrame, period: Period) -> pd.DataFrame:
    table.insert(0, "period", period.label)
    return table[table["domain"] != "total"].reset_index(drop=True)


def _from_aggregates(session: Session, rows: list[AggregateRow],
                     ids: Collection[int], parents: Mapping[str, str | None], period: Period,
                     instrument: Instrument, definition: IndexDefinition, *, weighted: bool, targets: Targets,
                     alpha: float, min_cell: int, min_n: int, excluded: pd.DataFrame,
                     stat_types: StatTypes = None, trusted: bool = False,
                     previous: PeriodEstimates | None = None) -> PeriodEstimates:
    weighed = weighted_cells(session, rows, ids, period, instrument.key, weighted, min_cell)
    cells, is_weighted = weighed.cells, weighed.weighted
    if cells.empty:
        return PeriodEstimates(pd.DataFrame(columns=EMPTY_COLUMNS), False, weighed.weighting, 0, excluded,
                               Source.AGGREGATES, pd.DataFrame())
    inputs = table_inputs(weighed.digests, parents, targets, is_weighted)
    found = PeriodSums.of(weighed, rows, instrument)
    key, version = _sums_key(session, ids, period, instrument, weighted, min_cell)
    if trusted:  # what `period_sums` would compute next, for the change against the previous period
        _SUMS.put(key, version, found)
    responses = int(cells["respondents"].sum())

    def table_of(domains: set[str] | None) -> pd.DataFrame:
        # Kept for a period's whole table, which a new response updates; a trend's past months (overall
        # rows only) are computed once per data version, and their statistics would only take memory.
        units = (_unit_statistics(key, version, found, instrument) if trusted and stat_types is None else
                 unit_statistics(sums_layout(instrument.id, instrument.version), cells, found.sums(),
                                 weighted=is_weighted))
        return _finished(indices_from_unit_statistics(units, definition, parents=parents, targets=targets,
                                                      alpha=alpha, min_n=min_n, lonely_psu="adjust",
                                                      stat_types=stat_types, domains=domains), period)

    table = None
    if previous is not None and previous.inputs is not None and trusted:
        if previous.inputs.parents != inputs.parents:  # a tree containing this one
            table = narrowed(previous.table, previous.inputs, inputs)
        elif (redo := domains_to_update(previous.inputs, inputs, parents)) is not None:
            order = domain_order(previous.inputs.units, inputs.units, parents)
            table = spliced(previous.table, table_of(redo), redo, order) if redo else previous.table
    return PeriodEstimates(table_of(None) if table is None else table, is_weighted, weighed.weighting,
                           responses, excluded, Source.AGGREGATES, weighed.collapsed, inputs)


def responses_estimates(session: Session, ids: Collection[int], parents: Mapping[str, str | None],
                        period: Period, instrument: Instrument, definition: IndexDefinition, *,
                        weighted: bool, targets: Targets, alpha: float, min_cell: int,
                        min_n: int) -> PeriodEstimates:
    """`period_estimates` from the responses (one row each), whatever the aggregates hold."""
    loaded = load_respondents_cached(session, ids, period.first, period.last, instrument)
    data = loaded.frame
    weighting_result, weighting = respondent_weights(session, data, ids, period.first, period.last, weighted,
                                                     min_cell)
    if data.empty:
        return PeriodEstimates(pd.DataFrame(columns=EMPTY_COLUMNS), False, weighting, 0, loaded.excluded,
                               Source.RESPONSES, pd.DataFrame())
    # The calibration (weighting cells) makes the SEs those of R's postStratify: the served
    # totals are known, so they are not a source of sampling error.
    weights = None if weighting_result is None else weighting_result.weights
    calibration = None if weighting_result is None else weighting_result.calibration
    table = compute_indices(data, definition, unit_col="unit", parents=parents, weights=weights,
                            calibration=calibration, targets=targets, alpha=alpha, min_n=min_n,
                            lonely_psu="adjust")
    return PeriodEstimates(_finished(table, period), weighting_result is not None, weighting, len(data),
                           loaded.excluded, Source.RESPONSES, _collapsed(weighting_result))


def _collapsed(weighting: PoststratResult | CellWeights | None) -> pd.DataFrame:
    return pd.DataFrame() if weighting is None else weighting.collapsed
