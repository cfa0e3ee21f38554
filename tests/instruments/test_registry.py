"""Content hashes, the published lock, version choice and caching."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from instruments.loader import load_instrument, parse_instrument
from instruments.registry import (
    DATA_DIR,
    LOCK_PATH,
    UnknownInstrument,
    check_published,
    clear_cache,
    content_hash,
    get_instrument,
    get_registered,
    list_instruments,
    read_lock,
    update_lock,
    version_key,
)

from .conftest import KITCHEN_SINK, pairs


@pytest.fixture
def shipped_copy(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped data directory and lock, free to tamper with."""
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    lock = tmp_path / "published.json"
    shutil.copy(LOCK_PATH, lock)
    return data, lock


def test_hash_is_sha256_hex_and_stable_across_loads() -> None:
    first = content_hash(load_instrument(KITCHEN_SINK))
    assert len(first) == 64 and int(first, 16) >= 0
    assert content_hash(load_instrument(KITCHEN_SINK)) == first


def test_hash_ignores_yaml_layout(kitchen_sink: dict[str, Any]) -> None:
    # Same content, different key order and flow style: a reformatted file proves the same wording.
    reordered = dict(reversed(list(kitchen_sink.items())))
    text = yaml.safe_dump(reordered, allow_unicode=True, default_flow_style=False, sort_keys=False)
    assert content_hash(parse_instrument(yaml.safe_load(text))) == content_hash(
        parse_instrument(kitchen_sink)
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["sections"][1]["items"][0]["text"].update(vi="Dễ tìm nơi nộp hồ sơ."),  # one full stop
        lambda d: d["sections"][1]["items"][0]["text"].update(en="Easy to find where to apply"),
        lambda d: d["scales"]["five"]["levels"][3]["label"].update(vi="Khá hài lòng"),
        lambda d: d["scales"]["five"].update(satisfied=[5]),
        lambda d: d.update(status="published"),
        lambda d: d["sections"][2]["items"][1]["show_if"].update({"in": [1]}),
        lambda d: d["index"]["elements"][1].update(weight=1),
    ],
)
def test_hash_changes_with_any_change_of_content(kitchen_sink: dict[str, Any], change: Any) -> None:
    before = content_hash(parse_instrument(kitchen_sink))
    change(kitchen_sink)
    assert content_hash(parse_instrument(kitchen_sink)) != before


def test_shipped_hashes_are_the_locked_ones() -> None:
    lock, errors = read_lock()
    assert errors == []
    assert {entry.key: entry.content_hash for entry in list_instruments()} == lock


