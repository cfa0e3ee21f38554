"""Option parsers shared by the command groups."""

from __future__ import annotations

import click

from survey.services.reporting.periods import Period, PeriodError


def period_option(_context: click.Context, _parameter: click.Parameter, text: str | None) -> Period | None:
    """A click callback: an optional period in any form `Period.from_text` reads (2026-10, 2026Q3, 2026),
    or a usage error naming what is wrong."""
    if text is None:
        return None
    try:
        return Period.from_text(text)
    except PeriodError as error:
        raise click.BadParameter(str(error)) from None
