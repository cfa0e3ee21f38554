"""Cross-reference checks: each rule alone on the kitchen sink, then all of them in one file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from instruments.loader import check_mapping, validate_file

from .conftest import FIXTURES, pairs

Mutation = Callable[[dict[str, Any]], None]


def _items(data: dict[str, Any], section: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = data["sections"][section]["items"]
    return items


def _set(path: list[str | int], value: object) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


CASES: list[tuple[str, Mutation, list[tuple[str, str]]]] = [
    ("duplicate item id across sections", _set(["sections", 2, "items", 5, "id"], "q_access"),
     [("sections[2].items[5].id", "duplicate_id")]),
    ("duplicate section id", _set(["sections", 2, "id"], "service"), [("sections[2].id", "duplicate_id")]),
    ("duplicate element id", _set(["index", "elements", 1, "id"], "process"),
     [("index.elements[1].id", "duplicate_id")]),
    ("duplicate level code", _set(["scales", "five", "levels", 2, "code"], 2),
     [("scales.five.levels[2].code", "duplicate_code")]),
    ("levels not ascending", _set(["scales", "five", "levels", 2, "code"], 9),
     [("scales.five.levels", "levels_not_ascending")]),
    ("duplicate option code", _set(["sections", 2, "items", 1, "options", 2, "code"], 1),
     [("sections[2].items[1].options[2].code", "duplicate_code")]),
    ("unknown scale", _set(["sections", 1, "items", 2, "scale"], "seven"),
     [("sections[1].items[2].scale", "unknown_scale")]),
    ("satisfied code not a level", _set(["scales", "five", "satisfied"], [4, 5, 6]),
     [("scales.five.satisfied[2]", "unknown_code")]),
    ("satisfied code twice", _set(["scales", "five", "satisfied"], [4, 4]),
     [("scales.five.satisfied[1]", "duplicate_code")]),
    ("not-applicable code is a level", _set(["scales", "five", "not_applicable", "code"], 3),
     [("scales.five.not_applicable.code", "code_collision")]),
    ("criterion does not exist", _set(["index", "elements", 0, "criteria"], ["q_access", "q_nope"]),
     [("index.elements[0].criteria[1]", "unknown_item")]),
    ("criterion is not a scale item", _set(["index", "elements", 0, "criteria"], ["q_access", "visits"]),
     # visits is also reported separately; an invalid criterion is not reported a second time there
     [("index.elements[0].criteria[1]", "criterion_not_scale")]),
    ("criterion in two elements", _set(["index", "elements", 1, "criteria"], ["q_staff", "q_wait"]),
     [("index.elements[1].criteria[1]", "duplicate_criterion")]),
    ("criterion twice in one element", _set(["index", "elements", 0, "criteria"], ["q_access", "q_access"]),
     [("index.elements[0].criteria[1]", "duplicate_criterion")]),
    ("criterion also separate", _set(["index", "separate", 2], {"item": "q_wait", "group": "other"}),
     [("index.separate[2].item", "criterion_also_separate")]),
    ("separate item does not exist", _set(["index", "separate", 1, "item"], "bribe"),
     [("index.separate[1].item", "unknown_item")]),
    ("separate item listed twice", _set(["index", "separate", 2], {"item": "overall", "group": "other"}),
     [("index.separate[2].item", "duplicate_separate")]),
    ("separate note", _set(["index", "separate", 2], {"item": "intro_note", "group": "other"}),
     [("index.separate[2].item", "not_answerable")]),
    ("favourable code the item lacks", _set(["index", "separate", 1, "favourable"], [1, 3]),
     [("index.separate[1].favourable[1]", "unknown_code")]),
    ("favourable N/A code is not an answer level", _set(["index", "separate", 0, "favourable"], [0]),
     [("index.separate[0].favourable[0]", "unknown_code")]),
    ("favourable on a number", _set(["index", "separate", 2, "favourable"], [1]),
     [("index.separate[2].favourable", "favourable_without_codes")]),
    ("show_if on a missing item", _set(["sections", 2, "items", 1, "show_if", "item"], "q_gone"),
     [("sections[2].items[1].show_if.item", "unknown_item")]),
    ("show_if on a later item", _set(["sections", 1, "items", 0, "show_if"], {"item": "overall", "in": [1]}),
     [("sections[1].items[0].show_if.item", "show_if_not_earlier")]),
    ("show_if on itself", _set(["sections", 2, "items", 0, "show_if"], {"item": "overall", "in": [1]}),
     [("sections[2].items[0].show_if.item", "show_if_not_earlier")]),
    ("show_if on a multiple-choice item", _set(["sections", 2, "items", 2, "show_if", "item"], "reasons"),
     [("sections[2].items[2].show_if.item", "show_if_type")]),
    ("show_if on a number", _set(["sections", 2, "items", 5, "show_if"], {"item": "visits", "in": [1]}),
     [("sections[2].items[5].show_if.item", "show_if_type")]),
    ("show_if code the item lacks", _set(["sections", 2, "items", 1, "show_if", "in"], [1, 2, 6]),
     [("sections[2].items[1].show_if.in[2]", "unknown_code")]),
    ("show_if on N/A where N/A is not offered", _set(["sections", 2, "items", 1, "show_if", "in"], [0]),
     [("sections[2].items[1].show_if.in[0]", "unknown_code")]),
    ("required note", _set(["sections", 0, "items", 0, "required"], True),
     [("sections[0].items[0].required", "required_note")]),
    ("max_choices above the options", _set(["sections", 2, "items", 1, "max_choices"], 4),
     [("sections[2].items[1].max_choices", "max_choices_too_large")]),
    ("empty number range", _set(["sections", 2, "items", 4, "min"], 21),
     [("sections[2].items[4].max", "empty_range")]),
    ("item named like the form's nonce", _set(["sections", 0, "items", 0, "id"], "nonce"),
     [("sections[0].items[0].id", "reserved_id")]),
]


def test_kitchen_sink_is_valid(kitchen_sink: dict[str, Any]) -> None:
    assert check_mapping(kitchen_sink)[1] == []


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_rule(kitchen_sink: dict[str, Any], mutate: Mutation, expected: list[tuple[str, str]]) -> None:
    mutate(kitchen_sink)
    instrument, errors = check_mapping(kitchen_sink)
    assert instrument is None
    assert pairs(errors) == expected


def test_show_if_on_not_applicable_where_offered(kitchen_sink: dict[str, Any]) -> None:
    # q_access offers N/A (code 0), so a follow-up on "not applicable" is legitimate.
    _items(kitchen_sink, 2)[2]["show_if"] = {"item": "q_access", "in": [0]}
    assert check_mapping(kitchen_sink)[1] == []


def test_required_with_show_if_is_allowed(kitchen_sink: dict[str, Any]) -> None:
    # "required" applies only when the item is shown: a reason required from the dissatisfied.
    reasons = _items(kitchen_sink, 2)[1]
    assert reasons["required"] is True and "show_if" in reasons
    assert check_mapping(kitchen_sink)[1] == []


def test_every_semantic_error_in_one_file_in_file_order() -> None:
    assert pairs(validate_file(FIXTURES / "broken-semantics.yaml")) == [
        ("scales.five.satisfied[1]", "unknown_code"),
        ("scales.twice.levels[1].code", "duplicate_code"),
        ("scales.twice.not_applicable.code", "code_collision"),
        ("scales.falling.levels", "levels_not_ascending"),
        ("sections[0].items[0].show_if.item", "show_if_not_earlier"),
        ("sections[0].items[1].scale", "unknown_scale"),
        ("sections[0].items[2].id", "duplicate_id"),
        ("sections[0].items[2].options[1].code", "duplicate_code"),
        ("sections[0].items[3].required", "required_note"),
        ("sections[0].items[4].show_if.item", "show_if_type"),
        ("sections[0].items[5].max_choices", "max_choices_too_large"),
        ("sections[0].items[5].show_if.item", "unknown_item"),
        ("sections[1].id", "duplicate_id"),
        ("sections[1].items[0].max", "empty_range"),
        ("sections[1].items[1].show_if.in[1]", "unknown_code"),
        ("index.elements[0].criteria[1]", "criterion_not_scale"),
        ("index.elements[0].criteria[2]", "unknown_item"),
        ("index.elements[1].id", "duplicate_id"),
        ("index.elements[1].criteria[0]", "duplicate_criterion"),
        ("index.separate[0].item", "criterion_also_separate"),
        ("index.separate[1].item", "not_answerable"),
        ("index.separate[2].favourable", "favourable_without_codes"),
        ("index.separate[3].item", "unknown_item"),
        ("index.separate[4].item", "duplicate_separate"),
        ("index.separate[5].favourable[0]", "unknown_code"),
    ]
