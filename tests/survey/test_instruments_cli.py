"""`flask instruments ...` runs the instrument package's commands inside the app."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner


def test_list_shows_every_shipped_instrument(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["instruments", "list"])
    assert result.exit_code == 0, result.output
    for key in ("sipas-counter@2025.1", "quick-rating@2025.1", "outpatient@2025.1", "outpatient@2026.1",
                "school-parents@2026.1"):
        assert key in result.output


def test_show_describes_the_index(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["instruments", "show", "sipas-counter"])
    assert result.exit_code == 0, result.output
    assert "5 elements, 19 criteria" in result.output


def test_validate_shipped_files_and_lock(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["instruments", "validate"])
    assert result.exit_code == 0, result.output


def test_validate_reports_errors_with_paths_and_fails(runner: FlaskCliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "format: 1\nid: broken\nversion: '2025.1'\ntitle: {vi: Hỏng, en: Broken}\nscales: {}\n"
        "sections:\n  - id: s\n    items:\n      - {id: q1, type: scale, scale: nope, text: {vi: a, en: a}}\n"
        "index: {elements: [{id: e, label: {vi: E, en: E}, criteria: [q1]}]}\nsurprise: 1\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["instruments", "validate", str(broken)])
    assert result.exit_code == 1
    assert "surprise" in result.output


def test_show_unknown_instrument_fails(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["instruments", "show", "no-such-thing"])
    assert result.exit_code == 1
    assert "unknown_instrument" in result.output
