"""`flask reports send`: the scheduled e-mail reports job (deploy/ has cron and systemd timer examples).

Run it as often as you like (hourly, daily): each report is sent once per period, because a report
is recorded as sent (and committed) right after the SMTP server accepts it, and a recorded report is
not due again. When the server cannot be reached or refuses a message, the command says which and
why, exits non-zero, and the unsent reports stay due: the next run retries them. One audit event
(`reports.send`, actor None) sums up each run; each message sent is audited as `report.email`.

Runs must not overlap (two at once could both send a report before either records it): a systemd
timer never starts its service twice; under cron, wrap the command in `flock -n`.
"""

from __future__ import annotations

from contextlib import ExitStack
from smtplib import SMTP

import click
from flask import current_app
from flask.cli import AppGroup

from survey.auth import current_time
from survey.extensions import db
from survey.local_time import local_date
from survey.mail import MailConfigError, MailRefused, MailSettings, MailUnavailable, send, smtp_connection
from survey.services.reporting.report_mail import (
    DueReport,
    ReportSettings,
    ReportSkipped,
    due_reports,
    prepare,
    record_delivery,
)
from survey.services.staff import audit

group = AppGroup("reports", help="Scheduled reports by e-mail.")
SUBSCRIPTIONS_ENDPOINT = "manage.report_subscriptions"


def _subscriptions_url() -> str:
    """Where a recipient cancels: PUBLIC_BASE_URL plus the page's path (there is no request here)."""
    path = current_app.url_map.bind("localhost").build(SUBSCRIPTIONS_ENDPOINT)
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return base + path


def _label(due: DueReport) -> str:
    """How this job's output names a report: "#3 HL-AB monthly 2026-10 -> user 7"."""
    s = due.subscription
    return f"#{s.id} {s.unit.code} {s.frequency.value} {due.period.label} -> user {s.user_id}"


@group.command("send")
def send_command() -> None:
    """E-mail every due report (the month or quarter that ended) with its PDF; safe to run again."""
    config = current_app.config
    try:
        mail = MailSettings.from_config(config)
    except MailConfigError as error:
        raise click.ClickException(str(error)) from None
    now = current_time()
    settings = ReportSettings(default_target=config["DEFAULT_TARGET"], min_cell=config["POSTSTRAT_MIN_CELL"],
                              sender=mail.sender, subscriptions_url=_subscriptions_url())
    logger = current_app.logger
    due = due_reports(db.session(), local_date(now))
    sent = skipped = 0
    failures: list[str] = []
    unavailable: MailUnavailable | None = None
    with ExitStack() as stack:
        smtp: SMTP | None = None
        for item in due:
            label = _label(item)
            try:
                prepared = prepare(db.session(), item, settings, now=now)
                if smtp is None:  # connect only when there is something to send
                    smtp = stack.enter_context(smtp_connection(mail))
                send(smtp, prepared.message)
            except ReportSkipped as why:
                skipped += 1
                click.echo(f"{label}: skipped, {why}")
                continue
            except MailRefused as error:
                failures.append(f"{label}: {error}")
                click.echo(f"{label}: not sent, {error}", err=True)
                continue
            except MailUnavailable as error:
                unavailable = error
                break
            except Exception as error:  # one broken report must not hold back the others
                db.session.rollback()
                logger.exception("report %s failed", label)
                failures.append(f"{label}: {error}")
                click.echo(f"{label}: not sent, {error}", err=True)
                continue
            record_delivery(db.session(), prepared, now=now)
            db.session.commit()  # at once: a later failure must not make this report due again
            sent += 1
            click.echo(f"{label}: sent to {item.subscription.email}")
    db.session.rollback()
    left = len(due) - sent - skipped
    audit.record(db.session(), actor=None, action="reports.send", object_type="job", now=now,
                 detail={"due": len(due), "sent": sent, "skipped": skipped, "not_sent": left,
                         "smtp_unavailable": unavailable is not None})
    db.session.commit()
    summary = f"reports send: {len(due)} due, {sent} sent, {skipped} skipped, {left} not sent"
    if unavailable is not None or failures:
        cause = str(unavailable) if unavailable is not None else f"{len(failures)} refused"
        logger.error("%s: %s", summary, cause)
        raise click.ClickException(f"{summary}: {cause}; the next run retries them")
    logger.info(summary)
    click.echo(summary)
