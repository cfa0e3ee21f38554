"""The small-cell rule of published tables: no count 0 < n < k, and none recoverable by subtraction.

*Primary* suppression hides every cell with 0 < n < k (k = 5 by default). A hidden cell can still be
recovered when it is the only unknown term of a published sum, e.g. a commune's total minus its other
service points. *Complementary* suppression hides further cells until every additive relation
(``total = sum of members``) that contains a hidden cell contains at least two unknown terms
(Hundepool et al. 2012, section 4.3; Cox 1980).

Relations may contain *hidden* cells that are never published at all, such as the responses given
at a commune itself rather than at one of its service points (the commune's total minus its
children). Such a cell is unknown to a reader unless it is 0, which is treated as known (a reader may
guess that a commune takes no responses itself); a hidden cell with 0 < n < k is sensitive too and is
protected like a published one.

The complement chosen is the smallest positive published member of the relation that is not hidden
yet (the total only when no member qualifies): it costs the least information. The procedure repeats
until no relation reveals a hidden cell, so suppressions cascade up and down a hierarchy.

References
----------
Cox LH (1980). Suppression methodology and statistical disclosure control. *Journal of the American
Statistical Association* 75(370), 377-385.
Hundepool A et al. (2012). *Statistical Disclosure Control*, Wiley, chapter 4 (tabular data).
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["DEFAULT_THRESHOLD", "Relation", "SmallCells", "suppress_small_cells"]

DEFAULT_THRESHOLD = 5
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Relation(Generic[K]):
    """A published sum: ``values[total] == sum(values[m] for m in members)``."""

    total: K
    members: tuple[K, ...]


@dataclass(frozen=True)
class SmallCells(Generic[K]):
    """Which published cells to hide.

    Attributes
    ----------
    primary : frozenset
        Published cells with 0 < n < threshold.
    complementary : frozenset
        Published cells hidden so that no primary (or sensitive hidden) cell can be recovered.
    """

    primary: frozenset[K]
    complementary: frozenset[K]

    @property
    def suppressed(self) -> frozenset[K]:
        """Every published cell to hide."""
        return self.primary | self.complementary


def suppress_small_cells(values: Mapping[K, int], relations: Sequence[Relation[K]], *,
                         threshold: int = DEFAULT_THRESHOLD, hidden: Collection[K] = ()) -> SmallCells[K]:
    """Primary and complementary suppression of a table of counts.

    Parameters
    ----------
    values : mapping
        Count of every cell, published or hidden.
    relations : sequence of Relation
        The additive relations a reader can use.
    threshold : int
        Counts 0 < n < threshold are never published (at least 1).
    hidden : collection
        Cells that are never published (remainders).

    Returns
    -------
    SmallCells

    Raises
    ------
    ValueError
        On a threshold below 1, a negative count, a relation naming an unknown cell, or a relation
        that does not add up (a table that is not additive cannot be protected this way).
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    for relation in relations:
        cells = (relation.total, *relation.members)
        missing = [c for c in cells if c not in values]
        if missing:
            raise ValueError(f"relation names cells without a value: {missing}")
        if values[relation.total] != sum(values[m] for m in relation.members):
            raise ValueError(f"relation for {relation.total!r} does not add up")
    if any(v < 0 for v in values.values()):
        raise ValueError("counts must not be negative")
    hidden_set = set(hidden)
    primary = {c for c, v in values.items() if 0 < v < threshold and c not in hidden_set}
    suppressed = primary | hidden_set
    complementary: set[K] = set()

    def unknown(cell: K) -> bool:
        return cell in suppressed and not (cell in hidden_set and values[cell] == 0)

    def harmless(cell: K) -> bool:  # a hidden cell whose value may be learnt
        return cell in hidden_set and not 0 < values[cell] < threshold

    changed = True
    while changed:
        changed = False
        for relation in relations:
            cells = (relation.total, *relation.members)
            unknowns = [c for c in cells if unknown(c)]
            if len(unknowns) != 1 or harmless(unknowns[0]):
                continue
            candidates = sorted((values[m], str(m), m) for m in relation.members
                                if m not in suppressed and values[m] > 0)
            if not candidates and relation.total not in suppressed and values[relation.total] > 0:
                candidates = [(values[relation.total], str(relation.total), relation.total)]
            if not candidates:
                continue  # nothing left to hide: every other term is a known zero
            chosen = candidates[0][2]
            suppressed.add(chosen)
            complementary.add(chosen)
            changed = True
    return SmallCells(frozenset(primary), frozenset(complementary))
