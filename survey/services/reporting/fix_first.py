"""What to fix first: a unit's criteria furthest below its target, lowest first, each with its interval,
its change since the previous period and the comments that mention it.

The provinces' plans to raise their SIPAS index ("giải pháp nâng cao chỉ số SIPAS") ask exactly this:
which criteria, how far below, getting better or worse, and what citizens said about them. Every figure
is read from `indices.unit_indices` reports (this period's and the previous one's); the change is
`analysis.change.period_change`, the test the headline uses for the overall index; comments are matched
by `comment_topics`' keyword rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from analysis.change import Direction, period_change
from survey.services.disclosure.scrubber import Comment
from survey.services.reporting.comment_topics import mentioning
from survey.services.reporting.formats import finite_number
from survey.services.reporting.index_report import IndexReport

DEFAULT_LIMIT = 5


@dataclass(frozen=True)
class CriterionChange:
    """This period's criterion index minus the previous period's (None figures when not comparable)."""

    diff: float | None
    lo: float | None
    hi: float | None
    p_value: float | None
    direction: str  # analysis.change.Direction value


@dataclass(frozen=True)
class FixItem:
    criterion: str
    row: dict[str, Any]  # the criterion's estimate row this period
    change: CriterionChange | None  # None: no estimate row in the previous period
    comments: tuple[Comment, ...]


def criterion_change(now: dict[str, Any], before: dict[str, Any] | None,
                     alpha: float) -> CriterionChange | None:
    """`analysis.change.period_change` of one criterion between two periods' estimate rows."""
    if before is None:
        return None
    values = [now["est"], now["se"], now["df"], before["est"], before["se"], before["df"]]
    if any(finite_number(v) is None for v in values) or float(now["df"]) <= 0 or float(before["df"]) <= 0:
        return CriterionChange(None, None, None, None, Direction.NOT_COMPARABLE.value)
    result = period_change(*(float(v) for v in values), alpha=alpha).iloc[0]
    p_value = float(result["p_value"])
    return CriterionChange(float(result["diff"]), float(result["lo"]), float(result["hi"]),
                           p_value if math.isfinite(p_value) else None, str(result["direction"]))


def fix_first(report: IndexReport, previous: IndexReport | None, instrument_id: str, criteria: list[str],
              comments: list[Comment], limit: int = DEFAULT_LIMIT) -> list[FixItem]:
    """The (at most `limit`) criteria of the report's unit whose index is below its target, lowest
    first; `previous` is the same unit's report for the previous period (None: no change shown)."""
    unit = report.unit_code
    below = []
    for criterion in criteria:
        row = report.row(unit, "criterion", criterion)
        est = finite_number(row["est"]) if row is not None else None
        if row is not None and est is not None and est < report.target:
            below.append((est, criterion, row))
    below.sort(key=lambda item: item[0])
    out = []
    for _est, criterion, row in below[:limit]:
        before = previous.row(previous.unit_code, "criterion", criterion) if previous is not None else None
        out.append(FixItem(criterion, row, criterion_change(row, before, report.alpha),
                           tuple(mentioning(instrument_id, criterion, comments))))
    return out
