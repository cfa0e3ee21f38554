"""The frames upload page: line-numbered errors, scope, replacement, and a large file with CSRF on."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Role, ServedCount
from tests.survey.staff_helpers import PASSWORD, add_staff, running, signed_in, staff_app

HEADER = "unit_code,period_start,period_end,procedure_field,channel,served\n"


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))


def upload(client: object, data: bytes, token: str | None = None) -> object:
    form: dict[str, object] = {"file": (io.BytesIO(data), "frames.csv")}
    if token:
        form["csrf_token"] = token
    return client.post("/manage/frames/?lang=en", data=form,  # type: ignore[attr-defined]
                       content_type="multipart/form-data")


def test_errors_are_listed_with_lines_and_nothing_is_stored(sapp: Flask) -> None:
    client = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    data = (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,10\n"
                     "HL-HL-1,2026-03-01,2026-03-31,,,10\n"
                     "HL-AB-1,2026-04-01,2026-04-30,,,-1\n").encode()
    response = upload(client, data)
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "2 problems" in text and "Line 3: unit &#39;HL-HL-1&#39; is outside" in text
    assert "Line 4: served &#39;-1&#39; is negative." in text
    with sapp.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServedCount)) == 0


def test_a_good_upload_is_listed_on_file(sapp: Flask) -> None:
    client = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    response = upload(client, (HEADER + "HL-AB-1,2026-03-01,2026-03-31,,,1250\n").encode())
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get("/manage/frames/?lang=en").get_data(as_text=True)
    assert "Imported 1 counts for 1 units; 0 earlier counts replaced." in page
    assert "1,250" in page and "Mar 1, 2026 – Mar 31, 2026" in page  # CLDR en, by hand


def test_a_province_sized_file_passes_with_csrf_on(migrated_db: Path, tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path, WTF_CSRF_ENABLED=True)
    manager = add_staff(app, "tinh", Role.MANAGER, ("HL",))
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/auth/login", data={"username": manager.username, "password": PASSWORD,
                                                "csrf_token": token.group(1)})
    assert response.status_code == 302
    rows = "".join(f"HL-AB-1,2026-{m:02d}-01,2026-{m:02d}-28,f{i},,{i}\n"
                   for m in range(1, 13) for i in range(300))
    data = (HEADER + rows).encode()
    assert len(data) > 64 * 1024  # over the app-wide form limit
    response = upload(client, data, token.group(1))
    assert response.status_code == 302, response.get_data(as_text=True)[:500]  # type: ignore[attr-defined]
    assert upload(client, data).status_code == 400  # type: ignore[attr-defined]  # no CSRF token: refused
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServedCount)) == 3600
        db.engine.dispose()
