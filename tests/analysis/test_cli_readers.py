"""The command line's readers: Arrow's CSV reader, pandas' C parser and Parquet give the same table.

The speed of the Arrow and Parquet paths is measured by bench/analysis_cli.py; these tests only hold
the readers to the same answer, byte for byte, on the committed reference data and on the awkward
files a spreadsheet produces (a byte-order mark, a line break inside a quoted comment).
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from analysis.cli import EXIT_INPUT_ERROR, main
from analysis.inputs import read_table

from .conftest import DATA


def _indices(tmp_path: Path, responses: Path, name: str, *extra: str) -> bytes:
    out = tmp_path / f"{name}.csv"
    status = main(["indices", "--responses", str(responses), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit", "--weight-col", "w", "--lonely-psu", "adjust", "--target", "0.8",
                   "--out", str(out), *extra])
    assert status == 0
    return out.read_bytes()


@pytest.fixture
def weighted(tmp_path: Path) -> pd.DataFrame:
    data = pd.read_csv(DATA / "counters.csv")
    data["w"] = [1.0 + (i % 7) / 3 for i in range(len(data))]  # unequal weights: the sums must agree too
    data["comment"] = ["Phòng chờ nóng,\ncần thêm quạt" if i % 5 == 0 else "" for i in range(len(data))]
    return data


def test_arrow_c_and_parquet_give_the_same_indices_to_the_byte(
    tmp_path: Path, weighted: pd.DataFrame
) -> None:
    plain = weighted.drop(columns="comment")
    csv = tmp_path / "responses.csv"
    plain.to_csv(csv, index=False)
    parquet = tmp_path / "responses.parquet"
    plain.to_parquet(parquet, index=False)
    reference = _indices(tmp_path, csv, "c", "--csv-engine", "c")
    assert len(reference.splitlines()) > 10
    assert _indices(tmp_path, csv, "arrow", "--csv-engine", "arrow") == reference
    assert _indices(tmp_path, parquet, "parquet") == reference


def test_a_quoted_line_break_and_a_byte_order_mark_read_the_same_with_either_parser(
    tmp_path: Path, weighted: pd.DataFrame
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + weighted.to_csv(index=False).encode("utf-8"))
    arrow = read_table(path, "responses", dtype={"unit": str}, engine="arrow")
    c_parser = read_table(path, "responses", dtype={"unit": str}, engine="c")
    assert list(arrow.columns) == list(weighted.columns)  # the BOM is not glued to the first name
    pd.testing.assert_frame_equal(arrow, c_parser)
    assert arrow.loc[0, "comment"] == "Phòng chờ nóng,\ncần thêm quạt"


def test_a_file_that_is_not_parquet_is_named_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "responses.parquet"
    fake.write_bytes(b"unit,q1\nA,5\n")
    status = main(["indices", "--responses", str(fake), "--definition", str(DATA / "definition.csv"),
                   "--by", "unit", "--out", str(tmp_path / "out.csv")])
    assert status == EXIT_INPUT_ERROR
    message = capsys.readouterr().err
    assert str(fake) in message and "not a readable Parquet file" in message
    assert not (tmp_path / "out.csv").exists()


def test_a_parquet_file_without_rows_is_refused(tmp_path: Path, weighted: pd.DataFrame) -> None:
    empty = tmp_path / "empty.parquet"
    weighted.iloc[:0].to_parquet(empty, index=False)
    with pytest.raises(ValueError, match="header but no rows"):
        read_table(empty, "responses")
