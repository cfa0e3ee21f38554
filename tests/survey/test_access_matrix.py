"""The access matrix: every `manage.*`, `posters.*` and `auth.*` route × role × scope, checked against
a table written out below.

The table is the policy (docs/reports.md for the downloads, README "Printing QR posters" and "For
managers"): who may open each page, and what happens inside and outside the account's units. It is
not read from the code: a route added, removed or re-permissioned without changing the table fails
`test_the_table_lists_every_staff_route` or its own row. The expectations
follow docs/bad-input.md ("Access control" and row 24):

- anonymous → redirect to the sign-in page (`login`), except the pages that lead to or out of a
  session (`open`: anything below 400);
- a role the view does not allow → 403 E-FORBIDDEN and a `role.denied` audit event;
- a unit, counter or alert outside the account's scopes → 404 and an `access.denied` audit event;
- `ok` → 2xx/3xx for GET; for POST with an empty form, anything but an access refusal or a server
  error, and no `access.denied` event.
"""

from __future__ import annotations

import re
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

from survey import create_app
from survey.extensions import db
from survey.models import (
    Alert,
    AlertKind,
    ApiClient,
    AuditEvent,
    Channel,
    Counter,
    KioskDevice,
    ReportFrequency,
    ReportSubscription,
    Response,
    ResponseStatus,
    Role,
    TargetProposal,
    Unit,
)
from tests.survey.conftest import TEST_SECRET, counter_id, unit_id
from tests.survey.staff_helpers import CHEAP_ARGON2, Clock, Staff, add_staff, sign_in

ROLES = ("anonymous", "researcher", "manager", "admin")
# The accounts: the manager and the researcher hold commune An Bình (HL-AB) only; the admin holds no
# scope and sees everything. A cell is one outcome for both scopes, or "in-scope/out-of-scope" for a
# route that names a unit, counter or alert (An Bình's HL-AB-1 versus Hòa Lạc's HL-HL-1).
EXPECTED = """
# method route                                     anonymous  researcher manager    admin
GET  /auth/2fa                                     open       open       open       open
POST /auth/2fa                                     open       open       open       open
GET  /auth/2fa/enrol                               open       open       open       open
POST /auth/2fa/enrol                               open       open       open       open
GET  /auth/account                                 login      ok         ok         ok
GET  /auth/login                                   open       open       open       open
POST /auth/login                                   open       open       open       open
POST /auth/logout                                  open       open       open       open
GET  /auth/password                                login      ok         ok         ok
POST /auth/password                                login      ok         ok         ok
GET  /manage/                                      login      403        ok         ok
GET  /manage/accounts/                             login      403        403        ok
GET  /manage/accounts/<user_id>                    login      403        403        ok
POST /manage/accounts/<user_id>                    login      403        403        ok
POST /manage/accounts/<user_id>/active             login      403        403        ok
POST /manage/accounts/<user_id>/reset-2fa          login      403        403        ok
POST /manage/accounts/<user_id>/reset-password     login      403        403        ok
POST /manage/accounts/<user_id>/revoke-sessions    login      403        403        ok
GET  /manage/accounts/lockouts                      login      403        403        ok
POST /manage/accounts/lockouts                      login      403        403        ok
GET  /manage/accounts/new                          login      403        403        ok
POST /manage/accounts/new                          login      403        403        ok
GET  /manage/audit.csv                              login      403        ok         ok
GET  /manage/audit/                                 login      403        ok         ok
GET  /manage/alerts                                login      403        ok         ok
GET  /manage/api-clients/                          login      403        403        ok
POST /manage/api-clients/                          login      403        403        ok
GET  /manage/api-clients/<client_id>/revoke        login      403        403        ok
POST /manage/api-clients/<client_id>/revoke        login      403        403        ok
POST /manage/alerts/<alert_id>/notes               login      403        ok/404     ok
GET  /manage/counters/<counter_id>                 login      403        ok/404     ok
POST /manage/counters/<counter_id>                 login      403        ok/404     ok
GET  /manage/counters/<counter_id>/revoke          login      403        ok/404     ok
POST /manage/counters/<counter_id>/revoke          login      403        ok/404     ok
GET  /manage/counters/<counter_id>/rotate          login      403        ok/404     ok
POST /manage/counters/<counter_id>/rotate          login      403        ok/404     ok
POST /manage/counters/<counter_id>/kiosks          login      403        ok/404     ok
POST /manage/counters/<counter_id>/hours           login      403        ok/404     ok
GET  /manage/flags                                 login      403        ok         ok
POST /manage/flags/<response_id>                   login      403        ok/404     ok
GET  /manage/dashboard.csv                          login      403        ok         ok
GET  /manage/dashboard.xlsx                         login      403        ok         ok
GET  /manage/frames/                               login      403        ok         ok
POST /manage/frames/                               login      403        ok         ok
GET  /manage/kiosks/<device_id>/revoke             login      403        ok/404     ok
POST /manage/kiosks/<device_id>/revoke             login      403        ok/404     ok
GET  /manage/reports/subscriptions                  login      403        ok         ok
POST /manage/reports/subscriptions                  login      403        ok         ok
POST /manage/reports/subscriptions/<subscription_id>/cancel login 403     ok/404     ok
GET  /manage/research/                              login      ok         ok         ok
POST /manage/research/microdata                     login      ok         ok         ok
POST /manage/target-proposals/<proposal_id>/approve login    403        ok/404     ok
POST /manage/target-proposals/<proposal_id>/reject  login      403        ok/404     ok
GET  /manage/units/                                login      403        ok         ok
GET  /manage/units/<unit_id>                       login      403        ok/404     ok
POST /manage/units/<unit_id>/assignments           login      403        ok/404     ok
POST /manage/units/<unit_id>/assignments/close     login      403        ok/404     ok
POST /manage/units/<unit_id>/close                 login      403        ok/404     ok
POST /manage/units/<unit_id>/hours                 login      403        ok/404     ok
GET  /manage/units/<unit_id>/counters/new          login      403        ok/404     ok
POST /manage/units/<unit_id>/counters/new          login      403        ok/404     ok
GET  /manage/units/<unit_id>/edit                  login      403        ok/404     ok
POST /manage/units/<unit_id>/edit                  login      403        ok/404     ok
GET  /manage/units/<unit_id>/report.csv            login      ok/404     ok/404     ok
GET  /manage/units/<unit_id>/report.pdf            login      403        ok/404     ok
GET  /manage/units/<unit_id>/report.xlsx           login      ok/404     ok/404     ok
POST /manage/units/<unit_id>/targets               login      403        ok/404     ok
GET  /manage/units/<unit_id>/targets/clear         login      403        ok/404     ok
POST /manage/units/<unit_id>/targets/clear         login      403        ok/404     ok
GET  /manage/units/import                          login      403        ok         ok
POST /manage/units/import                          login      403        ok         ok
GET  /manage/units/new                             login      403        ok         ok
POST /manage/units/new                             login      403        ok         ok
GET  /posters/counter/<counter_id>                 login      403        ok/404     ok
GET  /posters/counter/<counter_id>.png             login      403        ok/404     ok
GET  /posters/counter/<counter_id>.svg             login      403        ok/404     ok
GET  /posters/unit/<unit_id>                       login      403        ok/404     ok
"""

