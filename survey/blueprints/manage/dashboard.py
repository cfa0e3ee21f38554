"""Manager pages: the dashboard (unit tree with indices against targets) and the unit page."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from survey.auth import current_staff, current_time, staff_required
from survey.blueprints.manage import bp
from survey.charts import Point, common_axis, interval_plot, sparkline, trend_chart
from survey.extensions import db
from survey.i18n import current_locale
from survey.models import Role, Unit
from survey.services.disclosure.scrubber import scrubbed_comments
from survey.services.reporting.alerts import refresh_alerts
from survey.services.reporting.index_cache import data_fingerprint
from survey.services.reporting.indices import IndexReport, instrument_for, unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import INTERVAL_LABEL, finite_number, weighting_text
from survey.services.reporting.respondent_data import DEFAULT_TIMEZONE, utc_bounds
from survey.services.staff.access import unit_or_404, visible_unit_ids
from survey.services.weighting.frames import response_rates

# The method statements of survey.services.reporting.indices in the page's language (the services keep English
# for exports; these say the same).
FORMULA_LABEL = _l("criterion = share of valid answers that are satisfied (not applicable and missing "
                   "excluded); element = mean of its criteria; overall = weighted mean of the elements")
FLAG_LABELS = {
    "suppressed": _l("too few responses"),
    "low_n_eff": _l("small effective sample"),
    "low_df": _l("few degrees of freedom"),
    "wide": _l("wide interval"),
    "boundary_cp": _l("exact interval at 0 or 100 percent"),
}
STATUS_LABELS = {"flagged": _l("flagged"), "excluded": _l("excluded")}
# Reasons the application itself records are stable codes, worded here in the page's language;
# a reason typed by staff is shown as typed.
STATUS_REASON_LABELS = {"burst": _l("many responses from one counter within a minute")}
KIND_ORDER = {"agency": 0, "district": 1, "commune": 2, "service_point": 3}  # agencies before communes
INSTRUMENTS = ("sipas-counter@2025.1", "quick-rating@2025.1", "outpatient@2025.1")
VERDICTS = {
    "met": ("✔", _l("met"), "met"),
    "below": ("✖", _l("below target"), "below"),
    "inconclusive": ("?", _l("inconclusive"), "inconclusive"),
    "suppressed": ("–", _l("too few responses"), "suppressed"),
}


MISSING = "–"  # an en dash, where a figure is missing or not a finite number


@bp.app_template_filter("pct")
def pct(value: Any, digits: int = 1) -> str:
    """86,4 % in Vietnamese, 86.4% in English; an en dash when missing."""
    number = finite_number(value)
    if number is None:
        return MISSING
    text = f"{number * 100:.{digits}f}"
    return f"{text.replace('.', ',')} %" if current_locale() == "vi" else f"{text}%"


@bp.app_template_filter("num")
def num(value: Any, digits: int = 0) -> str:
    number = finite_number(value)
    if number is None:
        return MISSING
    if abs(number) < 0.5 * 10**-digits:
        number = 0.0  # never print "-0,0"
    text = f"{number:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",") if current_locale() == "vi" else text


@bp.app_template_filter("local_month")
def local_month(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(DEFAULT_TIMEZONE)).strftime("%Y-%m")


@bp.app_template_global("weighting_text")
def weighting_label(weighting: str) -> str:
    """The weighting statement in the page's language (the same words as the reports)."""
    return weighting_text(weighting)


@bp.app_template_filter("flag_labels")
def flag_labels(flags: Any) -> str:
    """analysis's `|`-joined precision flags, in words."""
    if not isinstance(flags, str) or not flags:
        return ""
    return "; ".join(str(FLAG_LABELS.get(flag, flag)) for flag in flags.split("|"))


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


@bp.app_template_filter("status_reason_label")
def status_reason_label(reason: str) -> str:
    return str(STATUS_REASON_LABELS.get(reason, reason))


@bp.app_template_global("verdict_badge")
def verdict_badge(verdict: Any) -> Markup:
    """Shape + text, never colour alone."""
    symbol, label, css = VERDICTS.get(str(verdict), ("", "", "none"))
    if not symbol:
        return Markup('<span class="verdict verdict-none">–</span>')
    return Markup('<span class="verdict verdict-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        css, symbol, label
    )


def _options() -> tuple[Period, str, bool]:
    today = current_time().date()
    period = Period.parse(request.args.get("period"), today)
    key = request.args.get("instrument", INSTRUMENTS[0])
    return period, key if key in INSTRUMENTS else INSTRUMENTS[0], request.args.get("weighted", "1") != "0"


def _picker_context(period: Period, key: str, weighted: bool) -> dict[str, Any]:
    """Template context of the period, instrument and weighting form (`dash.period_form`) and its links."""
    return {"period": period, "periods": _period_choices(period), "instrument_key": key,
            "instruments": INSTRUMENTS, "weighted": weighted}


