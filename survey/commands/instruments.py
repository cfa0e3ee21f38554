"""`flask instruments list | show ID[@VERSION] | validate [PATH...]`: the instrument package's own
commands (`python -m instruments`), offered where operators already work."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from instruments.commands import CommandResult, list_command, show_command, validate_command

group = AppGroup("instruments", help="Questionnaires: list, show, validate.")


def _emit(result: CommandResult) -> None:
    for line in result.lines:
        click.echo(line, err=not result.ok)
    if not result.ok:
        raise click.exceptions.Exit(result.exit_code)


@group.command("list")
def list_instruments() -> None:
    """List the shipped instruments with status and content hash."""
    _emit(list_command())


@group.command("show")
@click.argument("spec", metavar="ID[@VERSION]")
@click.option("--json", "as_json", is_flag=True, help="Print the canonical JSON that is hashed.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi")
def show(spec: str, as_json: bool, lang: str) -> None:
    """Describe one instrument: sections, items and the index definition."""
    _emit(show_command(spec, as_json=as_json, lang=lang))


@group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Validate instrument files; with none, every shipped file and the published lock."""
    _emit(validate_command(paths))
