"""A change against a suppressed period is shown as "not comparable", on the page and in the PDF content."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from survey.extensions import db
from survey.models import Role, Unit
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.report_content import _change
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, add_responses
from tests.survey.staff_helpers import signed_in, staff_app


def test_a_suppressed_previous_period_is_not_comparable(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    # 6 < 10: no estimate; but 6 >= 5, so not a small cell (a count of 1-4 would be withheld: ⊘)
    add_responses(app, "HL-AB-1", AB_CODES[:6], day=10, month=9, harassment=False)
    with app.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB-1"))
        assert unit is not None
        report = compute_unit_indices(db.session, unit, "sipas-counter@2025.1", Period.month(2026, 10),
                                      weighted=False)
    assert report.change is not None and report.change["direction"] == "not_comparable"
    change = _change(report)
    assert change is not None and not change.comparable and not change.significant
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    page = client.get(f"/manage/units/{unit_id('HL-AB-1', app)}?period=2026-10&weighted=0&lang=vi")
    html = page.get_data(as_text=True)
    assert "không so sánh được (một trong hai kỳ có quá ít phiếu trả lời)" in html
    assert "NaN" not in html and "nan " not in html


def test_a_previous_period_the_small_cell_rule_hides_withholds_the_change(migrated_db: Path,
                                                                        tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    add_responses(app, "HL-AB-1", AB_CODES[:4], day=10, month=9, harassment=False)  # 0 < 4 < 5: withheld
    client = signed_in(app, "admin", Role.ADMIN, totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB-1', app)}?period=2026-10&weighted=0&lang=en"
                      ).get_data(as_text=True)
    headline = html[html.index('<section class="headline"'):html.index("</section>")]
    assert re.search(r"Change against 2026-09: <span class=\"small-cell-mark\" data-small-cell", headline)
    assert "not comparable" not in headline and "n = 40" in headline  # October itself is published
