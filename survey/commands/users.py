"""`flask users` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("users", help="users commands.")
