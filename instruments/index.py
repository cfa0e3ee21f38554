"""The index definition: what `analysis` needs to know about an instrument, and nothing more.

Kept apart from the file model so that a researcher can build one from a CSV (`criterion,element`)
without writing an instrument file, and so that `analysis` depends on plain frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from instruments.model import Instrument, ScaleItem

SIPAS_FIVE_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
SIPAS_SATISFIED: tuple[int, ...] = (4, 5)
SIPAS_NOT_APPLICABLE = 0


@dataclass(frozen=True)
class Criterion:
    """One criterion (tiêu chí): a scale item and the codes that make an answer valid and satisfied.

    Attributes
    ----------
    item_id : str
        The item (and data column) holding the raw codes.
    element_id : str
        The element the criterion belongs to.
    valid_codes : frozenset of int
        Scale levels; any other value (the not-applicable code, missing, garbage) is not a valid answer
        and is excluded from the denominator.
    satisfied_codes : frozenset of int
        The subset of `valid_codes` counted as satisfied.
    not_applicable_code : int or None
        The code that means "not applicable", if the scale has one.
    """

    item_id: str
    element_id: str
    valid_codes: frozenset[int]
    satisfied_codes: frozenset[int]
    not_applicable_code: int | None = None


@dataclass(frozen=True)
class ElementDefinition:
    """An element (yếu tố): its criteria, in order, and its weight in the overall index."""

    element_id: str
    criteria: tuple[str, ...]
    weight: float = 1.0
    label_vi: str = ""
    label_en: str = ""


@dataclass(frozen=True)
class SeparateDefinition:
    """An item reported outside the index, with the codes counted as the favourable outcome."""

    item_id: str
    group: str
    codes: tuple[int, ...]
    favourable: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class IndexDefinition:
    """Elements, criteria and separately reported items of one index formula.

    Attributes
    ----------
    key : str
        `instrument@version`, or a name given by the caller for a CSV definition.
    formula : str
        The formula name stated on every report.
    elements : tuple of ElementDefinition
    criteria : tuple of Criterion
        Every criterion in element order.
    separate : tuple of SeparateDefinition
    """

    key: str
    formula: str
    elements: tuple[ElementDefinition, ...]
    criteria: tuple[Criterion, ...]
    separate: tuple[SeparateDefinition, ...] = ()

    @property
    def item_ids(self) -> list[str]:
        """The items the index reads: its criteria in element order, then its separately reported items."""
        return [c.item_id for c in self.criteria] + [s.item_id for s in self.separate]

    def criterion(self, item_id: str) -> Criterion:
        """Return the criterion on item `item_id`; `KeyError` if there is none."""
        for criterion in self.criteria:
            if criterion.item_id == item_id:
                return criterion
        raise KeyError(item_id)

    @classmethod
    def from_instrument(cls, instrument: Instrument) -> IndexDefinition:
        """Derive the definition from a validated instrument."""
        criteria: list[Criterion] = []
        for element in instrument.index.elements:
            for item_id in element.criteria:
                item = instrument.item(item_id)
                if not isinstance(item, ScaleItem):  # the loader refuses this; kept for type narrowing
                    raise TypeError(f"criterion {item_id} is not a scale item")
                scale = instrument.scales[item.scale]
                na = scale.not_applicable.code if scale.not_applicable and item.allow_na else None
                criteria.append(
                    Criterion(
                        item_id=item_id,
                        element_id=element.id,
                        valid_codes=frozenset(level.code for level in scale.levels),
                        satisfied_codes=frozenset(scale.satisfied),
                        not_applicable_code=na,
                    )
                )
        separate = []
        for entry in instrument.index.separate:
            item = instrument.item(entry.item)
            codes: tuple[int, ...] = ()
            if isinstance(item, ScaleItem):
                codes = tuple(level.code for level in instrument.scales[item.scale].levels)
            elif hasattr(item, "options"):
                codes = tuple(option.code for option in item.options)
            separate.append(
                SeparateDefinition(
                    item_id=entry.item, group=entry.group, codes=codes, favourable=frozenset(entry.favourable)
                )
            )
        return cls(
            key=instrument.key,
            formula=instrument.index.formula,
            elements=tuple(
                ElementDefinition(
                    element_id=element.id,
                    criteria=element.criteria,
                    weight=element.weight,
                    label_vi=element.label.vi,
                    label_en=element.label.en,
                )
                for element in instrument.index.elements
            ),
            criteria=tuple(criteria),
            separate=tuple(separate),
        )

    @classmethod
    def from_mapping(
        cls,
        criterion_elements: Iterable[tuple[str, str]],
        *,
        element_weights: Mapping[str, float] | None = None,
        key: str = "custom",
        levels: Iterable[int] = SIPAS_FIVE_LEVELS,
        satisfied: Iterable[int] = SIPAS_SATISFIED,
        not_applicable: int | None = SIPAS_NOT_APPLICABLE,
        formula: str = "sipas-share-satisfied-v1",
    ) -> IndexDefinition:
        """Build a definition from `(criterion, element)` pairs, all on one scale (SIPAS 1-5 by default).

        Elements keep the order in which they first appear.
        """
        valid = frozenset(levels)
        sat = frozenset(satisfied)
        if not sat or not sat <= valid:
            raise ValueError("satisfied levels must be among the scale levels, and at least one")
        if not_applicable is not None and not_applicable in valid:
            # The code would count as a valid answer and enter every denominator.
            raise ValueError(f"the not-applicable code {not_applicable} is also a scale level")
        weights = dict(element_weights or {})
        order: dict[str, list[str]] = {}
        criteria = []
        for item_id, element_id in criterion_elements:
            order.setdefault(element_id, []).append(item_id)
            criteria.append(Criterion(item_id, element_id, valid, sat, not_applicable))
        if not criteria:
            raise ValueError("an index definition needs at least one criterion")
        if len({c.item_id for c in criteria}) != len(criteria):
            raise ValueError("a criterion may belong to one element only")
        if unknown := sorted(set(weights) - set(order)):
            # A misspelt element name would silently leave that element at weight 1.
            raise ValueError(f"weights given for elements without criteria: {', '.join(unknown)}")
        elements = tuple(
            ElementDefinition(element_id, tuple(items), float(weights.get(element_id, 1.0)))
            for element_id, items in order.items()
        )
        criteria.sort(key=lambda c: list(order).index(c.element_id))
        return cls(key=key, formula=formula, elements=elements, criteria=tuple(criteria))
