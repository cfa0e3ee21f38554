"""An accepted frame upload that breaks a unit down only in part, leaves a weighting cell to be merged or
is not for one month says so on the upload's result page (vi and en) and in the CLI (the API answer
carries them too)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from survey.models import Role
from tests.survey.report_helpers import AB_CODES, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app

HEADER = "unit_code,period_start,period_end,procedure_field,channel,served\n"
# HL-AB-1 in October: 500 served, 300 of them in one field (200 of no known field); its 40 responses
# (tests/survey/report_helpers.py) come from no counter, so they have no field either. HL-HL-1: a quarter.
PARTIAL = (HEADER + "HL-AB-1,2026-10-01,2026-10-31,,,500\n"
                    "HL-AB-1,2026-10-01,2026-10-31,tu-phap,,300\n"
                    "HL-HL-1,2026-10-01,2026-12-31,,,900\n").encode()


@pytest.fixture
def wapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, month=10, harassment=False)
    yield from running(app)


def _upload(client: object, data: bytes, lang: str) -> object:
    form = {"file": (io.BytesIO(data), "frames.csv")}
    return client.post(f"/manage/frames/?lang={lang}", data=form,  # type: ignore[attr-defined]
                       content_type="multipart/form-data", follow_redirects=True)


def test_the_result_page_lists_partial_breakdowns_merged_cells_and_non_month_counts(wapp: Flask) -> None:
    client = signed_in(wapp, "admin", Role.ADMIN, totp=True)
    response = _upload(client, PARTIAL, "en")
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "Imported 3 counts for 2 units" in html
    assert "was imported with 4 warnings" in html
    assert ("HL-AB-1, 2026-10-01 – 2026-10-31: the procedure fields add up to 300 of the 500 dossiers "
            "served; the other 200 have no known field and are weighted as one cell.") in html
    # The field has dossiers but no response: it cannot stand alone, so the unit is weighted as a whole.
    assert ("procedure field &#39;tu-phap&#39; (0 responses, 300 dossiers) is merged into the unit&#39;s "
            "total: no responses.") in html
    assert ("procedure field (not known) (40 responses, 200 dossiers) is merged into the unit&#39;s "
            "total: merged with a field that could not stand alone.") in html
    assert ("HL-HL-1, 2026-10-01 – 2026-12-31: these counts are not for one calendar month: they count in "
            "response rates but do not weight the survey.") in html


def test_the_warnings_are_in_vietnamese_and_only_for_the_uploaders_units(wapp: Flask) -> None:
    client = signed_in(wapp, "mai", Role.MANAGER, ("HL-AB",))
    data = (HEADER + "HL-AB-1,2026-10-01,2026-10-31,,,500\n"
                     "HL-AB-1,2026-10-01,2026-10-31,tu-phap,,300\n").encode()
    html = _upload(client, data, "vi").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "có 3 cảnh báo" in html
    assert "các lĩnh vực thủ tục cộng lại được 300 trên 500 hồ sơ đã giải quyết" in html
    assert "không có phiếu trả lời nào" in html


def test_a_complete_breakdown_with_enough_responses_has_no_warning(wapp: Flask) -> None:
    client = signed_in(wapp, "admin", Role.ADMIN, totp=True)
    html = _upload(client, (HEADER + "HL-AB-1,2026-10-01,2026-10-31,,,500\n").encode(), "en").get_data(
        as_text=True)  # type: ignore[attr-defined]
    assert "Imported 1 counts" in html and "warning" not in html


def test_the_cli_prints_the_warnings(wapp: Flask, tmp_path: Path) -> None:
    path = tmp_path / "frames.csv"
    path.write_bytes(PARTIAL)
    result = wapp.test_cli_runner().invoke(args=["frames", "import", str(path)])
    assert result.exit_code == 0, result.output
    # the CLI speaks the app's default language, Vietnamese
    assert "warning: HL-AB-1, 2026-10-01 – 2026-10-31: các lĩnh vực thủ tục cộng lại được 300" in \
        result.output
    assert result.output.count("warning: ") == 4