def test_tampered_wording_is_detected(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    assert check_published(data, lock) == []
    path = data / "sipas-counter.yaml"
    text = path.read_text(encoding="utf-8")
    assert "Trụ sở cơ quan sạch sẽ, văn minh" in text
    path.write_text(
        text.replace("Trụ sở cơ quan sạch sẽ, văn minh", "Trụ sở cơ quan sạch sẽ"), encoding="utf-8"
    )
    assert pairs(check_published(data, lock)) == [("sipas-counter@2025.1", "hash_changed")]


def test_comment_edits_are_not_tampering(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    path = data / "outpatient.yaml"
    path.write_text("# reviewed 2026\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    assert check_published(data, lock) == []


def test_unpublishing_is_detected(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    path = data / "quick-rating.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("status: published", "status: draft"), "utf-8")
    assert pairs(check_published(data, lock)) == [("quick-rating@2025.1", "hash_changed")]


def test_deleted_published_file_is_detected(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    (data / "outpatient.yaml").unlink()
    assert pairs(check_published(data, lock)) == [("outpatient@2025.1", "missing_published")]


def test_invalid_file_is_reported_with_its_name(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    path = data / "outpatient.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("scale: byt5", "scale: byt6", 1), "utf-8")
    assert pairs(check_published(data, lock)) == [
        ("outpatient.yaml:sections[0].items[0].scale", "unknown_scale")
    ]


def test_new_version_is_locked_without_touching_old_entries(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    text = (data / "quick-rating.yaml").read_text(encoding="utf-8")
    new = text.replace('version: "2025.1"', 'version: "2026.1"').replace("Góp ý ngắn", "Góp ý")
    (data / "quick-rating-2026.1.yaml").write_text(new, encoding="utf-8")
    before = json.loads(lock.read_text(encoding="utf-8"))
    assert pairs(check_published(data, lock)) == [("quick-rating@2026.1", "not_locked")]
    update = update_lock(data, lock)
    assert update.added == ("quick-rating@2026.1",) and update.errors == ()
    after = json.loads(lock.read_text(encoding="utf-8"))
    assert {k: v for k, v in after.items() if k in before} == before
    assert check_published(data, lock) == []
    assert update_lock(data, lock).added == ()


def test_lock_refuses_to_cover_a_changed_version(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    path = data / "sipas-counter.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Kết quả đảm bảo tính công bằng", "Công bằng"), "utf-8"
    )
    original = lock.read_bytes()
    update = update_lock(data, lock)
    assert update.added == () and pairs(list(update.errors)) == [("sipas-counter@2025.1", "hash_changed")]
    assert lock.read_bytes() == original


def test_drafts_are_never_locked(tmp_path: Path) -> None:
    shutil.copy(KITCHEN_SINK, tmp_path / "kitchen-sink.yaml")
    lock = tmp_path / "published.json"
    assert update_lock(tmp_path, lock).added == ()
    assert not lock.exists()


def test_malformed_lock(shipped_copy: tuple[Path, Path]) -> None:
    data, lock = shipped_copy
    lock.write_text('["not", "a", "mapping"]', encoding="utf-8")
    codes = [error.code for error in check_published(data, lock)]
    assert codes[0] == "bad_lock"


def _write_version(directory: Path, version: str, status: str) -> None:
    text = KITCHEN_SINK.read_text(encoding="utf-8")
    text = text.replace('version: "2025.1"', f'version: "{version}"').replace(
        "status: draft", f"status: {status}"
    )
    (directory / f"kitchen-sink-{version}.yaml").write_text(text, encoding="utf-8")


def test_latest_published_version_is_served(tmp_path: Path) -> None:
    for version, status in [
        ("2025.2", "published"),
        ("2025.10", "published"),
        ("2025.9", "published"),
        ("2026.1", "draft"),
    ]:
        _write_version(tmp_path, version, status)
    assert get_instrument("kitchen-sink", data_dir=tmp_path).version == "2025.10"
    assert get_instrument("kitchen-sink", "2026.1", data_dir=tmp_path).status == "draft"
    with pytest.raises(UnknownInstrument):
        get_instrument("kitchen-sink", "2024.1", data_dir=tmp_path)
    with pytest.raises(UnknownInstrument):
        get_instrument("no-such", data_dir=tmp_path)


def test_drafts_only_serve_the_latest_draft(tmp_path: Path) -> None:
    _write_version(tmp_path, "2025.1", "draft")
    _write_version(tmp_path, "2025.3", "draft")
    assert get_instrument("kitchen-sink", data_dir=tmp_path).version == "2025.3"


def test_two_files_with_one_key_are_refused(tmp_path: Path) -> None:
    _write_version(tmp_path, "2025.1", "draft")
    shutil.copy(KITCHEN_SINK, tmp_path / "copy.yaml")
    assert pairs(check_published(tmp_path, tmp_path / "lock.json")) == [
        ("kitchen-sink-2025.1.yaml", "duplicate_instrument")
    ]


def test_version_order_is_numeric() -> None:
    assert sorted(["2025.10", "2025.9", "2024.12"], key=version_key) == ["2024.12", "2025.9", "2025.10"]


def test_loaded_instruments_are_cached_until_cleared(tmp_path: Path) -> None:
    _write_version(tmp_path, "2025.1", "draft")
    first = get_registered("kitchen-sink", data_dir=tmp_path)
    assert get_registered("kitchen-sink", data_dir=tmp_path) is first
    clear_cache()
    again = get_registered("kitchen-sink", data_dir=tmp_path)
    assert again is not first and again.content_hash == first.content_hash
