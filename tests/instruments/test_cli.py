"""`python -m instruments`: the command functions, the printed form and the exit status."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from instruments.__main__ import main, run
from instruments.commands import describe, list_command, lock_command, show_command, validate_command
from instruments.loader import load_instrument
from instruments.registry import DATA_DIR, LOCK_PATH, content_hash, get_instrument

from .conftest import FIXTURES, KITCHEN_SINK

ROOT = Path(__file__).resolve().parents[2]


def test_list() -> None:
    result = list_command()
    assert result.ok
    assert [line.split("\t")[0] for line in result.lines] == [
        "outpatient@2025.1",
        "outpatient@2026.1",
        "quick-rating@2025.1",
        "school-parents@2026.1",
        "sipas-counter@2025.1",
    ]


def test_show_latest_and_exact_version() -> None:
    latest = show_command("sipas-counter")
    assert latest.ok and latest.lines[0].startswith("sipas-counter@2025.1  published")
    assert latest.lines == show_command("sipas-counter@2025.1").lines
    assert f"hash: {content_hash(get_instrument('sipas-counter'))}" in latest.lines
    assert "index sipas-share-satisfied-v1: 5 elements, 19 criteria" in latest.lines


def test_show_unknown() -> None:
    result = show_command("sipas-counter@1999.1")
    assert not result.ok and result.exit_code == 1
    assert result.lines == ("sipas-counter@1999.1: no such instrument [unknown_instrument]",)


def test_show_json_is_the_hashed_content() -> None:
    result = show_command("quick-rating", as_json=True)
    dump = json.loads(result.lines[0])
    assert dump["id"] == "quick-rating" and dump["sections"][0]["items"][1]["show_if"] == {
        "item": "rating",
        "in": [1],
    }


def test_describe_marks_required_and_conditional_items() -> None:
    lines = describe(load_instrument(KITCHEN_SINK), lang="en")
    assert "    q_access  [scale:five] *  Easy to find where to submit" in lines
    assert "    reasons  [multiple] * (if overall in [1, 2])  Why not satisfied?" in lines
    assert "  people (weight 2): q_staff, q_result" in lines


def test_validate_shipped_and_lock() -> None:
    result = validate_command()
    assert result.ok and result.lines == ("5 instrument files valid; published.json matches",)


def test_validate_files_prints_every_error_with_the_file() -> None:
    broken = FIXTURES / "broken-semantics.yaml"
    result = validate_command([KITCHEN_SINK, broken])
    assert not result.ok
    assert result.lines[0] == f"{KITCHEN_SINK}: ok"
    assert len(result.lines) == 1 + 25
    assert result.lines[1] == f"{broken}: scales.five.satisfied[1]: code 6 is not a level [unknown_code]"


def test_main_prints_errors_on_stderr_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / "broken-structure.yaml")]) == 1
    out, err = capsys.readouterr()
    assert (
        out == ""
        and len(err.splitlines()) == 9
        and "colour: Extra inputs are not permitted [extra_forbidden]" in err
    )
    assert main(["list"]) == 0
    assert "sipas-counter@2025.1" in capsys.readouterr().out


def test_lock_through_the_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    lock = tmp_path / "published.json"
    result = run(["--data-dir", str(data), "--lock", str(lock), "lock"])
    assert result.ok and len(result.lines) == 5
    assert json.loads(lock.read_text(encoding="utf-8")) == json.loads(LOCK_PATH.read_text(encoding="utf-8"))
    assert lock_command(data, lock).lines == ("published.json already up to date",)
    path = data / "quick-rating.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Trễ hẹn", "Trễ"), encoding="utf-8")
    refused = lock_command(data, lock)
    assert not refused.ok and refused.lines[-1] == "published.json not changed"


def test_module_entry_point_runs_without_the_web_stack() -> None:
    # A fresh interpreter: `python -m instruments validate` works and loads no web module.
    code = (
        "import runpy, sys\n"
        "import instruments.index\n"
        "sys.argv = ['instruments', 'validate']\n"
        "try:\n"
        "    runpy.run_module('instruments', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    web = {'flask', 'sqlalchemy', 'wtforms', 'survey'}\n"
        "    print('exit', exit.code, 'web', sorted({m.split('.')[0] for m in sys.modules} & web))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1] == "exit 0 web []"
