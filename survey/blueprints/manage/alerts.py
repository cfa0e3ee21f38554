"""Manager pages: alerts."""

from __future__ import annotations

from survey.blueprints.manage import bp  # noqa: F401
