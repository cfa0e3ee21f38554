"""A small demo province: enough units and counters to try every survey. Idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import Counter, InstrumentAssignment, KioskDevice, Role, Target, Unit, UnitKind
from survey.services.staff import accounts


@dataclass(frozen=True)
class DemoUnit:
    code: str
    kind: UnitKind
    name_vi: str
    name_en: str
    parent: str | None


@dataclass(frozen=True)
class DemoCounter:
    unit: str
    code: str
    name_vi: str
    name_en: str
    procedure_field: str | None


REFORM_DAY = date(2025, 7, 1)  # two-tier local government starts (docs/sipas-method.md §6)

UNITS = (
    DemoUnit("HL", UnitKind.PROVINCE, "Tỉnh Mẫu (dữ liệu thử)", "Demo Province", None),
    DemoUnit("HL-TTHCC", UnitKind.AGENCY, "Trung tâm Phục vụ hành chính công tỉnh",
             "Provincial Public Administrative Service Centre", "HL"),
    DemoUnit("HL-TTHCC-1", UnitKind.SERVICE_POINT, "Bộ phận Một cửa Trung tâm tỉnh",
             "Provincial one-stop desk", "HL-TTHCC"),
    DemoUnit("HL-AB", UnitKind.COMMUNE, "Phường An Bình", "An Binh Ward", "HL"),
    DemoUnit("HL-AB-1", UnitKind.SERVICE_POINT, "Trung tâm Phục vụ hành chính công phường An Bình",
             "An Binh Ward Public Administrative Service Centre", "HL-AB"),
    DemoUnit("HL-HL", UnitKind.COMMUNE, "Xã Hòa Lạc", "Hoa Lac Commune", "HL"),
    DemoUnit("HL-HL-1", UnitKind.SERVICE_POINT, "Bộ phận Một cửa xã Hòa Lạc", "Hoa Lac one-stop desk",
             "HL-HL"),
)

COUNTERS = (
    DemoCounter("HL-TTHCC-1", "Q1", "Quầy 1 – Đất đai", "Counter 1 – Land", "dat-dai"),
    DemoCounter("HL-TTHCC-1", "Q2", "Quầy 2 – Đăng ký kinh doanh", "Counter 2 – Business registration",
                "dang-ky-kinh-doanh"),
    DemoCounter("HL-AB-1", "Q1", "Quầy 1 – Tư pháp, hộ tịch", "Counter 1 – Civil status", "tu-phap"),
    DemoCounter("HL-AB-1", "KIOSK", "Máy tính bảng tại quầy", "Counter tablet", None),
    DemoCounter("HL-HL-1", "Q1", "Quầy Một cửa", "One-stop counter", None),
)
# (unit code, instrument id, version): the unit and the units below it are measured with it.
ASSIGNMENTS = (("HL", "sipas-counter", "2025.1"), ("HL-HL", "quick-rating", "2025.1"))
TARGETS = (("HL", "sipas-counter"),)  # (unit code, instrument id) with the demo's 2026 target

# Public health and education units are measured too: a hospital's outpatient desk and a school, each
# with its sector's instrument, so that every shipped instrument is reachable from a demo counter
# (`flask seed demo` adds them; tests/survey/test_seed.py checks the coverage). Kept apart from the base
# tree above, whose shape many tests rely on.
SECTOR_UNITS = (
    DemoUnit("HL-BV", UnitKind.AGENCY, "Bệnh viện Đa khoa tỉnh Mẫu", "Demo Provincial General Hospital",
             "HL"),
    DemoUnit("HL-BV-1", UnitKind.SERVICE_POINT, "Khoa Khám bệnh – Bệnh viện Đa khoa tỉnh",
             "Outpatient department – Provincial General Hospital", "HL-BV"),
    # Lower secondary schools are run by the commune since the 2025 reform.
    DemoUnit("HL-HL-THCS", UnitKind.SERVICE_POINT, "Trường Trung học cơ sở Hòa Lạc",
             "Hoa Lac Lower Secondary School", "HL-HL"),
)
SECTOR_COUNTERS = (
    DemoCounter("HL-BV-1", "KKB", "Quầy đón tiếp người bệnh ngoại trú", "Outpatient reception desk", None),
    DemoCounter("HL-HL-THCS", "PH", "Phòng tiếp phụ huynh", "Parents' reception room", None),
)
SECTOR_ASSIGNMENTS = (("HL-BV", "outpatient", "2026.1"), ("HL-HL-THCS", "school-parents", "2026.1"))
SECTOR_TARGETS = (("HL-BV", "outpatient"), ("HL-HL-THCS", "school-parents"))
TARGET = 0.90  # the demo province's 2026 target (> 90 % satisfied), for every sector


def seed_demo(session: Session) -> list[Counter]:
    """Create the demo tree, counters, instrument assignments and a target if missing; return counters."""
    return _ensure(session, UNITS, COUNTERS, ASSIGNMENTS, TARGETS)


def seed_demo_sectors(session: Session) -> list[Counter]:
    """Add the demo hospital and school (after `seed_demo`) with their instruments; return their counters."""
    return _ensure(session, SECTOR_UNITS, SECTOR_COUNTERS, SECTOR_ASSIGNMENTS, SECTOR_TARGETS)


def _ensure(session: Session, unit_specs: tuple[DemoUnit, ...], counter_specs: tuple[DemoCounter, ...],
            assignments: tuple[tuple[str, str, str], ...], targets: tuple[tuple[str, str], ...]
            ) -> list[Counter]:
    units: dict[str, Unit] = {}

    def unit_by_code(code: str) -> Unit:
        if code not in units:
            found = session.scalar(sa.select(Unit).where(Unit.code == code))
            if found is None:
                raise LookupError(f"demo unit {code} missing: run seed_demo first")
            units[code] = found
        return units[code]

    for spec in unit_specs:
        unit = session.scalar(sa.select(Unit).where(Unit.code == spec.code))
        if unit is None:
            unit = Unit(code=spec.code, kind=spec.kind, name_vi=spec.name_vi, name_en=spec.name_en,
                        parent=unit_by_code(spec.parent) if spec.parent else None, valid_from=REFORM_DAY)
            session.add(unit)
        units[spec.code] = unit
    session.flush()
    counters = []
    for c in counter_specs:
        unit = units[c.unit]
        counter = session.scalar(sa.select(Counter).where(Counter.unit_id == unit.id, Counter.code == c.code))
        if counter is None:
            counter = Counter(unit=unit, code=c.code, name_vi=c.name_vi, name_en=c.name_en,
                              procedure_field=c.procedure_field)
            session.add(counter)
        counters.append(counter)
    for unit_code, instrument_id, version in assignments:
        _ensure_assignment(session, unit_by_code(unit_code), instrument_id, version)
    for unit_code, instrument_id in targets:
        unit = unit_by_code(unit_code)
        if session.scalar(sa.select(Target.id).where(Target.unit_id == unit.id)) is None:
            session.add(Target(unit_id=unit.id, instrument_id=instrument_id, year=2026, target=TARGET))
    session.flush()
    return counters


def seed_demo_kiosk(session: Session, counters: list[Counter]) -> KioskDevice:
    """The demo tablet registered for the KIOSK counter (created once): `make run` prints its URL."""
    counter = next(c for c in counters if c.code == "KIOSK")
    device = session.scalar(sa.select(KioskDevice).where(KioskDevice.counter_id == counter.id,
                                                         KioskDevice.revoked_at.is_(None)))
    if device is None:
        device = KioskDevice(counter=counter, label="Máy tính bảng (dữ liệu thử)")
        session.add(device)
        session.flush()
    return device


def _ensure_assignment(session: Session, unit: Unit, instrument_id: str, version: str) -> None:
    exists = session.scalar(sa.select(InstrumentAssignment).where(
        InstrumentAssignment.unit_id == unit.id, InstrumentAssignment.instrument_id == instrument_id,
        InstrumentAssignment.instrument_version == version))
    if exists is None:
        session.add(InstrumentAssignment(unit=unit, instrument_id=instrument_id, instrument_version=version,
                                         opens_on=REFORM_DAY))


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    unit_code: str
    password: str


DEMO_ACCOUNTS = (
    ("quanly.tinh", Role.MANAGER, "HL"),  # the whole demo province
    ("quanly.anbinh", Role.MANAGER, "HL-AB"),  # one ward: sees only its own subtree
    ("nghiencuu", Role.RESEARCHER, "HL"),
)


def seed_demo_accounts(session: Session, config: Mapping[str, Any], now: datetime) -> list[DemoAccount]:
    """Create the demo staff accounts if missing and give each a fresh generated password.

    Passwords are generated, never fixed, so a demo database put on a network by mistake has no
    well-known login; re-running the seed prints new ones. Admins need TOTP, so no demo admin is made:
    create one with `flask users create NAME --role admin`.
    """
    made = []
    for username, role, unit_code in DEMO_ACCOUNTS:
        unit = session.scalar(sa.select(Unit).where(Unit.code == unit_code))
        if unit is None:
            raise LookupError(f"demo unit {unit_code} missing: run seed_demo first")
        user = accounts.find_user(session, username)
        if user is None:
            credentials = accounts.create_user(session, config, actor=None, username=username, role=role,
                                               unit_ids=[unit.id], display_name=f"Demo {username}", now=now)
            password = credentials.password
        else:
            password = accounts.reset_password(session, config, actor=None, user=user, now=now)
        made.append(DemoAccount(username, role, unit_code, password))
    session.flush()
    return made
