"""Managers' pages. Every view here needs a logged-in staff member; scopes are enforced in services."""

from __future__ import annotations

from flask import Blueprint

from survey.auth import require_signed_in

bp = Blueprint("manage", __name__, url_prefix="/manage")
# Every manage view needs a signed-in staff member; views narrow roles with
# `@survey.auth.staff_required(...)` and units with `survey.services.staff.access.unit_or_404`.
bp.before_request(require_signed_in)

# Route modules register on `bp` when imported; keep this list the single place that wires them.
from survey.blueprints.manage import (  # noqa: E402, F401
    accounts,
    alerts,
    api_clients,
    audit_log,
    dashboard,
    dashboard_export,
    flags,
    frames,
    kiosks,
    lockouts,
    opening_hours,
    reports,
    research,
    subscriptions,
    targets,
    template_filters,
    units,
)