IN, OUT, ANY = "in-scope", "out-of-scope", "-"
# URL argument → the demo object it is substituted with. Scoped arguments name a pair of objects:
# one inside the manager's and researcher's scope (commune An Bình), one outside (Hòa Lạc).
ARGUMENTS: dict[str, dict[str, str]] = {
    "unit_id": {IN: "unit:HL-AB-1", OUT: "unit:HL-HL-1"},
    "counter_id": {IN: "counter:HL-AB-1/Q1", OUT: "counter:HL-HL-1/Q1"},
    "alert_id": {IN: "alert:HL-AB-1", OUT: "alert:HL-HL-1"},
    "response_id": {IN: "response:HL-AB-1", OUT: "response:HL-HL-1"},
    "device_id": {IN: "kiosk:HL-AB-1", OUT: "kiosk:HL-HL-1"},
    "proposal_id": {IN: "proposal:HL-AB-1", OUT: "proposal:HL-HL-1"},
    "user_id": {ANY: "user:target"},
    "client_id": {ANY: "client:matrix"},
    # A subscription is its owner's: the manager's own (in) and another manager's (out).
    "subscription_id": {IN: "subscription:HL-AB-1", OUT: "subscription:HL-HL-1"},
}


def _table() -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """(method, route) → role → (outcome in scope, outcome out of scope)."""
    rows: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for line in EXPECTED.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, route, *cells = line.split()
        assert len(cells) == len(ROLES), line
        outcomes = {}
        for role, cell in zip(ROLES, cells, strict=True):
            inside, _, outside = cell.partition("/")
            outcomes[role] = (inside, outside or inside)
        assert (method, route) not in rows, f"{method} {route} twice in the table"
        rows[(method, route)] = outcomes
    return rows


TABLE = _table()


def _scoped(route: str) -> bool:
    return any(f"<{arg}>" in route for arg, values in ARGUMENTS.items() if IN in values)


CASES = [
    pytest.param(method, route, role, variant, outcomes[role][variant == OUT],
                 id=f"{method} {route} {role} {variant}")
    for (method, route), outcomes in sorted(TABLE.items()) for role in ROLES
    for variant in ([IN, OUT] if _scoped(route) else [ANY])
]


