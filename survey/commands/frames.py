"""`flask frames` commands: API clients of the frames endpoint, and importing a frames CSV as the system.

Each command commits once at the end and is audited with actor None (the system).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from survey.auth import current_time
from survey.commands.csv_import import LANG_OPTION, all_or_nothing
from survey.extensions import db
from survey.services.staff import api_clients
from survey.services.weighting import frames
from survey.services.weighting.frame_warnings import upload_warnings

group = AppGroup("frames", help="Served-dossier frames: API clients and CSV import.")


@group.command("client-create")
@click.argument("name")
@click.option("--unit", "unit_code", required=True, help="Code of the unit whose subtree the client reports.")
def client_create(name: str, unit_code: str) -> None:
    """Create an API client and print its token (shown this once; only its hash is stored)."""
    try:
        client, token = api_clients.create_client(db.session(), name, unit_code, actor=None,
                                                  now=current_time())
    except api_clients.UnknownUnit:
        raise click.ClickException(f"no unit with code {unit_code!r}") from None
    db.session.commit()
    click.echo(f"client {client.id} ({client.name}) for unit {unit_code}")
    click.echo(f"token: {token}")
    click.echo("Store the token now: it cannot be shown again.", err=True)


@group.command("client-revoke")
@click.argument("client_id", type=int)
def client_revoke(client_id: int) -> None:
    """Revoke an API client: its token stops working at once."""
    client = api_clients.revoke_client(db.session(), client_id, actor=None, now=current_time())
    if client is None:
        raise click.ClickException(f"no API client with id {client_id}")
    db.session.commit()
    click.echo(f"client {client.id} revoked")


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@LANG_OPTION
def import_command(path: Path, lang: str | None) -> None:
    """Import a frames CSV for any unit (a system action); all or nothing, every error listed."""
    with all_or_nothing(frames.FramesRefused, path, lang):
        result = frames.import_csv(db.session(), path.read_bytes(), actor=None, now=current_time())
    warnings = upload_warnings(db.session(), result.upload_id,
                               min_cell=current_app.config["POSTSTRAT_MIN_CELL"])
    db.session.commit()
    click.echo(f"upload {result.upload_id}: {result.rows} counts for {result.units} units "
               f"({result.replaced} earlier counts replaced)")
    for warning in warnings:
        click.echo(f"warning: {warning.describe()}", err=True)
