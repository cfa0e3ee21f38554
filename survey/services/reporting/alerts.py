"""Alerts: units whose interval lies wholly below the target, and significant drops against the
previous period. Upserted for every unit by `refresh_all_alerts`, the scheduled `flask alerts refresh`
job, and only there: the pages read stored alerts, so a page view writes nothing and alerts exist before
anyone opens a page. Acknowledged with a note, and every note kept. Services flush, never commit.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from analysis.verdicts import Verdict
from survey.local_time import utc_bounds
from survey.models import Alert, AlertKind, AlertNote, Response, Unit, User
from survey.query_lists import one_of
from survey.services.reporting.index_report import IndexReport
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from survey.services.staff import audit


class _OverallRow(Protocol):
    """The columns of an `IndexReport.estimates` row read here, as `itertuples` yields them (pandas-stubs
    types every field as any scalar)."""

    domain: str
    verdict: str
    est: float
    ci_lo: float
    ci_hi: float
    target: float


def _upsert(session: Session, unit_id: int, instrument_id: str, kind: AlertKind, period: Period,
            est: float, lo: float, hi: float, reference: float) -> Alert:
    alert = session.scalar(sa.select(Alert).where(
        Alert.unit_id == unit_id, Alert.instrument_id == instrument_id, Alert.kind == kind,
        Alert.period_start == period.first, Alert.period_end == period.last))
    if alert is None:
        alert = Alert(unit_id=unit_id, instrument_id=instrument_id, kind=kind, period_start=period.first,
                      period_end=period.last, estimate=est, ci_low=lo, ci_high=hi, reference=reference)
        session.add(alert)
    else:  # late responses move the figures; the alert keeps its notes and acknowledgement
        alert.estimate, alert.ci_low, alert.ci_high, alert.reference = est, lo, hi, reference
    return alert


def _drops(report: IndexReport) -> pd.DataFrame:
    """Overall-index change per domain between the previous and the current period: the unit page's
    (`report.changes`, with the two periods' covariance), so an alert and the page never disagree."""
    return report.changes


def refresh_alerts(session: Session, report: IndexReport, instrument_id: str) -> list[Alert]:
    """Create or update the alerts that `report` implies for its unit and descendants; flush."""
    found: list[Alert] = []
    siblings: dict[str | None, int] = {}
    for parent in report.parents.values():
        siblings[parent] = siblings.get(parent, 0) + 1
    # A unit that is its parent's only child (a commune's one service point) repeats the parent's
    # figures: one alert, on the parent, is enough.
    codes = {code: info[0] for code, info in report.names.items()
             if code == report.unit_code or siblings.get(report.parents.get(code)) != 1}
    overall = report.estimates[report.estimates["stat_type"] == "overall_index"]
    for row in cast(Iterable[_OverallRow], overall.itertuples()):
        if row.verdict == Verdict.BELOW.value and row.domain in codes:
            found.append(_upsert(session, codes[row.domain], instrument_id, AlertKind.BELOW_TARGET,
                                 report.period, row.est, row.ci_lo, row.ci_hi, row.target))
    for domain, change in _drops(report).iterrows():
        if change["direction"] == "down" and domain in codes and math.isfinite(change["est1"]):
            # The current estimate and its interval; the reference is the previous period's estimate.
            found.append(_upsert(session, codes[str(domain)], instrument_id, AlertKind.SIGNIFICANT_DROP,
                                 report.period, change["est1"], change["ci_lo1"], change["ci_hi1"],
                                 change["est0"]))
    session.flush()
    return found


@dataclass(frozen=True)
class RefreshSummary:
    """What one `refresh_all_alerts` run did."""

    period: Period
    reports: list[tuple[str, str]]  # (root unit code, instrument key) computed
    alerts: int  # alerts the period's figures imply (created or updated)
    created: int  # of which new


def refresh_all_alerts(session: Session, period: Period, *, default_target: float,
                       now: datetime) -> RefreshSummary:
    """Upsert the alerts of `period` for every unit tree and every instrument answered in it; flush.

    Idempotent: a second run with unchanged data updates the same rows and creates none. Audited as
    the system (actor None).
    """
    before = session.scalar(sa.select(sa.func.count(Alert.id))) or 0
    start, end = utc_bounds(period.first, period.last)
    keys = session.execute(
        sa.select(Response.instrument_id, Response.instrument_version).distinct()
        .where(Response.submitted_at >= start, Response.submitted_at < end)
        .order_by(Response.instrument_id, Response.instrument_version)).all()
    roots = session.scalars(sa.select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)).all()
    done: list[tuple[str, str]] = []
    found: set[int] = set()
    for root in roots:
        for instrument_id, version in keys:
            key = f"{instrument_id}@{version}"
            report = unit_indices(session, root, key, period, weighted=True, default_target=default_target)
            found.update(alert.id for alert in refresh_alerts(session, report, instrument_id))
            done.append((root.code, key))
    created = (session.scalar(sa.select(sa.func.count(Alert.id))) or 0) - before
    audit.record(session, actor=None, action="alerts.refresh", object_type="period", object_id=period.label,
                 detail={"reports": len(done), "alerts": len(found), "created": created}, now=now)
    return RefreshSummary(period, done, len(found), created)


def visible_alerts(session: Session, unit_ids: Collection[int], *, open_only: bool = False) -> list[Alert]:
    """Alerts of `unit_ids`, open ones first, newest period first."""
    query = (sa.select(Alert).where(one_of(session, Alert.unit_id, unit_ids))
             .options(selectinload(Alert.notes), selectinload(Alert.unit))
             .order_by(Alert.acknowledged_at.is_not(None), Alert.period_start.desc(), Alert.estimate,
                       Alert.id))
    if open_only:
        query = query.where(Alert.acknowledged_at.is_(None))
    return list(session.scalars(query))


def add_note(session: Session, alert: Alert, author: User, comment: str, *, acknowledge: bool,
             now: datetime) -> AlertNote:
    """Keep a note on the alert's trail; with `acknowledge`, mark it acknowledged. Audited."""
    note = AlertNote(alert=alert, author_id=author.id, at=now, comment=comment, acknowledges=acknowledge)
    session.add(note)
    if acknowledge and alert.acknowledged_at is None:
        alert.acknowledged_at = now
    audit.record(session, actor=author, action="alert.acknowledge" if acknowledge else "alert.note",
                 object_type="alert", object_id=alert.id, unit_id=alert.unit_id,
                 detail={"kind": str(alert.kind)}, now=now)
    return note
