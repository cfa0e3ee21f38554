"""Bad input to the indices command line: each case exits 2 with a message naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cli import EXIT_INPUT_ERROR, main
from analysis.data import AnalysisInputError
from analysis.inputs import check_declared_codes
from instruments.index import IndexDefinition

from .conftest import DATA


def _run(tmp_path: Path, responses: Path, *extra: str) -> int:
    return main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                 "--by", "unit", "--lonely-psu", "adjust", "--out", str(tmp_path / "out.csv"), *extra])


def _write(tmp_path: Path, table: pd.DataFrame, name: str = "responses.csv") -> Path:
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("code", [7, -1, 99])
def test_code_outside_the_scale_names_file_column_row_and_value(
    tmp_path: Path, counters: pd.DataFrame, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data = counters.copy()
    data.loc[4, "q3"] = code  # data row 5, line 6 of the file
    path = _write(tmp_path, data)
    assert _run(tmp_path, path) == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and "'q3'" in message and "row 5 (line 6)" in message
    assert f"{code}" in message and "declared scale" in message
    assert not (tmp_path / "out.csv").exists()


def test_invalid_codes_missing_reads_them_as_missing(tmp_path: Path, counters: pd.DataFrame) -> None:
    data = counters.copy()
    data.loc[4, "q3"] = 7
    assert _run(tmp_path, _write(tmp_path, data), "--invalid-codes", "missing") == 0
    as_missing = counters.copy()
    as_missing.loc[4, "q3"] = None
    blank = _write(tmp_path, as_missing, "blank.csv")
    assert _run(tmp_path, blank, "--out", str(tmp_path / "blank_out.csv")) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "out.csv"), pd.read_csv(tmp_path / "blank_out.csv"))


def test_separate_item_code_outside_its_codes(counters: pd.DataFrame, definition: IndexDefinition) -> None:
    check_declared_codes(counters, definition, Path("r.csv"))  # the reference data are clean
    data = counters.copy()
    data.loc[0, "harass"] = 4  # harass is listed with codes 1-3
    with pytest.raises(AnalysisInputError, match=r"r.csv: column 'harass', row 1 \(line 2\)"):
        check_declared_codes(data, definition, Path("r.csv"))


@pytest.mark.parametrize("alpha", ["1.5", "0", "-0.05", "0.51", "abc"])
def test_alpha_outside_zero_to_half_is_refused(tmp_path: Path, alpha: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, DATA / "counters.csv", "--alpha", alpha)
    assert exit_info.value.code == 2
    assert "--alpha" in capsys.readouterr().err


def test_alpha_half_is_accepted(tmp_path: Path) -> None:
    assert _run(tmp_path, DATA / "counters.csv", "--alpha", "0.5") == 0


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty"),
    (b"\n\n", "is empty"),
    (b"unit,field,q1,q2,q3,q4,q5,harass,overall,w\n", "header but no rows"),
])
def test_empty_and_header_only_files(tmp_path: Path, content: bytes, expected: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "responses.csv"
    path.write_bytes(content)
    assert _run(tmp_path, path) == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and expected in message


def test_no_valid_answer(tmp_path: Path, counters: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    data = counters.copy()
    data[["q1", "q2", "q3", "q4", "q5"]] = 0  # all not applicable
    path = _write(tmp_path, data)
    assert _run(tmp_path, path) == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and "no valid answer" in message


@pytest.mark.parametrize(("weight", "expected"), [(0.0, "not positive"), (-1.5, "not positive"),
                                                  ("x", "not a finite number")])
def test_zero_negative_or_missing_weight_names_the_row(tmp_path: Path, counters: pd.DataFrame,
                                                       weight: object, expected: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    data = counters.astype({"w": object})
    data.loc[2, "w"] = weight
    path = _write(tmp_path, data)
    assert _run(tmp_path, path, "--weight-col", "w") == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and "'w', row 3 (line 4)" in message and expected in message


def test_all_zero_weights_are_refused(tmp_path: Path, counters: pd.DataFrame,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, counters.assign(w=0.0))
    assert _run(tmp_path, path, "--weight-col", "w") == EXIT_INPUT_ERROR
    assert "row 1 (line 2)" in capsys.readouterr().err


def test_encoding_error_names_file_and_byte_offset(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    text = (DATA / "counters.csv").read_bytes()
    offset = text.index(b"\n", text.index(b"\n") + 1) + 1  # start of line 3
    path = tmp_path / "latin1.csv"
    path.write_bytes(text[:offset] + b"\xe9" + text[offset:])  # a Latin-1 'é' inside UTF-8 text
    assert _run(tmp_path, path) == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and f"byte offset {offset} (line 3)" in message and "0xe9" in message


def test_missing_frame_file_names_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.csv"
    assert _run(tmp_path, DATA / "counters.csv", "--frame", str(missing)) == EXIT_INPUT_ERROR
    assert f"frame file not found: {missing}" in capsys.readouterr().err


def _frame(tmp_path: Path, counters: pd.DataFrame) -> Path:
    cells = counters.groupby(["unit", "field"]).size().rename("n").reset_index()
    cells["served"] = cells["n"] * (3 + cells.index % 4)  # uneven response rates: weights matter
    return _write(tmp_path, cells[["unit", "field", "served"]], "frame.csv")


def test_min_cell_changes_the_collapse_and_every_merge_is_reported(
    tmp_path: Path, counters: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    from analysis.weights import poststratify

    frame = _frame(tmp_path, counters)
    responses = _write(tmp_path, counters)
    common = ["--frame", str(frame), "--cells", "field"]
    assert _run(tmp_path, responses, *common, "--min-cell", "1", "--out", str(tmp_path / "one.csv")) == 0
    assert "collapsed:" not in capsys.readouterr().err  # every cell has a respondent: none merged
    report = tmp_path / "collapsed.csv"
    assert _run(tmp_path, responses, *common, "--min-cell", "20", "--collapse-out", str(report)) == 0
    expected = poststratify(counters, pd.read_csv(frame), ["field"], unit_col="unit", count_col="served",
                            min_cell=20).collapsed
    written = pd.read_csv(report)
    assert len(written) == len(expected) > 0
    assert list(written["merged_into"]) == list(expected["merged_into"])
    assert _run(tmp_path, responses, *common, "--min-cell", "20", "--out", str(tmp_path / "twenty.csv")) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("collapsed: ")]
    assert len(lines) == len(expected)
    first = expected.iloc[0]
    assert f"unit={first['unit']}, field={first['field']}" in lines[0]
    assert lines[0].endswith(f"-> {first['merged_into']}")
    one, twenty = pd.read_csv(tmp_path / "one.csv"), pd.read_csv(tmp_path / "twenty.csv")
    total = (one["domain"] == "total") & (one["stat_type"] == "overall_index")
    assert abs(one.loc[total, "est"].iloc[0] - twenty.loc[total, "est"].iloc[0]) > 1e-4


def test_min_cell_defaults_to_the_library_constant(
    tmp_path: Path, counters: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    from analysis.poststratification import DEFAULT_MIN_CELL

    sizes = counters.groupby(["unit", "field"]).size()
    unit, field = sizes[sizes > DEFAULT_MIN_CELL].index[0]
    in_cell = counters.index[(counters["unit"] == unit) & (counters["field"] == field)]
    data = counters.drop(in_cell[DEFAULT_MIN_CELL:])  # a cell of exactly DEFAULT_MIN_CELL respondents
    frame, responses = _frame(tmp_path, data), _write(tmp_path, data)
    common = ["--frame", str(frame), "--cells", "field"]

    def merges(*extra: str) -> list[str]:
        assert _run(tmp_path, responses, *common, *extra) == 0
        return [line for line in capsys.readouterr().err.splitlines() if line.startswith("collapsed: ")]

    default = merges()
    assert default == merges("--min-cell", str(DEFAULT_MIN_CELL))
    cell = f"collapsed: unit={unit}, field={field} ({DEFAULT_MIN_CELL} respondents"

    def too_small(lines: list[str]) -> bool:
        return any(line.startswith(cell) and "too_few_respondents" in line for line in lines)

    assert not too_small(default)  # adequate alone (it may still merge with a smaller sibling)
    assert too_small(merges("--min-cell", str(DEFAULT_MIN_CELL + 1)))


@pytest.mark.parametrize("value", ["0", "-3", "x"])
def test_min_cell_must_be_a_positive_integer(tmp_path: Path, value: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run(tmp_path, DATA / "counters.csv", "--min-cell", value)
    assert exit_info.value.code == 2 and "--min-cell" in capsys.readouterr().err


def test_raking_from_margin_files_equals_r_and_reports_convergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """unit x field and unit x channel margins, as R's rake() in tests/analysis/r/calibration_reference.R."""
    from .conftest import R_DIR

    data = pd.read_csv(DATA / "calibration_respondents.csv")
    data["parent"] = data["unit"].map({"u1": "p1", "u2": "p1", "u3": "p1", "u4": "p2", "u5": "p2",
                                       "u6": "p2"})
    responses = _write(tmp_path, data)
    out = tmp_path / "raked.csv"
    status = main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit,field", "--parent-col", "parent", "--lonely-psu", "adjust", "--min-n", "0",
                   "--margin", str(DATA / "calibration_frame.csv"), "--margin",
                   str(DATA / "calibration_margins.csv"), "--rake-tol", "1e-13", "--out", str(out)])
    assert status == 0
    assert "raking converged after" in capsys.readouterr().err
    ours = pd.read_csv(out, keep_default_na=False, na_values=[""])
    ours["field"] = ours["field"].fillna("")
    reference = pd.read_csv(R_DIR / "calibration_reference.csv")
    reference = reference[reference["dataset"] == "rake_nested_ipf"].fillna({"cut": ""})
    merged = reference.merge(ours, left_on=["domain", "cut", "stat_type", "stat"],
                             right_on=["domain", "field", "stat_type", "stat"], suffixes=("_r", ""))
    assert len(merged) > 400
    np.testing.assert_allclose(merged["est"], merged["est_r"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(merged["se"], merged["se_r"], rtol=0, atol=1e-10)


def test_raking_that_cannot_converge_exits_with_the_margin(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = pd.read_csv(DATA / "calibration_respondents.csv")
    responses = _write(tmp_path, data)
    status = main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit", "--lonely-psu", "adjust", "--margin", str(DATA / "calibration_frame.csv"),
                   "--margin", str(DATA / "calibration_margins.csv"), "--rake-max-iter", "1",
                   "--rake-tol", "1e-15", "--out", str(tmp_path / "o.csv")])
    assert status == EXIT_INPUT_ERROR
    assert "raking did not converge after 1 iterations" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["beta-binomial", "fay-herriot"])
