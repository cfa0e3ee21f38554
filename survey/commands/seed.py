"""`flask seed demo`: a demo province with counters; prints each counter's survey and poster URLs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from survey.demo.tree import seed_demo, seed_demo_accounts, seed_demo_kiosk, seed_demo_sectors
from survey.extensions import db
from survey.local_time import local_date
from survey.models import utcnow
from survey.services.organisation.assignments import assignment_for
from survey.services.organisation.kiosks import device_token
from survey.services.qr.counters import live_counters_under
from survey.services.qr.qr_images import is_loopback
from survey.services.qr.qr_tokens import issue_token, token_secret

group = AppGroup("seed", help="Load demonstration data.")


@group.command("demo")
@click.option("--base-url", default=None, help="Base of printed URLs (default PUBLIC_BASE_URL or "
              "http://127.0.0.1:5000).")
@click.option("--responses", is_flag=True, help="Also add tens of units and a year of simulated "
              "responses and served-dossier frames (skipped if already there).")
def demo_command(base_url: str | None, responses: bool) -> None:
    """Create the demo units and counters (safe to run again) and print their URLs."""
    counters = seed_demo(db.session()) + seed_demo_sectors(db.session())
    if responses:
        from survey.demo.province import generate_demo_responses

        added = generate_demo_responses(db.session())
        click.echo(f"Demo responses added: {added}" if added else "Demo responses already present.")
        if added:  # bulk-inserted, not submitted: their dashboard sums are computed once here
            from survey.services.reporting.aggregate_rebuild import rebuild

            click.echo(f"Index aggregates rebuilt: {rebuild(db.session(), None)} cells")
    kiosk = seed_demo_kiosk(db.session(), counters)
    staff = seed_demo_accounts(db.session(), current_app.config, utcnow())
    db.session.commit()
    base = (base_url or current_app.config["PUBLIC_BASE_URL"] or "http://127.0.0.1:5000").rstrip("/")
    secret = token_secret(current_app.config)
    root = counters[0].unit
    while root.parent is not None:
        root = root.parent
    # Every live counter of the demo province: with --responses the province has far more than the five
    # base ones, and each must be reachable from this listing.
    everything = live_counters_under(db.session(), root)
    click.echo(f"Demo counters ({len(everything)}) — the questionnaire each serves, its survey URL, then "
               "its printable QR poster (sign in first: demo accounts below):")
    today = local_date(utcnow())
    for counter in everything:
        assignment = assignment_for(db.session(), counter.unit, today)
        serves = f"{assignment.instrument_id}@{assignment.instrument_version}" if assignment else "no survey"
        click.echo(f"  {counter.unit.code}/{counter.code}  {counter.name_vi}  — {serves}")
        click.echo(f"    survey: {base}/s/{issue_token(counter, secret)}")
        click.echo(f"    poster: {base}/posters/counter/{counter.id}")
        if counter.id == kiosk.counter_id:
            click.echo(f"    kiosk tablet: {base}/k/{device_token(kiosk, secret)}")
    click.echo(f"All posters on one page: {base}/posters/unit/{root.id}")
    if is_loopback(base):
        click.echo("Note: these addresses point at this computer, which a phone cannot open. Set "
                   "PUBLIC_BASE_URL (or pass --base-url) to an address phones reach (README, 'Printing QR "
                   "posters'); until then poster pages show a warning instead of the code.")
    click.echo(f"Managers' pages: {base}/manage/  — demo accounts (new passwords on every run):")
    for account in staff:
        role = account.role.value
        click.echo(f"  {account.username:<14} {account.password}  {role} of {account.unit_code}")
