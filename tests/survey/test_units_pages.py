"""The unit pages through the real sign-in: scoped tree, create/edit, counters, key rotation, import."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from survey.extensions import db
from survey.models import Counter, Role
from tests.survey.conftest import audit_events, counter_id, unit_id
from tests.survey.staff_helpers import running, signed_in, staff_app


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(staff_app(migrated_db, tmp_path))



def test_a_commune_manager_sees_and_edits_only_their_subtree(sapp: Flask) -> None:
    client = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    tree = client.get("/manage/units/").get_data(as_text=True)
    assert "HL-AB-1" in tree and "HL-HL" not in tree and "HL-TTHCC" not in tree

    response = client.post("/manage/units/new", data={
        "kind": "service_point", "code": "HL-AB-2", "name_vi": "Điểm tiếp nhận số 2", "name_en": "",
        "parent_id": unit_id("HL-AB", sapp), "successor_id": 0, "valid_from": "2026-01-01", "valid_to": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    new_id = unit_id("HL-AB-2", sapp)
    page = client.get(f"/manage/units/{new_id}/edit").get_data(as_text=True)
    assert "Điểm tiếp nhận số 2" in page and "sipas-counter@2025.1" in page  # inherited questionnaire

    refused = client.post("/manage/units/new", data={
        "kind": "service_point", "code": "HL-HL-2", "name_vi": "X", "parent_id": unit_id("HL-HL", sapp),
        "successor_id": 0})
    assert refused.status_code == 404
    assert client.get(f"/manage/units/{unit_id('HL-HL-1', sapp)}/edit").status_code == 404
    foreign = counter_id("HL-HL-1/Q1", sapp)
    assert client.post(f"/manage/counters/{foreign}", data={"code": "Q1", "name_vi": "x"}).status_code == 404
    assert [e.object_type for e in audit_events("access.denied", sapp)] == ["unit", "unit", "counter"]


def test_counter_create_edit_and_rotate_with_confirmation(sapp: Flask) -> None:
    client = signed_in(sapp, "mai", Role.MANAGER, ("HL-AB",))
    point = unit_id("HL-AB-1", sapp)
    response = client.post(f"/manage/units/{point}/counters/new", data={
        "code": "Q7", "name_vi": "Quầy 7", "name_en": "Counter 7", "procedure_field": "dat-dai",
        "active": "y"})
    assert response.status_code == 302
    counter = counter_id("HL-AB-1/Q7", sapp)
    duplicate = client.post(f"/manage/units/{point}/counters/new?lang=en",
                            data={"code": "Q7", "name_vi": "Again"})
    assert duplicate.status_code == 422 and "already has a counter" in duplicate.get_data(as_text=True)
    confirm = client.get(f"/manage/counters/{counter}/rotate?lang=en")
    assert confirm.status_code == 200 and "stops working" in confirm.get_data(as_text=True)
    with sapp.app_context():
        assert db.session.get(Counter, counter).key_version == 1  # type: ignore[union-attr]  # GET changes nothing
    assert client.post(f"/manage/counters/{counter}/rotate").status_code == 302
    page = client.get(f"/manage/counters/{counter}").get_data(as_text=True)
    assert f"/posters/counter/{counter}" in page
    with sapp.app_context():
        assert db.session.get(Counter, counter).key_version == 2  # type: ignore[union-attr]
    assert [e.action for e in audit_events(app=sapp) if e.action.startswith("counter.")] == [
        "counter.create", "counter.rotate"]


def test_targets_and_the_close_form(sapp: Flask) -> None:
    client = signed_in(sapp, "tinh", Role.MANAGER, ("HL",))  # the ward's target is set from above
    commune = unit_id("HL-AB", sapp)
    bad = client.post(f"/manage/units/{commune}/targets?lang=en", data={
        "instrument_id": "sipas-counter", "year": "2026", "target": "120%", "reason": "plan"})
    assert bad.status_code == 422 and "at most 100" in bad.get_data(as_text=True)
    saved = client.post(f"/manage/units/{commune}/targets", data={
        "instrument_id": "sipas-counter", "year": "2026", "target": "0.85", "reason": "plan"})
    assert saved.status_code == 302
    page = client.get(f"/manage/units/{unit_id('HL-AB-1', sapp)}/edit?lang=en").get_data(as_text=True)
    assert "85.0%" in page and "inherited from An Binh Ward" in page
    closed = client.post(f"/manage/units/{unit_id('HL-AB-1', sapp)}/close", data={
        "valid_to": "2026-06-30", "successor_id": 0})
    assert closed.status_code == 302
    assert [e.action for e in audit_events(app=sapp) if e.action.startswith(("target", "unit"))] == [
        "target.set", "unit.close"]


def test_import_page_lists_every_error_and_imports_a_good_file(sapp: Flask) -> None:
    client = signed_in(sapp, "tinh", Role.MANAGER, ("HL",))
    bad = ("code,kind,name_vi,parent_code\nHL-N1,commune,Xã Mới,NOPE\nHL-N2,village,Thôn,HL\n").encode()
    response = client.post("/manage/units/import?lang=en", data={"file": (io.BytesIO(bad), "units.csv")},
                           content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Line 2: parent unit code &#39;NOPE&#39; does not exist." in text and "Line 3: kind" in text
    good = "\ufeffcode,kind,name_vi,parent_code\nHL-N1,commune,Xã Mới,HL\n".encode()
    response = client.post("/manage/units/import", data={"file": (io.BytesIO(good), "units.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert unit_id("HL-N1", sapp)
