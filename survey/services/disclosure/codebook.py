"""The codebook written beside every microdata export, as JSON (for programs) and Markdown (for people).

It says what each variable is (wording in Vietnamese and English, type, value labels, missing and
not-applicable codes), how the weights were made, how to declare the design for variance estimation
(R `svydesign()` and the `analysis` package), the versions of instrument and formula, the disclosure
report, the row count and a suggested citation.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.metadata import PackageNotFoundError, version

from instruments.registry import get_registered
from survey.services.disclosure.microdata import SUPPRESSED, Microdata
from survey.services.disclosure.microdata_variables import NOT_ANSWERED, SUPPRESSED_LABEL, variables

WEIGHTING_TEXT = (
    "Post-stratification to the dossiers each unit served (frame uploaded by the unit or its one-stop "
    "system), per unit x counter procedure field x calendar month: w = N_c / n_c in each cell c. Within "
    "a unit and month the procedure fields are separate cells only when every one has at least 5 "
    "respondents and a positive number served; otherwise the unit-month total is the one cell (the "
    "collapse rule of docs/weights.md). No trimming. Weights are those of the dashboard (the same "
    "function computes both). Where no frame exists every weight is 1."
)


def _package_version() -> str:
    try:
        return version("hai-long")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


def _r_call(data_name: str) -> str:
    return (
        "library(survey)\n"
        f"d <- read.csv(\"{data_name}\", na.strings = \"\", fileEncoding = \"UTF-8-BOM\")\n"
        "des <- svydesign(ids = ~1, strata = ~stratum, weights = ~weight, data = d)\n"
        "options(survey.lonely.psu = \"adjust\")\n"
        "# a criterion's index: the weighted share satisfied (4-5) among valid answers (1-5)\n"
        "svyciprop(~I(e1_info %in% c(4, 5)), subset(des, e1_info %in% 1:5), method = \"wilson\")"
    )


def _python_call(data_name: str, instrument_key: str) -> str:
    return (
        "import pandas as pd\n"
        "from analysis.tables import compute_indices\n"
        "from instruments.index import IndexDefinition\n"
        "from instruments.registry import get_instrument\n"
        f"d = pd.read_csv(\"{data_name}\", encoding=\"utf-8-sig\", dtype={{\"unit\": str}})\n"
        f"definition = IndexDefinition.from_instrument(get_instrument(*\"{instrument_key}\".split(\"@\")))\n"
        "table = compute_indices(d, definition, unit_col=\"unit\", weight_col=\"weight\", "
        "strata_col=\"stratum\", lonely_psu=\"adjust\")"
    )


def codebook(microdata: Microdata, *, data_name: str, created: date) -> dict[str, object]:
    """The codebook as a JSON-ready mapping."""
    request = microdata.request
    instrument = request.instrument
    registered = get_registered(instrument.id, instrument.version)
    described = []
    for variable in variables(microdata):
        missing = {"": NOT_ANSWERED.en} if variable.name in microdata.item_columns else {}
        if variable.name == "field":
            missing = {"": "The counter has no procedure field (not broken down)"}
        if variable.not_applicable is not None:
            missing[str(variable.not_applicable)] = "Not applicable / no opinion (kept as a value; SPSS " \
                "user-missing; Stata .n)"
        if variable.suppressible:
            missing[str(SUPPRESSED)] = f"{SUPPRESSED_LABEL.en} (SPSS user-missing; Stata .s)"
        described.append({
            "name": variable.name, "label_vi": variable.label.vi, "label_en": variable.label.en,
            "type": variable.kind,
            "values": {str(code): {"vi": text.vi, "en": text.en} for code, text in variable.values.items()},
            "missing": missing,
        })
    citation = (f"Hài Lòng microdata: {instrument.title.en} ({instrument.key}), unit {request.unit_code}, "
                f"{request.first.isoformat()} to {request.last.isoformat()}; exported {created.isoformat()} "
                f"with Hài Lòng {_package_version()}.")
    return {
        "file": data_name,
        "rows": len(microdata.table),
        "created": created.isoformat(),
        "request": {
            "unit": request.unit_code, "from": request.first.isoformat(), "to": request.last.isoformat(),
            "unit_level": request.unit_level.value if request.unit_level else "unit of the response",
            "period": request.period, "merged_age_bands": request.merge_age_bands,
            "omitted": list(request.omit),
        },
        "versions": {
            "instrument": instrument.key, "instrument_hash": registered.content_hash,
            "index_formula": microdata.formula, "software": f"hai-long {_package_version()}",
        },
        "variables": described,
        "weights": {"method": microdata.weighting, "weighted": microdata.weighted, "how": WEIGHTING_TEXT},
        "design": {
            "description": ("Stratified by the exported unit, each respondent its own PSU, weights = weight "
                            "(the dashboard's default design). weight_cell groups the rows of one weighting "
                            "cell, e.g. for svypostStrata-style re-weighting."),
            "r": _r_call(data_name),
            "python": _python_call(data_name, instrument.key),
        },
        "disclosure": {
            **microdata.report.as_dict(),
            "quasi_identifiers": list(microdata.quasi_identifiers),
            "sensitive": list(microdata.sensitive),
            "rule": ("k-anonymity by local suppression (a suppressed value counts as its own category), "
                     "distinct l-diversity of the sensitive items, refusal over the suppression budget; "
                     "see docs/research.md"),
        },
        "citation": citation,
    }


def codebook_json(book: dict[str, object]) -> bytes:
    return json.dumps(book, ensure_ascii=False, indent=2).encode("utf-8")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def codebook_markdown(book: dict[str, object]) -> bytes:
    """The same content for people."""
    request = book["request"]
    versions = book["versions"]
    weights = book["weights"]
    design = book["design"]
    disclosure = book["disclosure"]
    assert isinstance(request, dict) and isinstance(versions, dict) and isinstance(weights, dict)
    assert isinstance(design, dict) and isinstance(disclosure, dict)
    lines = [
        f"# Codebook: {book['file']}", "",
        f"- Rows: {book['rows']} (one per valid response)",
        f"- Unit {request['unit']} ({request['unit_level']}), {request['from']} to {request['to']}, "
        f"period: {request['period']}",
        f"- Instrument {versions['instrument']} (content hash {versions['instrument_hash']}), "
        f"index formula {versions['index_formula']}, {versions['software']}",
        f"- Created {book['created']}", "",
        "## Variables", "",
        "| Name | Label (vi) | Label (en) | Type | Values | Missing |",
        "|---|---|---|---|---|---|",
    ]
    variables_list = book["variables"]
    assert isinstance(variables_list, list)
    for variable in variables_list:
        values = "; ".join(f"{code} = {text['vi']} / {text['en']}"
                           for code, text in variable["values"].items())
        missing = "; ".join(f"{code or 'empty'}: {text}" for code, text in variable["missing"].items())
        lines.append(f"| {variable['name']} | {_cell(variable['label_vi'])} | "
                     f"{_cell(variable['label_en'])} | {variable['type']} | {_cell(values)} | "
                     f"{_cell(missing)} |")
    lines += ["", "## Weights", "", f"{weights['method']}. {weights['how']}", "",
              "## Design for variance estimation", "", str(design["description"]), "", "R:", "", "```r",
              str(design["r"]), "```", "", "Python:", "", "```python", str(design["python"]), "```", "",
              "## Disclosure control", "", str(disclosure["rule"]), ""]
    for key in ("k_required", "k_achieved", "l_required", "l_achieved", "budget", "suppression_rate",
                "suppressed_cells", "cells", "records_in", "records_out", "records_removed", "groups",
                "suppressed_by_column", "quasi_identifiers", "sensitive"):
        lines.append(f"- {key}: {disclosure[key]}")
    lines += ["", "## Suggested citation", "", str(book["citation"]), ""]
    return "\n".join(lines).encode("utf-8")
