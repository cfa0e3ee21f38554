"""Cross-reference checks that a schema cannot express: ids, scale references, show_if, the index.

They run on a structurally valid `Instrument` and return every problem, each with the path of the
value to fix, in file order (scales, sections, index).

References
----------
.. [1] Bộ Nội vụ, SIPAS methodology (Quyết định 1001/QĐ-BNV): elements and criteria, "satisfied" =
   the top two levels; summarised in the project's domain notes (SIPAS §2–4).
.. [2] Bộ Y tế, Quyết định 3869/QĐ-BYT (2019): 5-level scale plus 0 = not used / no opinion,
   excluded from denominators.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from instruments.errors import InstrumentError
from instruments.model import (
    RESERVED_ITEM_IDS,
    Instrument,
    Item,
    MultipleChoiceItem,
    NoteItem,
    NumberItem,
    ScaleItem,
    SingleChoiceItem,
)


@dataclass(frozen=True)
class _Located:
    item: Item
    path: str
    position: int


def semantic_errors(instrument: Instrument) -> list[InstrumentError]:
    """Return every cross-reference error in `instrument` (empty if there is none)."""
    located = _locate_items(instrument)
    return [
        *_scale_errors(instrument),
        *_section_errors(instrument, located),
        *_index_errors(instrument, located),
    ]


def _locate_items(instrument: Instrument) -> dict[str, _Located]:
    """First occurrence of each item id (duplicates are reported, not located)."""
    located: dict[str, _Located] = {}
    position = 0
    for s, section in enumerate(instrument.sections):
        for i, item in enumerate(section.items):
            located.setdefault(item.id, _Located(item, f"sections[{s}].items[{i}]", position))
            position += 1
    return located


def _codes(instrument: Instrument, item: Item, *, with_na: bool) -> frozenset[int] | None:
    """Answer codes of a coded item; ``None`` for items without codes or with an unknown scale."""
    if isinstance(item, ScaleItem):
        scale = instrument.scales.get(item.scale)
        if scale is None:
            return None
        codes = {level.code for level in scale.levels}
        if with_na and item.allow_na and scale.not_applicable is not None:
            codes.add(scale.not_applicable.code)
        return frozenset(codes)
    if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
        return frozenset(option.code for option in item.options)
    return None


def _scale_errors(instrument: Instrument) -> Iterator[InstrumentError]:
    for scale_id, scale in instrument.scales.items():
        base = f"scales.{scale_id}"
        codes = [level.code for level in scale.levels]
        duplicated = False
        for n, code in enumerate(codes):
            if code in codes[:n]:
                duplicated = True
                yield InstrumentError(f"{base}.levels[{n}].code", f"code {code} used twice", "duplicate_code")
        # Mean scores and "top two levels" only mean something if codes rise with satisfaction.
        if not duplicated and codes != sorted(codes):
            yield InstrumentError(
                f"{base}.levels", "list levels lowest first, with rising codes", "levels_not_ascending"
            )
        for n, code in enumerate(scale.satisfied):
            if code not in codes:
                yield InstrumentError(f"{base}.satisfied[{n}]", f"code {code} is not a level", "unknown_code")
            elif code in scale.satisfied[:n]:
                yield InstrumentError(f"{base}.satisfied[{n}]", f"code {code} listed twice", "duplicate_code")
        if scale.not_applicable is not None and scale.not_applicable.code in codes:
            yield InstrumentError(
                f"{base}.not_applicable.code",
                f"code {scale.not_applicable.code} is also a level; 'not applicable' needs its own code",
                "code_collision",
            )


def _section_errors(instrument: Instrument, located: dict[str, _Located]) -> Iterator[InstrumentError]:
    """Duplicate ids and each item's own and show_if errors, in file order."""
    seen_sections: dict[str, int] = {}
    position = 0
    for s, section in enumerate(instrument.sections):
        if section.id in seen_sections:
            yield InstrumentError(
                f"sections[{s}].id",
                f"section id {section.id!r} already used by sections[{seen_sections[section.id]}]",
                "duplicate_id",
            )
        seen_sections.setdefault(section.id, s)
        for i, item in enumerate(section.items):
            path = f"sections[{s}].items[{i}]"
            first = located[item.id]
            if first.position != position:
                yield InstrumentError(
                    f"{path}.id", f"item id {item.id!r} already used by {first.path}", "duplicate_id"
                )
            yield from _own_errors(instrument, item, path)
            if item.show_if is not None:
                yield from _show_if_errors(instrument, item, path, position, located)
            position += 1


