"""`flask alerts` commands: the scheduled alerts job (docs/deploy.md shows cron and systemd timers).

The command commits the planner statistics at once, then the alerts once at the end; it is audited
with actor None (the system).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from survey.auth import current_time
from survey.commands.options import period_option
from survey.database import refresh_planner_statistics
from survey.extensions import db
from survey.local_time import local_date
from survey.services.reporting.alerts import refresh_all_alerts
from survey.services.reporting.periods import Period

group = AppGroup("alerts", help="Alerts: below-target units and significant drops.")




@group.command("refresh")
@click.option("--period", "period", callback=period_option, metavar="PERIOD",
              help="2026-10, 2026Q3 or 2026; default: the last month that ended (local time).")
def refresh(period: Period | None) -> None:
    """Recompute and upsert the alerts of every unit for one period; safe to run again."""
    now = current_time()
    if period is None:  # a run at 00:30 on the 1st (Vietnam time) covers the month just ended
        period = Period.latest_complete_month(local_date(now))
    logger = current_app.logger
    try:
        target = current_app.config["DEFAULT_TARGET"]
        refresh_planner_statistics(db.session())  # nightly, so the planner's statistics keep up
        # On their own, at once: the job must not hold SQLite's write lock while it computes (citizens
        # submitting meanwhile would wait on it).
        db.session.commit()
        summary = refresh_all_alerts(db.session(), period, default_target=target, now=now)
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        logger.exception("alerts refresh %s failed", period.label)
        raise click.ClickException(f"alerts refresh {period.label} failed: {error}") from error
    for root, key in summary.reports:
        click.echo(f"{period.label} {root} {key}: recomputed")
    message = (f"alerts refresh {period.label}: {len(summary.reports)} reports, {summary.alerts} alerts "
               f"({summary.created} new)")
    logger.info(message)
    click.echo(message)
