"""The web's weighted indices carry the calibrated (post-stratified) SEs of `analysis.calibration`.

A quarter's weights are post-stratified per unit x month, so the months are weighting cells inside
the unit stratum: the SE linearized through the post-stratification differs from the fixed-weight SE,
and the page must show the former (R's ``postStratify``; tests/analysis/test_calibration_r.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from analysis.tables import compute_indices
from analysis.weights import poststratify
from instruments.index import IndexDefinition
from instruments.registry import get_registered
from survey.extensions import db
from survey.models import FrameUpload, ServedCount, Unit
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from survey.services.reporting.respondent_data import frame_table, load_respondents, unit_parent_map
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, HL_CODES, add_responses
from tests.survey.staff_helpers import staff_app


def test_quarter_page_uses_the_poststratified_standard_errors(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    add_responses(app, "HL-AB-1", HL_CODES, day=10, month=11, harassment=False)
    with app.app_context():
        upload = FrameUpload(source="csv", rows=2)
        db.session.add(upload)
        db.session.flush()
        for month, last, served in ((10, 31, 400), (11, 30, 100)):
            db.session.add(ServedCount(unit_id=unit_id("HL-AB-1", app), procedure_field="", channel="",
                                       period_start=date(2026, month, 1), period_end=date(2026, month, last),
                                       served=served, upload_id=upload.id))
        db.session.commit()
    period = Period.quarter(2026, 4)
    registered = get_registered("sipas-counter", "2025.1")
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert root is not None
        report = compute_unit_indices(db.session, root, "sipas-counter@2025.1", period, weighted=True)
        ids = list(db.session.scalars(sa.select(Unit.id)))
        data = load_respondents(db.session, ids, period.first, period.last, registered.instrument).frame
        frame = frame_table(db.session, ids, period.first, period.last)
        parents = unit_parent_map(db.session, root.id)
    assert report.weighted, report.weighting
    weighting = poststratify(data[["unit", "field", "month"]].fillna({"field": ""}), frame, ["field"],
                             unit_col="unit", count_col="served", period_col="month")
    definition = IndexDefinition.from_instrument(registered.instrument)
    common = {"unit_col": "unit", "parents": parents, "weights": weighting.weights, "lonely_psu": "adjust"}
    calibrated = compute_indices(data, definition, calibration=weighting.calibration, **common)  # type: ignore[arg-type]
    fixed = compute_indices(data, definition, **common)  # type: ignore[arg-type]
    keys = ["domain", "stat_type", "stat"]
    page = report.estimates.set_index(keys)["se"]
    for expected, same in ((calibrated, True), (fixed, False)):
        reference = expected.set_index(keys)["se"].reindex(page.index)
        shown = page.notna() & reference.notna()
        assert shown.sum() > 20
        close = np.isclose(page[shown], reference[shown], rtol=1e-12, atol=0)
        assert close.all() if same else not close.all()
