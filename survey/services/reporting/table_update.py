"""A period's table after a few units' data changed: only the domains above those units computed again.

A new citizen response changes one cell of one unit. Strata are units and weighting cells lie within
a unit (`analysis.sums_tables.indices_from_sums`), so a domain's row reads only its own units' cells: the
rows of every domain that does not contain a changed unit are the previous table's, figure for figure.
The province's own row still needs every cell, but the table of a thousand domains shrinks to the few
above the changed unit (`indices_from_sums(domains=...)`), and the rest is taken from the previous
table computed under the same key.

What "changed" means is decided from the inputs themselves, not from what the caller believes
happened: each unit's *fingerprint* digests its cells (month, field, respondents, the stored sums),
their weights and how its cells are merged for calibration. A unit whose fingerprint moved is
recomputed with every domain above it; anything that could move other rows (another set of units,
another tree, weighting switched on or off) recomputes the whole table. The result is checked to be
the previous table's row keys in the previous order, else the whole table is computed.

The same argument gives a subtree's table from the table of a tree containing it (`narrowed`): its
rows are the subtree's domains' rows there, when every unit of the subtree has the same cells,
weights, target and children in both (`period_tables`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.domains import TOTAL


@dataclass(frozen=True)
class TableInputs:
    """What a period table was computed from: one digest per unit with cells, the tree, each unit's
    target and whether the cells were weighted."""

    units: Mapping[str, int]  # unit code -> fingerprint of its cells, weights and calibration cells
    parents: Mapping[str, str | None]  # the tree (unit code -> parent code, None at the root)
    targets: Mapping[str, float | None]  # unit code -> the target its rows were tested against
    weighted: bool


def table_inputs(cells: pd.DataFrame, blobs: Sequence[bytes], parents: Mapping[str, str | None],
                 targets: float | Mapping[str, float] | None, weighted: bool) -> TableInputs:
    """The digests of a period's cells and their stored sums (`blobs`: each cell's `sums_digest`;
    `unit_digests`), with the tree and the targets (one for all, or by unit code)."""
    by_unit = {code: targets.get(code) if isinstance(targets, Mapping) else targets for code in parents}
    return TableInputs(unit_digests(cells, blobs, weighted), dict(parents), by_unit, weighted)


def sums_digest(sums: bytes) -> bytes:
    """A digest of one cell's stored sums: what a unit's digest reads in place of the sums themselves (a
    province's year is 60 MB of sums, hashed once per cell when read rather than per table)."""
    return hashlib.blake2b(sums, digest_size=16).digest()


def unit_digests(cells: pd.DataFrame, blobs: Sequence[bytes], weighted: bool) -> dict[str, int]:
    """One digest per unit of its cells (``unit``, ``month``, ``field``, ``respondents`` and, when
    `weighted`, ``weight`` and ``calibration_cell``) and their stored sums (`blobs`: each cell's sums, or
    their `sums_digest`), row by row."""
    units = cells["unit"].astype(str).tolist()
    months, fields = cells["month"].astype(str).tolist(), cells["field"].astype(str).tolist()
    counts = cells["respondents"].astype(int).tolist()
    if weighted:
        weights = cells["weight"].astype(float).tolist()
        # The calibration cell by its first member, not its code: codes are numbered over the period, so a
        # new cell elsewhere renumbers them without changing how this unit's cells are merged.
        first = (cells["month"].astype(str) + "\x00" + cells["field"].astype(str)) \
            .groupby(cells["calibration_cell"].to_numpy()).transform("min").tolist()
    else:
        weights, first = [1.0] * len(cells), [""] * len(cells)
    per_unit: dict[str, list[bytes]] = {}
    for unit, month, field, count, blob, weight, merged in zip(units, months, fields, counts, blobs, weights,
                                                               first, strict=True):
        per_unit.setdefault(unit, []).append(f"{month}\x00{field}\x00{count}\x00{weight!r}\x00{merged}\x00"
                                             .encode() + blob)
    return {unit: _digest(sorted(rows)) for unit, rows in per_unit.items()}


def _digest(parts: list[bytes]) -> int:
    """One number for `parts`, the same in every process (hashlib, not hash(): a table and its digests
    may be read back by another process from the shared store)."""
    # One update of the whole stream: the same digest as one update per piece, at a fraction of the calls
    # (a province's year is 27,000 pieces).
    stream = b"".join(len(part).to_bytes(8, "little") + part for part in parts)
    return int.from_bytes(hashlib.blake2b(stream, digest_size=8).digest(), "little")


def domains_to_update(previous: TableInputs, current: TableInputs,
                      parents: Mapping[str, str | None]) -> set[str] | None:
    """The domains whose rows may differ from the previous table's: every changed unit and the units
    above it; None when the whole table must be computed (other units, tree or weighting)."""
    if (previous.parents, previous.weighted, set(previous.units)) != (current.parents, current.weighted,
                                                                       set(current.units)):
        return None
    changed = {unit for unit, digest in current.units.items() if previous.units[unit] != digest}
    above: set[str] = set()
    for unit in changed:
        node: str | None = unit
        while node is not None and node not in above:
            above.add(node)
            node = parents.get(node)
    return above


KEY = ["domain", "stat_type", "stat"]


def spliced(previous: pd.DataFrame, fresh: pd.DataFrame, domains: set[str]) -> pd.DataFrame | None:
    """`previous` with the rows of `domains` replaced by `fresh` (the same rows, recomputed); None when
    `fresh` does not hold exactly those rows in the same order (then compute the whole table)."""
    replaced = previous["domain"].isin(domains).to_numpy()
    old_keys = previous.loc[replaced, KEY].to_numpy()
    if list(fresh.dtypes.items()) != list(previous.dtypes.items()) \
            or fresh[KEY].to_numpy().shape != old_keys.shape or not (fresh[KEY].to_numpy() == old_keys).all():
        return None
    at = np.flatnonzero(replaced)
    return pd.DataFrame({name: _replaced(previous[name], at, fresh[name]) for name in previous.columns})


def _replaced(column: pd.Series, at: np.ndarray, values: pd.Series) -> pd.Series:
    """`column` with the values at positions `at` replaced by `values` (same dtype). A text column whose
    values there are unchanged (names, levels, keys) is the same column, not a copy: on pandas' Arrow
    strings a concatenation and reordering of a province's 57,000 rows cost 0.02-0.2 s, this 0.006 s."""
    new = values.to_numpy()
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        if bool((column.iloc[at].to_numpy() == new).all()):
            return column
        merged = column.to_numpy(dtype=object, copy=True)
        merged[at] = new.astype(object)
        return pd.Series(merged, index=column.index, dtype=column.dtype, name=column.name)
    merged = column.to_numpy(copy=True)
    merged[at] = new
    return pd.Series(merged, index=column.index, name=column.name)


def narrowed(larger: pd.DataFrame, above: TableInputs, inputs: TableInputs) -> pd.DataFrame | None:
    """The rows of a subtree's table (`inputs`) taken from the table of a tree that contains it
    (`larger`, computed from `above`), when every unit of the subtree has there the same cells, weights,
    target and place in the tree; None otherwise. The subtree's root is its table's top: its rows' parent
    is the total."""
    codes = set(inputs.parents)
    root = next((code for code, parent in inputs.parents.items() if parent is None), None)
    if root is None or root not in above.parents or above.weighted != inputs.weighted:
        return None
    same_tree = all(above.parents.get(code) == parent
                    for code, parent in inputs.parents.items() if code != root)
    no_other_children = all(code in codes for code, parent in above.parents.items() if parent in codes)
    same_units = {unit: digest for unit, digest in above.units.items() if unit in codes} == inputs.units
    same_targets = all(above.targets.get(code) == inputs.targets[code] for code in codes)
    if not (same_tree and no_other_children and same_units and same_targets):
        return None
    rows = larger[larger["domain"].isin(list(codes))].reset_index(drop=True)
    rows.loc[rows["domain"] == root, "parent"] = TOTAL
    return rows

