"""Domains: every unit, every ancestor in the unit hierarchy, the total; and the cuts of the data
(periods and caller-chosen groupings) that each domain is crossed with."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from analysis.data import AnalysisInputError
from analysis.design import IntArray

TOTAL = "total"
Period = Literal["month", "quarter", "year"]
PeriodSpec = Period | Mapping[str, tuple[date | str, date | str]]
"""A calendar period, or custom ranges ``{label: (first_day, last_day)}`` (inclusive)."""


@dataclass(frozen=True)
class Domains:
    """The domain hierarchy.

    Attributes
    ----------
    labels, levels, parents : tuple of str
        Per domain: its name, ``"unit"``/``"parent"``/``"total"``, and its parent's name.
    unit_codes : numpy.ndarray of int
        Per respondent, the domain code of its unit.
    membership : (numpy.ndarray, numpy.ndarray)
        ``(unit domain, domain)`` pairs: each unit with itself, its ancestors and the total.
    """

    labels: tuple[str, ...]
    levels: tuple[str, ...]
    parents: tuple[str, ...]
    unit_codes: IntArray
    membership: tuple[IntArray, IntArray]


def build_domains(units: pd.Series, parents: Mapping[str, str | None] | None = None) -> Domains:
    """Build the domain hierarchy from each respondent's unit and a ``unit -> parent`` map.

    Units absent from `parents` (or mapped to None) hang directly under the total. A node with
    children is level "parent" and its estimate pools its own respondents with all descendants'.

    Raises
    ------
    AnalysisInputError
        On an empty unit, a unit called "total", or a cycle in `parents`.

    References
    ----------
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 (domain estimation).
    """
    # Factorize first: string work is then per distinct unit, not per respondent.
    unit_codes, uniques = pd.factorize(units, sort=False, use_na_sentinel=True)
    names = [str(u).strip() for u in uniques]
    if (unit_codes < 0).any() or "" in names:
        raise AnalysisInputError("the unit column has empty values")
    parent_of = {str(k): (None if v is None or str(v) == "" else str(v)) for k, v in (parents or {}).items()}
    observed = sorted(set(names))
    nodes: dict[str, None] = {}
    for unit in observed + sorted(parent_of):
        chain: list[str] = []
        node: str | None = unit
        while node is not None:
            if node == TOTAL:
                raise AnalysisInputError("no unit may be called 'total'")
            if node in chain:
                raise AnalysisInputError(f"the unit hierarchy has a cycle through {node!r}")
            chain.append(node)
            nodes.setdefault(node)
            node = parent_of.get(node)
    labels = (*nodes, TOTAL)
    index = {label: i for i, label in enumerate(labels)}
    has_children = {p for p in parent_of.values() if p is not None}
    levels = (*("parent" if n in has_children else "unit" for n in nodes), "total")
    parent_labels = (*(parent_of.get(n) or TOTAL for n in nodes), "")
    member_unit: list[int] = []
    member_domain: list[int] = []
    for unit in observed:
        node = unit
        while node is not None:
            member_unit.append(index[unit])
            member_domain.append(index[node])
            node = parent_of.get(node)
        member_unit.append(index[unit])
        member_domain.append(index[TOTAL])
    codes = np.array([index[name] for name in names], dtype=np.intp)[unit_codes]
    return Domains(
        labels=labels,
        levels=levels,
        parents=parent_labels,
        unit_codes=codes,
        membership=(np.array(member_unit, dtype=np.intp), np.array(member_domain, dtype=np.intp)),
    )


def unit_domains(units: Sequence[str], parents: Mapping[str, str | None] | None = None) -> Domains:
    """`build_domains` of one row per unit (tables computed from each unit's sums), made once per
    units and tree: a province's thousand units cost 2 ms, and its table and change after every new
    response ask for the same domains.

    Parameters
    ----------
    units : sequence of str
        One code per row.
    parents : mapping of str to str or None, optional
        As in `build_domains`.

    Returns
    -------
    Domains
        The same object for the same units and tree; its arrays are read-only.
    """
    return _unit_domains(tuple(units), tuple((parents or {}).items()))


@functools.lru_cache(maxsize=32)
def _unit_domains(units: tuple[str, ...], parent_items: tuple[tuple[str, str | None], ...]) -> Domains:
    found = build_domains(pd.Series(units, dtype=object), dict(parent_items))
    for array in (found.unit_codes, *found.membership):
        array.flags.writeable = False  # shared between callers: none may change it
    return found


def only_domains(domains: Domains, wanted: Collection[str]) -> Domains:
    """`domains` with only the domains labelled in `wanted` (the others are not estimated).

    Parameters
    ----------
    domains : Domains
        The whole hierarchy (`build_domains`).
    wanted : collection of str
        Labels of the domains to keep (unit codes, ``"total"``); labels not in `domains` are ignored.

    Returns
    -------
    Domains
        ``labels``, ``levels``, ``parents`` and the second element of ``membership`` (the domain)
        renumbered over the domains kept; ``unit_codes`` and the first element of ``membership`` (each
        respondent's or cell's unit) keep the codes of `domains`, so the same unit codes still find
        their domains. A unit none of whose domains is kept contributes nothing.
    """
    chosen = set(wanted)
    keep = np.array([label in chosen for label in domains.labels], dtype=bool)
    new_code = np.cumsum(keep) - 1
    member_unit, member_domain = domains.membership
    kept_pairs = keep[member_domain]

    def kept(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v for v, k in zip(values, keep, strict=True) if k)

    return Domains(labels=kept(domains.labels), levels=kept(domains.levels), parents=kept(domains.parents),
                   unit_codes=domains.unit_codes,
                   membership=(member_unit[kept_pairs], new_code[member_domain[kept_pairs]].astype(np.intp)))


def period_labels(dates: pd.Series, period: PeriodSpec) -> list[tuple[str, IntArray]]:
    """Rows of each period: calendar months/quarters/years, or custom inclusive date ranges.

    References
    ----------
    pandas ``Series.dt.to_period`` (calendar periods); Lumley T (2010), *Complex Surveys*, sec. 2.4
    (a period is a domain: its respondents are a subset of the design, not a new design).
    """
    parsed = pd.to_datetime(dates, errors="coerce")
    if parsed.isna().any():
        raise AnalysisInputError(f"column {dates.name!r} has missing or unreadable dates")
    if isinstance(period, str):
        if period not in ("month", "quarter", "year"):
            raise AnalysisInputError(f"unknown period {period!r}")
        freq = {"month": "M", "quarter": "Q", "year": "Y"}[period]
        keys = parsed.dt.to_period(freq).astype("string")
        return [(str(k), np.flatnonzero(keys.to_numpy() == k)) for k in sorted(keys.unique())]
    out = []
    for label, (first, last) in period.items():
        mask = (parsed >= pd.Timestamp(first)) & (parsed <= pd.Timestamp(last))
        out.append((str(label), np.flatnonzero(mask.to_numpy())))
    return out


def cuts(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    period_col: str | None = None,
    period: PeriodSpec | None = None,
    crossed: bool = True,
) -> list[tuple[dict[str, str], IntArray]]:
    """The cuts of the data: each period (or all rows), and each period x `by` combination.

    With `crossed` False, each `by` column is cut on its own instead (its values, the other columns
    ``""``), not their combinations: several one-way breakdowns of the same respondents in one pass.

    Returns
    -------
    list of (labels, rows)
        `labels` maps "period" and each `by` column to its value ("" for "all").

    References
    ----------
    Lumley T (2010). *Complex Surveys: A Guide to Analysis Using R*, sec. 2.4 (domain estimation).
    """
    for name in [*by, *([period_col] if period_col else [])]:
        if name not in data.columns:
            raise AnalysisInputError(f"missing column: {name}")
    if period is not None and period_col is None:
        raise AnalysisInputError("a period needs a date column")
    base: list[tuple[dict[str, str], IntArray]]
    if period is not None and period_col is not None:
        base = [({"period": label}, rows) for label, rows in period_labels(data[period_col], period)]
    else:
        base = [({}, np.arange(len(data), dtype=np.intp))]
    out = [({**labels, **dict.fromkeys(by, "")}, rows) for labels, rows in base]
    if by:
        keys = data[list(by)].astype("string").fillna("")
        groupings = [list(by)] if crossed else [[column] for column in by]
        for labels, rows in base:
            sub = keys.iloc[rows]
            for grouping in groupings:
                for values, positions in sub.groupby(grouping, sort=True).indices.items():
                    combo = values if isinstance(values, tuple) else (values,)
                    out.append(({**labels, **dict.fromkeys(by, ""),
                                 **dict(zip(grouping, map(str, combo), strict=True))}, rows[positions]))
    return out
