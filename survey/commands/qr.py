"""`flask qr` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("qr", help="qr commands.")
