"""Dashboard and unit page: figures equal hand-computed ones, scoping, no raw PII on the page."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Response, ResponseStatus, Role, Unit
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import (
    AB_CODES,
    AB_CRITERION_HIGH,
    AB_CRITERION_LOW,
    AB_ELEMENTS,
    AB_INDEX,
    HL_CODES,
    PERIOD,
    PHONE_COMMENT,
    RAW_PHONE,
    TT_ELEMENTS,
    TT_INDEX,
    add_responses,
)
from tests.survey.staff_helpers import signed_in, staff_app


@pytest.fixture
def dapp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, comments=(PHONE_COMMENT,), day=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10, harassment=False)
    return app


# Half a displayed unit (0.05 points), plus float noise: Babel rounds the shortest decimal form of the
# estimate (0.6375 -> "63,8%") where the float itself is 0.63749999...
SHOWN = 5e-4 + 1e-9


def _figure(html: str, stat: str) -> float:
    row = re.search(rf'data-stat="{re.escape(stat)}"[^>]*>.*?<td class="num">([\d,]+)%</td>', html, re.S)
    assert row is not None, stat
    return float(row.group(1).replace(",", ".")) / 100


def test_unit_page_figures_equal_the_hand_computed_ones(dapp: Flask) -> None:
    # An Bình holds the AB_CODES responses of report_helpers, whose figures are worked out by hand there.
    client = signed_in(dapp, "admin", Role.ADMIN, totp=True)
    ab = unit_id("HL-AB", dapp)
    html = client.get(f"/manage/units/{ab}?period={PERIOD}&weighted=0&lang=vi").get_data(as_text=True)
    headline = re.search(r'data-stat="overall">([\d,]+) ?%', html)
    assert headline is not None
    assert float(headline.group(1).replace(",", ".")) / 100 == pytest.approx(AB_INDEX, abs=SHOWN)
    for element, share in AB_ELEMENTS.items():
        assert _figure(html, f"element:{element}") == pytest.approx(share, abs=SHOWN), element
    # e3_courteous is the 9th criterion (j = 8, not a multiple of 3).
    assert _figure(html, "criterion:e3_courteous") == pytest.approx(AB_CRITERION_HIGH, abs=SHOWN)
    assert _figure(html, "criterion:e3_responsive") == pytest.approx(AB_CRITERION_LOW, abs=SHOWN)  # j = 9
    assert "sipas-counter@2025.1" in html and "sipas-share-satisfied-v1" in html


def test_raw_phone_never_reaches_the_page_and_names_are_marked(dapp: Flask) -> None:
    client = signed_in(dapp, "admin", Role.ADMIN, totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB', dapp)}?period={PERIOD}").get_data(as_text=True)
    assert re.sub(r"\D", "", RAW_PHONE) not in re.sub(r"\D", "", html.replace("\n", ""))
    assert RAW_PHONE not in html and "[SĐT]" in html and 'class="review"' in html


def test_manager_of_one_commune_gets_404_and_an_audit_entry_for_another(dapp: Flask) -> None:
    client = signed_in(dapp, "ab", Role.MANAGER, ("HL-AB",), totp=True)
    own = client.get(f"/manage/units/{unit_id('HL-AB', dapp)}?period={PERIOD}")
    assert own.status_code == 200
    other = unit_id("HL-TTHCC", dapp)
    assert client.get(f"/manage/units/{other}?period={PERIOD}").status_code == 404
    denied = audit_events("access.denied", dapp)
    assert any(e.object_id == str(other) for e in denied)
    dashboard = client.get(f"/manage/?period={PERIOD}").get_data(as_text=True)
    assert "Phường An Bình" in dashboard and "Trung tâm Phục vụ hành chính công tỉnh" not in dashboard


def test_dashboard_shows_verdict_by_shape_and_text(dapp: Flask) -> None:
    client = signed_in(dapp, "admin", Role.ADMIN, totp=True)
    html = client.get(f"/manage/?period={PERIOD}&lang=vi").get_data(as_text=True)
    assert "<caption>" in html and 'role="img"' in html and "<title>" in html
    assert "✖" in html and re.search(r"\d+,\d%", html)


def test_left_out_responses_are_counted_with_their_reason_in_the_readers_language(dapp: Flask) -> None:
    with dapp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB-1"))
        first, second = db.session.scalars(
            sa.select(Response).where(Response.unit_id == unit.id).order_by(Response.id).limit(2)
        )
        first.status, first.status_reason = ResponseStatus.FLAGGED, "burst"
        second.status, second.status_reason = ResponseStatus.EXCLUDED, "Phiếu thử của cán bộ"
        db.session.commit()
    client = signed_in(dapp, "admin", Role.ADMIN, totp=True)
    url = f"/manage/units/{unit_id('HL-AB', dapp)}?period={PERIOD}"
    vietnamese = client.get(url + "&lang=vi").get_data(as_text=True)
    assert "nhiều phiếu từ một quầy trong một phút" in vietnamese and "burst" not in vietnamese
    assert "Phiếu thử của cán bộ" in vietnamese  # typed by staff: shown as typed
    english = client.get(url + "&lang=en").get_data(as_text=True)
    assert "many responses from one counter within a minute" in english


def test_weighted_unit_page_equals_the_hand_poststratified_figures(dapp: Flask) -> None:
    # Post-stratified to one cell per unit (no field or channel in the frame): every An Bình response
    # weighs 400/40 = 10, every Trung tâm response 90/24 = 3.75, and with no N/A answers each criterion's
    # weighted share is (400 p_AB + 90 p_TT) / 490. Elements and the index are means, so the same mixture
    # holds for them. The unweighted root mixes by responses instead: (40 p_AB + 24 p_TT) / 64.
    from survey.models import FrameUpload, ServedCount

    with dapp.app_context():
        upload = FrameUpload(source="csv", rows=2)
        db.session.add(upload)
        db.session.flush()
        for code, served in (("HL-AB-1", 400), ("HL-TTHCC-1", 90)):
            db.session.add(
                ServedCount(
                    unit_id=unit_id(code, dapp),
                    procedure_field="",
                    channel="",
                    period_start=date(2026, 10, 1),
                    period_end=date(2026, 10, 31),
                    served=served,
                    upload_id=upload.id,
                )
            )
        db.session.commit()
    client = signed_in(dapp, "admin", Role.ADMIN, totp=True)
    root = unit_id("HL", dapp)
    html = client.get(f"/manage/units/{root}?period={PERIOD}&weighted=1&lang=vi").get_data(as_text=True)
    assert "hậu phân tầng" in html or "post-stratified" in html

    def weighted(ab: float, tt: float) -> float:
        return (400 * ab + 90 * tt) / 490

    headline = re.search(r'data-stat="overall">([\d,]+)%', html)
    assert headline is not None
    shown_index = float(headline.group(1).replace(",", ".")) / 100
    assert shown_index == pytest.approx(weighted(AB_INDEX, TT_INDEX), abs=SHOWN)
    unweighted_index = (40 * AB_INDEX + 24 * TT_INDEX) / 64
    assert abs(shown_index - unweighted_index) > 0.05  # the weights really moved the figure
    for element, ab in AB_ELEMENTS.items():
        expected = weighted(ab, TT_ELEMENTS[element])
        assert _figure(html, f"element:{element}") == pytest.approx(expected, abs=SHOWN), element


def test_responses_needed_plan_with_the_precision_the_shown_interval_has(dapp: Flask) -> None:
    # The overall index averages 19 criteria, so its variance is below a yes/no share's: planning with
    # Kish's deff (1 here: no weights) would ask for responses the interval does not need. The plan uses
    # deff = n se^2 / (p (1 - p)) (Cochran's n0 = z^2 p (1 - p) deff / h^2, analysis.planning), the design
    # effect of the interval shown; nothing is floored in an unweighted single-stratum domain.
    with dapp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        report = unit_indices(db.session, unit, "sipas-counter@2025.1", Period.month(2026, 10),
                              weighted=False)
    row = report.estimates[(report.estimates["domain"] == "HL-AB")
                           & (report.estimates["stat_type"] == "overall_index")].iloc[0]
    assert row["n_eff_floor"] == float("inf") and report.served is None
    p, se, n = float(row["est"]), float(row["se"]), int(row["n"])
    deff = n * se**2 / (p * (1 - p))
    assert 0 < deff < 1
    # Cochran's n0 with p(1 - p) deff = n se^2; z = 1.959963984540054, the normal 0.975 quantile
    # (Abramowitz and Stegun 1964, table 26.1: 1.959963985).
    z = 1.959963984540054
    expected = max(0, math.ceil(z**2 * n * se**2 / 0.05**2 - 1e-9) - report.responses)
    assert report.needed == expected
    kish_plan = max(0, math.ceil(z**2 * p * (1 - p) / 0.05**2 - 1e-9) - report.responses)
    assert report.needed < kish_plan
