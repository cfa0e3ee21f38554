"""Statistical disclosure control of respondent-level microdata: generalise, suppress, check k and l.

A released record can be re-identified when an outsider who knows a few facts about a person (their
*quasi-identifiers*: age band, sex, the office and month of their visit, ...) finds few records that
match them. The rules here make every combination of quasi-identifier values in the released file
shared by at least ``k`` records (*k-anonymity*, Sweeney 2002) and every such group show at least
``l`` distinct answers to each sensitive item (*distinct l-diversity*, Machanavajjhala et al. 2007),
so that even a correct match does not reveal how that person answered "did you pay extra money?".

The steps, in order:

1. **Generalisation** along declared hierarchies (`generalise`, `period_labels`): a unit becomes its
   parent, age bands are merged, days become weeks, months or quarters. The caller chooses the levels;
   this module never coarsens on its own, so what a researcher receives is what they asked for.
2. **Local suppression** (`protect`): for records in a group smaller than ``k``, the suppressible
   quasi-identifiers are blanked one column at a time, in the declared order (least useful first),
   re-counting the groups after each column. A suppressed value is its *own* category when groups are
   counted: the group sizes are then lower bounds of how many records an outsider must consider, which
   is the cautious reading. Records still in a group smaller than ``k`` after every suppressible
   column (their unit and period alone are too rare) are removed.
3. **Distinct l-diversity** of each sensitive item: in a group where the answered values of the item
   are all the same (fewer than ``l`` distinct), those answers are suppressed.
4. **Budget**: the share of suppressed cells (quasi-identifier and sensitive cells, a removed record
   counting all of its cells) may not exceed the budget (10 % by default); otherwise `protect` raises
   `DisclosureRefused`, naming the columns that cost the most, so the request can be coarsened.

References
----------
Sweeney L (2002). k-anonymity: a model for protecting privacy. *International Journal of
Uncertainty, Fuzziness and Knowledge-Based Systems* 10(5), 557-570.
Machanavajjhala A, Kifer D, Gehrke J, Venkitasubramaniam M (2007). l-diversity: privacy beyond
k-anonymity. *ACM Transactions on Knowledge Discovery from Data* 1(1), article 3.
Hundepool A et al. (2012). *Statistical Disclosure Control*, Wiley, chapter 3 (local suppression,
global recoding).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_K",
    "DEFAULT_L",
    "MIN_K",
    "DisclosureRefused",
    "DisclosureReport",
    "DisclosureRules",
    "Protected",
    "QuasiIdentifier",
    "equivalence_keys",
    "generalise",
    "period_labels",
    "protect",
]

DEFAULT_K = 5
MIN_K = 3  # below 3 a "group" is a pair: each member knows the other's answers
DEFAULT_L = 2
DEFAULT_BUDGET = 0.10
_SUPPRESSED_KEY = "\x00suppressed"
_MISSING_KEY = "\x00missing"

Granularity = Literal["day", "week", "month", "quarter", "year"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month", "quarter", "year")


@dataclass(frozen=True)
class QuasiIdentifier:
    """A column an outsider may know about a respondent.

    Attributes
    ----------
    column : str
        Column name in the data.
    suppressible : bool
        False for columns that carry the survey design (the unit, the period): they are coarsened by
        generalisation only, never blanked record by record, so the weights stay meaningful.
    """

    column: str
    suppressible: bool = True


@dataclass(frozen=True)
class DisclosureRules:
    """What to protect and how strictly.

    Attributes
    ----------
    quasi_identifiers : tuple of QuasiIdentifier
        Suppressible ones are blanked in this order (put the least useful first).
    sensitive : tuple of str
        Items whose answers must be l-diverse within every group.
    k : int
        Smallest group size allowed; at least `MIN_K`.
    l : int
        Fewest distinct answered values of each sensitive item per group; at least 1 (1 = no check).
    budget : float
        Largest share of suppressed cells, in [0, 1].
    """

    quasi_identifiers: tuple[QuasiIdentifier, ...]
    sensitive: tuple[str, ...] = ()
    k: int = DEFAULT_K
    l: int = DEFAULT_L  # noqa: E741 - the letter of the literature
    budget: float = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if self.k < MIN_K:
            raise ValueError(f"k must be at least {MIN_K}, got {self.k}")
        if self.l < 1:
            raise ValueError(f"l must be at least 1, got {self.l}")
        if not 0.0 <= self.budget <= 1.0:
            raise ValueError(f"the suppression budget must be within [0, 1], got {self.budget}")
        columns = [q.column for q in self.quasi_identifiers]
        if len(set(columns)) != len(columns) or set(columns) & set(self.sensitive):
            raise ValueError("quasi-identifier and sensitive columns must be distinct")

    @property
    def columns(self) -> tuple[str, ...]:
        """The quasi-identifier column names, in declared order."""
        return tuple(q.column for q in self.quasi_identifiers)


@dataclass(frozen=True)
class DisclosureReport:
    """What `protect` did and what the released data achieve.

    Attributes
    ----------
    k_required, l_required : int
    budget : float
    records_in, records_out : int
        Records before protection and released.
    cells : int
        Quasi-identifier and sensitive cells of the input (records x columns).
    suppressed_cells : int
        Cells blanked, plus every cell of a removed record.
    suppressed_by_column : dict
        Blanked cells per column (removed records not included).
    k_achieved : int or None
        Smallest group size in the released data (None when nothing is released).
    l_achieved : int or None
        Smallest number of distinct answered values of a sensitive item in a group that has any
        answer (None without sensitive items or answers).
    groups : int
        Number of groups (distinct quasi-identifier combinations) released.
    """

    k_required: int
    l_required: int
    budget: float
    records_in: int
    records_out: int
    cells: int
    suppressed_cells: int
    suppressed_by_column: dict[str, int]
    k_achieved: int | None
    l_achieved: int | None
    groups: int

    @property
    def records_removed(self) -> int:
        """Records left out because even with every suppressible column blanked they stayed rare."""
        return self.records_in - self.records_out

    @property
    def suppression_rate(self) -> float:
        """Suppressed cells / cells (0 for empty input)."""
        return self.suppressed_cells / self.cells if self.cells else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary (for the codebook)."""
        return {
            "k_required": self.k_required, "l_required": self.l_required, "budget": self.budget,
            "records_in": self.records_in, "records_out": self.records_out,
            "records_removed": self.records_removed, "cells": self.cells,
            "suppressed_cells": self.suppressed_cells, "suppression_rate": self.suppression_rate,
            "suppressed_by_column": dict(self.suppressed_by_column), "k_achieved": self.k_achieved,
            "l_achieved": self.l_achieved, "groups": self.groups,
        }


