"""`flask units` commands: import a unit tree CSV as the system (e.g. the national list after a reform)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from survey.extensions import db
from survey.services import unit_import

group = AppGroup("units", help="The unit tree: import from CSV.")


def _now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(UTC)


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    """Create or update the units of a CSV file (see docs/manage.md); all or nothing, every error listed."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        try:
            result = unit_import.import_units_csv(db.session, path.read_bytes(), actor=None, now=_now())
        except unit_import.UnitImportRefused as refused:
            db.session.rollback()
            for error in refused.errors:
                click.echo(error.describe(), err=True)
            raise click.ClickException(f"{len(refused.errors)} error(s); nothing was imported") from None
    db.session.commit()
    click.echo(f"{len(result.created)} units created, {len(result.updated)} updated")
