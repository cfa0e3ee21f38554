"""Managers' pages. Every view here needs a logged-in staff member; scopes are enforced in services."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("manage", __name__, url_prefix="/manage")

# Route modules register on `bp` when imported; keep this list the single place that wires them.
from survey.blueprints.manage import accounts, alerts, dashboard, frames, units  # noqa: E402, F401
