"""The app factory, configuration and the embedded database settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from survey import create_app
from survey.extensions import db


def test_refuses_default_secret_outside_debug_and_testing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="default SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})


def test_accepts_a_real_secret(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    app = create_app({"SECRET_KEY": "a-real-secret", "SQLALCHEMY_DATABASE_URI": uri})
    assert not app.testing


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


def test_wrong_method_is_405(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/")
    assert response.status_code == 405
    assert "E-METHOD" in response.get_data(as_text=True)
