"""IndexDefinition derived from an instrument, and built by hand with `from_mapping`."""

from __future__ import annotations

import pytest

from instruments.index import Criterion, ElementDefinition, IndexDefinition
from instruments.loader import load_instrument

from .conftest import KITCHEN_SINK


def test_from_instrument_on_the_kitchen_sink() -> None:
    definition = IndexDefinition.from_instrument(load_instrument(KITCHEN_SINK))
    assert definition.key == "kitchen-sink@2025.1"
    assert definition.formula == "sipas-share-satisfied-v1"
    assert definition.elements == (
        ElementDefinition("process", ("q_access", "q_wait"), 1.0, "Quy trình", "Process"),
        ElementDefinition("people", ("q_staff", "q_result"), 2.0, "Con người", "People"),
    )
    assert [c.item_id for c in definition.criteria] == ["q_access", "q_wait", "q_staff", "q_result"]
    assert definition.criterion("q_access") == Criterion(
        "q_access", "process", frozenset({1, 2, 3, 4, 5}), frozenset({4, 5}), 0
    )
    # q_staff does not offer "not applicable": a 0 there is invalid, not excluded as N/A.
    assert definition.criterion("q_staff").not_applicable_code is None
    separate = {entry.item_id: entry for entry in definition.separate}
    assert separate["overall"].codes == (1, 2, 3, 4, 5) and separate["overall"].favourable == {4, 5}
    assert separate["paid_extra"].codes == (1, 2) and separate["paid_extra"].group == "integrity"
    assert separate["visits"].codes == () and separate["visits"].favourable == frozenset()
    with pytest.raises(KeyError):
        definition.criterion("overall")


def test_from_mapping_orders_elements_by_first_appearance() -> None:
    definition = IndexDefinition.from_mapping(
        [("a1", "A"), ("b1", "B"), ("a2", "A")], element_weights={"B": 2}, key="csv"
    )
    assert definition.key == "csv"
    assert definition.elements == (
        ElementDefinition("A", ("a1", "a2"), 1.0),
        ElementDefinition("B", ("b1",), 2.0),
    )
    assert [(c.item_id, c.element_id) for c in definition.criteria] == [("a1", "A"), ("a2", "A"), ("b1", "B")]
    assert definition.separate == ()


def test_from_mapping_defaults_to_the_sipas_scale() -> None:
    criterion = IndexDefinition.from_mapping([("q", "E")]).criterion("q")
    assert criterion.valid_codes == {1, 2, 3, 4, 5}
    assert criterion.satisfied_codes == {4, 5}
    assert criterion.not_applicable_code == 0


def test_from_mapping_other_scale() -> None:
    criterion = IndexDefinition.from_mapping(
        [("rating", "service")], levels=(1, 2, 3), satisfied=(2, 3), not_applicable=None
    ).criterion("rating")
    assert criterion.valid_codes == {1, 2, 3}
    assert criterion.satisfied_codes == {2, 3}
    assert criterion.not_applicable_code is None


def test_from_mapping_matches_the_instrument_definition() -> None:
    from_file = IndexDefinition.from_instrument(load_instrument(KITCHEN_SINK))
    by_hand = IndexDefinition.from_mapping(
        [(c.item_id, c.element_id) for c in from_file.criteria], element_weights={"people": 2.0}
    )
    assert [(e.element_id, e.criteria, e.weight) for e in by_hand.elements] == [
        (e.element_id, e.criteria, e.weight) for e in from_file.elements
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"criterion_elements": []}, "at least one criterion"),
        ({"criterion_elements": [("a", "A"), ("a", "B")]}, "one element only"),
        ({"criterion_elements": [("a", "A")], "satisfied": (6,)}, "among the scale levels"),
        ({"criterion_elements": [("a", "A")], "satisfied": ()}, "at least one"),
        ({"criterion_elements": [("a", "A")], "not_applicable": 3}, "also a scale level"),
        ({"criterion_elements": [("a", "A")], "element_weights": {"a": 2}}, "without criteria: a"),
    ],
)
def test_from_mapping_refuses_inconsistent_definitions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IndexDefinition.from_mapping(**kwargs)  # type: ignore[arg-type]
