"""`flask aggregates` commands: recompute the index aggregates (and the database's tallies of valid
responses, `models.ResponseTally`) from the responses, or check them.

`rebuild` is needed once after the migration that creates the table (and after any bulk import that
bypasses the submission service); the dashboard reads the responses wherever the aggregates are
incomplete, so it is never wrong meanwhile, only slower. `check` exits 1 naming every unit, month,
instrument, field and sum that differs from the responses. Each command commits once, at the end.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from survey.commands.options import period_option
from survey.database import refresh_planner_statistics
from survey.extensions import db
from survey.models import Unit
from survey.services.reporting.aggregate_rebuild import check, rebuild
from survey.services.reporting.periods import Period
from survey.services.reporting.response_tallies import tally_differences
from survey.services.staff.access import subtree_ids

group = AppGroup("aggregates", help="Index aggregates: rebuild them from the responses, or check them.")




def _statuses(counts: tuple[int, int, int]) -> str:
    """"valid 20 flagged 1 excluded 0"."""
    names = ("valid", "flagged", "excluded")
    return " ".join(f"{status} {n}" for status, n in zip(names, counts, strict=True))


def _units(code: str | None) -> set[int] | None:
    if code is None:
        return None
    unit_id = db.session.scalar(sa.select(Unit.id).where(Unit.code == code))
    if unit_id is None:
        raise click.BadParameter(f"no unit has the code {code!r}", param_hint="--unit")
    return subtree_ids(db.session(), [unit_id])


_UNIT = click.option("--unit", "unit_code", metavar="CODE",
                     help="This unit and its descendants (default: all).")
_PERIOD = click.option("--period", "period", callback=period_option, metavar="PERIOD",
                       help="2026-10, 2026Q3 or 2026: its months (default: every month).")


@group.command("rebuild")
@_UNIT
@_PERIOD
def rebuild_command(unit_code: str | None, period: Period | None) -> None:
    """Replace the aggregates of the scope by sums computed from the valid responses."""
    units = _units(unit_code)
    first, last = (period.first, period.last) if period is not None else (None, None)
    try:
        written = rebuild(db.session(), units, first, last)
        refresh_planner_statistics(db.session())  # after a bulk import, the tables' sizes have moved
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        raise click.ClickException(f"aggregates rebuild failed: {error}") from error
    scope = f"unit {unit_code} and descendants" if unit_code else "all units"
    click.echo(f"aggregates rebuilt: {written} cells ({scope}, {period.label if period else 'every month'})")


@group.command("check")
@_UNIT
@_PERIOD
def check_command(unit_code: str | None, period: Period | None) -> None:
    """Compare the aggregates with the valid responses; exit 1 naming every difference."""
    units = _units(unit_code)
    first, last = (period.first, period.last) if period is not None else (None, None)
    mismatches = check(db.session(), units, first, last)
    tallies = tally_differences(db.session(), units, first, last)
    codes = {unit_id: code for unit_id, code in db.session.execute(sa.select(Unit.id, Unit.code))}
    db.session.rollback()  # read only
    for mismatch in mismatches:
        click.echo(mismatch.describe(), err=True)
    for (month, instrument_id, unit_id, version), stored, counted in tallies:
        click.echo(f"unit {codes.get(unit_id, unit_id)} month {month} instrument {instrument_id}@{version}: "
                   f"tallied {_statuses(stored)}, counted {_statuses(counted)}", err=True)
    if mismatches or tallies:
        raise SystemExit(f"aggregates check: {len(mismatches)} cells and {len(tallies)} tallies differ from "
                         "the responses; run `flask aggregates rebuild` (with the same --unit/--period)")
    click.echo("aggregates check: every cell and tally equals the responses")