class DisclosureRefused(ValueError):
    """The data cannot be made safe within the suppression budget.

    Attributes
    ----------
    report : DisclosureReport
        What protection would have cost.
    costliest : tuple of str
        Columns in decreasing order of suppressed cells; ``"(records)"`` stands for whole records
        removed, i.e. the non-suppressible quasi-identifiers (unit, period) are too fine.
    """

    def __init__(self, report: DisclosureReport, costliest: tuple[str, ...]) -> None:
        self.report = report
        self.costliest = costliest
        super().__init__(
            f"suppression would blank {report.suppression_rate:.1%} of cells, over the budget of "
            f"{report.budget:.0%}; coarsen {', '.join(costliest) or 'the request'} first"
        )


@dataclass(frozen=True)
class Protected:
    """The released records and which of their cells are suppressed.

    Attributes
    ----------
    data : pandas.DataFrame
        The input rows that are released, values unchanged (index kept).
    suppressed : pandas.DataFrame
        Boolean, same index as `data`, one column per quasi-identifier and sensitive item: True where
        the value must be released as "suppressed".
    report : DisclosureReport
    """

    data: pd.DataFrame
    suppressed: pd.DataFrame
    report: DisclosureReport = field(repr=False)


def generalise(values: pd.Series, hierarchy: Mapping[Hashable, Hashable]) -> pd.Series:
    """Replace each value by its ancestor in `hierarchy` (missing values stay missing).

    Parameters
    ----------
    values : pandas.Series
    hierarchy : mapping
        ``value -> coarser value``; every non-missing value must be a key.

    Returns
    -------
    pandas.Series

    Raises
    ------
    ValueError
        When a value has no entry in `hierarchy` (a hierarchy that forgets a value would leak it).
    """
    present = values.dropna()
    unknown = sorted({str(v) for v in present if v not in hierarchy})
    if unknown:
        raise ValueError(f"{values.name}: no coarser value declared for {unknown[:5]}")
    return values.map(lambda v: hierarchy[v] if not _is_missing(v) else v)


