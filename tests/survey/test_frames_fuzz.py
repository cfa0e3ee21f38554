"""Whatever arrives (CSV bytes, JSON bodies), the answer is a listed refusal, not a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.extensions import db
from survey.services.organisation import unit_import
from survey.services.staff import api_clients
from survey.services.weighting import frames
from tests.survey.manage_helpers import NOW, in_request, staff

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CELL = st.sampled_from(["HL-AB-1", "NOPE", "", "2026-03", "2026-Q1", "2026-03-01", "2026-02-30", "-1",
                        "3.0", "１２", "tu-phap", "online", "fax", "\ufeff", '"', "a,b", "\x00", "\ud7ff",
                        "9" * 30])
ROW = st.lists(CELL, min_size=0, max_size=8).map(",".join)
CSV = st.one_of(
    st.binary(max_size=300),
    st.lists(ROW, max_size=6).map(
        lambda rows: ("unit_code,period,period_start,period_end,procedure_field,channel,served\n"
                      + "\n".join(rows)).encode("utf-8", "replace")),
)
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
JSON = st.recursive(SCALAR,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                               max_size=4), max_leaves=12)
BODY = st.one_of(JSON, st.fixed_dictionaries({"period": st.sampled_from(["2026-03", "2026-Q5", "x"]),
                                              "counts": st.lists(st.dictionaries(
                                                  st.sampled_from(["unit_code", "served", "channel",
                                                                   "procedure_field", "other"]),
                                                  JSON | CELL, max_size=5), max_size=4)}))


@pytest.fixture
def admin(app: Flask) -> int:
    return staff(app)["admin"]


@FUZZ
@given(data=CSV)
def test_any_frames_file_is_imported_or_refused_with_lines(app: Flask, admin: int, data: bytes) -> None:
    from survey.models import User

    with app.app_context(), in_request(app):
        actor = db.session.get(User, admin)
        try:
            frames.import_csv(db.session, data, actor=actor, now=NOW)
        except frames.FramesRefused as refused:
            assert refused.errors and all(e.line >= 0 and e.describe() for e in refused.errors)
        db.session.rollback()


@FUZZ
@given(data=CSV)
def test_any_unit_file_is_imported_or_refused_with_lines(app: Flask, admin: int, data: bytes) -> None:
    from survey.models import User

    data = data.replace(b"unit_code,period,period_start,period_end", b"code,kind,name_vi,parent_code")
    with app.app_context(), in_request(app):
        actor = db.session.get(User, admin)
        try:
            unit_import.import_units_csv(db.session, data, actor=actor, now=NOW)
        except unit_import.UnitImportRefused as refused:
            assert refused.errors and all(e.describe() for e in refused.errors)
        db.session.rollback()


@FUZZ
@given(body=BODY)
def test_any_json_body_gets_a_catalogued_answer(app: Flask, admin: int, body: Any) -> None:
    with app.app_context():
        _client, token = api_clients.create_client(db.session, "fuzz", "HL", actor=None, now=NOW)
        db.session.commit()
    response = app.test_client().post("/api/v1/frames", data=json.dumps(body),
                                      content_type="application/json",
                                      headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (201, 400, 422), response.get_data(as_text=True)
    if response.status_code != 201:
        assert response.get_json()["error"]["code"] in ("E-SCHEMA", "E-VALUE", "E-ENCODING")