def _route(rule: str) -> str:
    """A URL rule as the table writes it: converters dropped, `<int:unit_id>` → `<unit_id>`."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule)


def test_the_table_lists_every_staff_route() -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    served = {(method, _route(rule.rule)) for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("manage", "posters", "auth")
              for method in ("GET", "POST") if method in (rule.methods or ())}
    assert sorted(served - TABLE.keys()) == [], "routes without a row in EXPECTED: write who may use them"
    assert sorted(TABLE.keys() - served) == [], "rows in EXPECTED for routes that no longer exist"


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
            db.session.add(Alert(unit_id=unit_id(code), instrument_id="sipas-counter",
                                 kind=AlertKind.BELOW_TARGET, period_start=date(2026, 1, 1),
                                 period_end=date(2026, 3, 31), estimate=0.7, ci_low=0.6, ci_high=0.78,
                                 reference=0.8))
            db.session.add(Response(instrument_id="sipas-counter", instrument_version="2025.1",
                                    instrument_hash="0" * 64, unit_id=unit_id(code), channel=Channel.QR,
                                    language="vi", status=ResponseStatus.FLAGGED, status_reason="burst",
                                    idempotency_key=f"matrix-{code}"))
            db.session.add(TargetProposal(unit_id=unit_id(code), instrument_id="sipas-counter", year=2026,
                                          target=0.7, reason="matrix"))
        for owner, code in ((staff[Role.MANAGER.value], "HL-AB-1"), (staff["target"], "HL-HL-1")):
            db.session.add(ReportSubscription(user_id=owner.id, unit_id=unit_id(code), email="m@hailong.test",
                                              frequency=ReportFrequency.MONTHLY, language="vi"))
        db.session.add(ApiClient(name="matrix", token_hash="0" * 64, unit_id=unit_id("HL-AB")))
        for code in ("HL-AB-1/Q1", "HL-HL-1/Q1"):  # one counter tablet inside the scopes, one outside
            db.session.add(KioskDevice(counter_id=counter_id(code), label="tablet"))
        db.session.commit()
        objects = {f"unit:{u.code}": u.id for u in db.session.scalars(sa.select(Unit))}
        objects |= {f"alert:{a.unit.code}": a.id for a in db.session.scalars(sa.select(Alert))}
        objects |= {f"response:{r.unit.code}": r.id for r in db.session.scalars(sa.select(Response))}
        objects |= {f"proposal:{p.unit.code}": p.id for p in db.session.scalars(sa.select(TargetProposal))}
        objects |= {f"counter:{c.unit.code}/{c.code}": c.id for c in db.session.scalars(sa.select(Counter))}
        objects |= {f"kiosk:{k.counter.unit.code}": k.id for k in db.session.scalars(sa.select(KioskDevice))}
        objects |= {f"user:{name}": s.id for name, s in staff.items()}
        objects |= {f"client:{c.name}": c.id for c in db.session.scalars(sa.select(ApiClient))}
        subscriptions = db.session.scalars(sa.select(ReportSubscription))
        objects |= {f"subscription:{s.unit.code}": s.id for s in subscriptions}
    with app.app_context():
        db.engine.dispose()  # with every connection back: the WAL is checkpointed into the copied file
    yield World(db_file, objects, staff)
    shutil.rmtree(folder, ignore_errors=True)



def _url(route: str, variant: str, world: World) -> str:
    def substitute(match: re.Match[str]) -> str:
        arg = match.group(1)
        if arg not in ARGUMENTS:
            pytest.fail(f"{route}: no substitution for <{arg}>. Add it to ARGUMENTS in {__file__} "
                        "so the route's access control is tested.")
        choices = ARGUMENTS[arg]
        return str(world.objects[choices.get(variant, choices.get(ANY, choices.get(IN, "")))])

    return re.sub(r"<([^>]+)>", substitute, route)


def _count(app: Flask, action: str, actor_id: int | None) -> int:
    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.actor_id == actor_id)) or 0)


@pytest.mark.parametrize(("method", "route", "role", "variant", "expected"), CASES)
def test_access_matrix(world: World, case_app: Flask, method: str, route: str, role: str, variant: str,
                       expected: str) -> None:
    _check(case_app, world, method, route, role, variant, expected)


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


def _check(app: Flask, world: World, method: str, route: str, role: str, variant: str,
           expected: str) -> None:
    url = _url(route, variant, world)
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
    where = f"{method} {url} as {role} ({variant}) → {status}, expected {expected}"

    if expected == "open":  # the pages that lead to or out of a session
        assert status < 400, where
    elif expected == "login":
        assert status == 302 and response.headers["Location"].startswith("/auth/login"), where
    elif expected == "403":
        assert status == 403 and "E-FORBIDDEN" in body, where
        assert _count(app, "role.denied", actor_id) == roles_before + 1, f"{where}: denial not audited"
    elif expected == "404":
        assert status == 404, where
        assert _count(app, "access.denied", actor_id) == denied_before + 1, f"{where}: denial not audited"
    elif expected == "ok":
        if method == "GET":
            assert 200 <= status < 400, where
        else:
            assert status < 500 and status not in (401, 403, 404), where
        assert _count(app, "access.denied", actor_id) == denied_before, f"{where}: unexpected denial"
    else:
        pytest.fail(f"{where}: unknown outcome in EXPECTED")
