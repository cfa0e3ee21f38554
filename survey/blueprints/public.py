"""The citizen's survey: from a QR token to the thank-you page (filled in by the survey-form work)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)
