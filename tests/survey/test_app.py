"""The app factory, configuration and the embedded database settings."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.json.tag import TaggedJSONSerializer
from itsdangerous import BadSignature, URLSafeTimedSerializer

from survey import create_app
from survey.extensions import db

# Written out, not imported: the test must notice if the shipped default changes without the guard.
SHIPPED_DEFAULT_SECRET = "dev-insecure-secret-change-me"


def test_refuses_default_secret_outside_debug_and_testing(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(RuntimeError, match="default SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": uri})
    with pytest.raises(RuntimeError, match="default SECRET_KEY"):  # named explicitly: still refused
        create_app({"SECRET_KEY": SHIPPED_DEFAULT_SECRET, "SQLALCHEMY_DATABASE_URI": uri})


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_default_secret_is_allowed_for_local_development(tmp_path: Path, mode: str) -> None:
    app = create_app({mode: True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["SECRET_KEY"] == SHIPPED_DEFAULT_SECRET


def test_accepts_a_real_secret_and_signs_with_it(migrated_db: Path, tmp_path: Path) -> None:
    """Outside debug and testing a real secret starts the app, which then serves pages and signs the
    session cookie with that secret (not with the shipped default)."""
    db_file = tmp_path / "x.db"
    shutil.copyfile(migrated_db, db_file)
    app = create_app({"SECRET_KEY": "a-real-secret", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}"})
    assert not app.debug and not app.testing  # the refusal applied here and let it pass
    client = app.test_client()
    assert client.get("/?lang=en").status_code in (200, 302)
    cookie = client.get_cookie("session")
    assert cookie is not None, "the language choice is kept in the signed session cookie"

    def reader(secret: str) -> URLSafeTimedSerializer:
        # Flask's documented cookie signing: itsdangerous, salt "cookie-session", HMAC-SHA1 derivation.
        return URLSafeTimedSerializer(secret, salt="cookie-session", serializer=TaggedJSONSerializer(),
                                      signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1})

    assert reader("a-real-secret").loads(cookie.value)["lang"] == "en"
    with pytest.raises(BadSignature):
        reader(SHIPPED_DEFAULT_SECRET).loads(cookie.value)
    with app.app_context():
        db.engine.dispose()


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.db")


def test_sqlite_is_durable_and_enforces_foreign_keys(app: Flask) -> None:
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.text(
                "INSERT INTO counters (unit_id, code, name_vi, name_en, active, key_version, created_at) "
                "VALUES (999, 'Q', 'x', 'x', 1, 1, '2026-01-01')"))
            db.session.flush()


def test_security_headers_on_pages_and_errors(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_not_found_has_code_and_vietnamese_message(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/no-such-page")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "E-NOT-FOUND" in body and "Trang này không tồn tại." in body
    english = client.get("/no-such-page?lang=en").get_data(as_text=True)
    assert "This page does not exist." in english


def test_only_a_citizens_error_page_carries_the_anonymity_note(migrated_db: Path, tmp_path: Path) -> None:
    from survey.models import Role
    from tests.survey.staff_helpers import signed_in, staff_app

    app = staff_app(migrated_db, tmp_path)
    note = "Anonymous: we do not ask for your name, phone number or ID."
    citizen = app.test_client().get("/s/not-a-real-code?lang=en")
    assert citizen.status_code == 404 and note in citizen.get_data(as_text=True)
    manager = signed_in(app, "quanly.loi", Role.MANAGER, ("HL",))
    staff = manager.get("/manage/units/999999/edit?lang=en")  # a manager's bad link
    assert staff.status_code == 404 and "E-NOT-FOUND" in staff.get_data(as_text=True)
    assert note not in staff.get_data(as_text=True)


def test_wrong_method_is_405(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/")
    assert response.status_code == 405
    assert "E-METHOD" in response.get_data(as_text=True)


@pytest.mark.parametrize(("setting", "huge_pages"), [(None, False), ("1", True), ("0", False)])
def test_numpy_asks_for_huge_pages_only_when_told_to(setting: str | None, huge_pages: bool) -> None:
    """The app turns NumPy's huge-page requests off unless NUMPY_MADVISE_HUGEPAGE says otherwise
    (survey/__init__.py; docs/bench.md, "Huge pages"), in a new process as gunicorn's workers and the
    flask commands start."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if setting is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = setting
    code = "import survey, numpy; print(numpy._core.multiarray._get_madvise_hugepage())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == str(huge_pages)
