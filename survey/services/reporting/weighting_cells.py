"""Which post-stratification cells were merged into which, and why: for the unit page, PDF and XLSX.

The post-stratification (`analysis.poststratification`) merges a procedure field's cell into the unit's
total (or a coarser cell) when it has too few responses, none, or no dossiers served; the report of
those decisions (`PoststratResult.collapsed`) travels with the period's indices (`IndexReport.collapsed`)
and is worded here once, with the labels the frame upload's warnings use. Response counts are not shown
(a merged cell's count is small by construction and could be worked out against the unit's total);
the reason says "fewer than N responses" instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from survey.services.reporting.index_report import IndexReport
from survey.services.weighting.frame_warnings import collapse_reason_label, field_label, merged_into_label


@dataclass(frozen=True)
class MergedCell:
    """One weighting cell that did not stand alone, labelled in the reader's language."""

    unit_code: str
    unit_name: str
    month: str
    field: str
    served: int
    merged_into: str
    reason: str


def merged_cells(report: IndexReport, lang: str) -> tuple[MergedCell, ...]:
    """The period's merged weighting cells, by unit code, month and field (empty when unweighted)."""
    if not report.weighted or report.collapsed.empty:
        return ()
    records = cast(list[dict[str, Any]], report.collapsed.to_dict("records"))
    out = []
    for row in sorted(records, key=lambda r: (str(r["unit"]), str(r["month"]), str(r["field"]))):
        code = str(row["unit"])
        _id, name_vi, name_en, _kind = report.names.get(code, (0, code, "", ""))
        out.append(MergedCell(
            unit_code=code, unit_name=name_en if lang == "en" and name_en else name_vi,
            month=str(row["month"]),
            field=field_label(str(row["field"])), served=int(row["served"]),
            merged_into=merged_into_label(str(row["merged_into"]), int(row["kept"])),
            reason=collapse_reason_label(str(row["reason"]), report.min_cell)))
    return tuple(out)
