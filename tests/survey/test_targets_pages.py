"""Target governance through the real pages: the ward-manager attack, the target column of the
dashboard, the confirmation before a target is removed, approval by the parent's manager."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Role, Target, TargetProposal, Unit
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import AB_CODES, HL_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app


@pytest.fixture
def tapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10, harassment=False)
    yield from running(app)


def _own_targets(app: Flask) -> dict[str, float]:
    with app.app_context():
        return {code: value for code, value in db.session.execute(
            sa.select(Unit.code, Target.target).join(Unit, Unit.id == Target.unit_id))}


def _verdicts(app: Flask) -> dict[str, str]:
    """The overall verdict of the province and the ward, recomputed without any cache."""
    with app.app_context():
        province = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert province is not None
        report = compute_unit_indices(db.session, province, "sipas-counter@2025.1",
                                      Period.parse(PERIOD, None), weighted=False, default_target=0.8)
        out = {}
        for code in ("HL", "HL-AB"):
            row = report.overall(code)
            assert row is not None
            out[code] = str(row["verdict"])
        return out


def _target_form(value: str, reason: str = "Chỉ tiêu năm 2026") -> dict[str, str]:
    return {"instrument_id": "sipas-counter", "year": "2026", "target": value, "reason": reason}


@pytest.mark.parametrize("scope, approver", [("HL-AB", "the manager of the unit above"),
                                             ("HL", "an administrator")])
def test_a_proposal_says_who_decides_it(tapp: Flask, scope: str, approver: str) -> None:
    """A ward's proposal goes to the province's manager; the province has no unit above it, so its
    manager's proposal waits for an administrator, and the page must not send them looking for one."""
    manager = signed_in(tapp, f"quanly-{scope.lower()}", Role.MANAGER, (scope,))
    posted = manager.post(f"/manage/units/{unit_id(scope, tapp)}/targets?lang=en", data=_target_form("95%"),
                          follow_redirects=True)
    assert f"The target changes only when {approver} approves it." in posted.get_data(as_text=True)


def test_a_ward_manager_posting_50_percent_only_files_a_proposal(tapp: Flask) -> None:
    before = _verdicts(tapp)
    assert before == {"HL": "below", "HL-AB": "below"}  # both well under the province's 90 %
    ward = signed_in(tapp, "phuong", Role.MANAGER, ("HL-AB",))
    ab = unit_id("HL-AB", tapp)

    response = ward.post(f"/manage/units/{ab}/targets", data=_target_form("50%"))
    assert response.status_code == 302
    assert _own_targets(tapp) == {"HL": 0.90}  # nothing stored as a target
    assert _verdicts(tapp) == before  # neither the ward's nor the province's verdict moved
    page = ward.get(f"/manage/?period={PERIOD}&weighted=0&lang=vi").get_data(as_text=True)
    assert "đề xuất:" in page and "50,0%" in page and "chờ duyệt" in page  # the proposal is visible
    assert "90,0%" in page and "từ Tỉnh Mẫu (dữ liệu thử)" in page  # ... beside the target in force
    assert [e.action for e in audit_events("", tapp) if e.action.startswith("target.")] == ["target.propose"]

    province = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    dashboard = province.get(f"/manage/?period={PERIOD}&weighted=0&lang=en").get_data(as_text=True)
    assert "Target proposals awaiting your decision" in dashboard and "An Binh Ward" in dashboard
    with tapp.app_context():
        proposal_id = db.session.scalar(sa.select(TargetProposal.id))
    assert ward.post(f"/manage/target-proposals/{proposal_id}/approve", data={}).status_code == 403
    assert _own_targets(tapp) == {"HL": 0.90}
    approved = province.post(f"/manage/target-proposals/{proposal_id}/approve", data={"note": "ok"})
    assert approved.status_code == 302
    assert _own_targets(tapp) == {"HL": 0.90, "HL-AB": 0.50}
    after = _verdicts(tapp)
    # Only an approved target moves a verdict: the ward's, not the province's (it keeps its own 90 %).
    assert after["HL"] == before["HL"] and after["HL-AB"] != before["HL-AB"]


def test_the_target_column_says_where_each_target_comes_from(tapp: Flask) -> None:
    province = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    ab = unit_id("HL-AB", tapp)
    assert province.post(f"/manage/units/{ab}/targets", data=_target_form("85")).status_code == 302
    html = province.get(f"/manage/?period={PERIOD}&weighted=0&lang=en").get_data(as_text=True)
    assert 'data-target-source="own">90.0%' in html  # the province's own
    assert 'data-target-source="own">85.0%' in html and "from Demo Province" in html
    assert html.count('data-target-source="inherited"') >= 2  # the agency and Hoa Lac inherit 90 %


def test_an_empty_target_box_explains_in_vietnamese(tapp: Flask) -> None:
    province = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    response = province.post(f"/manage/units/{unit_id('HL-AB', tapp)}/targets?lang=vi",
                             data=_target_form(""))
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This field is required" not in text and "Nhập chỉ tiêu" in text
    no_reason = province.post(f"/manage/units/{unit_id('HL-AB', tapp)}/targets?lang=vi",
                              data=_target_form("85", reason=""))
    assert no_reason.status_code == 422 and "Ghi lý do" in no_reason.get_data(as_text=True)
    assert _own_targets(tapp) == {"HL": 0.90}


def test_removing_a_target_asks_for_confirmation_first(tapp: Flask) -> None:
    province = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    ab = unit_id("HL-AB", tapp)
    province.post(f"/manage/units/{ab}/targets", data=_target_form("85"))
    url = f"/manage/units/{ab}/targets/clear?instrument_id=sipas-counter&year=2026&lang=vi"
    confirm = province.get(url)
    text = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Bỏ chỉ tiêu riêng" in text and "85,0%" in text
    assert "90,0%" in text  # what it falls back to
    assert _own_targets(tapp) == {"HL": 0.90, "HL-AB": 0.85}  # GET changes nothing
    missing_reason = province.post(url, data={"instrument_id": "sipas-counter", "year": "2026"})
    assert missing_reason.status_code == 422 and _own_targets(tapp)["HL-AB"] == 0.85
    done = province.post(url, data={"instrument_id": "sipas-counter", "year": "2026", "reason": "thống nhất"})
    assert done.status_code == 302 and _own_targets(tapp) == {"HL": 0.90}
    cleared = audit_events("target.clear", tapp)
    assert len(cleared) == 1 and '"before": 0.85' in cleared[0].detail and "thống nhất" in cleared[0].detail


def test_the_target_form_names_each_questionnaire_by_its_title_sipas_first(tapp: Flask) -> None:
    province = signed_in(tapp, "tinh-form", Role.MANAGER, ("HL",))
    page = province.get(f"/manage/units/{unit_id('HL-AB', tapp)}/edit?lang=en").get_data(as_text=True)
    select = page.split('name="instrument_id"')[1].split("</select>")[0]
    options = re.findall(r'<option[^>]*value="([^"]+)"[^>]*>([^<]+)</option>', select)
    assert options[0][0] == "sipas-counter" and options[0][1].endswith("(sipas-counter)")
    assert "satisfaction" in options[0][1].lower()  # the questionnaire's English title, not only its id
    shipped = ["outpatient", "quick-rating", "school-parents", "sipas-counter"]
    assert sorted(value for value, _ in options) == shipped
