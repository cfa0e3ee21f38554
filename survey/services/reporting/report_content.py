"""What a unit report says, assembled once for every format (PDF, XLSX, CSV).

Every figure is read from `indices.unit_indices` in this package (the same `analysis` output the unit
page shows): nothing is recomputed here. This module only selects, labels (in the reader's language)
and orders those figures, and adds the scrubbed comments. Scope is the unit and its subtree: the
siblings' league table of the unit page is left out of reports, since it shows units outside the
subtree the reader was given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from instruments.model import Instrument
from survey.local_time import local_month, utc_bounds
from survey.services.disclosure.scrubber import scrubbed_comments
from survey.services.reporting.formats import day, finite_number, utc_moment
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.indices import (
    INTERVAL_METHOD,
    MIN_N,
)
from survey.services.reporting.labels import (
    CHANGE_LABEL,
    FORMULA_TEXT,
    INTERVAL_LABEL,
    SUPPRESSED,
    weighting_text,
)
from survey.services.reporting.periods import Period, PeriodKind
from survey.services.reporting.small_cells import SMALL_CELL, SMALL_CELL_FLAG
from survey.services.reporting.viewer_cells import ViewerCells, cells_of
from survey.services.reporting.weighting_cells import MergedCell, merged_cells

DEFAULT_COMMENT_LIMIT = 30


@dataclass(frozen=True)
class Figure:
    """One estimate as reported: a proportion 0..1 with its interval, target and verdict."""

    key: str
    label: str
    n: int | None  # None when 0 < n < SMALL_CELL
    est: float | None  # None when suppressed or not estimable
    ci_lo: float | None
    ci_hi: float | None
    target: float | None
    verdict: str  # analysis.verdicts.Verdict value ("met", "below", "inconclusive", "suppressed", "")
    p_value: float | None
    n_eff: float | None
    deff: float | None
    flags: tuple[str, ...]
    group: str = ""  # the element label of a criterion


@dataclass(frozen=True)
class UnitFigure:
    """A unit's overall index in the report's period, placed in the tree (`depth` below the report's unit)."""

    code: str
    name: str
    kind: str
    parent: str
    depth: int
    figure: Figure


@dataclass(frozen=True)
class TrendPoint:
    """One unit's overall index in one period of the report's trend."""

    period: str
    unit_code: str
    figure: Figure


@dataclass(frozen=True)
class Comment:
    """A citizen's comment as a report lists it."""

    month: str
    unit_code: str
    text: str  # scrubbed: never the stored text
    needs_review: bool


@dataclass(frozen=True)
class Change:
    """The overall index's change against the previous period (`period_change`): NaN figures when not
    comparable. The p-value is two-sided (a t test on `df` design degrees of freedom)."""

    previous_period: str
    previous_est: float
    diff: float
    lo: float
    hi: float
    p_value: float
    significant: bool
    comparable: bool = True  # False: one of the two periods is suppressed (too few responses)
    current_est: float = math.nan
    se: float = math.nan
    df: float = math.nan


@dataclass(frozen=True)
class ReportContent:
    """Everything a report shows, labelled in `lang`."""

    lang: str
    unit_code: str
    unit_name: str
    period: Period
    instrument_key: str
    instrument_title: str
    formula: str
    formula_text: str
    weighted: bool
    weighting: str
    interval_method: str
    confidence: float
    target: float
    generated_at: datetime
    responses: int | None  # None (like every figure of the unit) when the small-cell rule withholds it
    served: int | None
    excluded: int | None
    needed: int | None
    needed_half_width: float
    overall: Figure | None
    headline: tuple[Figure, ...]
    elements: tuple[Figure, ...]
    criteria: tuple[Figure, ...]
    units: tuple[UnitFigure, ...]
    trend: tuple[TrendPoint, ...]
    integrity: tuple[Figure, ...]
    comments: tuple[Comment, ...]
    comment_limit: int
    change: Change | None
    merged: tuple[MergedCell, ...] = ()  # weighting cells merged (weighting_cells), empty when unweighted
    withheld: bool = False  # the small-cell rule hides the unit itself from this reader

    @property
    def period_label(self) -> str:
        return period_label(self.period)


def period_label(period: Period) -> str:
    """"2026-Q3", "2026-10" or "2026": the period as people write it (and as file names carry it)."""
    if period.kind is PeriodKind.QUARTER:
        return f"{period.first.year}-Q{(period.first.month - 1) // 3 + 1}"
    return period.label


def figure_from_row(row: Mapping[str, Any], key: str, label: str, group: str = "") -> Figure:
    """A Figure from one `compute_indices` row; small counts hidden."""
    n = int(row["n"]) if finite_number(row["n"]) is not None else 0
    flags = tuple(f for f in str(row.get("flags") or "").split("|") if f)
    return Figure(
        key=key, label=label, n=None if 0 < n < SMALL_CELL else n, est=finite_number(row["est"]),
        ci_lo=finite_number(row["ci_lo"]), ci_hi=finite_number(row["ci_hi"]),
        target=finite_number(row["target"]), verdict=str(row.get("verdict") or ""),
        p_value=finite_number(row["p_value"]), n_eff=finite_number(row["n_eff"]),
        deff=finite_number(row["deff"]), flags=flags, group=group,
    )


def _unit_names(report: IndexReport, lang: str) -> dict[str, tuple[str, str]]:
    return {code: ((en if lang == "en" and en else vi), kind)
            for code, (_id, vi, en, kind) in report.names.items()}


# Agencies (and the pre-2025 districts) before communes, service points last; then by name.
KIND_ORDER = {"province": 0, "agency": 1, "district": 2, "commune": 3, "service_point": 4}


def tree_order(report: IndexReport, root: str) -> list[tuple[int, str]]:
    """(depth, code) of the subtree under `root`, depth first, children by kind then Vietnamese name
    (then code). The one order of units on the dashboard, the unit page, the PDF and the XLSX."""
    children: dict[str | None, list[str]] = {}
    for code, parent in report.parents.items():
        children.setdefault(parent, []).append(code)

    def key(code: str) -> tuple[int, str, str]:
        _id, name_vi, _en, kind = report.names.get(code, (0, code, "", ""))
        return KIND_ORDER.get(kind, 9), name_vi.casefold(), code

    out: list[tuple[int, str]] = []
    stack = [(0, root)]
    while stack:
        depth, code = stack.pop()
        out.append((depth, code))
        stack.extend((depth + 1, child) for child in sorted(children.get(code, []), key=key, reverse=True))
    return out


def _hidden(figure: Figure) -> Figure:
    # precision flags go too: a wide interval or a small effective n says something about the count
    return replace(figure, n=None, est=None, ci_lo=None, ci_hi=None, verdict="suppressed", p_value=None,
                   n_eff=None, deff=None, flags=(SMALL_CELL_FLAG,))


def _same(figure: Figure) -> Figure:
    return figure


def _no_data(key: str, label: str) -> Figure:
    return Figure(key=key, label=label, n=0, est=None, ci_lo=None, ci_hi=None, target=None,
                  verdict="suppressed", p_value=None, n_eff=None, deff=None, flags=("suppressed",))


def build_content(session: Session, report: IndexReport, instrument: Instrument, *, lang: str,
                  now: datetime, comment_limit: int = DEFAULT_COMMENT_LIMIT,
                  with_comments: bool = True, hidden: ViewerCells | None = None) -> ReportContent:
    """Select and label the figures of `report` for a report in `lang`. `hidden`: the reader's
    small-cell decision (`viewer_cells`); without one, the rule is decided on the report's own tree.
    A unit the decision hides has every figure of its own withheld too, not only its row."""
    names = _unit_names(report, lang)
    unit = report.unit_code
    cells = hidden if hidden is not None else cells_of([report])
    withheld = cells.hides(unit)
    own = _hidden if withheld else _same
    elements = {e.id: e for e in instrument.index.elements}
    element_of = {c: e.id for e in instrument.index.elements for c in e.criteria}

    def row(domain: str, stat_type: str, stat: str) -> Mapping[str, Any] | None:
        return report.row(domain, stat_type, stat)

    overall_row = report.overall()
    overall = None if overall_row is None else own(figure_from_row(overall_row, "index", _("SIPAS index")))
    headline = [overall] if overall else []
    extras = (("comprehensive", "comprehensive", "comprehensive",
               _("Satisfied with every criterion answered")),
              ("separate", "overall", "overall_question", _("Overall question: satisfied")))
    for stat_type, stat, key, label in extras:
        found = row(unit, stat_type, stat)
        if found is not None:
            headline.append(own(figure_from_row(found, key, label)))
    element_figures = []
    for element in instrument.index.elements:
        found = row(unit, "element", element.id)
        if found is not None:
            element_figures.append(own(figure_from_row(found, element.id, element.label.get(lang))))
    criterion_figures = []
    for element in instrument.index.elements:
        for item_id in element.criteria:
            found = row(unit, "criterion", item_id)
            if found is not None:
                label = instrument.item(item_id).text.get(lang)
                group = elements[element_of[item_id]].label.get(lang)
                criterion_figures.append(own(figure_from_row(found, item_id, label, group=group)))
    integrity = []
    for entry in instrument.index.separate:
        if entry.group == "integrity" and (found := row(unit, "separate", entry.item)) is not None:
            label = instrument.item(entry.item).text.get(lang)
            integrity.append(own(figure_from_row(found, entry.item, label)))
    units = []
    tree = tree_order(report, unit)
    for depth, code in tree:
        name = names.get(code, (code, ""))
        found = report.overall(code)
        units.append(UnitFigure(code=code, name=name[0], kind=name[1], parent=report.parents.get(code) or "",
                                depth=depth, figure=figure_from_row(found, code, name[0]) if found is not None
                                else _no_data(code, name[0])))
        if cells.hides(code):
            units[-1] = replace(units[-1], figure=_hidden(units[-1].figure))
    trend_rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()}
        for r in report.trend.sort_values(["domain", "period"]).to_dict("records")]
    trend = tuple(
        TrendPoint(period=_analysis_period_label(str(r["period"])), unit_code=str(r["domain"]),
                   figure=(_hidden if cells.hides_in(str(r["period"]), str(r["domain"])) else _same)(
                       figure_from_row(r, str(r["domain"]), names.get(str(r["domain"]), ("", ""))[0])))
        for r in trend_rows
    )
    comments = load_comments(session, report, instrument, limit=comment_limit) if with_comments else ()
    unit_name = names.get(unit, (unit, ""))[0]
    return ReportContent(
        lang=lang, unit_code=unit, unit_name=unit_name, period=report.period,
        instrument_key=report.instrument_key, instrument_title=instrument.title.get(lang),
        formula=report.formula, formula_text=str(FORMULA_TEXT), weighted=report.weighted,
        weighting=report.weighting, interval_method=INTERVAL_METHOD, confidence=1 - report.alpha,
        target=report.target, generated_at=now, responses=None if withheld else report.responses,
        served=report.served,
        excluded=None if withheld else int(report.excluded["n"].sum()) if len(report.excluded) else 0,
        needed=None if withheld else report.needed,
        needed_half_width=report.needed_half_width, overall=overall, headline=tuple(headline),
        elements=tuple(element_figures), criteria=tuple(criterion_figures), units=tuple(units),
        trend=trend, integrity=tuple(integrity), comments=comments, comment_limit=comment_limit,
        # a change needs both periods' figures: withheld when either is
        change=None if withheld or cells.hides_in(report.previous.label, unit) else _change(report),
        merged=merged_cells(report, lang), withheld=withheld,
    )


