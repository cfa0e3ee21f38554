"""POST /api/v1/frames: bearer tokens, scope, schema, content type, encoding, and the CLI around it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from survey.extensions import db
from survey.models import ApiClient, AuditEvent, ServedCount
from survey.services.staff import api_clients
from tests.survey.manage_helpers import NOW, staff

BODY = {"period_start": "2026-03-01", "period_end": "2026-03-31",
        "counts": [{"unit_code": "HL-AB-1", "procedure_field": "tu-phap", "channel": "direct", "served": 70},
                   {"unit_code": "HL-AB-1", "procedure_field": None, "channel": None, "served": 120}]}


@pytest.fixture
def token(app: Flask) -> str:
    staff(app)
    with app.app_context():
        _client, token = api_clients.create_client(db.session, "Một cửa An Bình", "HL-AB", actor=None,
                                                   now=NOW)
        db.session.commit()
        return token


def post(client: FlaskClient, body: Any, token: str | None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if isinstance(body, bytes | str):
        response = client.post("/api/v1/frames", data=body, headers=headers,
                               content_type=kwargs.get("content_type", "application/json"))
    else:
        response = client.post("/api/v1/frames", json=body, headers=headers)
    return response.status_code, response.get_json()


def stored(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context():
        counts = db.session.scalars(sa.select(ServedCount))
        return sorted((c.procedure_field, c.channel, c.served) for c in counts)


def test_a_client_replaces_its_period(app: Flask, client: FlaskClient, token: str) -> None:
    status, body = post(client, BODY, token)
    warnings = body.pop("warnings")
    assert status == 201 and body == {"upload_id": 1, "rows": 2, "units": 1, "replaced": 0}
    # the field row covers 70 of the 120: a partial breakdown, said in the answer (frame_warnings)
    assert [(w["unit_code"], w["period_start"], w["code"]) for w in warnings] == [
        ("HL-AB-1", "2026-03-01", "partial_breakdown")]
    assert stored(app) == [("", "", 120), ("tu-phap", "direct", 70)]
    again = {"period": "2026-03", "counts": [{"unit_code": "HL-AB-1", "served": 130}]}
    status, body = post(client, again, token)
    assert status == 201 and body["replaced"] == 2
    assert stored(app) == [("", "", 130)]
    with app.app_context():
        api = db.session.scalars(sa.select(ApiClient)).one()
        assert api.last_used_at is not None
        events = [e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]
        assert events[-2:] == ["frames.import", "frames.import"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "hl_xyz"])
def test_missing_or_bad_token_is_401(client: FlaskClient, token: str, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.post("/api/v1/frames", json=BODY, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "E-AUTH"


def test_a_revoked_token_is_401(app: Flask, client: FlaskClient, token: str) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["frames", "client-revoke", "1"])
    assert result.exit_code == 0, result.output
    status, body = post(client, BODY, token)
    assert (status, body["error"]["code"]) == (401, "E-AUTH")
    assert stored(app) == []


def test_a_unit_outside_the_clients_subtree_is_a_row_error(app: Flask, client: FlaskClient,
                                                             token: str) -> None:
    body = {**BODY, "counts": [*BODY["counts"], {"unit_code": "HL-HL-1", "served": 5},
                               {"unit_code": "HL-AB-1", "channel": "fax", "served": -1}]}
    status, answer = post(client, body, token)
    assert status == 422 and answer["error"]["code"] == "E-VALUE"
    assert [(e["row"], e["code"]) for e in answer["error"]["errors"]] == [
        (3, "unit_out_of_scope"), (4, "channel"), (4, "served")]
    assert stored(app) == []


@pytest.mark.parametrize("body", [
    [], "just text", {"counts": []}, {"period": "2026-03"},
    {"period": "2026-03", "counts": [1]},
    {"period": "2026-03", "counts": [{"unit_code": 7, "served": 1}]},
    {"period": "2026-03", "counts": [{"unit_code": "HL-AB-1", "served": 1, "admin": True}]},
    {"period": "March", "counts": [{"unit_code": "HL-AB-1", "served": 1}]},
    {"period": "2026-03", "period_start": "2026-03-01", "counts": [{"unit_code": "HL-AB-1", "served": 1}]},
    {"period_start": "2026-03-31", "period_end": "2026-03-01", "counts": [{"unit_code": "X", "served": 1}]},
    {"period_start": "20260301", "period_end": "2026-03-31", "counts": [{"unit_code": "X", "served": 1}]},
    {"counts": [{"unit_code": "HL-AB-1", "served": 1}]},
    {"period": "2026-03", "counts": [{"unit_code": "HL-AB-1", "served": 1}], "extra": 1},
])
def test_schema_errors_are_400(client: FlaskClient, token: str, body: Any) -> None:
    status, answer = post(client, json.dumps(body), token)
    assert (status, answer["error"]["code"]) == (400, "E-SCHEMA")


def test_content_type_and_encoding(client: FlaskClient, token: str) -> None:
    status, answer = post(client, json.dumps(BODY), token, content_type="text/plain")
    assert (status, answer["error"]["code"]) == (415, "E-CONTENT-TYPE")
    status, answer = post(client, "unit_code=HL-AB-1", token,
                          content_type="application/x-www-form-urlencoded")
    assert (status, answer["error"]["code"]) == (415, "E-CONTENT-TYPE")
    status, answer = post(client, b'{"period": "2026-03", "counts": [{"unit_code": "HL-\xff", "served": 1}]}',
                          token)
    assert (status, answer["error"]["code"]) == (400, "E-ENCODING")
    status, answer = post(client, '{"period": "2026-03", "counts": [{"unit_code": "\\ud800", "served": 1}]}',
                          token)
    assert (status, answer["error"]["code"]) == (400, "E-ENCODING")
    status, answer = post(client, '{"period": "2026-03", "counts": [', token)
    assert (status, answer["error"]["code"]) == (400, "E-SCHEMA")


def test_wrong_method_and_csrf_is_not_asked(app: Flask, token: str) -> None:
    assert app.test_client().get("/api/v1/frames").status_code == 405
    app.config["WTF_CSRF_ENABLED"] = True  # the API has no CSRF token, yet the bearer token suffices
    status, _ = post(app.test_client(), BODY, token)
    assert status == 201
    # ... while a staff form without a token is still refused.
    assert app.test_client().post("/auth/login", data={"username": "x", "password": "y"}).status_code == 400


def test_cli_creates_a_client_whose_token_works_once_shown(app: Flask, client: FlaskClient) -> None:
    staff(app)
    result = app.test_cli_runner().invoke(args=["frames", "client-create", "Cổng DVC", "--unit", "HL"])
    assert result.exit_code == 0, result.output
    token = next(line.split(": ", 1)[1] for line in result.output.splitlines()
                 if line.startswith("token: "))
    with app.app_context():
        stored_hash = db.session.scalars(sa.select(ApiClient.token_hash)).one()
    assert stored_hash == api_clients.hash_token(token) and token not in stored_hash
    status, _ = post(client, BODY, token)
    assert status == 201
    unknown = app.test_cli_runner().invoke(args=["frames", "client-create", "X", "--unit", "NOPE"])
    assert unknown.exit_code == 1


def test_cli_import_of_frames_and_units(app: Flask, tmp_path: Any) -> None:
    staff(app)
    good = tmp_path / "frames.csv"
    good.write_text("unit_code,period,served\nHL-HL-1,2026-Q1,300\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["frames", "import", str(good)])
    assert result.exit_code == 0 and "1 counts for 1 units" in result.output
    bad = tmp_path / "units.csv"
    bad.write_text("code,kind,name_vi,parent_code\nHL-Z,commune,Xã Z,NOPE\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["units", "import", str(bad)])
    assert result.exit_code == 1
    # the file, the row and the value on each line; Vietnamese by default, the summary too
    assert f"{bad}: Dòng 2: mã đơn vị cha 'NOPE' không tồn tại." in result.output
    assert f"{bad}: 1 lỗi; chưa nhập dòng nào." in result.output
    english = app.test_cli_runner().invoke(args=["units", "import", str(bad), "--lang", "en"])
    assert english.exit_code == 1
    assert f"{bad}: Line 2: parent unit code 'NOPE' does not exist." in english.output
    assert f"{bad}: 1 error(s); nothing was imported." in english.output
    frames_bad = tmp_path / "frames-bad.csv"
    frames_bad.write_text("unit_code,period,served\nHL-HL-1,2026-Q1,-5\n", encoding="utf-8")
    refused = app.test_cli_runner().invoke(args=["frames", "import", str(frames_bad), "--lang", "en"])
    assert refused.exit_code == 1 and f"{frames_bad}: Line 2" in refused.output and "-5" in refused.output


def test_body_limits(app: Flask, client: FlaskClient, token: str) -> None:
    counts = [{"unit_code": "HL-AB-1", "procedure_field": f"f{i}", "served": i} for i in range(2000)]
    body = json.dumps({"period": "2026-03", "counts": counts})
    assert len(body) > 64 * 1024  # above the app-wide form limit, below the API's
    status, answer = post(client, body, token)
    assert status == 201 and answer["rows"] == 2000
    one = '{"unit_code": "HL-AB-1", "served": 1}'
    huge = '{"period": "2026-03", "counts": [' + ",".join([one] * 120_000) + "]}"
    status, answer = post(client, huge, token)
    assert (status, answer["error"]["code"]) == (413, "E-TOO-LARGE")


def test_control_characters_in_a_unit_code_never_reach_the_database(client: FlaskClient, token: str) -> None:
    body = {"period": "2026-03", "counts": [{"unit_code": "HL-AB-1\u0000", "served": 1},
                                            {"unit_code": "x" * 500, "served": 1}]}
    status, answer = post(client, body, token)
    assert status == 422
    assert [(e["row"], e["code"]) for e in answer["error"]["errors"]] == [
        (1, "unit_unknown"), (2, "unit_unknown")]
    assert "HL-AB-1\\x00" in answer["error"]["errors"][0]["message"]
