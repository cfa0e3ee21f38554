"""Structural validation and YAML reading: every error reported, each with its file path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from instruments.loader import (
    InstrumentError,
    InvalidInstrument,
    load_instrument,
    parse_instrument,
    read_yaml,
    validate_file,
)
from instruments.model import MultipleChoiceItem, ScaleItem

from .conftest import FIXTURES, KITCHEN_SINK, pairs


def test_kitchen_sink_uses_every_item_type_and_feature() -> None:
    instrument = load_instrument(KITCHEN_SINK)
    assert instrument.key == "kitchen-sink@2025.1"
    assert {item.type for item in instrument.items()} == {
        "scale", "single", "multiple", "short_text", "long_text", "number", "note"
    }
    assert any(item.show_if for item in instrument.items())
    assert any(scale.not_applicable for scale in instrument.scales.values())
    assert len(instrument.index.elements) >= 2
    assert {entry.group for entry in instrument.index.separate} >= {"overall", "integrity"}
    reasons = instrument.item("reasons")
    assert isinstance(reasons, MultipleChoiceItem)
    assert reasons.show_if is not None and reasons.show_if.in_ == (1, 2)
    staff = instrument.item("q_staff")
    assert isinstance(staff, ScaleItem) and staff.allow_na is False


def test_broken_structure_reports_every_error_with_its_path() -> None:
    errors = validate_file(FIXTURES / "broken-structure.yaml")
    # pydantic lists extra keys after declared fields; the order among errors is not a contract.
    assert sorted(pairs(errors)) == sorted(
        [
            ("version", "string_type"),
            ("colour", "extra_forbidden"),
            ("scales.five.levels[1].code", "int_type"),
            ("sections[0].items[0].scale", "missing"),
            ("sections[0].items[1].type", "union_tag_invalid"),
            ("sections[0].items[2].id", "string_pattern_mismatch"),
            ("sections[0].items[2].shuffle", "extra_forbidden"),
            ("sections[0].items[2].options", "too_short"),
            ("index.elements", "too_short"),
        ]
    )


def test_semantic_checks_wait_for_a_sound_structure() -> None:
    # broken-structure.yaml also has a criterion-free index; only structural errors are reported.
    codes = {error.code for error in validate_file(FIXTURES / "broken-structure.yaml")}
    assert not codes & {"unknown_item", "unknown_scale", "duplicate_id"}


def test_load_raises_with_all_errors() -> None:
    with pytest.raises(InvalidInstrument) as caught:
        load_instrument(FIXTURES / "broken-structure.yaml")
    assert len(caught.value.errors) == 9
    assert caught.value.source.endswith("broken-structure.yaml")
    assert "(and 8 more)" in str(caught.value)


@pytest.mark.parametrize(
    ("place", "expected_path"),
    [
        (lambda d: d, "surprise"),
        (lambda d: d["title"], "title.surprise"),
        (lambda d: d["scales"]["five"], "scales.five.surprise"),
        (lambda d: d["scales"]["five"]["levels"][2]["label"], "scales.five.levels[2].label.surprise"),
        (lambda d: d["sections"][1], "sections[1].surprise"),
        (lambda d: d["sections"][1]["items"][0], "sections[1].items[0].surprise"),
        (lambda d: d["sections"][2]["items"][1]["show_if"], "sections[2].items[1].show_if.surprise"),
        (lambda d: d["sections"][2]["items"][1]["options"][0], "sections[2].items[1].options[0].surprise"),
        (lambda d: d["index"], "index.surprise"),
        (lambda d: d["index"]["elements"][1], "index.elements[1].surprise"),
        (lambda d: d["index"]["separate"][0], "index.separate[0].surprise"),
    ],
)
def test_unknown_keys_are_refused_with_their_path(
    kitchen_sink: dict[str, Any], place: Any, expected_path: str
) -> None:
    place(kitchen_sink)["surprise"] = 1
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [(expected_path, "extra_forbidden")]


@pytest.mark.parametrize(
    ("item_index", "field", "value", "expected"),
    [
        # The field named like the tag: the tag is stripped, the field kept.
        (0, "scale", None, ("sections[1].items[0].scale", "missing")),
        (0, "allow_na", "perhaps", ("sections[1].items[0].allow_na", "bool_parsing")),
        (1, "text", None, ("sections[1].items[1].text", "missing")),
    ],
)
def test_discriminator_tag_is_not_part_of_the_path(
    kitchen_sink: dict[str, Any], item_index: int, field: str, value: object, expected: tuple[str, str]
) -> None:
    item = kitchen_sink["sections"][1]["items"][item_index]
    if value is None:
        del item[field]
    else:
        item[field] = value
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [expected]


def test_missing_and_invalid_type_point_at_type(kitchen_sink: dict[str, Any]) -> None:
    items = kitchen_sink["sections"][1]["items"]
    del items[0]["type"]
    items[1]["type"] = "slider"
    items[2] = "not a mapping"
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [
        ("sections[1].items[0].type", "union_tag_not_found"),
        ("sections[1].items[1].type", "union_tag_invalid"),
        ("sections[1].items[2]", "model_attributes_type"),
    ]


def test_failed_items_do_not_also_report_a_short_tuple(kitchen_sink: dict[str, Any]) -> None:
    # pydantic adds "too short after validation" when the only items fail; that is noise.
    kitchen_sink["sections"][0]["items"][0]["type"] = "bogus"
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [("sections[0].items[0].type", "union_tag_invalid")]


@pytest.mark.parametrize("code", [True, 4.0, "4"])
def test_codes_must_be_integers(kitchen_sink: dict[str, Any], code: object) -> None:
    kitchen_sink["scales"]["five"]["satisfied"] = [code, 5]
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [("scales.five.satisfied[0]", "int_type")]


def test_element_weight_must_be_finite(kitchen_sink: dict[str, Any]) -> None:
    kitchen_sink["index"]["elements"][1]["weight"] = float("inf")
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [("index.elements[1].weight", "finite_number")]


def test_blank_wording_is_refused(kitchen_sink: dict[str, Any]) -> None:
    kitchen_sink["sections"][1]["items"][1]["text"]["vi"] = "   "
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    assert pairs(list(caught.value.errors)) == [("sections[1].items[1].text.vi", "string_too_short")]


def test_bad_scale_key_is_reported_at_the_key(kitchen_sink: dict[str, Any]) -> None:
    kitchen_sink["scales"]["Five Levels"] = kitchen_sink["scales"]["five"]
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(kitchen_sink)
    [error] = caught.value.errors
    assert (error.path, error.code) == ('scales["Five Levels"]', "string_pattern_mismatch")
    assert error.message.startswith("invalid key")


def test_a_document_that_is_not_a_mapping() -> None:
    with pytest.raises(InvalidInstrument) as caught:
        parse_instrument(["a", "list"])
    assert pairs(list(caught.value.errors)) == [("", "model_type")]


def test_duplicate_yaml_keys_are_all_refused_with_paths(tmp_path: Path) -> None:
    text = KITCHEN_SINK.read_text(encoding="utf-8")
    text = text.replace("id: kitchen-sink\n", "id: kitchen-sink\nid: other-sink\n", 1)
    text = text.replace(
        "        scale: five\n        required: true\n",
        "        scale: five\n        required: true\n        scale: five\n",
        1,
    )
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    errors = validate_file(path)
    assert pairs(errors) == [("id", "duplicate_key"), ("sections[1].items[0].scale", "duplicate_key")]
    first = text.splitlines().index("id: kitchen-sink") + 1
    assert f"on line {first + 1} (first on line {first})" in errors[0].message


def test_yaml_anchors_are_followed_once() -> None:
    data, errors = read_yaml("a: &x {b: 1}\nc: *x\nd: *x\n")
    assert errors == [] and data == {"a": {"b": 1}, "c": {"b": 1}, "d": {"b": 1}}


def test_yaml_syntax_error_has_a_line() -> None:
    data, errors = read_yaml("id: x\n  bad: [\n")
    assert data is None
    [error] = errors
    assert error.code == "yaml_syntax" and "line" in error.message


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"\xff\xfe not utf-8 \xc3", "not_utf8"), (None, "unreadable")],
)
def test_unreadable_files(tmp_path: Path, content: bytes | None, code: str) -> None:
    path = tmp_path / "x.yaml"
    if content is not None:
        path.write_bytes(content)
    assert pairs(validate_file(path)) == [("", code)]
    with pytest.raises(InvalidInstrument):
        load_instrument(path)


def test_empty_file_is_not_an_instrument(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert pairs(validate_file(path)) == [("", "model_type")]


def test_error_string_form() -> None:
    error = InstrumentError("sections[0].id", "bad", "duplicate_id")
    assert str(error) == "sections[0].id: bad [duplicate_id]"
    assert str(InstrumentError("", "bad", "yaml_syntax")) == "(document): bad [yaml_syntax]"
