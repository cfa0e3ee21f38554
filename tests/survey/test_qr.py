"""Counter QR tokens (service level), key rotation and revocation, and the `flask qr` commands."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_wtf.csrf import generate_csrf
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from survey.errors import SurveyError
from survey.extensions import db
from survey.models import Counter, Unit
from survey.services.qr import qr_tokens
from survey.services.qr.counters import live_counters_under, revoke, rotate_key
from survey.services.qr.qr_images import qr_matrix, qr_png, qr_svg, survey_url
from survey.services.qr.qr_tokens import SALT, decode_token, issue_token, resolve_token, token_secret
from tests.survey.conftest import TEST_SECRET

NOW = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
BASE = "https://hailong.example.gov.vn"


def _counter(demo: dict[str, int], key: str = "HL-AB-1/Q1") -> Counter:
    return db.session.get_one(Counter, demo[key])


def _code_of(token: str) -> tuple[int, str]:
    with pytest.raises(SurveyError) as caught:
        resolve_token(db.session, token, TEST_SECRET)
    return caught.value.status, caught.value.code


def _sha256_serializer(salt: str, secret: str = TEST_SECRET) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})


def decode_png(path: Path) -> str:
    """The text of the one QR code in a PNG, read by zbarimg (Debian zbar-tools, system-deps.sh)."""
    result = subprocess.run(["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


# --- tokens -------------------------------------------------------------------------------------------

def test_token_round_trip(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        token = issue_token(counter, token_secret(app.config))
        assert resolve_token(db.session, token, TEST_SECRET) is counter
        assert decode_token(token, TEST_SECRET) == qr_tokens.CounterToken(counter.unit_id, counter.id, 1)


def test_forged_payload_keeps_no_signature(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        mine, other = _counter(demo), _counter(demo, "HL-AB-1/KIOSK")
        signature = issue_token(mine, TEST_SECRET).rsplit(".", 1)[1]
        forged_payload = issue_token(other, TEST_SECRET).rsplit(".", 1)[0]
        assert _code_of(f"{forged_payload}.{signature}") == (404, "E-QR-INVALID")


def test_forged_signature(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        token = issue_token(_counter(demo), TEST_SECRET)
        last = token[-1]
        assert _code_of(token[:-1] + ("A" if last != "A" else "B")) == (404, "E-QR-INVALID")


@pytest.mark.parametrize("mangle", [
    pytest.param(lambda t: t[:-5], id="truncated"),
    pytest.param(lambda t: t.split(".")[0], id="payload-only"),
    pytest.param(lambda t: "", id="empty"),
    pytest.param(lambda t: "%%%not-base64%%%", id="not-base64"),
    pytest.param(lambda t: "!!!.???", id="not-base64-with-dot"),
    pytest.param(lambda t: t + "\x00", id="nul"),
    pytest.param(lambda t: t.replace(".", ".."), id="double-dot"),
])
def test_malformed_tokens_are_invalid(app: Flask, demo: dict[str, int], mangle: Any) -> None:
    with app.app_context():
        token = issue_token(_counter(demo), TEST_SECRET)
        assert _code_of(mangle(token)) == (404, "E-QR-INVALID")


def test_token_of_another_purpose_is_invalid(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        payload = [counter.unit_id, counter.id, counter.key_version]
        other_salt = _sha256_serializer("hai-long.form-nonce.v1").dumps(payload)
        other_secret = _sha256_serializer(SALT, secret="another-deployment").dumps(payload)
        sha1_default = URLSafeSerializer(TEST_SECRET, salt=SALT).dumps(payload)
        for token in (other_salt, other_secret, sha1_default):
            assert _code_of(token) == (404, "E-QR-INVALID")


def test_session_cookie_and_csrf_token_are_invalid(app: Flask, client: Any, demo: dict[str, int]) -> None:
    client.get("/?lang=en")  # the language switch stores the choice in Flask's signed session cookie
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value
    with app.test_request_context("/"):
        csrf = generate_csrf()
        assert _code_of(cookie.value) == (404, "E-QR-INVALID")
        assert _code_of(csrf) == (404, "E-QR-INVALID")


@pytest.mark.parametrize("payload", [
    [1, 2], [1, 2, 3, 4], {"u": 1}, ["1", 2, 1], [True, 1, 1], [0, 1, 1], [-1, 1, 1], [1.0, 1, 1], None,
])
def test_well_signed_but_wrong_shape_is_invalid(payload: Any) -> None:
    token = _sha256_serializer(SALT).dumps(payload)
    with pytest.raises(SurveyError) as caught:
        decode_token(token, TEST_SECRET)
    assert caught.value.code == "E-QR-INVALID"


def test_unknown_counter_or_unit_mismatch_is_invalid(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        for payload in ([counter.unit_id, 9999, 1], [counter.unit_id + 1, counter.id, 1]):
            assert _code_of(_sha256_serializer(SALT).dumps(payload)) == (404, "E-QR-INVALID")


def test_revoked_and_inactive_counters_are_expired(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        revoked, inactive = _counter(demo), _counter(demo, "HL-AB-1/KIOSK")
        tokens = [issue_token(c, TEST_SECRET) for c in (revoked, inactive)]
        revoke(revoked, NOW)
        inactive.active = False
        db.session.commit()
        for token in tokens:
            assert _code_of(token) == (410, "E-QR-EXPIRED")


def test_rotation_retires_the_old_key_version(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        old = issue_token(counter, TEST_SECRET)
        change = rotate_key(counter, NOW)
        db.session.commit()
        assert (change.old_key_version, change.key_version, counter.key_version) == (1, 2, 2)
        assert _code_of(old) == (410, "E-QR-EXPIRED")
        assert resolve_token(db.session, issue_token(counter, TEST_SECRET), TEST_SECRET) is counter


def test_long_token_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(secret: str) -> None:
        raise AssertionError("a token over the limit reached the decoder")

    monkeypatch.setattr(qr_tokens, "_serializer", must_not_decode)
    with pytest.raises(SurveyError) as caught:
        decode_token("A" * (qr_tokens.MAX_TOKEN_LENGTH + 1), TEST_SECRET)
    assert (caught.value.status, caught.value.code) == (414, "E-TOO-LONG-URL")


def test_token_at_the_length_limit_is_decoded() -> None:
    with pytest.raises(SurveyError) as caught:
        decode_token("A" * qr_tokens.MAX_TOKEN_LENGTH, TEST_SECRET)
    assert caught.value.code == "E-QR-INVALID"


@given(st.text(max_size=600))
def test_any_text_is_refused_with_a_stable_code(text: str) -> None:
    with pytest.raises(SurveyError) as caught:
        decode_token(text, TEST_SECRET)
    assert caught.value.code in {"E-QR-INVALID", "E-TOO-LONG-URL"}


# --- service: rotation, revocation, the subtree ---------------------------------------------------------

def test_rotate_and_revoke_flush_but_do_not_commit(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        rotate_key(counter, NOW)
        revoke(counter, NOW)
        db.session.rollback()
        db.session.expire_all()
        assert (counter.key_version, counter.revoked_at) == (1, None)


def test_revoking_twice_keeps_the_first_time_and_rotating_a_revoked_counter_fails(
        app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        counter = _counter(demo)
        revoke(counter, NOW)
        again = revoke(counter, datetime(2027, 1, 1, tzinfo=UTC))
        assert again.revoked_at == NOW
        with pytest.raises(SurveyError) as caught:
            rotate_key(counter, NOW)
        assert (caught.value.status, caught.value.code) == (409, "E-COUNTER-REVOKED")


def test_live_counters_under_walks_the_whole_subtree(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        def codes(unit_code: str) -> list[str]:
            unit = db.session.scalars(sa.select(Unit).where(Unit.code == unit_code)).one()
            return [f"{c.unit.code}/{c.code}" for c in live_counters_under(db.session, unit)]

        assert codes("HL") == sorted(demo)  # province → agency/commune → service point: three levels
        assert codes("HL-AB") == ["HL-AB-1/KIOSK", "HL-AB-1/Q1"]
        assert codes("HL-HL-1") == ["HL-HL-1/Q1"]
        revoke(_counter(demo), NOW)
        assert codes("HL-AB") == ["HL-AB-1/KIOSK"]


# --- images ---------------------------------------------------------------------------------------------

def test_png_decodes_to_the_url(tmp_path: Path) -> None:
    url = survey_url(BASE, "WzUsMywxXQ.KuL-Z_ZrkauiuOI6S4EoE5sZe2x6BG-CFN0AwiFOlqc")
    path = tmp_path / "code.png"
    path.write_bytes(qr_png(url))
    assert decode_png(path) == url


def test_svg_path_draws_exactly_the_dark_modules() -> None:
    url = survey_url(BASE, "WzUsMywxXQ.KuL-Z_ZrkauiuOI6S4EoE5sZe2x6BG-CFN0AwiFOlqc")
    svg = str(qr_svg(url))
    matrix = qr_matrix(url)
    side = len(matrix)
    assert f'viewBox="0 0 {side} {side}"' in svg and svg.count("<path") == 1 and 'id="' not in svg
    drawn = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", svg)}
    dark = {(x, y) for y, row in enumerate(matrix) for x, on in enumerate(row) if on}
    assert drawn == dark
    # Quiet zone: four light modules on every side.
    assert all(not any(row) for row in matrix[:4] + matrix[-4:])
    assert all(not any(row[:4] + row[-4:]) for row in matrix)


# --- CLI ------------------------------------------------------------------------------------------------

def test_export_writes_every_file_of_the_subtree(runner: FlaskCliRunner, demo: dict[str, int],
                                                 tmp_path: Path) -> None:
    out = tmp_path / "print"
    result = runner.invoke(args=["qr", "export", "--unit", "HL-AB", "--out", str(out), "--base-url", BASE])
    assert result.exit_code == 0, result.output
    stems = ["HL-AB-1_KIOSK", "HL-AB-1_Q1"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}.{e}" for s in stems
                                                           for e in ("html", "png", "svg"))
    url = decode_png(out / "HL-AB-1_Q1.png")
    assert url.startswith(BASE + "/s/") and url in result.output
    html = (out / "HL-AB-1_Q1.html").read_text(encoding="utf-8")
    assert "<style>" in html and "<svg" in html and url in html
    assert "<link" not in html and "/static/" not in html  # self-contained: opens from a USB stick
    assert "Quét mã để góp ý về sự phục vụ" in html and "Máy tính bảng" not in html  # KIOSK's name
    assert "Trung tâm Phục vụ hành chính công phường An Bình" in html
    assert (out / "HL-AB-1_Q1.svg").read_text(encoding="utf-8").startswith("<svg")


@pytest.mark.slow
def test_export_pdf_shows_vietnamese_text_and_a_readable_code(runner: FlaskCliRunner, demo: dict[str, int],
                                                             tmp_path: Path) -> None:
    result = runner.invoke(args=["qr", "export", "--unit", "HL-HL-1", "--out", str(tmp_path), "--base-url",
                                 BASE, "--size", "a4", "--pdf"])
    assert result.exit_code == 0, result.output
    pdf = tmp_path / "HL-HL-1_Q1.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+1\n", info) and "595.276 x 841.89" in info  # one A4 page, in points
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Quầy Một cửa" in text and "Quét mã để góp ý" in text and "ẩn danh" in text
    subprocess.run(["pdftoppm", "-png", "-r", "150", "-singlefile", str(pdf), str(tmp_path / "page")],
                   check=True)
    assert decode_png(tmp_path / "page.png") == decode_png(tmp_path / "HL-HL-1_Q1.png")


@pytest.mark.parametrize("args", [
    ["qr", "export", "--unit", "NO-SUCH-UNIT", "--out", "x", "--base-url", BASE],
    ["qr", "export", "--unit", "HL", "--out", "x"],  # no PUBLIC_BASE_URL and no --base-url
    ["qr", "export", "--unit", "HL", "--out", "x", "--base-url", "javascript:alert(1)"],
    ["qr", "rotate", "9999"],
    ["qr", "revoke", "9999"],
])
def test_usage_errors_exit_2(runner: FlaskCliRunner, demo: dict[str, int], tmp_path: Path,
                             args: list[str]) -> None:
    args = [str(tmp_path / a) if a == "x" else a for a in args]
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output
    assert not (tmp_path / "x").exists()


def test_rotate_command_commits_and_prints_the_new_url(app: Flask, runner: FlaskCliRunner,
                                                       demo: dict[str, int]) -> None:
    with app.app_context():
        old = issue_token(_counter(demo), TEST_SECRET)
    result = runner.invoke(args=["qr", "rotate", str(demo["HL-AB-1/Q1"]), "--base-url", BASE])
    assert result.exit_code == 0, result.output
    with app.app_context():
        counter = _counter(demo)
        assert counter.key_version == 2
        new_url = survey_url(BASE, issue_token(counter, TEST_SECRET))
        assert f"New survey URL: {new_url}" in result.output
        assert _code_of(old) == (410, "E-QR-EXPIRED")
    assert f"flask qr export --unit HL-AB-1 --out DIR --base-url {BASE}\n" in result.output


def test_rotate_without_a_public_address_says_the_export_needs_one(app: Flask, runner: FlaskCliRunner,
                                                                   demo: dict[str, int]) -> None:
    result = runner.invoke(args=["qr", "rotate", str(demo["HL-AB-1/Q1"])])
    assert result.exit_code == 0, result.output
    assert "New survey URL: /s/" in result.output
    assert "give --base-url or set PUBLIC_BASE_URL" in result.output
    hint = "flask qr export --unit HL-AB-1 --out DIR --base-url https://YOUR-PUBLIC-ADDRESS"
    assert hint in result.output
    exported = runner.invoke(args=["qr", "export", "--unit", "HL-AB-1", "--out", "unused"])
    assert exported.exit_code != 0  # what the hint's --base-url is for


def test_revoke_command_commits_and_rotate_then_refuses(app: Flask, runner: FlaskCliRunner,
                                                        demo: dict[str, int]) -> None:
    with app.app_context():
        old = issue_token(_counter(demo), TEST_SECRET)
    result = runner.invoke(args=["qr", "revoke", str(demo["HL-AB-1/Q1"])])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _counter(demo).revoked_at is not None
        assert _code_of(old) == (410, "E-QR-EXPIRED")
    refused = runner.invoke(args=["qr", "rotate", str(demo["HL-AB-1/Q1"])])
    assert refused.exit_code == 2 and "revoked" in refused.output
