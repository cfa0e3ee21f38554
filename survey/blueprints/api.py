"""JSON API for machine clients (one-stop systems posting served-dossier frames)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
