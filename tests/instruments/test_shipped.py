"""The shipped instruments validate, derive the expected index, and carry the wording they claim."""

from __future__ import annotations

import unicodedata

import pytest

from instruments.index import IndexDefinition
from instruments.loader import validate_file
from instruments.model import Instrument, MultipleChoiceItem, ScaleItem, SingleChoiceItem
from instruments.registry import DATA_DIR, check_published, get_instrument, list_instruments, parse_spec

SHIPPED = sorted(DATA_DIR.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_file_validates(path: object) -> None:
    assert validate_file(str(path)) == []


def test_the_instruments_are_shipped_and_published() -> None:
    assert [entry.key for entry in list_instruments()] == [
        "outpatient@2025.1",
        "outpatient@2026.1",
        "quick-rating@2025.1",
        "school-parents@2026.1",
        "sipas-counter@2025.1",
    ]
    assert {entry.instrument.status for entry in list_instruments()} == {"published"}


def test_published_lock_matches_shipped_files() -> None:
    assert check_published() == []


@pytest.mark.parametrize(
    ("instrument_id", "per_element"),
    [
        ("sipas-counter", [4, 4, 5, 3, 3]),  # SIPAS items 15-33 (docs/sipas-method.md §2)
        ("quick-rating", [1]),
        ("outpatient", [5, 6, 5, 5, 4]),  # sections A-E
        ("outpatient@2025.1", [5, 6, 5, 5, 4]),
        ("school-parents", [5, 5, 5, 4, 4]),  # MoET toolkit's five contents (docs/instruments.md)
    ],
)
def test_index_definition_criteria_counts(instrument_id: str, per_element: list[int]) -> None:
    definition = IndexDefinition.from_instrument(get_instrument(*parse_spec(instrument_id)))
    assert [len(element.criteria) for element in definition.elements] == per_element
    assert len(definition.criteria) == sum(per_element)


def _all_text(instrument: Instrument) -> list[str]:
    texts = [instrument.title.vi, instrument.title.en]
    for item in instrument.items():
        texts += [item.text.vi, item.text.en]
    return texts


@pytest.mark.parametrize("instrument_id", ["sipas-counter", "quick-rating", "outpatient", "school-parents"])
def test_wording_is_nfc_vietnamese_with_english(instrument_id: str) -> None:
    instrument = get_instrument(instrument_id)
    for text in _all_text(instrument):
        assert unicodedata.is_normalized("NFC", text), text
    # Full diacritics: every instrument uses the letters plain ASCII cannot write.
    assert any(ch in "ăâđêôơư" for text in _all_text(instrument) for ch in text.lower())


def test_sipas_counter_scale_and_separate_items() -> None:
    instrument = get_instrument("sipas-counter")
    scale = instrument.scales["sipas5"]
    assert [level.code for level in scale.levels] == [1, 2, 3, 4, 5]
    assert scale.levels[0].label.vi == "Rất không hài lòng" and scale.levels[4].label.vi == "Rất hài lòng"
    assert scale.satisfied == (4, 5)
    assert scale.not_applicable is not None and scale.not_applicable.code == 0
    assert scale.not_applicable.label.vi == "Không có ý kiến / không áp dụng"
    first = instrument.item("e1_info")
    assert first.text.vi.startswith("Cơ quan cung cấp thông tin về việc giải quyết thủ tục hành chính")
    separate = {entry.item: entry for entry in instrument.index.separate}
    assert separate["overall"].group == "overall" and separate["overall"].favourable == (4, 5)
    harassment = instrument.item("harassment")
    assert isinstance(harassment, SingleChoiceItem)
    assert [o.label.vi for o in harassment.options] == ["Không có", "Có một số", "Nhiều"]
    assert separate["harassment"].favourable == (1,) and separate["extra_payment"].favourable == (1,)
    assert {separate[i].group for i in ("harassment", "extra_payment")} == {"integrity"}
    groups = [entry.group for entry in instrument.index.separate]
    assert groups.count("expectations") == 6
    field = instrument.item("procedure_field")
    assert isinstance(field, SingleChoiceItem) and len(field.options) == 17  # 16 SIPAS fields + Khác
    assert instrument.item("comment").type == "long_text"


def test_quick_rating_three_buttons_and_conditional_reasons() -> None:
    instrument = get_instrument("quick-rating")
    rating = instrument.item("rating")
    assert isinstance(rating, ScaleItem) and rating.required
    scale = instrument.scales[rating.scale]
    assert {level.code: level.label.vi for level in scale.levels} == {
        1: "Không hài lòng",
        2: "Hài lòng",
        3: "Rất hài lòng",
    }
    assert scale.satisfied == (2, 3) and scale.not_applicable is None
    reasons = instrument.item("reasons")
    assert isinstance(reasons, MultipleChoiceItem)
    assert reasons.show_if is not None and (reasons.show_if.item, reasons.show_if.in_) == ("rating", (1,))
    criterion = IndexDefinition.from_instrument(instrument).criterion("rating")
    assert criterion.satisfied_codes == {2, 3} and criterion.not_applicable_code is None
    assert len(instrument.items()) <= 5  # under 30 seconds


@pytest.mark.parametrize("instrument_id", sorted({entry.instrument.id for entry in list_instruments()}))
def test_every_served_instrument_has_a_question_that_is_always_required(instrument_id: str) -> None:
    # Without one, a form sent empty would be stored as a response with no answer at all.
    instrument = get_instrument(instrument_id)
    assert [item.id for item in instrument.items() if item.required and item.show_if is None]


def test_outpatient_2026_differs_from_2025_only_by_the_required_return_question() -> None:
    old, new = get_instrument("outpatient", "2025.1"), get_instrument("outpatient")
    assert new.version == "2026.1"
    assert [i.id for i in old.items() if i.required] == []
    assert [i.id for i in new.items() if i.required] == ["return_intention"]
    new_dump, old_dump = new.model_dump(), old.model_dump()
    for section in new_dump["sections"]:
        for item in section["items"]:
            item["required"] = False
    new_dump["version"] = old_dump["version"]
    assert new_dump == old_dump  # nothing else moved: same items, codes, index, wording


def test_school_parents_is_education_sector_with_moet_contents() -> None:
    instrument = get_instrument("school-parents")
    assert instrument.sector == "education" and instrument.status == "published"
    assert [element.label.vi for element in instrument.index.elements] == [
        "Tiếp cận dịch vụ giáo dục", "Cơ sở vật chất, trang thiết bị", "Môi trường giáo dục",
        "Hoạt động giáo dục", "Kết quả giáo dục"]
    scale = instrument.scales["edu5"]
    assert [level.label.vi for level in scale.levels] == [
        "Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"]
    assert scale.satisfied == (4, 5)
    overall = instrument.item("overall")
    assert isinstance(overall, ScaleItem) and overall.required and not overall.allow_na
    separate = {entry.item: entry for entry in instrument.index.separate}
    assert separate["overall"].group == "overall" and separate["overall"].favourable == (4, 5)


def test_outpatient_is_health_sector_with_not_used_code() -> None:
    instrument = get_instrument("outpatient")
    assert instrument.sector == "health"
    [scale] = instrument.scales.values()
    assert scale.not_applicable is not None and scale.not_applicable.code == 0
    assert scale.not_applicable.label.vi == "Không sử dụng / không ý kiến"
    assert [section.id[0] for section in instrument.sections[:5]] == ["a", "b", "c", "d", "e"]
    assert all(3 <= len(section.items) <= 6 for section in instrument.sections[:5])
