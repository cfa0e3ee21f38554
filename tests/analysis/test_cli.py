"""The indices command line, through main(argv) and once through a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main
from analysis.tables import OUTPUT_COLUMNS

from .conftest import DATA


def _run(tmp_path: Path, *extra: str) -> tuple[int, pd.DataFrame | None]:
    out = tmp_path / "out.csv"
    status = main(["indices", "--responses", str(DATA / "counters.csv"), "--definition",
                   str(DATA / "definition.csv"), "--out", str(out), *extra])
    return status, (pd.read_csv(out, keep_default_na=False, na_values=[""]) if status == 0 else None)


def test_csv_definition_weights_parents_and_all_intervals(tmp_path: Path, counters: pd.DataFrame) -> None:
    parents = pd.read_csv(DATA / "counters_parents.csv")
    with_parent = counters.merge(parents, on="unit", how="left").fillna({"parent": ""})
    responses = tmp_path / "responses.csv"
    with_parent.to_csv(responses, index=False)
    out = tmp_path / "out.csv"
    status = main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit,field", "--parent-col", "parent", "--weight-col", "w", "--target", "0.8",
                   "--ci", "all", "--lonely-psu", "adjust", "--out", str(out)])
    assert status == 0
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table.columns[:3]) == ["level", "domain", "parent"]
    assert set(OUTPUT_COLUMNS) <= set(table.columns)
    for method in ("wilson", "beta", "logit", "wald", "boundary_cp"):
        assert {f"ci_{method}_lo", f"ci_{method}_hi"} <= set(table.columns)
    assert {"unit", "parent", "total"} <= set(table["level"])
    assert set(table["field"].fillna("")) == {"", "land", "justice", "business"}
    assert set(table["verdict"].fillna("")) <= {"met", "below", "inconclusive", "suppressed", ""}
    # Element weights from the CSV (e1: 1, e2: 2) reach the overall index.
    total = table[(table["domain"] == "total") & table["field"].isna()].set_index(["stat_type", "stat"])
    expected = (total.loc[("element", "e1"), "est"] + 2 * total.loc[("element", "e2"), "est"]) / 3
    assert total.loc[("overall_index", "overall"), "est"] == pytest.approx(expected, abs=1e-12)


def test_period_option(tmp_path: Path) -> None:
    status, table = _run(tmp_path, "--by", "unit", "--weight-col", "w", "--lonely-psu", "adjust",
                         "--period", "quarter", "--date-col", "submitted")
    assert status == 0 and table is not None
    assert set(table["period"]) == {"2026Q1", "2026Q2"}


def test_instrument_definition_from_the_registry(tmp_path: Path) -> None:
    from instruments.index import IndexDefinition
    from instruments.registry import get_instrument

    definition = IndexDefinition.from_instrument(get_instrument("sipas-counter"))
    rng = np.random.default_rng(5)
    data = pd.DataFrame({"unit": rng.choice(["A", "B"], 60)})
    for criterion in definition.criteria:
        data[criterion.item_id] = rng.choice([1, 2, 3, 4, 5], 60)
    for item in definition.separate:
        data[item.item_id] = rng.choice(list(item.codes), 60)
    responses = tmp_path / "r.csv"
    data.to_csv(responses, index=False)
    out = tmp_path / "o.csv"
    assert main(["indices", "--responses", str(responses), "--definition", definition.key, "--by", "unit",
                 "--out", str(out)]) == 0
    table = pd.read_csv(out)
    separate = set(table.loc[table["stat_type"] == "separate", "stat"])
    assert separate == {s.item_id for s in definition.separate}
    assert (table["stat_type"] == "criterion").sum() == 3 * len(definition.criteria)  # A, B, total
    # Its items are not in the counters file: a clear error, not a traceback.
    status, _ = _run(tmp_path, "--by", "unit", "--definition", "sipas-counter")
    assert status == 2


@pytest.mark.parametrize(("args", "message"), [
    (["--by", "nope"], "missing unit column: nope"),
    (["--by", "unit", "--weight-col", "nope"], "missing weight column: nope"),
    (["--by", "unit"], "only one PSU"),
    (["--by", "unit", "--definition", "no-such-instrument@1"], "unknown instrument"),
    (["--by", "unit", "--period", "month"], "--period needs --date-col"),
    (["--by", "unit", "--lonely-psu", "adjust", "--target", "80"], "between 0 and 1"),
])
def test_input_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           args: list[str], message: str) -> None:
    status = main(["indices", "--responses", str(DATA / "counters.csv"), "--definition",
                   str(DATA / "definition.csv"), "--out", str(tmp_path / "o.csv"), *args])
    assert status == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_code_in_a_subprocess_exits_2_without_traceback(tmp_path: Path) -> None:
    responses = tmp_path / "bad.csv"
    responses.write_text("unit,q1,q2,q3,q4,q5\nA,5,4,abc,1,2\nA,1,2,3,4,5\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "indices", "--responses", str(responses), "--definition",
         str(DATA / "definition.csv"), "--by", "unit", "--out", str(tmp_path / "o.csv")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "'abc' is not a number" in result.stderr and "Traceback" not in result.stderr


def test_frame_post_stratification(tmp_path: Path, counters: pd.DataFrame) -> None:
    frame = (counters.groupby(["unit", "field"]).size().rename("respondents").reset_index()
             .assign(served=lambda f: f["respondents"] * 7))
    frame_path = tmp_path / "frame.csv"
    frame.to_csv(frame_path, index=False)
    status, table = _run(tmp_path, "--by", "unit", "--frame", str(frame_path), "--cells", "field",
                         "--lonely-psu", "adjust")
    assert status == 0 and table is not None
    total = table[(table["domain"] == "total") & (table["stat_type"] == "criterion")]
    # 7 dossiers served per respondent in every cell: every weight is 7, so sum_w = 7 n.
    np.testing.assert_allclose(total["sum_w"], 7 * total["n"], rtol=1e-12)


def test_unreadable_responses_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    responses = tmp_path / "latin1.csv"
    responses.write_bytes(b"unit,q1\nH\xe0 N\xf4i,5\n")  # Latin-1 bytes, not UTF-8
    status = main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit", "--out", str(tmp_path / "o.csv")])
    assert status == 2 and "Traceback" not in capsys.readouterr().err
