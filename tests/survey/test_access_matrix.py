"""The access matrix: every `manage.*`, `posters.*` and `auth.*` route × role × unit, read from `app.url_map`.

Routes added later are covered automatically. A route this test cannot exercise fails loudly:
a `manage.*` view must declare its roles with `@survey.auth.staff_required(...)`, and every URL
argument must have a substitution in ARGUMENTS below (scoped ones get an in-scope and an
out-of-scope value). Expectations (reliability.md, "Access control" and row 24):

- anonymous → redirect to the sign-in page (the sign-in pages themselves answer);
- a role the view does not allow → 403 E-FORBIDDEN and a `role.denied` audit event;
- a unit (or counter) outside the account's scopes → 404 and an `access.denied` audit event;
- otherwise (admins everywhere) → 2xx/3xx for GET; for POST with an empty form, anything but an
  access refusal or a server error.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.routing import AnyConverter

from survey import create_app
from survey.extensions import db
from survey.models import Alert, AlertKind, AuditEvent, Counter, Role, TargetProposal, Unit
from tests.survey.conftest import TEST_SECRET
from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, Staff, add_staff, sign_in

# Pages anyone may open: they lead to or out of a session (staff_required would loop).
PUBLIC_AUTH_ENDPOINTS = {"auth.login", "auth.two_factor", "auth.enrol", "auth.logout"}

IN, OUT, ANY = "in-scope", "out-of-scope", "-"
# URL argument → the demo object it is substituted with. Scoped arguments name a pair of objects:
# one inside the manager's and researcher's scope (commune An Bình), one outside (Hòa Lạc).
ARGUMENTS: dict[str, dict[str, str]] = {
    "unit_id": {IN: "unit:HL-AB-1", OUT: "unit:HL-HL-1"},
    "counter_id": {IN: "counter:HL-AB-1/Q1", OUT: "counter:HL-HL-1/Q1"},
    "alert_id": {IN: "alert:HL-AB-1", OUT: "alert:HL-HL-1"},
    "proposal_id": {IN: "proposal:HL-AB-1", OUT: "proposal:HL-HL-1"},
    "user_id": {ANY: "user:target"},
}
METHODS = ("GET", "POST")
ROLES = ("anonymous", Role.RESEARCHER.value, Role.MANAGER.value, Role.ADMIN.value)


def _routes() -> list[tuple[str, str, str, tuple[tuple[str, str], ...]]]:
    """(endpoint, rule, method, fixed arguments): one entry per value of an `any(...)` argument."""
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in ("manage", "posters", "auth"):
            continue
        options: list[tuple[tuple[str, str], ...]] = [()]
        for arg, converter in sorted(rule._converters.items()):
            if isinstance(converter, AnyConverter):
                options = [(*done, (arg, item)) for done in options for item in sorted(converter.items)]
        for method in METHODS:
            if method in (rule.methods or ()):
                found.extend((rule.endpoint, rule.rule, method, fixed) for fixed in options)
    return sorted(found)


def _variants(rule: str) -> list[str]:
    scoped = [arg for arg, values in ARGUMENTS.items() if f"{arg}>" in rule and IN in values]
    return [IN, OUT] if scoped else [ANY]


CASES = [
    pytest.param(endpoint, rule, method, fixed, role, variant,
                 id=f"{method} {rule}{''.join(f' {a}={v}' for a, v in fixed)} {role} {variant}")
    for endpoint, rule, method, fixed in _routes() for role in ROLES for variant in _variants(rule)
]


@dataclass(frozen=True)
class World:
    db_file: Path
    objects: dict[str, int]
    staff: dict[str, Staff]


def _config(db_file: Path) -> dict[str, Any]:
    return {"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
            "WTF_CSRF_ENABLED": False, "CLOCK": Clock(), **CHEAP_ARGON2,
            # A configured public address: without one, code images on localhost answer 409 E-PUBLIC-URL.
            "PUBLIC_BASE_URL": "https://hailong.test"}


@pytest.fixture(scope="module")
def world(migrated_db: Path) -> Iterator[World]:
    """The demo province with one account per role, built once and copied for every case."""
    folder = Path(tempfile.mkdtemp(prefix="matrix-"))
    db_file = folder / "world.db"
    shutil.copyfile(migrated_db, db_file)
    app = create_app(_config(db_file))
    with app.app_context():
        from survey.demo.tree import seed_demo

        seed_demo(db.session)
        db.session.commit()
    staff = {
        Role.ADMIN.value: add_staff(app, "root", Role.ADMIN, totp=True),
        Role.MANAGER.value: add_staff(app, "mai", Role.MANAGER, ("HL-AB",)),
        Role.RESEARCHER.value: add_staff(app, "nghien", Role.RESEARCHER, ("HL-AB",)),
        "target": add_staff(app, "target", Role.MANAGER, ("HL-HL",)),
    }
    with app.app_context():
        for code in ("HL-AB-1", "HL-HL-1"):  # one alert inside the scopes, one outside
            db.session.add(Alert(unit_id=_unit(code), instrument_id="sipas-counter",
                                 kind=AlertKind.BELOW_TARGET, period_start=date(2026, 1, 1),
                                 period_end=date(2026, 3, 31), estimate=0.7, ci_low=0.6, ci_high=0.78,
                                 reference=0.8))
            db.session.add(TargetProposal(unit_id=_unit(code), instrument_id="sipas-counter", year=2026,
                                          target=0.7, reason="matrix"))
        db.session.commit()
        objects = {f"unit:{u.code}": u.id for u in db.session.scalars(sa.select(Unit))}
        objects |= {f"alert:{a.unit.code}": a.id for a in db.session.scalars(sa.select(Alert))}
        objects |= {f"proposal:{p.unit.code}": p.id for p in db.session.scalars(sa.select(TargetProposal))}
        objects |= {f"counter:{c.unit.code}/{c.code}": c.id for c in db.session.scalars(sa.select(Counter))}
        objects |= {f"user:{name}": s.id for name, s in staff.items()}
    with app.app_context():
        db.engine.dispose()  # with every connection back: the WAL is checkpointed into the copied file
    yield World(db_file, objects, staff)
    shutil.rmtree(folder, ignore_errors=True)


def _unit(code: str) -> int:
    found = db.session.scalar(sa.select(Unit.id).where(Unit.code == code))
    assert found is not None
    return found


def _url(app: Flask, endpoint: str, rule: str, method: str, fixed: tuple[tuple[str, str], ...],
         variant: str, world: World) -> str:
    values: dict[str, int | str] = dict(fixed)
    for arg in sorted(app.url_map._rules_by_endpoint[endpoint][0].arguments - set(values)):
        if arg not in ARGUMENTS:
            pytest.fail(f"{rule}: no substitution for <{arg}>. Add it to ARGUMENTS in {__file__} "
                        "so the route's access control is tested.")
        choices = ARGUMENTS[arg]
        values[arg] = world.objects[choices.get(variant, choices.get(ANY, choices.get(IN, "")))]
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def _count(app: Flask, action: str, actor_id: int | None) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.actor_id == actor_id)) or 0)


@pytest.mark.parametrize(("endpoint", "rule", "method", "fixed", "role", "variant"), CASES)
def test_access_matrix(world: World, case_app: Flask, endpoint: str, rule: str, method: str,
                       fixed: tuple[tuple[str, str], ...], role: str, variant: str) -> None:
    _check(case_app, world, endpoint, rule, method, fixed, role, variant)


@pytest.fixture(scope="module")
def matrix_app(world: World) -> Iterator[Flask]:
    """One app for all cases (building one per case doubled the run time); its database file is
    reset to the world before each case by `case_app`."""
    app = create_app(_config(world.db_file.with_name("case.db")))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def case_app(world: World, matrix_app: Flask) -> Flask:
    with matrix_app.app_context():
        db.engine.dispose()  # no connection may survive into the restored file
    case_db = world.db_file.with_name("case.db")
    for leftover in (case_db.with_name("case.db-wal"), case_db.with_name("case.db-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(world.db_file, case_db)
    return matrix_app


def _check(app: Flask, world: World, endpoint: str, rule: str, method: str,
           fixed: tuple[tuple[str, str], ...], role: str, variant: str) -> None:
    view = app.view_functions[endpoint]
    roles: tuple[Role, ...] | None = getattr(view, "staff_roles", None)
    if roles is None and endpoint not in PUBLIC_AUTH_ENDPOINTS:
        pytest.fail(f"{endpoint} does not declare who may use it: decorate it with "
                    "@survey.auth.staff_required(<roles>) (or list it in PUBLIC_AUTH_ENDPOINTS if it "
                    "must be reachable before sign-in).")
    url = _url(app, endpoint, rule, method, fixed, variant, world)
    client = app.test_client()
    actor = world.staff.get(role)
    if actor is not None:
        sign_in(client, app, actor)
    actor_id = actor.id if actor is not None else None
    denied_before = _count(app, "access.denied", actor_id)
    roles_before = _count(app, "role.denied", actor_id)

    # Report downloads (PDF, XLSX) are binary: decode leniently, only error codes are looked for.
    response = client.open(url, method=method, data={} if method == "POST" else None)
    status, body = response.status_code, response.get_data().decode("utf-8", "replace")
    where = f"{method} {url} as {role} ({variant}) → {status}"

    if roles is None:  # the sign-in pages
        assert status < 400, where
    elif actor is None:
        assert status == 302 and response.headers["Location"].startswith("/auth/login"), where
    elif Role(role) not in roles:
        assert status == 403 and "E-FORBIDDEN" in body, where
        assert _count(app, "role.denied", actor_id) == roles_before + 1, f"{where}: denial not audited"
    elif variant == OUT and role != Role.ADMIN.value:
        assert status == 404, where
        assert _count(app, "access.denied", actor_id) == denied_before + 1, f"{where}: denial not audited"
    else:
        if method == "GET":
            assert 200 <= status < 400, where
        else:
            assert status < 500 and status not in (401, 403, 404), where
        assert _count(app, "access.denied", actor_id) == denied_before, f"{where}: unexpected denial"
