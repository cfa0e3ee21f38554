"""`flask` command groups, by topic."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from survey.commands import instruments, qr, seed

    app.cli.add_command(instruments.group)
    app.cli.add_command(qr.group)
    app.cli.add_command(seed.group)
