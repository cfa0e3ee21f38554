"""Manager pages: the dashboard (unit tree with indices against targets) and the unit page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup

from instruments.model import Instrument
from survey.auth import current_staff, current_time, local_today, staff_required
from survey.blueprints.manage import bp
from survey.blueprints.manage.dashboard_table import (
    arranged,
    collapse_single_children,
    table_options,
    with_data,
)
from survey.blueprints.manage.small_cell_scope import viewer_hidden
from survey.blueprints.manage.unit_rows import rendered_rows
from survey.charts import Point, common_axis, interval_plot, sparkline, trend_chart
from survey.extensions import db
from survey.i18n import current_locale
from survey.local_time import utc_bounds
from survey.models import Role, Unit
from survey.services.citizens.flag_review import flagged_counts
from survey.services.disclosure.scrubber import Comment, scrubbed_comments
from survey.services.organisation.targets import effective_targets, pending_proposals, proposals_to_decide
from survey.services.organisation.unit_plans import instrument_keys
from survey.services.reporting.benchmarks import benchmark_reports, unit_benchmarks
from survey.services.reporting.breakdowns import unit_breakdowns
from survey.services.reporting.fix_first import FixItem, fix_first
from survey.services.reporting.index_cache import VersionedCache, data_version
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.indices import (
    IndexOptions,
    instrument_for,
    rank_ahead,
    unit_indices,
    unit_target,
)
from survey.services.reporting.labels import (
    FORMULA_TEXT,
    INTERVAL_LABEL,
    SUPPRESSED,
)
from survey.services.reporting.league import LeftOut, league_window
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import tree_order
from survey.services.reporting.respondent_data import (
    units_with_other_instruments,
)
from survey.services.reporting.response_counts import window_counts
from survey.services.reporting.small_cells import SMALL_CELL, hidden_row
from survey.services.reporting.viewer_cells import cells_of, scope_roots
from survey.services.reporting.weighting_cells import merged_cells
from survey.services.staff.access import unit_or_404, visible_unit_ids
from survey.services.weighting.frames import response_rates

# The instrument picker: every shipped version, the default (the SIPAS counter survey) first.
INSTRUMENTS = tuple(instrument_keys())


def dashboard_options() -> tuple[Period, str, bool]:
    today = local_today()
    period = Period.parse(request.args.get("period"), today)
    key = request.args.get("instrument", INSTRUMENTS[0])
    return period, key if key in INSTRUMENTS else INSTRUMENTS[0], request.args.get("weighted", "1") != "0"


def _picker_context(period: Period, key: str, weighted: bool) -> dict[str, Any]:
    """Template context of the period, instrument and weighting form (`dash.period_form`) and its links."""
    return {"period": period, "periods": _period_choices(period), "instrument_key": key,
            "instruments": INSTRUMENTS, "weighted": weighted}


def _period_choices(period: Period) -> list[Period]:
    today = local_today()
    latest = Period.latest_complete_month(today)
    months = [latest.shifted(i) for i in range(12)]
    quarters = [Period.quarter(latest.first.year, (latest.first.month - 1) // 3 + 1).shifted(i)
                for i in range(4)]
    years = [Period.year(latest.first.year - i) for i in range(2)]
    choices = [*months, *quarters, *years]
    return choices if period in choices else [period, *choices]


def _trend_points(report: IndexReport, code: str, hidden_in: Mapping[str, frozenset[str]]) -> list[Point]:
    """The unit's overall index per period of the window; a period where the small-cell rule hides the
    unit (`hidden_in`: period label -> hidden units) has no figure and says so."""
    return [Point(label, None, note=str(SUPPRESSED)) if code in hidden_in.get(label, ())
            else Point(label, est, lo, hi) for label, est, lo, hi in report.trend_of(code)]


_RATES: VersionedCache[dict[int, Any]] = VersionedCache(64)


def _rates(ids: list[int], subtree: set[int], period: Period, key: str) -> dict[int, Any]:
    """`response_rates` of `ids` cached until the data version of `subtree` (the report's, which holds
    them: its stamps are already read) moves; the responses counted once per month (`response_counts`)."""
    cache_key = (str(db.engine.url), tuple(ids), period.label, key)
    version = data_version(db.session(), subtree, period.first, period.last)
    rates = _RATES.get(cache_key, version)
    if rates is None:
        instrument_id = instrument_for(key).id
        counted = window_counts(db.session(), subtree, period, instrument_id)
        rates = response_rates(db.session(), ids, period.first, period.last, instrument_id,
                               own_responses=counted.valid_by_unit())
        _RATES.put(cache_key, version, rates)
    return rates


def _flagged_by_code(report: IndexReport, period: Period, instrument: Instrument) -> dict[str, int]:
    """Unit code -> responses to the page's instrument version awaiting review (`flagged`) in the unit
    and its descendants, in the period: a row counts only what could enter the index it sits beside."""
    own = flagged_counts(db.session(), [info[0] for info in report.names.values()],
                         *utc_bounds(period.first, period.last), instrument.id, instrument.version)
    totals: dict[str, int] = {}
    for code, info in report.names.items():
        n = own.get(info[0], 0)
        node: str | None = code
        while n and node is not None:  # add the unit's own count to itself and every ancestor
            totals[node] = totals.get(node, 0) + n
            node = report.parents.get(node)
    return totals


def _ranked_hidden(section: dict[str, Any]) -> list[str]:
    """Names of the units below the scope that the small-cell rule leaves out of the ranked chart."""
    lang = current_locale()
    return [info[2] if lang == "en" and info[2] else info[1]
            for row in section["rows"][1:] if row["small_cell"] and (info := row["info"])]


def _ranked_chart(section: dict[str, Any]) -> Markup | None:
    """The units below the scope, highest index first, each with its interval and the target line
    (server-rendered SVG: readable without JavaScript, and every figure is in the table too). A unit
    the small-cell rule hides has no figure in its row, so it is left out (and named under the chart)."""
    lang = current_locale()
    points = sorted(
        (Point(info[2] if lang == "en" and info[2] else info[1], *_triple(row["overall"]))
         for row in section["rows"][1:] if (info := row["info"]) and row["overall"] is not None),
        key=lambda p: -(p.est if p.est is not None and p.est == p.est else -1.0))
    points = [p for p in points if p.est is not None and p.est == p.est]  # NaN: no estimate to rank
    if len(points) < 2:
        return None
    return interval_plot(points, target=section["report"].target,
                         title=_("Units ranked by overall index, with %(level)s intervals", level="95%"))


def dashboard_sections(user: Any, period: Period, key: str, weighted: bool) -> list[dict[str, Any]]:
    """One section per scope root: its report and the rows of the unit table (tree order). Reads only:
    alerts are the `flask alerts refresh` job's, not a side effect of a page view."""
    default_target = current_app.config["DEFAULT_TARGET"]
    instrument = instrument_for(key)
    instrument_id = instrument.id
    sections = []
    for root in scope_roots(db.session(), user):
        report = unit_indices(db.session(), root, key, period, weighted=weighted,
                              default_target=default_target,
                              min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
        tree = collapse_single_children(report, tree_order(report, root.code))
        window_first = period.shifted(len(report.trend_labels()) - 1).first
        elsewhere = units_with_other_instruments(db.session(), [info[0] for info in report.names.values()],
                                                 instrument_id, window_first, period.last)
        tree, without_data = with_data(report, tree, {code for code, info in report.names.items()
                                                      if info[0] in elsewhere})
        ids = [report.names[code][0] for _, code in tree]
        rates = _rates(ids, {info[0] for info in report.names.values()}, period, key)
        flagged = _flagged_by_code(report, period, instrument)
        cells = cells_of([report])  # the viewer's decision on this root's tree (`viewer_cells`)
        hidden, hidden_in = cells.current, cells.by_period
        trends = {code: _trend_points(report, code, hidden_in) for _, code in tree}
        axis = common_axis(list(trends.values()), report.target)
        in_force = effective_targets(db.session(), root, report.parents, instrument_id, period.first.year,
                                     default_target)
        proposed = pending_proposals(db.session(), ids, instrument_id, period.first.year)
        rows = [
            {
                "depth": depth,
                "code": code,
                "info": report.names[code],
                # a hidden unit's count shows in its response rate too, so both go
                "overall": hidden_row(report.overall(code)) if code in hidden else report.overall(code),
                "change": None if code in hidden else report.change_of(code),
                "rate": None if code in hidden else rates.get(report.names[code][0]),
                "small_cell": code in hidden,
                # a count of the unit's responses as well (awaiting review): not on a hidden row
                "flagged": 0 if code in hidden else flagged.get(code, 0),
                "target": in_force[code],
                "proposal": proposed.get((report.names[code][0], instrument_id, period.first.year)),
                "spark": sparkline(trends[code], target=report.target, axis=axis,
                                   title=_("Overall index by period")),
            }
            for depth, code in tree
        ]
        shown = {code for _, code in tree}
        withheld = any(shown & codes for codes in hidden_in.values()) or bool(shown & hidden)
        sections.append({"root": root, "report": report, "rows": rows, "hidden": withheld,
                         "without_data": without_data})
    return sections


@bp.get("/")
@staff_required(Role.ADMIN, Role.MANAGER)
def dashboard() -> str:
    user = current_staff()
    period, key, weighted = dashboard_options()
    sort, verdict, change = table_options()
    sections = dashboard_sections(user, period, key, weighted)
    for section in sections:
        section["rows"] = arranged(section["rows"], sort, verdict, change)
        section["rows_html"] = rendered_rows(section["rows"], period.label, key, weighted)
        section["ranked"] = _ranked_chart(section)
        section["ranked_hidden"] = _ranked_hidden(section)
    return render_template(
        "manage/dashboard/index.html",
        sections=sections, sort=sort, verdict=verdict, change=change,
        to_decide=proposals_to_decide(db.session(), user),
        **_picker_context(period, key, weighted),
        formula_text=FORMULA_TEXT,
        interval_method=INTERVAL_LABEL,
    )


def _definition_labels(
    key: str, lang: str
) -> tuple[dict[str, str], list[tuple[str, list[str]]], dict[str, str]]:
    instrument = instrument_for(key)
    items = {item.id: item.text.en if lang == "en" else item.text.vi for item in instrument.items()}
    elements = [(e.id, list(e.criteria)) for e in instrument.index.elements]
    element_labels = {e.id: e.label.en if lang == "en" else e.label.vi for e in instrument.index.elements}
    return items, elements, element_labels


@bp.get("/units/<int:unit_id>")
@staff_required(Role.ADMIN, Role.MANAGER)
def unit_page(unit_id: int) -> str:
    user = current_staff()
    unit = unit_or_404(db.session(), user, unit_id, now=current_time(), action="dashboard.view")
    period, key, weighted = dashboard_options()
    visible = visible_unit_ids(db.session(), user)
    league_root = unit.parent if unit.parent_id in visible else unit
    default_target, min_cell = current_app.config["DEFAULT_TARGET"], current_app.config["POSTSTRAT_MIN_CELL"]
    # The benchmarks' reports first (the province's): the unit's own tables are then taken from them
    compared = benchmark_reports(db.session(), unit, key, period, weighted=weighted,
                                 default_target=default_target, min_cell=min_cell)
    # The viewer's one small-cell decision (on their scope roots' trees), not one on this unit's subtree:
    # a complement hidden in the parent's table must not show its figures here.
    cells = viewer_hidden(key, period, weighted)
    options: IndexOptions = {"default_target": default_target, "league_root": league_root,
                             "min_cell": min_cell, "league_hidden": cells.current}
    # The siblings' ranks are drawn in a thread while the breakdowns and the unit's own tables are computed
    rank_ahead(db.session(), unit, key, period, weighted=weighted, **options)
    lang = current_locale()
    target = unit_target(db.session(), unit, key, period, default_target)
    breakdowns = unit_breakdowns(db.session(), unit, key, period, weighted=weighted, target=target, lang=lang,
                                 min_cell=min_cell)
    report = unit_indices(db.session(), unit, key, period, weighted=weighted, **options)
    withheld = cells.hides(unit.code)
    # The siblings' league around this unit, unless the whole table is asked for (`league.league_window`)
    league: list[Any] = [] if report.league is None else list(report.league.itertuples())
    league_rows = league
    if report.league is not None and league_root is not unit and request.args.get("league") != "all":
        window = league_window(report.league, unit.code)
        league_rows = [league[at] if isinstance(at, int) else at for at in window]

    def shown(row: dict[str, Any] | None) -> dict[str, Any] | None:
        return hidden_row(row) if withheld and row is not None else row

    benchmarks = unit_benchmarks(compared, report, visible)
    items, elements, element_labels = _definition_labels(key, lang)
    element_rows = {e: shown(report.row(unit.code, "element", e)) for e, _ in elements}
    criteria = [(e, [(c, shown(report.row(unit.code, "criterion", c))) for c in crits])
                for e, crits in elements]
    trend = _trend_points(report, unit.code, cells.by_period)
    separate = [
        (s.item, s.group, shown(report.row(unit.code, "separate", s.item)))
        for s in instrument_for(key).index.separate
        if s.group in ("integrity", "overall", "other")
    ]
    instrument = instrument_for(key)
    # Month only, like the reports: a day and time could tie a comment to one visit.
    # The latest 500 are searched for what-to-fix-first's mentions; the page lists the latest 50.
    comments = scrubbed_comments(
        db.session(),
        [info[0] for info in report.names.values()],
        instrument.id,
        instrument.version,
        *utc_bounds(period.first, period.last),
        limit=500,
    )
    rates = response_rates(db.session(), [unit.id], period.first, period.last, instrument_for(key).id)
    charts = {} if withheld else {
        "element_chart": interval_plot(
            [Point(element_labels[e], *_triple(element_rows[e])) for e, _ in elements],
            target=report.target, title=_("Element indices"),
            benchmarks=[b.series([("element", e) for e, _ in elements], lang) for b in benchmarks]),
        "criterion_chart": interval_plot(
            [Point(items[c][:60], *_triple(row)) for _, rows in criteria for c, row in rows],
            target=report.target, title=_("Criterion indices"),
            benchmarks=[b.series([("criterion", c) for _, crits in elements for c in crits], lang)
                        for b in benchmarks]),
    }
    return render_template(
        "manage/dashboard/unit.html",
        unit=unit,
        report=report,
        **_picker_context(period, key, weighted),
        items=items,
        elements=elements,
        element_labels=element_labels,
        element_rows=element_rows,
        criteria=criteria,
        **charts,
        benchmarks=benchmarks,
        benchmark_trends=[b.trend for b in benchmarks],
        fix_first=[] if withheld else _fix_first(unit, report, key, period, weighted, comments),
        overall=shown(report.overall()),
        withheld=withheld,
        # a change needs both periods' figures: withheld when either is
        change=None if withheld or cells.hides_in(report.previous.label, unit.code) else report.change,
        change_withheld=not withheld and cells.hides_in(report.previous.label, unit.code),
        trend=trend,
        trend_chart=trend_chart(trend, target=report.target, title=_("Overall index by period"),
                                benchmarks=[b.trend_series(lang) for b in benchmarks]),
        separate=separate,
        comments=comments[:50],
        rate=None if withheld else rates.get(unit.id),
        below=_below(report, unit.code, cells.current),
        breakdowns=None if withheld else breakdowns,
        small_cell=SMALL_CELL,
        formula_text=FORMULA_TEXT,
        interval_method=INTERVAL_LABEL,
        lang=lang,
        merged=merged_cells(report, lang),
        league_rows=league_rows,
        league_left_out=sum(row.left_out for row in league_rows if isinstance(row, LeftOut)),
    )


def _below(report: IndexReport, code: str, hidden: frozenset[str]
           ) -> list[tuple[int, str, dict[str, Any] | None]]:
    """(depth, code, overall row) of the units under `code`, tree order; the units the viewer's
    small-cell decision hides (`hidden`) get a row without figures (`small_cells.hidden_row`)."""
    return [(depth, unit, hidden_row(report.overall(unit)) if unit in hidden else report.overall(unit))
            for depth, unit in tree_order(report, code)[1:]]


def _fix_first(unit: Unit, report: IndexReport, key: str, period: Period, weighted: bool,
               comments: list[Comment]) -> list[FixItem]:
    """What to fix first, with each criterion's change against the previous period's report and the
    `comments` that mention it."""
    instrument = instrument_for(key)
    previous = unit_indices(db.session(), unit, key, period.shifted(1), weighted=weighted,
                            default_target=current_app.config["DEFAULT_TARGET"],
                            min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    criteria = [c for e in instrument.index.elements for c in e.criteria]
    return fix_first(report, previous, instrument.id, criteria, comments)


def _triple(row: Any) -> tuple[float | None, float | None, float | None]:
    if row is None:
        return None, None, None
    # three names, so three floats: mypy types a tuple built from a generator as of any length
    return tuple(float(row[c]) for c in ("est", "ci_lo", "ci_hi"))  # type: ignore[return-value]


__all__ = ["dashboard", "unit_page"]
