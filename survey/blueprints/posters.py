"""QR images and printable posters per counter (filled in by the QR work)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("posters", __name__, url_prefix="/posters")
