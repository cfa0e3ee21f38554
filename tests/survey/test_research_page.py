"""The researcher's normal path: sign in, land on the research page, download microdata — never a 403;
another unit is refused (404 + audit) and an unsafe request is answered 422 with what to coarsen."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from flask import Flask

from survey.models import Role
from tests.survey.conftest import audit_events, unit_id
from tests.survey.microdata_helpers import seed_microdata
from tests.survey.report_helpers import AB_CODES, add_responses
from tests.survey.staff_helpers import PASSWORD, add_staff, sign_in, staff_app

FORM = {"instrument": "sipas-counter@2025.1", "first": "2026-10-01", "last": "2026-10-31",
        "file_format": "csv", "period": "month", "level": "", "lang": "vi"}


@pytest.fixture
def rapp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)  # the demo tree
    seed_microdata(app)
    return app


def test_researcher_signs_in_lands_on_the_research_page_and_downloads(rapp: Flask) -> None:
    staff = add_staff(rapp, "nghiencuu", Role.RESEARCHER, ("HL",))
    client = rapp.test_client()
    signed = client.post("/auth/login", data={"username": staff.username, "password": PASSWORD})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/manage/research/")
    page = client.get(signed.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/manage/research/microdata" in html and "/report.xlsx" in html
    assert 'href="/manage/"' not in html  # no dashboard link for a researcher: it would be a 403
    assert re.search(r'<option selected value="sipas-counter@2025.1">', html)  # the SIPAS index first
    download = client.post("/manage/research/microdata", data={**FORM, "unit_id": unit_id("HL", rapp)})
    assert download.status_code == 200, download.get_data(as_text=True)[-800:]
    assert download.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 3 and any(n.endswith(".codebook.json") for n in names)
        data_name = next(n for n in names if n.endswith(".csv"))
        frame = pd.read_csv(io.BytesIO(archive.read(data_name)), encoding="utf-8-sig")
    assert len(frame) == 89 and "weight" in frame.columns
    assert [e.action for e in audit_events("microdata.download", rapp)] == ["microdata.download"]
    assert not audit_events("role.denied", rapp)


def test_each_formats_release_has_a_name_of_its_own(rapp: Flask) -> None:
    """Downloaded one after the other, the releases in two formats must not overwrite each other."""
    staff = add_staff(rapp, "nghiencuu5", Role.RESEARCHER, ("HL",))
    client = rapp.test_client()
    sign_in(client, rapp, staff)
    names = {}
    for file_format in ("csv", "dta"):
        download = client.post("/manage/research/microdata",
                               data={**FORM, "unit_id": unit_id("HL", rapp), "file_format": file_format})
        assert download.status_code == 200, download.get_data(as_text=True)[-800:]
        names[file_format] = download.headers["Content-Disposition"]
    assert 'filename="hailong_HL_2026-10-01_2026-10-31_sipas-counter-2025.1.csv.zip"' in names["csv"]
    assert 'filename="hailong_HL_2026-10-01_2026-10-31_sipas-counter-2025.1.dta.zip"' in names["dta"]


def test_researcher_sent_to_sign_in_by_the_dashboard_url_lands_on_the_research_page(rapp: Flask) -> None:
    staff = add_staff(rapp, "nghiencuu4", Role.RESEARCHER, ("HL",))
    client = rapp.test_client()
    to_login = client.get("/manage/")
    assert to_login.status_code == 302 and "/auth/login" in to_login.headers["Location"]
    signed = client.post(to_login.headers["Location"],
                         data={"username": staff.username, "password": PASSWORD})
    assert signed.status_code == 302 and signed.headers["Location"].endswith("/manage/research/")
    assert client.get(signed.headers["Location"]).status_code == 200


def test_out_of_scope_unit_is_refused_and_audited(rapp: Flask) -> None:
    staff = add_staff(rapp, "nghiencuu2", Role.RESEARCHER, ("HL-AB",))
    client = rapp.test_client()
    sign_in(client, rapp, staff)
    refused = client.post("/manage/research/microdata", data={**FORM, "unit_id": unit_id("HL-HL-1", rapp)})
    assert refused.status_code == 404
    assert audit_events("access.denied", rapp)
    page = client.get("/manage/research/").get_data(as_text=True)
    assert "HL-AB" in page and "HL-HL-1" not in page


def test_unsafe_request_is_answered_with_what_to_coarsen(rapp: Flask) -> None:
    staff = add_staff(rapp, "nghiencuu3", Role.RESEARCHER, ("HL",))
    client = rapp.test_client()
    sign_in(client, rapp, staff)
    response = client.post("/manage/research/microdata?lang=en",
                           data={**FORM, "unit_id": unit_id("HL", rapp), "period": "day"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "cannot be released safely" in html and "longer period" in html
    assert not audit_events("microdata.download", rapp)


def test_what_a_refusal_asks_to_leave_out_the_form_offers(migrated_db: Path, tmp_path: Path) -> None:
    """Forty responses in which every citizen answered "no" to both integrity questions: a release would
    tell a reader those answers for each group, so disclosure control would blank all 80 of their cells,
    20 % of the 400 (40 rows × 8 quasi-identifier and 2 sensitive columns), over the 10 % budget. The
    refusal asks for the two questions to be left out, by their wording; the form must offer exactly
    that, and leaving them out must be enough."""
    app = staff_app(migrated_db, tmp_path)
    no = [1] * len(AB_CODES)
    add_responses(app, "HL-AB-1", AB_CODES, harassment=False, extra={"harassment": no, "extra_payment": no})
    staff = add_staff(app, "nghiencuu6", Role.RESEARCHER, ("HL",))
    client = app.test_client()
    sign_in(client, app, staff)
    page = client.get("/manage/research/?lang=en").get_data(as_text=True)
    offered = set(re.findall(r'name="omit"[^>]*value="([^"]+)"', page))
    assert {"age_band", "sex", "procedure_field", "harassment", "extra_payment", "channel"} <= offered
    request = {**FORM, "unit_id": unit_id("HL", app)}
    refused = client.post("/manage/research/microdata?lang=en", data=request)
    assert refused.status_code == 422
    advice = html.unescape(refused.get_data(as_text=True)).split('role="alert">')[1].split("</p>")[0]
    assert "Did you have to pay any money beyond the prescribed fees and charges?" in advice
    assert "extra_payment" not in advice and "harassment" not in advice  # words, not column names
    released = client.post("/manage/research/microdata?lang=en",
                           data={**request, "omit": ["harassment", "extra_payment"]})
    assert released.status_code == 200, released.get_data(as_text=True)[-800:]
