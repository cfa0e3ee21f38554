"""A period's table after a few units' data changed: only the domains above those units computed again.

A new citizen response changes one cell of one unit. Strata are units and weighting cells lie within
a unit (`analysis.sums_tables.indices_from_sums`), so a domain's row reads only its own units' cells: the
rows of every domain that does not contain a changed unit are the previous table's, figure for figure.
The province's own row still needs every cell, but the table of a thousand domains shrinks to the few
above the changed unit (`indices_from_sums(domains=...)`), and the rest is taken from the previous
table computed under the same key.

What "changed" means is decided from the inputs themselves, not from what the caller believes
happened: each unit's *fingerprint* digests its cells (month, field, respondents, the stored sums),
their weights and how its cells are merged for calibration. A unit whose fingerprint moved, and a unit
with its first cells of the period (or without cells any more), is recomputed with every domain above
it; anything that could move other rows (another tree, weighting switched on or off) recomputes the
whole table. A unit's first response moves its domains in the table's order (units with respondents
come first: `analysis.domains.build_domains`), so the rows are then put in the order a whole
computation gives them (`domain_order`). The result is checked to hold the previous table's row keys,
else the whole table is computed.

The same argument gives a subtree's table from the table of a tree containing it (`narrowed`): its
rows are the subtree's domains' rows there, when every unit of the subtree has the same cells,
weights, target and children in both (`period_tables`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis.domains import TOTAL, build_domains


@dataclass(frozen=True)
class TableInputs:
    """What a period table was computed from: one digest per unit with cells, the tree, each unit's
    target and whether the cells were weighted."""

    units: Mapping[str, int]  # unit code -> fingerprint of its cells, weights and calibration cells
    parents: Mapping[str, str | None]  # the tree (unit code -> parent code, None at the root)
    targets: Mapping[str, float | None]  # unit code -> the target its rows were tested against
    weighted: bool


def table_inputs(digests: Mapping[str, int], parents: Mapping[str, str | None],
                 targets: float | Mapping[str, float] | None, weighted: bool) -> TableInputs:
    """The digests of a period's cells and their stored sums (`unit_digests`), with the tree and the
    targets (one for all, or by unit code)."""
    by_unit = {code: targets.get(code) if isinstance(targets, Mapping) else targets for code in parents}
    return TableInputs(dict(digests), dict(parents), by_unit, weighted)


def sums_digest(sums: bytes) -> bytes:
    """A digest of one cell's stored sums: what a unit's digest reads in place of the sums themselves (a
    province's year is 60 MB of sums, hashed once per cell when read rather than per table)."""
    return hashlib.blake2b(sums, digest_size=16).digest()


def unit_digests(cells: pd.DataFrame, blobs: Sequence[bytes], weighted: bool) -> dict[str, int]:
    """One digest per unit of its cells (``unit``, ``month``, ``field``, ``respondents`` and, when
    `weighted`, ``weight`` and ``calibration_cell``) and their stored sums (`blobs`: each cell's sums, or
    their `sums_digest`), row by row: the digests of its months (`month_digests`) in month order, so
    that a period put together from its months (`period_cells`) has the same digests."""
    return combined_digests([month_digests(cells, blobs, weighted)])


def month_digests(cells: pd.DataFrame, blobs: Sequence[bytes],
                  weighted: bool) -> dict[tuple[str, str], bytes]:
    """(unit code, month) -> a digest of that unit's cells in that month (see `unit_digests`)."""
    units = cells["unit"].astype(str).tolist()
    months, fields = cells["month"].astype(str).tolist(), cells["field"].astype(str).tolist()
    counts = cells["respondents"].astype(int).tolist()
    if weighted:
        weights = cells["weight"].astype(float).tolist()
        # The calibration cell by its first member, not its code: codes are numbered over the period, so a
        # new cell elsewhere renumbers them without changing how this unit's cells are merged. (Cells are
        # merged within a unit's month only, so a month's first members are the same in any period.)
        first = (cells["month"].astype(str) + "\x00" + cells["field"].astype(str)) \
            .groupby(cells["calibration_cell"].to_numpy()).transform("min").tolist()
    else:
        weights, first = [1.0] * len(cells), [""] * len(cells)
    per_cell: dict[tuple[str, str], list[bytes]] = {}
    for unit, month, field, count, blob, weight, merged in zip(units, months, fields, counts, blobs, weights,
                                                               first, strict=True):
        row = f"{month}\x00{field}\x00{count}\x00{weight!r}\x00{merged}\x00".encode()
        per_cell.setdefault((unit, month), []).append(row + blob)
    return {key: _digest(sorted(rows)).to_bytes(8, "little") for key, rows in per_cell.items()}


def combined_digests(months: Sequence[Mapping[tuple[str, str], bytes]]) -> dict[str, int]:
    """Each unit's digest from the digests of its months (`month_digests`, of one or several frames),
    in month order."""
    per_unit: dict[str, list[tuple[str, bytes]]] = {}
    for found in months:
        for (unit, month), digest in found.items():
            per_unit.setdefault(unit, []).append((month, digest))
    return {unit: _digest([month.encode() + digest for month, digest in sorted(parts)])
            for unit, parts in per_unit.items()}


def _digest(parts: list[bytes]) -> int:
    """One number for `parts`, the same in every process (hashlib, not hash(): a table and its digests
    may be read back by another process from the shared store)."""
    # One update of the whole stream: the same digest as one update per piece, at a fraction of the calls
    # (a province's year is 27,000 pieces).
    stream = b"".join(len(part).to_bytes(8, "little") + part for part in parts)
    return int.from_bytes(hashlib.blake2b(stream, digest_size=8).digest(), "little")


def domains_to_update(previous: TableInputs, current: TableInputs,
                      parents: Mapping[str, str | None]) -> set[str] | None:
    """The domains whose rows may differ from the previous table's: every unit whose cells changed,
    appeared or went, and the units above it; None when the whole table must be computed (another
    tree or weighting)."""
    if (previous.parents, previous.weighted) != (current.parents, current.weighted):
        return None
    changed = {unit for unit in previous.units.keys() | current.units.keys()
               if previous.units.get(unit) != current.units.get(unit)}
    above: set[str] = set()
    for unit in changed:
        node: str | None = unit
        while node is not None and node not in above:
            above.add(node)
            node = parents.get(node)
    return above


def domain_order(before: Collection[str], after: Collection[str], parents: Mapping[str, str | None]
                 ) -> tuple[str, ...] | None:
    """The order of the domains in a table of units `after` (those with cells) on tree `parents`, when
    they are not the units `before` (None: the same units, the same order)."""
    if set(before) == set(after):
        return None
    return build_domains(pd.Series(sorted(after), dtype=object), parents).labels


KEY = ["domain", "stat_type", "stat"]


def spliced(previous: pd.DataFrame, fresh: pd.DataFrame, domains: set[str],
            order: Sequence[str] | None = None) -> pd.DataFrame | None:
    """`previous` with the rows of `domains` replaced by `fresh` (the same rows, recomputed); None when
    `fresh` does not hold exactly those rows in the same order (then compute the whole table).

    `order`: the order of the domains in the table now (`domain_order`), when it may differ from
    `previous`'s (a unit's first or last cells): see `_merged`."""
    if order is not None:
        return _merged(previous, fresh, domains, order)
    replaced = previous["domain"].isin(domains).to_numpy()
    old_keys = previous.loc[replaced, KEY].to_numpy()
    if list(fresh.dtypes.items()) != list(previous.dtypes.items()) \
            or fresh[KEY].to_numpy().shape != old_keys.shape or not (fresh[KEY].to_numpy() == old_keys).all():
        return None
    at = np.flatnonzero(replaced)
    return pd.DataFrame({name: _replaced(previous[name], at, fresh[name]) for name in previous.columns})


def _merged(previous: pd.DataFrame, fresh: pd.DataFrame, domains: set[str],
            after: Sequence[str]) -> pd.DataFrame | None:
    """The rows of `previous` outside `domains` and those of `fresh`, in the order of a whole table now.

    A table lists its statistic types in blocks, and its domains in their order within each block. A unit's
    first cells move it (and the units above it) among the units with respondents; a change lists only
    domains with respondents, so the recomputed domains may also gain or lose rows. None when either
    table is not laid out so, or when a domain in both has other rows in `fresh`."""
    if list(fresh.dtypes.items()) != list(previous.dtypes.items()):
        return None
    blocks = previous["stat_type"].unique().tolist()
    before = previous["domain"].unique().tolist()  # as its first block lists them
    old_block, old_rank = _places(previous, blocks, before)
    new_block, new_rank = _places(fresh, blocks, after)
    if not (_laid_out(old_block, old_rank) and _laid_out(new_block, new_rank)):
        return None
    rank_now = _places(previous, blocks, after)[1]
    if (rank_now < 0).any():  # a domain the table now would not list
        return None
    replaced = previous["domain"].isin(domains).to_numpy()
    both = set(previous.loc[replaced, "domain"].unique().tolist()) & set(fresh["domain"].unique().tolist())
    old = replaced & previous["domain"].isin(both).to_numpy()
    recomputed = fresh[fresh["domain"].isin(both).to_numpy()]
    was = previous[old].take(np.lexsort((rank_now[old], old_block[old])))
    if was[KEY].to_numpy().shape != recomputed[KEY].to_numpy().shape \
            or not (was[KEY].to_numpy() == recomputed[KEY].to_numpy()).all():
        return None
    merged = pd.concat([previous[~replaced], fresh], ignore_index=True)
    order = np.lexsort((np.concatenate([rank_now[~replaced], new_rank]),
                        np.concatenate([old_block[~replaced], new_block])))
    return merged.take(order).reset_index(drop=True)


def _places(table: pd.DataFrame, blocks: list[str], order: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's block (statistic type) and domain by their place in `blocks` and `order` (-1: neither)."""
    def place(column: str, among: Sequence[str]) -> np.ndarray:
        codes, uniques = pd.factorize(table[column])  # per distinct value, not per row (a province: 60,000)
        at = {value: i for i, value in enumerate(among)}
        return np.array([at.get(value, -1) for value in uniques.tolist()] + [-1], dtype=np.int64)[codes]

    return place("stat_type", blocks), place("domain", order)


def _laid_out(block: np.ndarray, rank: np.ndarray) -> bool:
    """Whether rows of these places come block by block, domains in order within each block."""
    if len(block) == 0:
        return True
    step_block, step_rank = np.diff(block), np.diff(rank)
    return bool((block >= 0).all() and (rank >= 0).all() and (step_block >= 0).all()
                and ((step_block > 0) | (step_rank >= 0)).all())


def _replaced(column: pd.Series, at: np.ndarray, values: pd.Series) -> pd.Series:
    """`column` with the values at positions `at` replaced by `values` (same dtype). A text column whose
    values there are unchanged (names, levels, keys) is the same column, not a copy: on pandas' Arrow
    strings a concatenation and reordering of a province's 57,000 rows cost 0.02-0.2 s, this 0.006 s."""
    new = values.to_numpy()
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        if bool((column.iloc[at].to_numpy() == new).all()):
            return column
        if isinstance(column.array, pd.arrays.ArrowStringArray):  # replaced in Arrow: 4.6 -> 1.8 ms
            mask = np.zeros(len(column), dtype=bool)
            mask[at] = True
            strings = pa.array(column.array)
            replaced = pc.replace_with_mask(strings, pa.array(mask), pa.array(new, type=strings.type))
            return pd.Series(pd.array(replaced, dtype=column.dtype), index=column.index, name=column.name)
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

