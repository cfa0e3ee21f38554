"""Post-stratification of respondents to the number of dossiers each unit actually served.

QR feedback at a counter is a non-probability sample; weighting each respondent to the dossiers
served in their unit and cell (e.g. procedure field × channel) is the first correction the domain
notes ask for (docs/weights.md, "Post-stratification").

Collapse rule (deterministic, documented in docs/weights.md)
-------------------------------------------------------------
Within one group (unit, or unit × period) the cell variables ``cells = [c1, ..., ck]`` define a tree:
the group total at the root, then ``c1``, then ``c1 × c2`` and so on down to the full cells. A cell is
*adequate* when it has at least ``min_cell`` respondents and a positive number served. Starting at the
root, a node is split into its children only if **every** child is adequate; otherwise the node is one
weighting cell. So the last cell variable is collapsed first, a tiny cell is merged with all its
siblings that share the remaining variables, and if that is still not enough the merge climbs to the
unit total. Frame cells with dossiers served but no respondents are inadequate too, so their count is
absorbed into the merged cell and the unit's weights still add up to its served total.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from analysis.calibration import Calibration, cell_calibration
from analysis.weighting import WEIGHT_NAME, WeightingError, WeightingMethod, WeightingResult

__all__ = ["DEFAULT_MIN_CELL", "CellWeights", "PoststratResult", "poststratify", "poststratify_counts"]

# Large surveys often ask for 20-30 respondents per cell (the rule of thumb cited from Kalton &
# Flores-Cervantes 2003), but a commune counter gets ~20 responses a month. At that size a larger minimum
# merges the cells, and the merged weights leave the cells' unequal response rates uncorrected: the
# estimate is biased and the interval undercovers (92 % at n = 20 with 5). The interval's coverage is what
# the product promises, and 2 is the largest minimum that keeps it >= 94 % at n = 20 in both simulated
# designs (bench/coverage_calibrated.py, bench/coverage.py); 1 would let a lone answer carry a cell, which
# then adds nothing to the calibrated variance. docs/weights.md, "Collapse rule": tables and sources.
DEFAULT_MIN_CELL = 2

CollapseReason = Literal["too_few_respondents", "none_served", "no_respondents", "sibling"]
WILDCARD = "*"

Leaf = tuple[Hashable, ...]


@dataclass(frozen=True)
class PoststratResult(WeightingResult):
    """Post-stratification weights and the report of every cell that was merged.

    Attributes
    ----------
    weights : pandas.Series
        Weights aligned with ``data.index``.
    method : WeightingMethod
        Always `WeightingMethod.POSTSTRATIFIED`.
    collapsed : pandas.DataFrame
        One row per frame or respondent cell that is not its own weighting cell, with the group
        columns, the cell columns, ``respondents``, ``served``, ``reason`` (why the cell could not stand
        alone: ``too_few_respondents``, ``none_served``, ``no_respondents``, or ``sibling`` when it
        was adequate but merged because a sibling was not), ``kept`` (how many leading cell variables
        the weighting cell keeps; 0 means the unit total) and ``merged_into`` (e.g.
        ``"field=đất đai, channel=*"``). Groups that have frame rows but no respondents at all appear
        with reason ``no_respondents`` and ``kept`` = -1: their dossiers cannot be represented.
    calibration : analysis.calibration.Calibration
        The final weighting cells (after collapsing), for the calibrated variance: pass it to
        `analysis.tables.compute_indices` with the weights.
    """

    collapsed: pd.DataFrame
    calibration: Calibration


def poststratify(
    data: pd.DataFrame,
    frame: pd.DataFrame,
    cells: Sequence[str],
    *,
    unit_col: str = "unit",
    count_col: str = "served",
    min_cell: int = DEFAULT_MIN_CELL,
    period_col: str | None = None,
) -> PoststratResult:
    """Weight respondents so each weighting cell sums to the dossiers served there.

    Within each final weighting cell ``c`` (after the collapse rule in the module docstring), every
    respondent gets ``w = N_c / n_c``: ``N_c`` dossiers served, ``n_c`` respondents.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent with ``unit_col``, the ``cells`` columns and, if given, ``period_col``.
    frame : pandas.DataFrame
        One row per unit (× period) × cell with the number served in ``count_col``.
    cells : sequence of str
        Cell variables from the most to the least important: the last one is collapsed first.
        May be empty (weights to unit totals).
    unit_col, count_col, period_col : str
        Column names.
    min_cell : int
        Fewest respondents a cell needs to stand alone.

    Returns
    -------
    PoststratResult
        Weights aligned with ``data.index`` and the collapse report.

    Raises
    ------
    WeightingError
        On missing columns, NaN keys or counts, negative counts, a unit with
        respondents but no frame rows or nothing served, or ``min_cell < 1``. Frame rows that share
        a key are added up first.

    References
    ----------
    Holt, D. and Smith, T. M. F. (1979). Post stratification. *JRSS A* 142(1), 33-46.
    Kalton, G. and Flores-Cervantes, I. (2003). Weighting methods. *Journal of Official
    Statistics* 19(2), 81-97 (cell collapsing, section 2).
    """
    keys = _keys(cells, unit_col, period_col, count_col, min_cell)
    _require_columns(data, keys, "data")
    _reject_nan(data, keys, "data")
    respondents = data.groupby(keys, sort=False, observed=True).size()
    leaves = _weighting_cells(respondents, frame, cells, unit_col=unit_col, count_col=count_col,
                              min_cell=min_cell, period_col=period_col)
    leaf_index = pd.MultiIndex.from_frame(data[keys])
    weights = leaves.weight.reindex(leaf_index).to_numpy()
    cell_codes = leaves.cell.reindex(leaf_index).to_numpy().astype(np.intp)
    return PoststratResult(
        weights=pd.Series(weights, index=data.index, name=WEIGHT_NAME),
        method=WeightingMethod.POSTSTRATIFIED,
        collapsed=leaves.collapsed,
        calibration=cell_calibration(data.index, cell_codes, WeightingMethod.POSTSTRATIFIED.value),
    )


@dataclass(frozen=True)
class CellWeights:
    """Post-stratification of counted respondents (`poststratify_counts`).

    Attributes
    ----------
    weight, cell : pandas.Series
        Indexed by the respondent cells' keys (group columns, then cell columns): the weight of each
        respondent of the cell and its final weighting cell (0..C-1, after collapsing).
    collapsed : pandas.DataFrame
        As `PoststratResult.collapsed`.
    """

    weight: pd.Series
    cell: pd.Series
    collapsed: pd.DataFrame


def poststratify_counts(
    counts: pd.DataFrame,
    frame: pd.DataFrame,
    cells: Sequence[str],
    *,
    unit_col: str = "unit",
    count_col: str = "served",
    respondents_col: str = "respondents",
    min_cell: int = DEFAULT_MIN_CELL,
    period_col: str | None = None,
) -> CellWeights:
    """`poststratify` from the number of respondents per cell instead of one row per respondent.

    Parameters
    ----------
    counts : pandas.DataFrame
        One row per unit (× period) × cell with the respondents in `respondents_col` (rows sharing a
        key are added up).
    frame, cells, unit_col, count_col, min_cell, period_col
        As in `poststratify`.

    Returns
    -------
    CellWeights

    Raises
    ------
    WeightingError
        As `poststratify`, and on negative or fractional respondent counts.
    """
    keys = _keys(cells, unit_col, period_col, count_col, min_cell)
    _require_columns(counts, [*keys, respondents_col], "counts")
    _reject_nan(counts, keys, "counts")
    n = _checked_counts(counts, respondents_col)
    if (n != np.round(n)).any():
        raise WeightingError(f"counts[{respondents_col!r}] must be whole numbers of respondents")
    respondents = n.groupby([counts[key] for key in keys], sort=False, observed=True).sum()
    return _weighting_cells(respondents[respondents > 0], frame, cells, unit_col=unit_col,
                            count_col=count_col, min_cell=min_cell, period_col=period_col)


def _keys(cells: Sequence[str], unit_col: str, period_col: str | None, count_col: str,
          min_cell: int) -> list[str]:
    """Group then cell columns, after checking the arguments every entry point shares."""
    keys = [unit_col, *([period_col] if period_col is not None else []), *cells]
    if min_cell < 1:
        raise WeightingError(f"min_cell must be at least 1, got {min_cell}")
    if len(set(keys)) != len(keys) or count_col in keys:
        raise WeightingError(f"column names must be distinct, got {[*keys, count_col]}")
    return keys


def _weighting_cells(respondents: pd.Series, frame: pd.DataFrame, cells: Sequence[str], *, unit_col: str,
                     count_col: str, min_cell: int, period_col: str | None) -> CellWeights:
    """The collapse rule and ``N_c / n_c`` on respondent counts indexed by group + cell columns."""
    cell_cols = list(cells)
    group_cols = [unit_col] if period_col is None else [unit_col, period_col]
    keys = group_cols + cell_cols
    _require_columns(frame, [*keys, count_col], "frame")
    served = _checked_counts(frame, count_col)
    _reject_nan(frame, keys, "frame")

    # Rows sharing a key are added, so a frame finer than `cells` (e.g. per counter) can be used as is.
    served_by_leaf = served.groupby([frame[key] for key in keys], sort=False, observed=True).sum()
    factors: dict[Leaf, float] = {}
    cell_of: dict[Leaf, int] = {}
    n_cells = 0
    report_rows: list[dict[str, object]] = []
    resp_by_group = _split_by_group(respondents, len(group_cols))
    served_by_group = _split_by_group(served_by_leaf[served_by_leaf > 0], len(group_cols))
    for group, resp_leaves in resp_by_group.items():
        if group not in served_by_group:
            known = frame.groupby(group_cols, sort=False, observed=True).size().index
            why = "only zero counts" if _tuple_in(group, known) else "no rows"
            raise WeightingError(
                f"{dict(zip(group_cols, group, strict=True))} has respondents but {why} in the frame"
            )
        leaves = _merge_leaves(resp_leaves, served_by_group[group])
        for members, prefix in _partition(leaves, (), len(cell_cols), min_cell):
            n_c = sum(leaves[leaf][0] for leaf in members)
            big_n = sum(leaves[leaf][1] for leaf in members)
            cell, n_cells = n_cells, n_cells + 1
            for leaf in members:
                factors[group + leaf] = big_n / n_c
                cell_of[group + leaf] = cell
                if len(members) > 1 or len(prefix) < len(cell_cols):
                    report_rows.append(
                        _report_row(group_cols, group, leaf, leaves, prefix, cell_cols, min_cell)
                    )
    for group, served_leaves in served_by_group.items():
        if group not in resp_by_group:
            report_rows.append(_unrepresented_row(group_cols, group, served_leaves, cell_cols))
    columns = [*group_cols, *cell_cols, "respondents", "served", "reason", "kept", "merged_into"]
    # One index for both Series (their keys are the same, in the same order): a province's month of a
    # thousand units spent half its weighing making the index of each from its dict's tuples.
    index = pd.Series(factors, dtype=np.float64).index
    return CellWeights(weight=pd.Series(list(factors.values()), index=index, dtype=np.float64),
                       cell=pd.Series([cell_of[key] for key in factors], index=index, dtype=np.int64),
                       collapsed=pd.DataFrame(report_rows, columns=columns))


def _require_columns(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise WeightingError(f"{name} lacks the column(s) {missing}")


def _reject_nan(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for column in columns:
        if table[column].isna().any():
            raise WeightingError(f"{name}[{column!r}] has missing values; a cell must be known")


def _checked_counts(frame: pd.DataFrame, count_col: str) -> pd.Series:
    counts = pd.to_numeric(frame[count_col], errors="coerce")
    if counts.isna().any():
        raise WeightingError(f"frame[{count_col!r}] has missing or non-numeric counts")
    if not np.all(np.isfinite(counts.to_numpy(dtype=np.float64))):
        raise WeightingError(f"frame[{count_col!r}] has infinite counts")
    if (counts < 0).any():
        raise WeightingError(f"frame[{count_col!r}] has negative counts (smallest {counts.min():g})")
    return counts.astype(np.float64)


def _split_by_group(counts: pd.Series, n_group: int) -> dict[Leaf, dict[Leaf, float]]:
    """{group key: {cell leaf: count}} from a Series indexed by group + cell columns."""
    out: dict[Leaf, dict[Leaf, float]] = {}
    for key, value in counts.items():
        full = key if isinstance(key, tuple) else (key,)
        out.setdefault(full[:n_group], {})[full[n_group:]] = float(value)
    return out


def _tuple_in(group: Leaf, index: pd.Index) -> bool:
    return any((key if isinstance(key, tuple) else (key,)) == group for key in index)


def _merge_leaves(
    respondents: dict[Leaf, float], served: dict[Leaf, float]
) -> dict[Leaf, tuple[float, float]]:
    """{leaf: (respondents, served)} over the union of respondent cells and served cells."""
    leaves = {leaf: (n, served.get(leaf, 0.0)) for leaf, n in respondents.items()}
    for leaf, big_n in served.items():
        leaves.setdefault(leaf, (0.0, big_n))
    return leaves


def _partition(
    leaves: dict[Leaf, tuple[float, float]], prefix: Leaf, depth: int, min_cell: int
) -> list[tuple[list[Leaf], Leaf]]:
    """Final weighting cells as (member leaves, kept prefix): split a node only if every child is adequate."""
    if len(prefix) == depth:
        return [(list(leaves), prefix)]
    level = len(prefix) + 1
    children: dict[Leaf, dict[Leaf, tuple[float, float]]] = {}
    for leaf, counts in leaves.items():
        children.setdefault(leaf[:level], {})[leaf] = counts
    if not all(_adequate(list(child.values()), min_cell) for child in children.values()):
        return [(sorted(leaves, key=repr), prefix)]
    cells: list[tuple[list[Leaf], Leaf]] = []
    for child_prefix in sorted(children, key=repr):
        cells.extend(_partition(children[child_prefix], child_prefix, depth, min_cell))
    return cells


def _adequate(counts: list[tuple[float, float]], min_cell: int) -> bool:
    return sum(n for n, _ in counts) >= min_cell and sum(big_n for _, big_n in counts) > 0


def _report_row(
    group_cols: list[str],
    group: Leaf,
    leaf: Leaf,
    leaves: dict[Leaf, tuple[float, float]],
    prefix: Leaf,
    cell_cols: list[str],
    min_cell: int,
) -> dict[str, object]:
    n, big_n = leaves[leaf]
    reason: CollapseReason
    if n == 0:
        reason = "no_respondents"
    elif big_n == 0:
        reason = "none_served"
    elif n < min_cell:
        reason = "too_few_respondents"
    else:
        reason = "sibling"
    labels = [*prefix, *[WILDCARD] * (len(cell_cols) - len(prefix))]
    merged_into = ", ".join(f"{col}={label}" for col, label in zip(cell_cols, labels, strict=True))
    return {
        **_key_columns(group_cols, group, cell_cols, leaf),
        "respondents": int(n),
        "served": big_n,
        "reason": reason,
        "kept": len(prefix),
        "merged_into": merged_into or "(unit total)",
    }


def _unrepresented_row(
    group_cols: list[str], group: Leaf, served: dict[Leaf, float], cell_cols: list[str]
) -> dict[str, object]:
    return {
        **_key_columns(group_cols, group, cell_cols, tuple([WILDCARD] * len(cell_cols))),
        "respondents": 0,
        "served": sum(served.values()),
        "reason": "no_respondents",
        "kept": -1,
        "merged_into": "(not represented: no respondents in this unit)",
    }


def _key_columns(
    group_cols: list[str], group: Leaf, cell_cols: list[str], leaf: Leaf
) -> dict[str, object]:
    return {**dict(zip(group_cols, group, strict=True)), **dict(zip(cell_cols, leaf, strict=True))}