def _period_choices(period: Period) -> list[Period]:
    today = current_time().date()
    latest = Period.latest_complete_month(today)
    months = [latest.shifted(i) for i in range(12)]
    quarters = [Period.quarter(latest.first.year, (latest.first.month - 1) // 3 + 1).shifted(i)
                for i in range(4)]
    years = [Period.year(latest.first.year - i) for i in range(2)]
    choices = [*months, *quarters, *years]
    return choices if period in choices else [period, *choices]


def _trend_points(report: IndexReport, code: str) -> list[Point]:
    return [Point(*values) for values in report.trend_of(code)]


def _tree(report: IndexReport, root: Unit) -> list[tuple[int, str]]:
    """(depth, code) in depth-first order; the unit page's descendants and the dashboard rows."""
    children: dict[str | None, list[str]] = {}
    for code, parent in report.parents.items():
        children.setdefault(parent, []).append(code)
    out: list[tuple[int, str]] = []

    def walk(code: str, depth: int) -> None:
        out.append((depth, code))
        for child in sorted(children.get(code, []), key=lambda c: (KIND_ORDER.get(report.names[c][3], 9),
                                                                     report.names[c][1])):
            walk(child, depth + 1)

    walk(root.code, 0)
    return out


_RATES: dict[tuple[object, ...], tuple[tuple[object, ...], dict[int, Any]]] = {}


def _rates(ids: list[int], period: Period, key: str) -> dict[int, Any]:
    """`response_rates` (one query set per unit) cached until the subtree's data fingerprint moves."""
    cache_key = (str(db.engine.url), tuple(ids), period.label, key)
    fingerprint = data_fingerprint(db.session(), set(ids), period.first, period.last)
    hit = _RATES.get(cache_key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    rates = response_rates(db.session(), ids, period.first, period.last, instrument_for(key).id)
    if len(_RATES) > 64:
        _RATES.pop(next(iter(_RATES)))
    _RATES[cache_key] = (fingerprint, rates)
    return rates


def _collapse_single_children(report: IndexReport, tree: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop a unit that is the only child of its parent (a commune's one service point): its row
    would repeat the parent's figures. It stays one click away on the parent's unit page."""
    children: dict[str | None, int] = {}
    for parent in report.parents.values():
        children[parent] = children.get(parent, 0) + 1
    return [(depth, code) for depth, code in tree
            if depth == 0 or children.get(report.parents.get(code)) != 1]


def _roots(visible: set[int]) -> list[Unit]:
    units = db.session.query(Unit).filter(Unit.id.in_(visible)).all()
    return sorted((u for u in units if u.parent_id not in visible), key=lambda u: u.code)


@bp.get("/")
@staff_required(Role.ADMIN, Role.MANAGER)
def dashboard() -> str:
    user = current_staff()
    period, key, weighted = _options()
    default_target = current_app.config["DEFAULT_TARGET"]
    sections = []
    for root in _roots(visible_unit_ids(db.session(), user)):
        report = unit_indices(db.session(), root, key, period, weighted=weighted,
                              default_target=default_target)
        refresh_alerts(db.session(), report, instrument_for(key).id)
        tree = _collapse_single_children(report, _tree(report, root))
        ids = [report.names[code][0] for _, code in tree]
        rates = _rates(ids, period, key)
        trends = {code: _trend_points(report, code) for _, code in tree}
        axis = common_axis(list(trends.values()), report.target)
        rows = [
            {
                "depth": depth,
                "code": code,
                "info": report.names[code],
                "overall": report.overall(code),
                "rate": rates.get(report.names[code][0]),
                "spark": sparkline(trends[code], target=report.target, axis=axis,
                                   title=_("Overall index by period")),
            }
            for depth, code in tree
        ]
        sections.append({"root": root, "report": report, "rows": rows})
    db.session.commit()  # alerts upserted above
    return render_template(
        "manage/dashboard/index.html",
        sections=sections,
        **_picker_context(period, key, weighted),
        formula_text=FORMULA_LABEL,
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
    period, key, weighted = _options()
    visible = visible_unit_ids(db.session(), user)
    league_root = unit.parent if unit.parent_id in visible else unit
    report = unit_indices(
        db.session(),
        unit,
        key,
        period,
        weighted=weighted,
        default_target=current_app.config["DEFAULT_TARGET"],
        league_root=league_root,
    )
    refresh_alerts(db.session(), report, instrument_for(key).id)
    lang = current_locale()
    items, elements, element_labels = _definition_labels(key, lang)
    element_points = [
        Point(element_labels[e], *_triple(report.row(unit.code, "element", e))) for e, _ in elements
    ]
    criteria = [(e, [(c, report.row(unit.code, "criterion", c)) for c in crits]) for e, crits in elements]
    criterion_points = [Point(items[c][:60], *_triple(row)) for _, rows in criteria for c, row in rows]
    trend = _trend_points(report, unit.code)
    separate = [
        (s.item, s.group, report.row(unit.code, "separate", s.item))
        for s in instrument_for(key).index.separate
        if s.group in ("integrity", "overall", "other")
    ]
    instrument = instrument_for(key)
    # Month only, like the reports: a day and time could tie a comment to one visit.
    comments = scrubbed_comments(
        db.session(),
        [info[0] for info in report.names.values()],
        instrument.id,
        instrument.version,
        *utc_bounds(period.first, period.last),
    )
    rates = response_rates(db.session(), [unit.id], period.first, period.last, instrument_for(key).id)
    db.session.commit()
    return render_template(
        "manage/dashboard/unit.html",
        unit=unit,
        report=report,
        **_picker_context(period, key, weighted),
        items=items,
        elements=elements,
        element_labels=element_labels,
        criteria=criteria,
        element_chart=interval_plot(element_points, target=report.target, title=_("Element indices")),
        criterion_chart=interval_plot(criterion_points, target=report.target, title=_("Criterion indices")),
        trend=trend,
        trend_chart=trend_chart(trend, target=report.target, title=_("Overall index by period")),
        separate=separate,
        comments=comments,
        rate=rates.get(unit.id),
        tree=_tree(report, unit),
        formula_text=FORMULA_LABEL,
        interval_method=INTERVAL_LABEL,
        lang=lang,
    )


def _triple(row: Any) -> tuple[float | None, float | None, float | None]:
    if row is None:
        return None, None, None
    # three names, so three floats: mypy types a tuple built from a generator as of any length
    return tuple(float(row[c]) for c in ("est", "ci_lo", "ci_hi"))  # type: ignore[return-value]


__all__ = ["dashboard", "pct", "unit_page", "verdict_badge"]