def _analysis_period_label(label: str) -> str:
    return label.replace("Q", "-Q") if len(label) == 6 and label[4] == "Q" else label


def _change(report: IndexReport) -> Change | None:
    change = report.change
    if change is None:
        return None
    return Change(previous_period=period_label(report.previous), previous_est=float(change["previous_est"]),
                  diff=float(change["diff"]), lo=float(change["lo"]), hi=float(change["hi"]),
                  p_value=float(change["p_value"]), significant=bool(change["significant"]),
                  comparable=change["direction"] != "not_comparable", current_est=float(change["est1"]),
                  se=float(change["se"]), df=float(change["df"]))


def load_comments(session: Session, report: IndexReport, instrument: Instrument, *, limit: int
                  ) -> tuple[Comment, ...]:
    """The `limit` newest comments of valid responses in the subtree and period, through the scrubber.

    Only the month is kept, not the day or time: a timestamp could tie a comment to one visit.
    """
    unit_ids = [uid for uid, *_rest in report.names.values()]
    found = scrubbed_comments(session, unit_ids, instrument.id, instrument.version,
                              *utc_bounds(report.period.first, report.period.last), limit=limit)
    return tuple(Comment(month=local_month(c.submitted), unit_code=c.unit_code, text=c.text,
                         needs_review=c.needs_review) for c in found if c.text.strip())


