"""One unit's frame for one period: which of its rows count, so that a total and its breakdown never add.

A frame may give a unit's dossiers for a period as a total (field and channel blank), by procedure field,
by channel, or by field × channel, and an upload may carry several of these levels at once (a total row
and its field rows, say). The rule, used by the weights, the served counts of the dashboard, PDF and
XLSX, and the response rates alike:

* **cells** are the procedure fields: for each field its field row (channel blank) if there is one,
  else the sum of its field × channel rows; with no field rows the unit has one cell, blank, holding
  the total row, or else the sum of the channel rows;
* a **total row** next to field rows is reconciled, not added: the dossiers it has beyond the fields'
  sum (a partial breakdown: some dossiers' fields are not known) form the blank cell, so the unit's
  cells always add up to its total; a total row next to channel rows is likewise only their ceiling;
* a breakdown that **exceeds** its total (fields or channels above the total row, field × channel rows
  above their field row) cannot be reconciled: the upload is refused, naming the rows (`mismatches`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from survey.models import ALL


@dataclass(frozen=True)
class FrameCell:
    """One stored or uploaded count: its field, channel, dossiers served and file line (0 if stored)."""

    field: str
    channel: str
    served: int
    line: int = 0


@dataclass(frozen=True)
class Mismatch:
    """Two levels of one unit's frame that disagree: the lines of each side and their sums."""

    lines: tuple[int, ...]
    served: int
    check_lines: tuple[int, ...]
    check_served: int


def served_by_field(rows: Sequence[FrameCell]) -> dict[str, int]:
    """Dossiers per weighting cell (procedure field, or `ALL` for the dossiers of no known field)."""
    by_field: dict[str, list[FrameCell]] = defaultdict(list)
    for row in rows:
        if row.field != ALL:
            by_field[row.field].append(row)
    totals = [r.served for r in rows if r.field == ALL and r.channel == ALL]
    if not by_field:
        return {ALL: totals[0] if totals else sum(r.served for r in rows if r.field == ALL)}
    out = {}
    for field, cells in by_field.items():
        field_rows = [c.served for c in cells if c.channel == ALL]
        out[field] = field_rows[0] if field_rows else sum(c.served for c in cells)
    if totals and totals[0] > sum(out.values()):
        out[ALL] = totals[0] - sum(out.values())
    return out


def mismatches(rows: Sequence[FrameCell]) -> list[Mismatch]:
    """Every breakdown of one unit × period that exceeds its total (see the module docstring)."""
    found: list[Mismatch] = []
    total = [r for r in rows if r.field == ALL and r.channel == ALL]
    fields = [r for r in rows if r.field != ALL]
    channels = [r for r in rows if r.field == ALL and r.channel != ALL]
    for field in sorted({r.field for r in fields}):
        field_row = [r for r in fields if r.field == field and r.channel == ALL]
        crossed = [r for r in fields if r.field == field and r.channel != ALL]
        if field_row and crossed:
            _check(found, crossed, field_row[0])
    if total and fields:
        # each field counts once: by its field row, else by its field x channel rows
        used = [r for r in fields if r.channel == ALL
                or not any(f.field == r.field and f.channel == ALL for f in fields)]
        _check(found, used, total[0])
    if total and channels:
        _check(found, channels, total[0])
    return found


def _check(found: list[Mismatch], parts: Sequence[FrameCell], whole: FrameCell) -> None:
    served = sum(r.served for r in parts)
    if served > whole.served:
        found.append(Mismatch(tuple(sorted(r.line for r in parts)), served, (whole.line,), whole.served))
