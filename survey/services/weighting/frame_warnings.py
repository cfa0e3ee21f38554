"""What an accepted frame upload will not do as the uploader may expect: warnings for the result page.

An upload is refused only when it cannot be right (`frames`); these are the cases it can be right
but weight the survey less finely than it seems, shown to whoever uploaded it (the CSV page, the CLI
and the API answer), in their language:

* ``partial_breakdown``: a unit's procedure fields add up to less than its total row; the dossiers of
  no known field form one "field not known" weighting cell (`frame_levels`);
* ``not_a_month``: a count that is not for one calendar month counts in response rates but does not
  weight the survey (weights are per unit x field x month: `reporting.respondent_data.frame_table`);
* ``cell_collapsed``: with the responses already stored for that unit and month, a weighting cell
  cannot stand alone and is merged (the post-stratification's collapse rule, `analysis.poststratification`,
  run exactly as the dashboard runs it); ``not_weighted``: the counts cannot weight those responses.

Responses of every instrument are counted, as the served counts are not per instrument.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from analysis.weights import WeightingError, poststratify
from survey.local_time import utc_bounds
from survey.models import ALL, Response, ResponseStatus, ServedCount, Unit
from survey.services.reporting.periods import is_calendar_month
from survey.services.weighting.frame_levels import FrameCell, served_by_field

MAX_SHOWN = 200


@dataclass(frozen=True)
class FrameWarning:
    """One warning about one unit x period of an upload; `message` is in the reader's language."""

    unit_code: str
    period_start: date
    period_end: date
    code: str
    message: str

    def describe(self) -> str:
        return str(_("%(unit)s, %(first)s – %(last)s: %(message)s", unit=self.unit_code,
                     first=self.period_start.isoformat(), last=self.period_end.isoformat(),
                     message=self.message))


def upload_warnings(session: Session, upload_id: int, *, min_cell: int,
                    unit_ids: set[int] | None = None) -> list[FrameWarning]:
    """Warnings about the counts of upload `upload_id` (only units in `unit_ids`, when given)."""
    query = (sa.select(ServedCount.unit_id, Unit.code, ServedCount.period_start, ServedCount.period_end,
                       ServedCount.procedure_field, ServedCount.channel, ServedCount.served)
             .join(Unit, Unit.id == ServedCount.unit_id).where(ServedCount.upload_id == upload_id))
    groups: dict[tuple[int, str, date, date], list[FrameCell]] = defaultdict(list)
    for unit_id, code, start, end, field, channel, served in session.execute(query):
        if unit_ids is None or unit_id in unit_ids:
            groups[(unit_id, code, start, end)].append(FrameCell(field or ALL, channel or ALL, int(served)))
    found: list[FrameWarning] = []
    for (unit_id, code, start, end), cells in sorted(groups.items(), key=lambda g: (g[0][1], g[0][2])):
        def warn(kind: str, message: str, code: str = code, start: date = start, end: date = end) -> None:
            found.append(FrameWarning(code, start, end, kind, message))

        by_field = served_by_field(cells)
        fields = sum(n for field, n in by_field.items() if field != ALL)
        if ALL in by_field and fields > 0:
            warn("partial_breakdown", _(
                "the procedure fields add up to %(fields)d of the %(total)d dossiers served; the other "
                "%(rest)d have no known field and are weighted as one cell.", fields=fields,
                total=fields + by_field[ALL], rest=by_field[ALL]))
        if not is_calendar_month(start, end):
            warn("not_a_month", _("these counts are not for one calendar month: they count in response "
                                  "rates but do not weight the survey."))
            continue
        for kind, message in _collapse_warnings(session, unit_id, code, start, end, by_field, min_cell):
            warn(kind, message)
    return found


def _collapse_warnings(session: Session, unit_id: int, code: str, start: date, end: date,
                       by_field: dict[str, int], min_cell: int) -> list[tuple[str, str]]:
    """The post-stratification's collapse report for one unit and month, as the dashboard would weight."""
    month = start.strftime("%Y-%m")
    first_moment, end_moment = utc_bounds(start, end)
    responses = session.execute(
        sa.select(Response.procedure_field, sa.func.count())
        .where(Response.unit_id == unit_id, Response.status == ResponseStatus.VALID,
               Response.submitted_at >= first_moment, Response.submitted_at < end_moment)
        .group_by(Response.procedure_field)).all()
    if not responses:
        return []
    data = pd.DataFrame([(code, field or ALL, month) for field, n in responses for _i in range(int(n))],
                        columns=["unit", "field", "month"])
    frame = pd.DataFrame([(code, field, month, served) for field, served in by_field.items()],
                         columns=["unit", "field", "month", "served"])
    try:
        result = poststratify(data, frame, ["field"], unit_col="unit", count_col="served", period_col="month",
                              min_cell=min_cell)
    except WeightingError as error:
        return [("not_weighted", _("these counts cannot weight the %(n)d responses stored for this month "
                                   "(%(reason)s).", n=len(data), reason=str(error)))]
    out = []
    records = result.collapsed.to_dict("records")
    for row in records:
        field, kept = str(row["field"]), int(row["kept"])
        out.append(("cell_collapsed", _(
            "procedure field %(field)s (%(n)d responses, %(served)d dossiers) is merged into %(into)s: "
            "%(reason)s.", field=field_label(field), n=int(row["respondents"]), served=int(row["served"]),
            into=merged_into_label(str(row["merged_into"]), kept),
            reason=collapse_reason_label(str(row["reason"]), min_cell))))
    return out


# The words for the post-stratification's collapse report, once: here, the reports and the unit page.


def field_label(field: str) -> str:
    """A weighting cell's procedure field as people read it."""
    return str(_("(not known)")) if field in (ALL, "*") else f"'{field}'"


def merged_into_label(merged_into: str, kept: int) -> str:
    """Where a merged cell went (`PoststratResult.collapsed`'s ``merged_into`` and ``kept``)."""
    if kept == -1:
        return str(_("nothing (no responses to represent them)"))
    if kept == 0:
        return str(_("the unit's total"))
    return merged_into


def collapse_reason_label(reason: str, min_cell: int) -> str:
    """Why a cell could not stand alone (`analysis.poststratification.CollapseReason`)."""
    texts = {
        "too_few_respondents": _("fewer than %(n)d responses", n=min_cell),
        "none_served": _("no dossiers served in the counts"),
        "no_respondents": _("no responses"),
        "sibling": _("merged with a field that could not stand alone"),
    }
    return str(texts.get(reason, reason))
