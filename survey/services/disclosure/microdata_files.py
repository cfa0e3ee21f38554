"""Microdata as files: CSV, XLSX, SPSS .sav, Stata .dta and Parquet, with the same values in each.

Codes are whole numbers; an empty cell (system missing) is "not answered"; the N/A code (0 on the
SIPAS scale) and `SUPPRESSED` (-3) are kept as values. SPSS declares both as user-missing values
(``missing_ranges``), so they stay visible but leave every statistic; Stata has no user-missing
numbers, so they become the extended missing values ``.n`` (N/A) and ``.s`` (suppressed). Labels
are Vietnamese unless English is asked for. CSV and XLSX text cells go through
`exports.neutralise` (the one formula-injection rule of every export).
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from survey.services.disclosure import exports
from survey.services.disclosure.microdata import SUPPRESSED, Microdata
from survey.services.disclosure.microdata_variables import Variable, variables

FORMATS = ("csv", "xlsx", "sav", "dta", "parquet")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
    "dta": "application/x-stata-dta",
    "parquet": "application/vnd.apache.parquet",
}


def _coded(table: pd.DataFrame, described: list[Variable]) -> pd.DataFrame:
    """Code and number columns as nullable integers (weights stay floats), strings as strings."""
    out = table.copy()
    for variable in described:
        if variable.kind in ("code", "number"):
            values = pd.to_numeric(out[variable.name], errors="raise")
            whole = values.dropna()
            if (whole == np.round(whole)).all():
                out[variable.name] = values.round().astype("Int64")
        elif variable.kind == "string":
            out[variable.name] = out[variable.name].astype(object).where(out[variable.name].notna(), None)
    return out


def _table(microdata: Microdata, lang: str) -> exports.Table:
    described = variables(microdata)
    coded = _coded(microdata.table, described)
    rows = tuple(tuple(None if pd.isna(v) else (int(v) if isinstance(v, np.integer) else
                                                 float(v) if isinstance(v, np.floating) else v)
                       for v in record) for record in coded.itertuples(index=False))
    return exports.Table("Microdata", "Microdata", tuple(coded.columns), rows)


def csv_bytes(microdata: Microdata, *, lang: str = "vi", bom: bool = True) -> bytes:
    """RFC 4180 CSV; English column names (the variable names); UTF-8 with a BOM by default."""
    return exports.csv_bytes(_table(microdata, lang), bom=bom)


def xlsx_bytes(microdata: Microdata, *, lang: str = "vi", bom: bool = True) -> bytes:
    """One sheet of data (variable names as the header)."""
    del bom
    return exports.xlsx_bytes([_table(microdata, lang)], title="Hài Lòng microdata")


def _through_file(write: Callable[[Path], None]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export"
        write(path)
        return path.read_bytes()


def sav_bytes(microdata: Microdata, *, lang: str = "vi", bom: bool = True) -> bytes:
    """SPSS .sav with variable and value labels in `lang` and N/A / suppressed declared missing."""
    import pyreadstat

    del bom
    described = variables(microdata)
    frame = _coded(microdata.table, described)
    for variable in described:
        if variable.kind in ("code", "number"):
            frame[variable.name] = frame[variable.name].astype("float64")
    missing: dict[str, list[Any]] = {}
    for variable in described:
        codes = [c for c in (variable.not_applicable, SUPPRESSED if variable.suppressible else None)
                 if c is not None]
        if codes:
            missing[variable.name] = list(codes)
    return _through_file(lambda path: pyreadstat.write_sav(
        frame, path, file_label="Hai Long microdata",
        column_labels={v.name: v.label_in(lang) for v in described},
        variable_value_labels={v.name: {float(k): t for k, t in v.value_labels_in(lang).items()}
                               for v in described if v.values or v.suppressible},
        missing_ranges=missing,
    ))


def dta_bytes(microdata: Microdata, *, lang: str = "vi", bom: bool = True) -> bytes:
    """Stata .dta (version 15, UTF-8) with labels in `lang`; N/A is ``.n``, suppressed ``.s``."""
    import pyreadstat

    del bom
    described = variables(microdata)
    frame = _coded(microdata.table, described)
    user_missing: dict[str, list[str]] = {}
    for variable in described:
        if variable.kind not in ("code", "number"):
            continue
        column = frame[variable.name].astype("float64").astype(object)
        letters = []
        if variable.not_applicable is not None:
            column = column.where(column != float(variable.not_applicable), "n")
            letters.append("n")
        if variable.suppressible:
            column = column.where(column != float(SUPPRESSED), "s")
            letters.append("s")
        used = column.isin(letters)
        frame[variable.name] = column.where(column.notna(), np.nan) if used.any() else column.astype(float)
        if letters:
            user_missing[variable.name] = letters
    value_labels = {}
    for variable in described:
        labels = {k: t for k, t in variable.value_labels_in(lang).items()
                  if k not in (SUPPRESSED, variable.not_applicable)}
        if labels:
            value_labels[variable.name] = {float(k): t for k, t in labels.items()}
    return _through_file(lambda path: pyreadstat.write_dta(
        frame, path, file_label="Hai Long microdata",
        column_labels={v.name: v.label_in(lang)[:80] for v in described},
        variable_value_labels=value_labels, missing_user_values=user_missing,
    ))


def parquet_bytes(microdata: Microdata, *, lang: str = "vi", bom: bool = True) -> bytes:
    """Apache Parquet through pyarrow: codes as nullable integers, weights as doubles."""
    del bom, lang
    frame = _coded(microdata.table, variables(microdata))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


WRITERS: dict[str, Callable[..., bytes]] = {
    "csv": csv_bytes, "xlsx": xlsx_bytes, "sav": sav_bytes, "dta": dta_bytes, "parquet": parquet_bytes,
}


def render(microdata: Microdata, file_format: str, *, lang: str = "vi", bom: bool = True) -> bytes:
    """The export in `file_format` (one of `FORMATS`)."""
    if file_format not in WRITERS:
        raise ValueError(f"unknown format {file_format!r}; choose one of {', '.join(FORMATS)}")
    return WRITERS[file_format](microdata, lang=lang, bom=bom)


def bundle(microdata: Microdata, file_format: str, *, data_name: str, created: date, lang: str = "vi",
           bom: bool = True) -> dict[str, bytes]:
    """The data file and its codebook (JSON and Markdown), keyed by file name."""
    from survey.services.disclosure.codebook import codebook, codebook_json, codebook_markdown

    stem = data_name.rsplit(".", 1)[0]
    book = codebook(microdata, data_name=data_name, created=created)
    return {
        data_name: render(microdata, file_format, lang=lang, bom=bom),
        f"{stem}.codebook.json": codebook_json(book),
        f"{stem}.codebook.md": codebook_markdown(book),
    }
