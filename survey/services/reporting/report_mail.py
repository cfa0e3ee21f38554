"""Scheduled reports by e-mail: which reports are due, the message that carries one (the unit's PDF
report in the subscriber's language), and the record that it went out.

`flask reports send` (survey/commands/reports.py) strings these together. A report is due for each
live subscription and the period that ended last in Vietnam time (the month for a monthly, the
quarter for a quarterly subscription) unless a delivery for that period is recorded; the record is
unique per subscription and period, so a second run in the same period sends nothing again. A run
that missed a whole period sends the latest one only: an old report is one click away on the site.

Before each message the subscription is checked again: scopes and roles change, and a report never
goes to someone who could no longer open it (skipped, not recorded, so it goes out if access returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from instruments.registry import UnknownInstrument, get_instrument
from survey.models import ReportDelivery, ReportFrequency, ReportSubscription
from survey.services.disclosure.exports import download_name
from survey.services.organisation.assignments import assignment_for
from survey.services.reporting import pdf_report
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import build_content
from survey.services.reporting.viewer_cells import viewer_cells
from survey.services.staff import audit
from survey.services.staff.access import MANAGING_ROLES, visible_unit_ids


@dataclass(frozen=True)
class DueReport:
    """A subscription whose report for `period` has not been sent yet."""

    subscription: ReportSubscription
    period: Period


@dataclass(frozen=True)
class ReportSettings:
    """The deployment's settings a report e-mail depends on."""

    default_target: float
    min_cell: int
    sender: str
    subscriptions_url: str  # where a recipient cancels: an absolute URL, or the path on the site


@dataclass(frozen=True)
class PreparedReport:
    """A due report made into its e-mail (the PDF attached), ready to send and then record."""

    due: DueReport
    instrument_key: str
    message: EmailMessage
    pdf_size: int


class ReportSkipped(Exception):
    """This report is not sent now (the reason says why); it stays due."""


def due_period(frequency: ReportFrequency, today: date) -> Period:
    """The month or quarter that ended last before `today` (a local date)."""
    if frequency is ReportFrequency.MONTHLY:
        return Period.latest_complete_month(today)
    return Period.quarter(today.year, (today.month - 1) // 3 + 1).shifted(1)


def due_reports(session: Session, today: date) -> list[DueReport]:
    """Every live subscription's report for its latest ended period, unless already sent; by id."""
    labels = [due_period(frequency, today).label for frequency in ReportFrequency]
    sent = {(row.subscription_id, row.period) for row in session.execute(
        sa.select(ReportDelivery.subscription_id, ReportDelivery.period)
        .where(ReportDelivery.period.in_(labels)))}
    live = session.scalars(sa.select(ReportSubscription).where(ReportSubscription.cancelled_at.is_(None))
                           .order_by(ReportSubscription.id))
    due = (DueReport(s, due_period(s.frequency, today)) for s in live)
    return [d for d in due if (d.subscription.id, d.period.label) not in sent]


def prepare(session: Session, due: DueReport, settings: ReportSettings, *, now: datetime) -> PreparedReport:
    """Render the report and wrap it in a message; raises ReportSkipped when it must not go out now."""
    subscription, period = due.subscription, due.period
    user, unit = subscription.user, subscription.unit
    if not (user.active and user.role in MANAGING_ROLES):
        raise ReportSkipped("the account is inactive or no longer a manager")
    if unit.id not in visible_unit_ids(session, user):
        raise ReportSkipped("the unit is no longer among the account's units")
    assignment = assignment_for(session, unit, period.last)
    if assignment is None:
        raise ReportSkipped("the unit has no questionnaire in that period")
    try:
        instrument = get_instrument(assignment.instrument_id, assignment.instrument_version)
    except UnknownInstrument:
        raise ReportSkipped(f"unknown questionnaire {assignment.instrument_id}") from None
    lang = subscription.language
    with force_locale(lang):
        report = unit_indices(session, unit, instrument.key, period, weighted=True,
                              default_target=settings.default_target, min_cell=settings.min_cell)
        # The subscriber's own small-cell decision, as on their pages: a unit hidden in a table they can
        # read must not show its figures in its own report.
        hidden = viewer_cells(session, user, instrument.key, period, weighted=True,
                              default_target=settings.default_target, min_cell=settings.min_cell)
        content = build_content(session, report, instrument, lang=lang, now=now, with_comments=True,
                                hidden=hidden)
        pdf = pdf_report.render_pdf(content)
        message = EmailMessage()
        message["Subject"] = _("Satisfaction report: %(unit)s, %(period)s", unit=content.unit_name,
                               period=content.period_label)
        frequency = (_("every month") if subscription.frequency is ReportFrequency.MONTHLY
                     else _("every quarter"))
        message.set_content("\n\n".join((
            _("Dear %(name)s,", name=user.display_name or user.username),
            _("Attached is the satisfaction report of %(unit)s for %(period)s (%(instrument)s). You "
              "receive it %(frequency)s because you subscribed to it.", unit=content.unit_name,
              period=content.period_label, instrument=instrument.key, frequency=frequency),
            _("To stop these e-mails, cancel the subscription on the page %(url)s",
              url=settings.subscriptions_url),
            _("This message was sent automatically by Hài Lòng."),
        )) + "\n")
    message["From"] = settings.sender
    message["To"] = subscription.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("report", domain=settings.sender.rpartition("@")[2].strip(" >"))
    name = download_name(unit_code=unit.code, period=content.period_label, instrument_id=instrument.id,
                         instrument_version=instrument.version, extension="pdf")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    return PreparedReport(due, instrument.key, message, len(pdf))


def record_delivery(session: Session, prepared: PreparedReport, *, now: datetime) -> ReportDelivery:
    """Record (and audit) a report the server accepted: it is not due again in this period."""
    subscription = prepared.due.subscription
    delivery = ReportDelivery(subscription_id=subscription.id, period=prepared.due.period.label,
                              instrument_key=prepared.instrument_key, recipient=subscription.email,
                              pdf_bytes=prepared.pdf_size, sent_at=now)
    session.add(delivery)
    session.flush()
    audit.record(session, actor=None, action="report.email", object_type="report_subscription",
                 object_id=subscription.id, unit_id=subscription.unit_id, now=now,
                 detail={"period": delivery.period, "instrument": delivery.instrument_key,
                         "recipient": subscription.user_id, "bytes": delivery.pdf_bytes})
    return delivery
