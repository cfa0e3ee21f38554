"""Fixtures: a real SQLite file per test, migrated once with Alembic and copied."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from survey import create_app
from survey.extensions import db
from survey.models import AuditEvent, Counter, Unit

TEST_SECRET = "test-secret-not-for-production"
RELAXED_RULES = {"browser_limit": "10000 per hour", "kiosk_limit": "10000 per hour",
                 "cookieless_limit": "10000 per hour",
                 "address_limit": "10000 per hour", "counter_limit": "10000 per hour",
                 "browser_flag_from": 10000, "cookieless_flag_from": 10000, "address_flag_from": 10000,
                 "counter_flag_from": 10000, "burst_per_minute": 10000, "repeat_run": 10000}


def _config(db_path: Path, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}",
        "WTF_CSRF_ENABLED": False,
        "MIN_FILL_SECONDS": 0,
        "MIN_FILL_SECONDS_BY_INSTRUMENT": {},
        # Tests post many forms from one client: the limits and flags have their own tests.
        "SUBMISSION_RULES": RELAXED_RULES,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database upgraded through every Alembic migration (the real schema, not create_all)."""
    from flask_migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    app = create_app(_config(path))
    with app.app_context():
        upgrade()
        db.engine.dispose()  # closes the last connection, which checkpoints the WAL into the file
    return path


def make_app(migrated_db: Path, tmp_path: Path, **overrides: Any) -> Flask:
    path = tmp_path / "test.db"
    shutil.copyfile(migrated_db, path)
    return create_app(_config(path, **overrides))


@pytest.fixture
def app(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(migrated_db, tmp_path)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def demo(app: Flask) -> dict[str, Any]:
    """Seed the demo province; return ids of its counters keyed `UNIT/COUNTER`."""
    from survey.demo.tree import seed_demo

    with app.app_context():
        counters = seed_demo(db.session)
        db.session.commit()
        return {f"{c.unit.code}/{c.code}": c.id for c in counters}


@pytest.fixture
def ids(app: Flask) -> dict[str, int]:
    """The demo province plus the scoped accounts of `manage_helpers.staff`: their ids by name."""
    from tests.survey.manage_helpers import staff  # it imports the helpers below

    return staff(app)


# Helpers shared by the test modules (import them from here; defined once).

def unit_id(code: str, app: Flask | None = None) -> int:
    """The id of the unit with this code: in the current app context, or in a new one of `app`."""
    if app is not None:
        with app.app_context():
            return unit_id(code)
    found = db.session.scalar(sa.select(Unit.id).where(Unit.code == code))
    assert found is not None, f"no unit {code}"
    return found


def counter_id(key: str, app: Flask | None = None) -> int:
    """The id of counter "UNIT/COUNTER": in the current app context, or in a new one of `app`."""
    if app is not None:
        with app.app_context():
            return counter_id(key)
    unit_code, code = key.split("/")
    found = db.session.scalar(sa.select(Counter.id).join(Unit)
                              .where(Unit.code == unit_code, Counter.code == code))
    assert found is not None, f"no counter {key}"
    return found


def audit_events(action_prefix: str = "", app: Flask | None = None) -> list[AuditEvent]:
    """Every audit event whose action starts with `action_prefix`, oldest first, read afresh from the
    database: in the current app context, or in a new one of `app` (then detached, so they stay
    readable after that context ends)."""
    if app is not None:
        with app.app_context():
            rows = audit_events(action_prefix)
            db.session.expunge_all()
            return rows
    db.session.expire_all()
    query = sa.select(AuditEvent).where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


def audit_actions(action_prefix: str = "") -> list[tuple[str, str | None, dict[str, Any]]]:
    """(action, object id, decoded detail) of `audit_events(action_prefix)` in the current app context."""
    return [(e.action, e.object_id, json.loads(e.detail) if e.detail else {})
            for e in audit_events(action_prefix)]
