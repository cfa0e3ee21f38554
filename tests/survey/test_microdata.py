"""Microdata export: no identifier in any format's bytes, k and l verified on the released file by an
independent count, labels and missing codes survive SPSS/Stata, CSV cells are neutralised, and the
exported weights reproduce the dashboard's indices through the analysis CLI."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import zipfile
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
import sqlalchemy as sa
from flask import Flask

from analysis.cli import main as analysis_main
from instruments.registry import get_instrument
from survey.extensions import db
from survey.models import Unit
from survey.services.disclosure.microdata import MicrodataRefused, MicrodataRequest, build_microdata
from survey.services.disclosure.microdata_files import FORMATS, render
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from tests.survey.microdata_helpers import KEY_PREFIX, SECRET_COUNTER, seed_microdata

SIPAS = "sipas-counter@2025.1"
QUASI = ["unit", "period", "field", "weight_cell", "age_band", "sex", "procedure_field", "channel"]


@pytest.fixture
def seeded(app: Flask, demo: dict[str, int]) -> list[int]:
    return seed_microdata(app)


def _request(**changes: object) -> MicrodataRequest:
    base = MicrodataRequest("HL", date(2026, 10, 1), date(2026, 10, 31),
                            get_instrument("sipas-counter", "2025.1"))
    return dataclasses.replace(base, **changes)


def _build(app: Flask, **changes: object):  # type: ignore[no-untyped-def]
    with app.app_context():
        return build_microdata(db.session, _request(**changes))


def _readable(file_format: str, content: bytes) -> bytes:
    """The bytes to scan: compressed containers are opened (XLSX is a zip, Parquet pages are compressed)."""
    if file_format == "xlsx":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return b"".join(archive.read(name) for name in archive.namelist())
    if file_format == "parquet":
        table = pq.read_table(io.BytesIO(content)).to_pandas()
        return content + table.to_csv().encode()
    return content


def test_no_identifier_in_the_bytes_of_any_format(app: Flask, seeded: list[int]) -> None:
    microdata = _build(app)
    needles = [KEY_PREFIX.encode(), SECRET_COUNTER.encode(), b"14:37", b"07:37", b"status"]
    for response_id in seeded:
        needles += [str(response_id).encode(), struct.pack("<d", response_id), struct.pack(">d", response_id),
                    struct.pack("<q", response_id), struct.pack("<i", response_id)]
    for file_format in FORMATS:
        scanned = _readable(file_format, render(microdata, file_format))
        found = [n for n in needles if n in scanned]
        assert not found, (file_format, found[:3])
    assert "response_id" not in microdata.table.columns and "counter" not in microdata.table.columns
    assert len(microdata.table) == len(seeded)


def test_k_and_l_hold_on_the_released_csv_by_an_independent_count(app: Flask, seeded: list[int]) -> None:
    microdata = _build(app)
    released = pd.read_csv(io.BytesIO(render(microdata, "csv")), encoding="utf-8-sig", dtype=str,
                           keep_default_na=False)
    groups = Counter(tuple(row) for row in released[QUASI].itertuples(index=False))
    assert min(groups.values()) >= 5
    for item in ("harassment", "extra_payment"):
        answers: dict[tuple[str, ...], set[str]] = {}
        for row in released[[*QUASI, item]].itertuples(index=False):
            if row[-1] not in ("", "-3"):
                answers.setdefault(tuple(row[:-1]), set()).add(row[-1])
        assert min(len(v) for v in answers.values()) >= 2
    # The five respondents over 60 (two and three by sex) are released with age band and sex blanked.
    blanked = released[(released["age_band"] == "-3")]
    assert len(blanked) == 5 and set(blanked["sex"]) == {"-3"}
    assert "5" not in set(released["age_band"])
    assert microdata.report.records_removed == 0 and microdata.report.k_achieved == 10 - 5


def test_refused_request_says_what_to_coarsen(app: Flask, seeded: list[int]) -> None:
    with pytest.raises(MicrodataRefused) as refused:
        _build(app, period="day")
    assert refused.value.code == "E-MICRODATA-UNSAFE"
    assert "coarsen" in str(refused.value)


def test_sav_and_dta_keep_labels_and_missing_codes(app: Flask, seeded: list[int], tmp_path: Path) -> None:
    microdata = _build(app)
    (tmp_path / "m.sav").write_bytes(render(microdata, "sav"))
    data, meta = pyreadstat.read_sav(tmp_path / "m.sav", user_missing=True)
    assert meta.column_names_to_labels["e1_info"].startswith("Cơ quan cung cấp thông tin")
    assert meta.variable_value_labels["e1_info"][4.0] == "Hài lòng"
    assert meta.variable_value_labels["age_band"][-3.0].startswith("Bị ẩn")
    assert {"lo": 0.0, "hi": 0.0} in meta.missing_ranges["e1_info"]
    assert {"lo": -3.0, "hi": -3.0} in meta.missing_ranges["age_band"]
    assert (data["e1_info"] == 0).any() and (data["age_band"] == -3).sum() == 5
    plain, _ = pyreadstat.read_sav(tmp_path / "m.sav")  # without user_missing: declared codes become NaN
    assert not (plain["e1_info"] == 0).any() and plain["e1_info"].isna().sum() == (data["e1_info"] == 0).sum()

    english = render(microdata, "dta", lang="en")
    (tmp_path / "m.dta").write_bytes(english)
    data, meta = pyreadstat.read_dta(tmp_path / "m.dta", user_missing=True)
    assert meta.column_names_to_labels["overall"].startswith("Overall, how satisfied")
    assert meta.variable_value_labels["sex"] == {1: "Male", 2: "Female"}
    assert meta.missing_user_values["e1_info"] == ["n"] and "s" in meta.missing_user_values["sex"]
    assert (data["e1_info"] == "n").any() and (data["sex"] == "s").sum() == 5


def test_csv_cells_are_neutralised_and_bom_is_optional(app: Flask, seeded: list[int]) -> None:
    microdata = _build(app)
    table = microdata.table.copy()
    table.loc[0, "unit"] = '=HYPERLINK("http://evil.example")'
    table.loc[1, "parent_unit"] = "@SUM(A1)"
    poisoned = dataclasses.replace(microdata, table=table)
    content = render(poisoned, "csv")
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text
    assert ",=" not in text and "\n=" not in text
    assert not render(poisoned, "csv", bom=False).startswith(b"\xef\xbb\xbf")


def test_exported_weights_reproduce_the_dashboard_through_the_analysis_cli(
    app: Flask, seeded: list[int], tmp_path: Path
) -> None:
    microdata = _build(app)
    responses = tmp_path / "m.csv"
    responses.write_bytes(render(microdata, "csv"))
    out = tmp_path / "indices.csv"
    status = analysis_main(["indices", "--responses", str(responses), "--definition", SIPAS, "--by", "unit",
                            "--weight-col", "weight", "--strata-col", "stratum", "--lonely-psu", "adjust",
                            "--invalid-codes", "missing",  # -3: suppressed (docs/research.md)
                            "--out", str(out)])
    assert status == 0
    ours = pd.read_csv(out)
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        report = unit_indices(db.session, root, SIPAS, Period.month(2026, 10), weighted=True)
        assert report.weighted
        dashboard = report.estimates
    compared = 0
    for domain, theirs_domain in (("HL-AB-1", "HL-AB-1"), ("HL-HL-1", "HL-HL-1"), ("total", "HL")):
        for stat_type in ("criterion", "element", "overall_index", "separate"):
            mine = ours[(ours["domain"] == domain) & (ours["stat_type"] == stat_type)].set_index("stat")
            if stat_type == "separate":  # age band and sex carry suppressed codes: not comparable
                mine = mine.drop(index=["age_band", "sex"])
            theirs = dashboard[(dashboard["domain"] == theirs_domain)
                               & (dashboard["stat_type"] == stat_type)].set_index("stat")
            assert len(mine) == len(theirs) - 2 * (stat_type == "separate") > 0
            for column in ("est", "se", "ci_lo", "ci_hi"):
                np.testing.assert_allclose(mine[column].astype(float),
                                           theirs.loc[mine.index, column].astype(float), rtol=0, atol=1e-12)
            compared += len(mine)
    assert compared == 3 * (19 + 5 + 1 + 10)
    weights = microdata.table.groupby("unit")["weight"].sum()
    assert weights["HL-AB-1"] == pytest.approx(400) and weights["HL-HL-1"] == pytest.approx(300)


def test_cli_writes_the_file_and_its_codebook(app: Flask, seeded: list[int], tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "exports" / "hl.parquet"
    result = runner.invoke(args=["export", "microdata", "--unit", "HL", "--from", "2026-10-01", "--to",
                                 "2026-10-31", "--instrument", SIPAS, "--format", "parquet",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 89 and str(frame["e1_info"].dtype) == "Int64"
    book = json.loads((tmp_path / "exports" / "hl.codebook.json").read_text(encoding="utf-8"))
    assert book["rows"] == 89 and book["disclosure"]["k_achieved"] >= 5
    assert book["versions"]["instrument"] == SIPAS and "svydesign(" in book["design"]["r"]
    variable = next(v for v in book["variables"] if v["name"] == "e1_info")
    assert variable["values"]["0"]["en"] == "No opinion / not applicable" and "0" in variable["missing"]
    markdown = (tmp_path / "exports" / "hl.codebook.md").read_text(encoding="utf-8")
    assert "## Suggested citation" in markdown and "k_achieved: 5" in markdown

    refused = runner.invoke(args=["export", "microdata", "--unit", "HL", "--from", "2026-10-01", "--to",
                                  "2026-10-31", "--instrument", SIPAS, "--format", "csv", "--period", "day",
                                  "--out", str(tmp_path / "day.csv")])
    assert refused.exit_code != 0 and "E-MICRODATA-UNSAFE" in refused.output
    assert not (tmp_path / "day.csv").exists()
    low_k = runner.invoke(args=["export", "microdata", "--unit", "HL", "--from", "2026-10-01", "--to",
                                "2026-10-31", "--instrument", SIPAS, "--format", "csv", "--k", "2",
                                "--out", str(tmp_path / "k2.csv")])
    assert low_k.exit_code != 0 and "--k" in low_k.output


def test_free_text_only_when_asked_scrubbed_and_without_names(app: Flask, seeded: list[int]) -> None:
    from survey.models import TextAnswer

    planted = {seeded[0]: "Gọi tôi 0912 345 678, hồ sơ 000.00.12.H26-240315-0001 trễ hẹn",
               seeded[1]: "chị Lan ở quầy 3 rất tận tình",
               seeded[2]: "Phòng chờ nóng, cần thêm quạt."}
    with app.app_context():
        for response_id, text in planted.items():
            db.session.add(TextAnswer(response_id=response_id, item_id="comment", text=text))
        db.session.commit()
    assert "comment" not in _build(app).table.columns
    microdata = _build(app, include_text=True)
    comments = [c for c in microdata.table["comment"] if isinstance(c, str)]
    assert sorted(comments) == ["Gọi tôi [SĐT], hồ sơ [MÃ HỒ SƠ] trễ hẹn", "Phòng chờ nóng, cần thêm quạt."]
    content = render(microdata, "csv").decode("utf-8-sig")
    assert "0912" not in content and "Lan" not in content and "[SĐT]" in content


def test_omitted_and_merged_columns_stay_in_the_file_coarsened(app: Flask, seeded: list[int]) -> None:
    microdata = _build(app, omit=("sex", "channel"), merge_age_bands=True)
    table = microdata.table
    assert set(table["sex"]) == {-3} and set(table["channel"]) == {-3}
    assert set(table["age_band"]) == {1, 3, 5}
    # Merged bands 2 -> 1 and 3 -> 3; the five over 60 (band 5) stand together once sex is gone.
    assert (table["age_band"] == 5).sum() == 5 and microdata.report.suppressed_cells == 0
    assert "sex" not in microdata.quasi_identifiers and "sex" in microdata.omitted


def test_units_generalised_to_a_level_keep_estimates_and_name_no_service_point(
    app: Flask, seeded: list[int]
) -> None:
    from survey.models import UnitKind

    fine = _build(app)
    coarse = _build(app, unit_level=UnitKind.COMMUNE, period="quarter")
    assert set(coarse.table["unit"]) == {"HL-AB", "HL-HL"} and set(coarse.table["parent_unit"]) == {"HL"}
    assert (coarse.table["stratum"] == coarse.table["unit"]).all()
    assert set(coarse.table["period"]) == {"2026-Q4"}
    assert "HL-AB-1" not in render(coarse, "csv").decode("utf-8-sig")
    # The same responses with the same weights, only labelled more coarsely.
    assert len(coarse.table) == len(fine.table)
    assert sorted(coarse.table["weight"]) == sorted(fine.table["weight"])
    assert _share(coarse.table) == pytest.approx(_share(fine.table), abs=1e-15)


def _share(table: pd.DataFrame) -> float:
    valid = table[table["e1_info"].between(1, 5)]
    return float((valid["weight"] * valid["e1_info"].isin([4, 5])).sum() / valid["weight"].sum())
