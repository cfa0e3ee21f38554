"""`flask units` commands: import a unit tree CSV as the system (e.g. the national list after a reform)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from survey.auth import current_time
from survey.commands.csv_import import LANG_OPTION, all_or_nothing
from survey.extensions import db
from survey.services.organisation import unit_import

group = AppGroup("units", help="The unit tree: import from CSV.")


@group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@LANG_OPTION
def import_command(path: Path, lang: str | None) -> None:
    """Create or update the units of a CSV file (see docs/manage.md); all or nothing, every error listed."""
    with all_or_nothing(unit_import.UnitImportRefused, path, lang):
        result = unit_import.import_units_csv(db.session(), path.read_bytes(), actor=None, now=current_time())
    db.session.commit()
    click.echo(f"{len(result.created)} units created, {len(result.updated)} updated")
