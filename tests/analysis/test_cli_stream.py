"""The streamed indices command (`analysis.cli_stream`): the whole table's figures, summed chunk by chunk.

The chunk size is set far below the file's length here (and Arrow's CSV blocks smaller still and out of
step with the chunks), so every file is read in many chunks; the whole-table reference is
`analysis.tables.compute_indices` on the file read by pandas in one piece.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis.cli_stream as cli_stream
from analysis.cli import _parser, main
from analysis.tables import compute_indices
from instruments.index import IndexDefinition

from .conftest import reference_definition

ROWS = 2_500


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_stream, "CHUNK_ROWS", 301)
    monkeypatch.setattr(cli_stream, "_CSV_BLOCK", 4_096)


@pytest.fixture
def survey() -> pd.DataFrame:
    """Respondents of 40 units under 6 parents, unequal weights, blanks, not-applicable codes, one unit
    with a single respondent (a lonely stratum), and a column the command does not use."""
    rng = np.random.default_rng(13)
    units = np.array([f"u{i:02d}" for i in range(39)])
    data = pd.DataFrame({"unit": np.r_[rng.choice(units, ROWS - 1), ["solo"]],
                         "w": rng.uniform(0.5, 3.0, ROWS), "note": "x"})
    for k in range(1, 6):
        codes = rng.integers(1, 6, ROWS).astype(float)
        codes[rng.random(ROWS) < 0.05] = 0  # not applicable
        codes[rng.random(ROWS) < 0.05] = np.nan  # no answer
        data[f"q{k}"] = codes
    data["harass"] = np.where(rng.random(ROWS) < 0.1, np.nan, rng.integers(1, 4, ROWS))
    data["overall"] = rng.integers(1, 6, ROWS)
    data["parent"] = ["top" if u == "solo" else f"p{int(u[1:]) % 6}" for u in data["unit"]]
    return data


def _args(responses: Path, *extra: str) -> object:
    return _parser().parse_args(["indices", "--responses", str(responses), "--definition", "unused",
                                 "--by", "unit", "--out", "unused", *extra])


def _assert_same_figures(streamed: pd.DataFrame, whole: pd.DataFrame) -> None:
    """Equal rows and labels; numbers equal to rounding (the same sums, added in chunks)."""
    assert list(streamed.columns) == list(whole.columns)
    assert len(streamed) == len(whole) > 100
    for column in whole.columns:
        if pd.api.types.is_float_dtype(whole[column]):
            np.testing.assert_allclose(streamed[column].to_numpy(np.float64),
                                       whole[column].to_numpy(np.float64), rtol=1e-12, atol=1e-15,
                                       err_msg=column)
        else:
            assert streamed[column].astype(str).tolist() == whole[column].astype(str).tolist(), column


def test_streamed_chunks_give_the_whole_tables_figures_with_every_reader(
    tmp_path: Path, survey: pd.DataFrame, small_chunks: None
) -> None:
    definition = reference_definition()
    csv, parquet = tmp_path / "responses.csv", tmp_path / "responses.parquet"
    survey.to_csv(csv, index=False)
    survey.to_parquet(parquet, index=False)
    options = ("--weight-col", "w", "--parent-col", "parent", "--target", "0.8", "--lonely-psu", "adjust")
    tables = {name: cli_stream.stream_indices(_args(path, "--csv-engine", engine, *options), definition)
              for name, path, engine in (("arrow", csv, "arrow"), ("c", csv, "c"), ("parquet", parquet, "c"))}
    assert all(table is not None for table in tables.values())  # streamed, not handed back
    # Fixed chunks whatever the reader's batches: every reader gives the same bits.
    pd.testing.assert_frame_equal(tables["arrow"], tables["c"], check_exact=True)
    pd.testing.assert_frame_equal(tables["parquet"], tables["c"], check_exact=True)
    data = pd.read_csv(csv, dtype={"unit": str})
    parents = dict(zip(data["unit"], data["parent"], strict=False))
    whole = compute_indices(data, definition, unit_col="unit", parents=parents, weight_col="w", targets=0.8,
                            lonely_psu="adjust")
    streamed = tables["arrow"]
    assert streamed is not None
    _assert_same_figures(streamed, whole)
    assert set(whole["domain"]) >= {"u00", "p0", "top", "solo", "total"}


def test_unweighted_without_parents_and_every_interval(
    tmp_path: Path, survey: pd.DataFrame, small_chunks: None
) -> None:
    definition = reference_definition()
    csv = tmp_path / "responses.csv"
    survey.to_csv(csv, index=False)
    streamed = cli_stream.stream_indices(_args(csv, "--ci", "all", "--lonely-psu", "certainty"), definition)
    assert streamed is not None
    whole = compute_indices(pd.read_csv(csv, dtype={"unit": str}), definition, unit_col="unit",
                            all_intervals=True, lonely_psu="certainty")
    _assert_same_figures(streamed, whole)


@pytest.mark.parametrize("parent", ["1", "true", ""])
def test_parents_a_reader_might_retype_are_left_to_the_whole_table(
    tmp_path: Path, survey: pd.DataFrame, parent: str, small_chunks: None
) -> None:
    survey.loc[survey["unit"] == "u03", "parent"] = parent  # "1" may read as 1.0, "true" as True
    csv = tmp_path / "responses.csv"
    survey.to_csv(csv, index=False)
    assert cli_stream.stream_indices(_args(csv, "--parent-col", "parent"), reference_definition()) is None


def test_a_bad_code_after_the_first_chunk_is_named_by_file_row_and_value(
    tmp_path: Path, survey: pd.DataFrame, small_chunks: None, capsys: pytest.CaptureFixture[str]
) -> None:
    survey.loc[1_999, "q2"] = 7  # data row 2000, in the seventh chunk of 301 rows
    csv = tmp_path / "responses.csv"
    survey.to_csv(csv, index=False)
    definition = tmp_path / "definition.csv"
    definition.write_text("criterion,element\nq1,e1\nq2,e1\nq3,e2\n", encoding="utf-8")
    status = main(["indices", "--responses", str(csv), "--definition", str(definition), "--by", "unit",
                   "--weight-col", "w", "--out", str(tmp_path / "out.csv")])
    assert status == 2
    message = capsys.readouterr().err
    assert str(csv) in message and "'q2'" in message
    assert "row 2000 (line 2001)" in message and " 7 " in message


def test_the_command_streams_and_writes_what_the_whole_table_gives(
    tmp_path: Path, survey: pd.DataFrame, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "responses.csv"
    survey.drop(columns=["harass", "overall"]).to_csv(csv, index=False)
    definition = tmp_path / "definition.csv"
    definition.write_text("criterion,element\nq1,e1\nq2,e1\nq3,e2\nq4,e2\nq5,e2\n", encoding="utf-8")
    streamed: list[bool] = []
    original = cli_stream.stream_indices

    def spy(args: object, spec: IndexDefinition) -> pd.DataFrame | None:
        table = original(args, spec)  # type: ignore[arg-type]
        streamed.append(table is not None)
        return table

    monkeypatch.setattr("analysis.cli.stream_indices", spy)
    out = tmp_path / "out.csv"
    assert main(["indices", "--responses", str(csv), "--definition", str(definition), "--by", "unit",
                 "--weight-col", "w", "--parent-col", "parent", "--lonely-psu", "adjust",
                 "--out", str(out)]) == 0
    assert streamed == [True]
    from analysis.cli import load_definition

    spec = load_definition(str(definition), levels=(1, 2, 3, 4, 5), satisfied=(4, 5), na_code=0)
    data = pd.read_csv(csv, dtype={"unit": str})
    whole = compute_indices(data, spec, unit_col="unit", weight_col="w", lonely_psu="adjust",
                            parents=dict(zip(data["unit"], data["parent"], strict=False)))
    whole.to_csv(tmp_path / "whole.csv", index=False)  # read back alike: blanks as NaN in both
    _assert_same_figures(pd.read_csv(out), pd.read_csv(tmp_path / "whole.csv"))


@pytest.mark.parametrize("engine", ["arrow", "c"])
def test_a_byte_order_mark_streams_to_the_same_table_and_a_repeated_column_does_not_stream(
    tmp_path: Path, survey: pd.DataFrame, engine: str, small_chunks: None
) -> None:
    definition = reference_definition()
    text = survey.to_csv(index=False)
    plain, marked, repeated = (tmp_path / f"{name}.csv" for name in ("plain", "marked", "repeated"))
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    header, *rows = text.splitlines()
    lonely = ("--lonely-psu", "adjust")  # the unit "solo" has one respondent
    repeated.write_text("\n".join([f"{header},q1", *(f"{row},1" for row in rows)]) + "\n", encoding="utf-8")
    first = cli_stream.stream_indices(_args(plain, "--csv-engine", engine, *lonely), definition)
    assert first is not None
    second = cli_stream.stream_indices(_args(marked, "--csv-engine", engine, *lonely), definition)
    assert second is not None
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    # pandas renames the second q1 to q1.1 and reads the first; Arrow might not: not streamed
    assert cli_stream.stream_indices(_args(repeated, "--csv-engine", engine, *lonely), definition) is None