def _own_errors(instrument: Instrument, item: Item, path: str) -> Iterator[InstrumentError]:
    if item.id in RESERVED_ITEM_IDS:
        yield InstrumentError(
            f"{path}.id", f"item id {item.id!r} is reserved for the web form's own fields", "reserved_id"
        )
    if isinstance(item, ScaleItem) and item.scale not in instrument.scales:
        yield InstrumentError(f"{path}.scale", f"no scale called {item.scale!r}", "unknown_scale")
    if isinstance(item, SingleChoiceItem | MultipleChoiceItem):
        codes = [option.code for option in item.options]
        for n, code in enumerate(codes):
            if code in codes[:n]:
                yield InstrumentError(f"{path}.options[{n}].code", f"code {code} twice", "duplicate_code")
    if isinstance(item, MultipleChoiceItem) and (item.max_choices or 0) > len(item.options):
        yield InstrumentError(
            f"{path}.max_choices",
            f"max_choices {item.max_choices} exceeds the {len(item.options)} options",
            "max_choices_too_large",
        )
    if isinstance(item, NumberItem) and item.min > item.max:
        yield InstrumentError(f"{path}.max", f"max {item.max} is below min {item.min}", "empty_range")
    if isinstance(item, NoteItem) and item.required:
        yield InstrumentError(f"{path}.required", "a note takes no answer", "required_note")


def _show_if_errors(
    instrument: Instrument, item: Item, path: str, position: int, located: dict[str, _Located]
) -> Iterator[InstrumentError]:
    assert item.show_if is not None  # checked by the caller; narrows the type
    target_id = item.show_if.item
    target = located.get(target_id)
    where = f"{path}.show_if.item"
    if target is None:
        yield InstrumentError(where, f"no item called {target_id!r}", "unknown_item")
        return
    if target.position >= position:
        # A condition on the item itself or a later one cannot be evaluated when the item is shown.
        yield InstrumentError(where, f"{target_id!r} is not an earlier item", "show_if_not_earlier")
        return
    if not isinstance(target.item, ScaleItem | SingleChoiceItem):
        yield InstrumentError(
            where,
            f"{target_id!r} is a {target.item.type} item; show_if needs a single or scale item",
            "show_if_type",
        )
        return
    codes = _codes(instrument, target.item, with_na=True)
    if codes is None:  # unknown scale, reported at the target
        return
    for n, code in enumerate(item.show_if.in_):
        if code not in codes:
            yield InstrumentError(
                f"{path}.show_if.in[{n}]", f"{target_id!r} has no answer code {code}", "unknown_code"
            )


def _index_errors(instrument: Instrument, located: dict[str, _Located]) -> Iterator[InstrumentError]:
    element_of: dict[str, str] = {}
    seen_elements: dict[str, int] = {}
    for k, element in enumerate(instrument.index.elements):
        if element.id in seen_elements:
            yield InstrumentError(
                f"index.elements[{k}].id",
                f"element id {element.id!r} already used by index.elements[{seen_elements[element.id]}]",
                "duplicate_id",
            )
        seen_elements.setdefault(element.id, k)
        for m, criterion in enumerate(element.criteria):
            path = f"index.elements[{k}].criteria[{m}]"
            target = located.get(criterion)
            if criterion in element_of:
                yield InstrumentError(
                    path,
                    f"{criterion!r} is already a criterion of element {element_of[criterion]!r}",
                    "duplicate_criterion",
                )
            elif target is None:
                yield InstrumentError(path, f"no item called {criterion!r}", "unknown_item")
            elif not isinstance(target.item, ScaleItem):
                yield InstrumentError(
                    path,
                    f"{criterion!r} is a {target.item.type} item; criteria must be scale items",
                    "criterion_not_scale",
                )
            else:  # only valid criteria count, so that one mistake is not reported again elsewhere
                element_of[criterion] = element.id
    seen_separate: set[str] = set()
    for n, entry in enumerate(instrument.index.separate):
        yield from _separate_errors(
            instrument, n, entry.item, entry.favourable, located, element_of, seen_separate
        )
        seen_separate.add(entry.item)


def _separate_errors(
    instrument: Instrument,
    n: int,
    item_id: str,
    favourable: tuple[int, ...],
    located: dict[str, _Located],
    element_of: dict[str, str],
    seen: set[str],
) -> Iterator[InstrumentError]:
    path = f"index.separate[{n}]"
    target = located.get(item_id)
    if item_id in seen:
        yield InstrumentError(f"{path}.item", f"{item_id!r} is listed twice", "duplicate_separate")
        return
    if target is None:
        yield InstrumentError(f"{path}.item", f"no item called {item_id!r}", "unknown_item")
        return
    if item_id in element_of:
        # Reported twice, it would be counted in the index and again beside it.
        yield InstrumentError(
            f"{path}.item",
            f"{item_id!r} is a criterion of element {element_of[item_id]!r}",
            "criterion_also_separate",
        )
    if isinstance(target.item, NoteItem):
        yield InstrumentError(f"{path}.item", f"{item_id!r} is a note and takes no answer", "not_answerable")
        return
    codes = _codes(instrument, target.item, with_na=False)
    if codes is None:
        if favourable and not isinstance(target.item, ScaleItem):
            yield InstrumentError(
                f"{path}.favourable",
                f"{item_id!r} is a {target.item.type} item without answer codes",
                "favourable_without_codes",
            )
        return
    for m, code in enumerate(favourable):
        if code not in codes:
            yield InstrumentError(
                f"{path}.favourable[{m}]", f"{item_id!r} has no answer code {code}", "unknown_code"
            )
