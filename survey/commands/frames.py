"""`flask frames` commands."""

from __future__ import annotations

from flask.cli import AppGroup

group = AppGroup("frames", help="frames commands.")