def test_league_command_ranks_units_with_either_method(tmp_path: Path, method: str) -> None:
    from analysis.fay_herriot import fay_herriot_table
    from analysis.shrinkage import league_table

    indices = tmp_path / "indices.csv"
    assert main(["indices", "--responses", str(DATA / "counters.csv"), "--definition",
                 str(DATA / "definition.csv"), "--by", "unit,field", "--weight-col", "w", "--lonely-psu",
                 "adjust", "--out", str(indices)]) == 0
    out = tmp_path / "league.csv"
    assert main(["league", "--indices", str(indices), "--method", method, "--out", str(out)]) == 0
    table = pd.read_csv(indices)
    units = table[(table["level"] == "unit") & (table["stat_type"] == "overall_index") & table["field"].isna()
                  & table["est"].notna()]
    if method == "fay-herriot":
        expected = fay_herriot_table(units["domain"], units["est"], units["se"], units["n"]).table
    else:
        expected = league_table(units["domain"], units["est"], units["n"], units["n_eff"]).table
    written = pd.read_csv(out)
    assert list(written["unit"]) == list(expected["unit"]) and len(written) == len(units) > 5
    np.testing.assert_allclose(written["shrunk"], expected["shrunk"], rtol=1e-12)


def test_fay_herriot_refuses_a_unit_at_one_hundred_percent(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    indices = pd.DataFrame({"level": "unit", "domain": ["a", "b", "c", "d", "e"],
                            "stat_type": "overall_index", "stat": "overall",
                            "est": [0.8, 1.0, 0.7, 0.75, 0.9], "se": [0.05, 0.0, 0.06, 0.04, 0.03],
                            "n": 30, "n_eff": 30.0})
    path = _write(tmp_path, indices, "indices.csv")
    assert main(["league", "--indices", str(path), "--method", "fay-herriot", "--out",
                 str(tmp_path / "l.csv")]) == EXIT_INPUT_ERROR
    assert "beta-binomial" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "shown"), [("abc", "'abc'"), ("3.5", "'3.5'")])
def test_text_or_fractional_code_names_the_row(tmp_path: Path, counters: pd.DataFrame, value: str, shown: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = counters.astype({"q2": object})
    data.loc[6, "q2"] = value
    path = _write(tmp_path, data)
    assert _run(tmp_path, path) == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(path) in message and "'q2', row 7 (line 8)" in message and shown in message