def period_labels(dates: pd.Series, granularity: Granularity) -> pd.Series:
    """Label dates by day ("2026-10-05"), ISO week ("2026-W40"), month ("2026-10"), quarter ("2026-Q4")
    or year ("2026"); never a time of day.

    Parameters
    ----------
    dates : pandas.Series
        Dates or datetimes (time zone already applied by the caller).
    granularity : {"day", "week", "month", "quarter", "year"}

    Returns
    -------
    pandas.Series of str
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    stamps = pd.to_datetime(dates)
    if granularity == "day":
        return stamps.dt.strftime("%Y-%m-%d")
    if granularity == "week":
        iso = stamps.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(int).map("{:02d}".format)
    if granularity == "month":
        return stamps.dt.strftime("%Y-%m")
    if granularity == "quarter":
        return stamps.dt.year.astype(str) + "-Q" + stamps.dt.quarter.astype(str)
    return stamps.dt.year.astype(str)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def equivalence_keys(data: pd.DataFrame, suppressed: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One hashable key per record: its quasi-identifier values, with suppressed and missing values as
    categories of their own.

    Parameters
    ----------
    data : pandas.DataFrame
    suppressed : pandas.DataFrame
        Boolean mask with (at least) `columns`.
    columns : sequence of str

    Returns
    -------
    pandas.Series of str, aligned with `data`.
    """
    parts = []
    for column in columns:
        text = data[column].map(lambda v: _MISSING_KEY if _is_missing(v) else str(v)).astype(str)
        parts.append(text.where(~suppressed[column], _SUPPRESSED_KEY))
    if not parts:
        return pd.Series("", index=data.index, dtype=object)
    key = parts[0]
    for part in parts[1:]:
        key = key + "\x1f" + part
    return key


def _group_sizes(keys: pd.Series) -> pd.Series:
    return keys.map(keys.value_counts())


def protect(data: pd.DataFrame, rules: DisclosureRules) -> Protected:
    """Make `data` k-anonymous and l-diverse by local suppression, within the suppression budget.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent, quasi-identifiers already generalised to the requested levels.
    rules : DisclosureRules

    Returns
    -------
    Protected

    Raises
    ------
    ValueError
        When a declared column is missing from `data`.
    DisclosureRefused
        When the suppressed share of cells would exceed ``rules.budget``.
    """
    checked = [*rules.columns, *rules.sensitive]
    missing = [c for c in checked if c not in data.columns]
    if missing:
        raise ValueError(f"missing columns: {missing}")
    mask = pd.DataFrame(False, index=data.index, columns=checked)
    by_column = dict.fromkeys(checked, 0)
    sizes = _group_sizes(equivalence_keys(data, mask, rules.columns))
    for qi in rules.quasi_identifiers:
        small = sizes < rules.k
        if not small.any():
            break
        if not qi.suppressible:
            continue
        newly = small & ~mask[qi.column]
        mask.loc[newly, qi.column] = True
        by_column[qi.column] += int(newly.sum())
        sizes = _group_sizes(equivalence_keys(data, mask, rules.columns))
    keep = sizes >= rules.k
    for column in rules.columns:  # cells blanked in records that are removed anyway count once, below
        by_column[column] -= int((mask[column] & ~keep).sum())
    released, mask = data.loc[keep], mask.loc[keep]
    keys = equivalence_keys(released, mask, rules.columns)
    for item in rules.sensitive:
        distinct = released[item].groupby(keys, sort=False).transform("nunique")
        answered = released[item].notna()
        homogeneous = answered & (distinct < rules.l)
        mask.loc[homogeneous, item] = True
        by_column[item] += int(homogeneous.sum())
    removed = int((~keep).sum())
    cells = len(data) * len(checked)
    report = DisclosureReport(
        k_required=rules.k, l_required=rules.l, budget=rules.budget, records_in=len(data),
        records_out=len(released), cells=cells,
        suppressed_cells=sum(by_column.values()) + removed * len(checked),
        suppressed_by_column={c: n for c, n in by_column.items() if n},
        k_achieved=int(keys.value_counts().min()) if len(released) else None,
        l_achieved=_l_achieved(released, mask, keys, rules.sensitive), groups=int(keys.nunique()),
    )
    if report.suppressed_cells > rules.budget * cells:
        costs = sorted(((n, c) for c, n in by_column.items() if n), reverse=True)
        costliest = (("(records)",) if removed else ()) + tuple(c for _, c in costs)
        raise DisclosureRefused(report, costliest)
    return Protected(released, mask, report)


def _l_achieved(released: pd.DataFrame, mask: pd.DataFrame, keys: pd.Series,
                sensitive: Sequence[str]) -> int | None:
    found: list[int] = []
    for item in sensitive:
        shown = released[item].where(~mask[item])
        distinct = shown.groupby(keys, sort=False).nunique()
        found.extend(int(d) for d in distinct if d > 0)
    return min(found) if found else None
