"""`flask` command groups, by topic."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from survey.commands import (
        aggregates,
        alerts,
        export,
        frames,
        instruments,
        qr,
        reports,
        seed,
        units,
        users,
    )

    for module in (aggregates, alerts, export, frames, instruments, qr, reports, seed, units, users):
        app.cli.add_command(module.group)