def minimum_n() -> int:
    """Estimates from fewer responses are suppressed by the analysis (stated in the method note)."""
    return MIN_N


def method_pairs(content: ReportContent) -> list[tuple[str, str | int | float | None]]:
    """The method note, as (label, value): on every report, in every format."""
    period = content.period
    rate = (content.responses / content.served) if content.served and content.responses is not None else None
    mark = str(SUPPRESSED)
    return [
        (_("Unit"), f"{content.unit_name} ({content.unit_code})"),
        (_("Period"), f"{content.period_label} ({day(period.first)} – {day(period.last)})"),
        (_("Instrument"), f"{content.instrument_key} — {content.instrument_title}"),
        (_("Index formula (version)"), content.formula),
        (_("Formula"), content.formula_text),
        (_("Confidence level"), content.confidence),
        (_("Interval method"), str(INTERVAL_LABEL)),
        (_("Change against the previous period"), str(CHANGE_LABEL)),
        (_("Verdict rule"), _("met when the interval's lower bound reaches the target; below target when "
                              "its upper bound is under it; otherwise inconclusive")),
        (_("Target"), content.target),
        (_("Weighting"), weighting_text(content.weighting)),
        (_("Weighting cells merged"), len(content.merged) if content.weighted else None),
        (_("Design assumptions"), _("responses from QR codes and tablets are a non-probability sample of "
                                    "the people served; each unit is a stratum and each response its own "
                                    "primary unit; weights correct only for the mix of procedure fields "
                                    "and months")),
        (_("Suppression"), _("estimates from fewer than %(n)d responses are not published; counts "
                             "between 1 and %(k)d are not shown", n=minimum_n(), k=SMALL_CELL - 1)),
        (_("Valid responses"), mark if content.withheld else content.responses),
        (_("Dossiers served"), content.served),
        (_("Response rate"), mark if content.withheld else rate),
        (_("Responses left out (flagged or excluded)"), mark if content.withheld else content.excluded),
        (_("Comments"), _("personal data masked by the comment scrubber; at most the %(shown)d newest",
                          shown=content.comment_limit)),
        (_("Generated at (UTC)"), utc_moment(content.generated_at)),
    ]
