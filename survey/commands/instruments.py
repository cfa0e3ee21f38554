"""`flask instruments` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("instruments", help="instruments commands.")
