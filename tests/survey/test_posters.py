"""The poster pages and QR images served under /posters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import Counter, Role
from survey.services.qr.counters import revoke
from survey.services.qr.qr_images import survey_url
from survey.services.qr.qr_tokens import issue_token
from tests.survey.conftest import TEST_SECRET, make_app, unit_id
from tests.survey.staff_helpers import add_staff, sign_in
from tests.survey.test_qr import decode_png

INVITATION_VI = "Quét mã để góp ý về sự phục vụ — ẩn danh, dưới 1 phút"
INVITATION_EN = "Scan to tell us how you were served — anonymous, under a minute"


class _HostClient(FlaskClient):
    """A test client whose every request goes to `host` (setting HTTP_HOST in environ_base does not:
    Werkzeug's builder overrides it with its base URL)."""

    host = "localhost"

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


def _manager_client(app: Flask, host: str | None = None) -> FlaskClient:
    """Posters are for staff: a manager of the whole demo province prints them."""
    client = _HostClient(app, app.response_class, use_cookies=True)
    client.host = host or "localhost"  # the session cookie belongs to the host it was set on
    sign_in(client, app, add_staff(app, "printer", Role.MANAGER, ("HL",)))
    return client


# A host phones could reach: on localhost the pages warn instead of printing a code (tested below).
HOST = "hailong.test"


@pytest.fixture
def client(app: Flask, demo: dict[str, int]) -> FlaskClient:
    return _manager_client(app, host=HOST)


def test_posters_need_a_signed_in_manager(app: Flask, demo: dict[str, int]) -> None:
    anonymous = app.test_client().get(f"/posters/counter/{demo['HL-AB-1/Q1']}")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/auth/login")
    researcher = app.test_client()
    sign_in(researcher, app, add_staff(app, "reader", Role.RESEARCHER, ("HL",)))
    assert researcher.get(f"/posters/unit/{unit_id('HL', app)}").status_code == 403


def test_another_units_posters_are_404(app: Flask, demo: dict[str, int]) -> None:
    ward = app.test_client()
    sign_in(ward, app, add_staff(app, "ward", Role.MANAGER, ("HL-AB",)))
    assert ward.get(f"/posters/counter/{demo['HL-AB-1/Q1']}").status_code == 200
    assert ward.get(f"/posters/counter/{demo['HL-HL-1/Q1']}").status_code == 404
    assert ward.get(f"/posters/unit/{unit_id('HL-HL', app)}").status_code == 404


def _url(app: Flask, counter_id: int, base: str = f"http://{HOST}") -> str:
    with app.app_context():
        return survey_url(base, issue_token(db.session.get_one(Counter, counter_id), TEST_SECRET))



def test_poster_shows_names_invitation_url_and_code(app: Flask, client: Any, demo: dict[str, int]) -> None:
    counter_id = demo["HL-TTHCC-1/Q2"]
    response = client.get(f"/posters/counter/{counter_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("Bộ phận Một cửa Trung tâm tỉnh", "Provincial one-stop desk", "Quầy 2 – Đăng ký kinh doanh",
                 "Counter 2 – Business registration", INVITATION_VI, INVITATION_EN, _url(app, counter_id)):
        assert text in html
    assert html.count("<svg") == 1 and "sheet--a5" in html
    # The Content-Security-Policy forbids inline styles: the page must style itself from /static only.
    assert "<style" not in html and " style=" not in html
    assert re.search(r"/static/poster\.[0-9a-f]{12}\.css", html)  # content-hashed name (survey/assets.py)
    assert response.headers["Cache-Control"] == "no-store"


def test_poster_sizes(client: Any, demo: dict[str, int]) -> None:
    counter_id = demo["HL-HL-1/Q1"]
    assert "sheet--a4" in client.get(f"/posters/counter/{counter_id}?size=a4").get_data(as_text=True)
    refused = client.get(f"/posters/counter/{counter_id}?size=letter")
    assert refused.status_code == 400 and "E-BAD-REQUEST" in refused.get_data(as_text=True)


def test_poster_stylesheet_declares_the_paper(client: Any) -> None:
    response = client.get("/static/poster.css")
    css = response.get_data(as_text=True)
    response.close()  # a static file is streamed from an open file
    assert "@page a5 { size: A5" in css and "@page a4 { size: A4" in css and "size: A4 landscape" in css


def test_url_ignores_forwarded_headers(app: Flask, client: Any, demo: dict[str, int]) -> None:
    counter_id = demo["HL-HL-1/Q1"]
    spoofed = client.get(f"/posters/counter/{counter_id}",
                         headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"})
    html = spoofed.get_data(as_text=True)
    assert _url(app, counter_id) in html and "evil.example" not in html


def test_public_base_url_is_what_gets_printed(migrated_db: Path, tmp_path: Path) -> None:
    from survey.demo.tree import seed_demo

    (tmp_path / "configured").mkdir()
    app = make_app(migrated_db, tmp_path / "configured", PUBLIC_BASE_URL="https://hailong.example.gov.vn/")
    with app.app_context():
        counter_id = seed_demo(db.session)[0].id
        db.session.commit()
    page = _manager_client(app, host="10.0.0.7:5000").get(f"/posters/counter/{counter_id}")
    html = page.get_data(as_text=True)
    assert _url(app, counter_id, "https://hailong.example.gov.vn") in html and "10.0.0.7" not in html
    with app.app_context():
        db.engine.dispose()


def test_svg_image(client: Any, demo: dict[str, int]) -> None:
    response = client.get(f"/posters/counter/{demo['HL-AB-1/Q1']}.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert response.headers["Content-Disposition"] == "inline; filename=HL-AB-1_Q1.svg"
    assert response.get_data(as_text=True).startswith('<svg width="')
    download = client.get(f"/posters/counter/{demo['HL-AB-1/Q1']}.svg?download=1")
    assert download.headers["Content-Disposition"] == "attachment; filename=HL-AB-1_Q1.svg"


def test_png_image_decodes_to_the_survey_url(app: Flask, client: Any, demo: dict[str, int],
                                             tmp_path: Path) -> None:
    counter_id = demo["HL-AB-1/KIOSK"]
    response = client.get(f"/posters/counter/{counter_id}.png?download=1")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.headers["Content-Disposition"] == "attachment; filename=HL-AB-1_KIOSK.png"
    path = tmp_path / "code.png"
    path.write_bytes(response.get_data())
    assert decode_png(path) == _url(app, counter_id)


@pytest.mark.parametrize("suffix", ["", ".svg", ".png"])
def test_unknown_counter_is_404(client: Any, demo: dict[str, int], suffix: str) -> None:
    response = client.get(f"/posters/counter/9999{suffix}")
    assert response.status_code == 404 and "E-NOT-FOUND" in response.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", ".svg", ".png"])
@pytest.mark.parametrize("how", ["revoked", "inactive"])
def test_retired_counter_has_no_poster(app: Flask, client: Any, demo: dict[str, int], suffix: str,
                                       how: str) -> None:
    counter_id = demo["HL-AB-1/Q1"]
    with app.app_context():
        counter = db.session.get_one(Counter, counter_id)
        if how == "revoked":
            revoke(counter, datetime(2026, 1, 5, tzinfo=UTC))
        else:
            counter.active = False
        db.session.commit()
    response = client.get(f"/posters/counter/{counter_id}{suffix}")
    assert response.status_code == 410
    body = response.get_data(as_text=True)
    assert "E-QR-EXPIRED" in body and "Quầy này không còn tham gia khảo sát" in body


def test_unit_sheet_lists_the_subtree_only(app: Flask, client: Any, demo: dict[str, int]) -> None:
    def counters_on(code: str, per_page: str = "2") -> list[str]:
        response = client.get(f"/posters/unit/{unit_id(code, app)}?per_page={per_page}")
        assert response.status_code == 200
        return re.findall(r'<p class="poster__ref">([^<]+)</p>', response.get_data(as_text=True))

    everything = [key.replace("/", " · ") for key in sorted(demo)]
    assert counters_on("HL") == everything
    assert counters_on("HL-AB") == ["HL-AB-1 · KIOSK", "HL-AB-1 · Q1"]  # commune → its service point
    assert counters_on("HL-TTHCC-1", "4") == ["HL-TTHCC-1 · Q1", "HL-TTHCC-1 · Q2"]


def test_unit_sheet_pages_and_codes(app: Flask, client: Any, demo: dict[str, int]) -> None:
    province = unit_id("HL", app)
    two = client.get(f"/posters/unit/{province}").get_data(as_text=True)
    four = client.get(f"/posters/unit/{province}?per_page=4").get_data(as_text=True)
    assert two.count('class="sheet sheet--a4-landscape"') == 3 and two.count("poster--a5") == 5  # 2+2+1
    assert four.count('class="sheet sheet--a4"') == 2 and four.count("poster--a6") == 5  # 4+1
    assert two.count("<svg") == 5
    for key in demo:
        assert _url(app, demo[key]) in two


def test_unit_sheet_skips_retired_counters_and_says_when_none_is_left(
        app: Flask, client: Any, demo: dict[str, int]) -> None:
    with app.app_context():
        revoke(db.session.get_one(Counter, demo["HL-HL-1/Q1"]), datetime(2026, 1, 5, tzinfo=UTC))
        db.session.commit()
    html = client.get(f"/posters/unit/{unit_id('HL-HL', app)}").get_data(as_text=True)
    assert "<svg" not in html and "Đơn vị này không có quầy nào đang hoạt động." in html


def test_unit_sheet_errors(client: Any, demo: dict[str, int]) -> None:
    assert client.get("/posters/unit/9999").status_code == 404
    assert client.get("/posters/unit/1?per_page=3").status_code == 400


def test_poster_toolbar_follows_the_page_language(client: Any, demo: dict[str, int]) -> None:
    counter_id = demo["HL-HL-1/Q1"]
    vi = client.get(f"/posters/counter/{counter_id}").get_data(as_text=True)
    en = client.get(f"/posters/counter/{counter_id}?lang=en").get_data(as_text=True)
    assert "Tải về PNG" in vi and "Download PNG" in en
    # The poster itself stays bilingual whatever the interface language.
    assert INVITATION_VI in en and INVITATION_EN in vi


def test_printed_url_is_the_public_survey_route(app: Flask, demo: dict[str, int]) -> None:
    # Printed codes live for years: the URL they carry must be exactly the route citizens land on.
    with app.test_request_context():
        token = issue_token(db.session.get_one(Counter, demo["HL-AB-1/Q1"]), TEST_SECRET)
        assert survey_url("http://localhost", token) == url_for("public.start", token=token, _external=True)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", "[::1]:5000"])
def test_without_public_base_url_a_loopback_poster_warns_instead_of_printing(
        app: Flask, demo: dict[str, int], host: str) -> None:
    counter_id = demo["HL-AB-1/Q1"]
    client = _manager_client(app, host=host)
    html = client.get(f"/posters/counter/{counter_id}").get_data(as_text=True)
    assert "PUBLIC_BASE_URL" in html and "Đừng in" in html and "Do not print" in html
    assert "/s/" not in html and "<svg" not in html  # neither the loopback address nor its code
    sheet = client.get(f"/posters/unit/{unit_id('HL', app)}").get_data(as_text=True)
    assert "/s/" not in sheet and sheet.count("poster__warning") == 5
    refused = client.get(f"/posters/counter/{counter_id}.png")
    assert refused.status_code == 409 and "E-PUBLIC-URL" in refused.get_data(as_text=True)
