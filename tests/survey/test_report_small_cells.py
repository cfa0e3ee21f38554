"""Report tables keep the small-cell rule: a unit with 1-4 responses is hidden, and so is whatever
would let a reader subtract it back out of a published total."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Unit
from survey.services.disclosure.exports import csv_table
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import build_content
from tests.survey.report_helpers import AB_CODES, add_responses


def _content(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context(), app.test_request_context("/?lang=en"):
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        report = unit_indices(db.session, unit, "sipas-counter@2025.1", Period.month(2026, 10),
                              weighted=False)
        registered = get_registered("sipas-counter", "2025.1")
        return build_content(db.session, report, registered.instrument, lang="en",
                             now=datetime(2026, 11, 2, tzinfo=UTC))


def test_small_unit_and_its_complements_are_hidden_and_the_total_stays(app: Flask, demo: dict) -> None:
    add_responses(app, "HL-AB-1", [5, 4, 2])  # 3 responses: primary
    add_responses(app, "HL-HL-1", AB_CODES)  # 40 responses
    content = _content(app)
    by_code = {u.code: u.figure for u in content.units}
    # HL-AB-1 = 3 (primary); HL-AB = HL-AB-1 = 3 (primary too); HL = HL-AB + HL-HL would give HL-AB,
    # so HL-HL is hidden, and then HL-HL = HL-HL-1 would give HL-HL back: HL-HL-1 is hidden as well.
    hidden = {code for code, figure in by_code.items() if figure.n is None}
    assert hidden == {"HL-AB-1", "HL-AB", "HL-HL", "HL-HL-1"}
    assert by_code["HL"].n == 43
    for code in hidden:
        assert by_code[code].est is None and by_code[code].ci_lo is None
    published = [f.n for f in by_code.values() if f.n is not None]
    assert not [n for n in published if 0 < n < 5]
    rows = csv_table(content).rows
    units = {r[4]: r for r in rows if r[6] == "unit"}
    assert units["HL-HL-1"][10] is None and units["HL-HL-1"][11] is None  # n and est columns
