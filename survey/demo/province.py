"""Rich demo data: a province with tens of units and a year of simulated responses and frames.

Built on the small demo tree (`survey.demo.tree`), adding agencies and communes with service
points and counters. Responses run from December 2025 to November 2026 (seeded RNG, so every run
gives the same data): units differ in true satisfaction (some under 80 %, a few near 95 %), some are
tiny, one ward drops sharply over the last three months, criteria have "not applicable" and skipped
answers, a few comments carry planted phone and CCCD numbers (to show the scrubber), and every service
point has served-dossier counts per procedure field and month. Inserts are bulk (`executemany`).
Idempotent: nothing is generated when the demo responses are already there.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import cast

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from instruments.registry import RegisteredInstrument, get_registered
from survey.demo.tree import REFORM_DAY, seed_demo, seed_demo_sectors
from survey.local_time import VIETNAM, local_date
from survey.models import (
    ALL,
    Answer,
    Counter,
    FrameUpload,
    Response,
    ServedCount,
    TextAnswer,
    Unit,
    UnitKind,
)
from survey.services.citizens.plausibility import FlagReason

SEED = 20261123
FIRST_MONTH = date(2025, 12, 1)
MONTHS = 12
KEY_PREFIX = "demo-"
DROP_UNIT = "HL-PT"  # the ward whose satisfaction falls in the last three months
DROP_MONTHS = 3


@dataclass(frozen=True)
class DemoPlace:
    """A unit added for the rich demo, its service point and counters (field per counter)."""

    code: str
    kind: UnitKind
    name_vi: str
    name_en: str
    true_share: float  # the simulated share satisfied
    monthly: int  # mean responses per month
    fields: tuple[str | None, ...]


_Place, _C = DemoPlace, UnitKind.COMMUNE
AGENCIES = (
    _Place("HL-STP", UnitKind.AGENCY, "Sở Tư pháp", "Department of Justice", 0.91, 90,
              ("ly-lich-tu-phap", "tu-phap")),
    _Place("HL-SNN", UnitKind.AGENCY, "Sở Nông nghiệp và Môi trường", "Department of Agriculture and "
              "Environment", 0.76, 110, ("dat-dai", "moi-truong")),
    _Place("HL-SXD", UnitKind.AGENCY, "Sở Xây dựng", "Department of Construction", 0.83, 70,
              ("xay-dung", "giao-thong")),
)
COMMUNES = (
    _Place("HL-PT", _C, "Phường Phú Thịnh", "Phu Thinh Ward", 0.90, 110, ("tu-phap", "dat-dai")),
    _Place("HL-TH", _C, "Phường Tân Hòa", "Tan Hoa Ward", 0.95, 95, ("tu-phap", None)),
    _Place("HL-BM", _C, "Phường Bình Minh", "Binh Minh Ward", 0.87, 120, ("tu-phap", "dat-dai")),
    _Place("HL-DH", _C, "Phường Đông Hải", "Dong Hai Ward", 0.78, 85, ("tu-phap", "dat-dai")),
    _Place("HL-NT", _C, "Phường Nam Thành", "Nam Thanh Ward", 0.84, 75, (None,)),
    _Place("HL-TA", _C, "Xã Thạnh An", "Thanh An Commune", 0.94, 40, (None,)),
    _Place("HL-LS", _C, "Xã Long Sơn", "Long Son Commune", 0.72, 45, ("tu-phap", "dat-dai")),
    _Place("HL-PM", _C, "Xã Phước Mỹ", "Phuoc My Commune", 0.88, 35, (None,)),
    _Place("HL-HP", _C, "Xã Hòa Phú", "Hoa Phu Commune", 0.81, 30, (None,)),
    _Place("HL-QL", _C, "Xã Quang Lộc", "Quang Loc Commune", 0.86, 28, ("tu-phap",)),
    _Place("HL-XT", _C, "Xã Xuân Trường", "Xuan Truong Commune", 0.79, 25, (None,)),
    _Place("HL-VL", _C, "Xã Vĩnh Lợi", "Vinh Loi Commune", 0.92, 22, (None,)),
    _Place("HL-KB", _C, "Xã Kim Bôi", "Kim Boi Commune", 0.85, 20, (None,)),
    _Place("HL-TS", _C, "Xã Tân Sơn", "Tan Son Commune", 0.74, 18, (None,)),
    _Place("HL-YT", _C, "Xã Yên Thế", "Yen The Commune", 0.82, 26, (None,)),
    _Place("HL-CD", _C, "Đặc khu Côn Đảo Mẫu", "Con Dao Demo Special Zone", 0.89, 6, (None,)),
    _Place("HL-BN", _C, "Xã Bản Nậm", "Ban Nam Commune", 0.83, 4, (None,)),
    _Place("HL-MC", _C, "Xã Mường Chà", "Muong Cha Commune", 0.80, 3, (None,)),
)
# Units of the small demo tree (survey.demo.tree): their simulated share and volume.
EXISTING = {"HL-TTHCC-1": (0.88, 260), "HL-AB-1": (0.83, 130), "HL-HL-1": (0.86, 60)}
# The demo hospital's outpatient desk and school (`seed_demo_sectors`): share, volume, and the item every
# response answers (the instrument's always-required question; its codes 1-5 rise with satisfaction).
SECTORS = {"HL-BV-1": (0.84, 150, "return_intention"), "HL-HL-THCS": (0.89, 40, "overall")}
FIELD_NAMES = {
    "ly-lich-tu-phap": "Lý lịch tư pháp", "tu-phap": "Tư pháp, hộ tịch", "dat-dai": "Đất đai",
    "moi-truong": "Môi trường", "xay-dung": "Xây dựng", "giao-thong": "Giao thông",
}
FIELD_ITEM_CODE = {"dat-dai": 1, "moi-truong": 2, "giao-thong": 4, "xay-dung": 5, "ly-lich-tu-phap": 11,
                   "tu-phap": 14, "dang-ky-kinh-doanh": 13}
COMMENTS = (
    "Cán bộ hướng dẫn nhiệt tình, cảm ơn.", "Phải chờ hơi lâu, nên bố trí thêm quầy vào buổi sáng.",
    "Phòng chờ nóng, cần thêm quạt.", "Hồ sơ trả đúng hẹn, rất hài lòng.",
    "Lệ phí 50.000 đồng được niêm yết rõ ràng.", "Nên có chỗ gửi xe rộng hơn.",
    "Hướng dẫn chưa rõ, tôi phải bổ sung hồ sơ hai lần.", "Máy lấy số thứ tự hay bị lỗi.",
    "chị Lan ở quầy 3 rất tận tình", "Trả kết quả trễ 5 ngày so với giấy hẹn.",
    "Nhờ anh Minh hướng dẫn mà tôi làm xong trong 15 phút.", "Wifi yếu, khó nộp hồ sơ trực tuyến.",
)
PLANTED = (
    "Có gì gọi tôi số 0912 345 678 nhé.", "Hồ sơ của tôi CCCD 001089012345 chưa có kết quả.",
    "Liên hệ lại qua ０９８７.６５４.３２１ giúp tôi.", "Email tôi: nguyen.van.a@gmail.com, mong phản hồi.",
)
BURST = FlagReason.BURST.value  # the submit path's reason code; the dashboard words it
FEEDBACK_ITEMS = ("e5_channels", "e5_handled", "e5_notified")


def _ensure_places(session: Session) -> dict[str, tuple[Unit, list[Counter]]]:
    """Create the extra units, service points and counters; return service point -> (unit, counters)."""
    province = session.scalar(sa.select(Unit).where(Unit.code == "HL"))
    assert province is not None
    points: dict[str, tuple[Unit, list[Counter]]] = {}
    for place in (*AGENCIES, *COMMUNES):
        unit = session.scalar(sa.select(Unit).where(Unit.code == place.code))
        if unit is None:
            unit = Unit(code=place.code, kind=place.kind, name_vi=place.name_vi, name_en=place.name_en,
                        parent=province, valid_from=REFORM_DAY)
            session.add(unit)
        code = f"{place.code}-1"
        point = session.scalar(sa.select(Unit).where(Unit.code == code))
        if point is None:
            agency = place.kind is UnitKind.AGENCY
            prefix = "Bộ phận Một cửa" if agency else "Trung tâm Phục vụ hành chính công"
            # "Trung tâm … phường Bình Minh": the unit type is lower case inside a name.
            inner = place.name_vi[0].lower() + place.name_vi[1:]
            point = Unit(code=code, kind=UnitKind.SERVICE_POINT, name_vi=f"{prefix} {inner}",
                         name_en=f"{place.name_en} one-stop desk", parent=unit, valid_from=REFORM_DAY)
            session.add(point)
            session.flush()
            for i, field in enumerate(place.fields, start=1):
                label = FIELD_NAMES.get(field or "", "Một cửa")
                session.add(Counter(unit=point, code=f"Q{i}", name_vi=f"Quầy {i} – {label}",
                                    name_en=f"Counter {i}", procedure_field=field))
        points[code] = (point, [])
    session.flush()
    for code in [*points, *EXISTING, *SECTORS]:
        point = session.scalar(sa.select(Unit).where(Unit.code == code))
        assert point is not None
        points[code] = (point, list(point.counters))
    return points


def _profile(code: str) -> tuple[float, int]:
    if code in EXISTING:
        return EXISTING[code]
    if code in SECTORS:
        return SECTORS[code][:2]
    place = next(p for p in (*AGENCIES, *COMMUNES) if f"{p.code}-1" == code)
    return place.true_share, place.monthly


def _month_starts() -> list[date]:
    out, day = [], FIRST_MONTH
    for _ in range(MONTHS):
        out.append(day)
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def _submitted(rng: np.random.Generator, month: date, size: int) -> list[datetime]:
    next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    days = [month + timedelta(d) for d in range((next_month - month).days)]
    weekdays = [d for d in days if d.weekday() < 5]
    out = []
    for day, minute in zip(rng.choice(len(weekdays), size), rng.integers(7 * 60 + 30, 17 * 60, size),
                           strict=True):
        local = datetime(weekdays[day].year, weekdays[day].month, weekdays[day].day, int(minute) // 60,
                         int(minute) % 60, int(rng.integers(0, 60)), tzinfo=VIETNAM)
        out.append(local.astimezone(UTC))
    return out


def _scale_code(rng: np.random.Generator, satisfied: bool) -> int:
    if satisfied:
        return 5 if rng.random() < 0.45 else 4
    u = rng.random()  # 3, 2, 1 with probabilities 0.6, 0.3, 0.1 (rng.choice is ten times slower)
    return 3 if u < 0.6 else 2 if u < 0.9 else 1


def generate_demo_responses(session: Session, *, today: date | None = None) -> int:
    """Generate the demo year of responses and frames; return how many responses were added.

    Returns 0 without touching anything when the demo responses exist already. Flushes, never commits.
    """
    if session.scalar(sa.select(Response.id).where(Response.idempotency_key == f"{KEY_PREFIX}0")):
        return 0
    seed_demo(session)
    seed_demo_sectors(session)
    points = _ensure_places(session)
    sipas = get_registered("sipas-counter", "2025.1")
    quick = get_registered("quick-rating", "2025.1")
    sectors = {"HL-BV-1": get_registered("outpatient", "2026.1"),
               "HL-HL-THCS": get_registered("school-parents", "2026.1")}
    criteria = [c for e in sipas.instrument.index.elements for c in e.criteria]
    offsets = np.random.default_rng(SEED + 1).normal(0, CRITERION_SD, len(criteria))
    offsets -= offsets.mean()
    main_rng = np.random.default_rng(SEED)
    # The hospital and school draw from their own stream, so that adding them left every other unit's
    # simulated year as it was.
    sector_rng = np.random.default_rng(SEED + 2)
    last_day = today or date(2026, 11, 22)
    responses: list[dict[str, object]] = []
    answers: list[dict[str, object]] = []
    texts: list[dict[str, object]] = []
    frames: list[dict[str, object]] = []
    months = _month_starts()
    for code, (point, counters) in sorted(points.items()):
        share, monthly = _profile(code)
        registered = sectors.get(code) or (quick if code == "HL-HL-1" else sipas)
        rng = sector_rng if code in SECTORS else main_rng
        for m, month in enumerate(months):
            true = share - 0.2 if code == f"{DROP_UNIT}-1" and m >= MONTHS - DROP_MONTHS else share
            size = int(rng.poisson(monthly))
            when = [t for t in _submitted(rng, month, size) if local_date(t) <= last_day]
            served_by_field: dict[str, int] = {}
            for submitted_at in when:
                counter = counters[int(rng.integers(len(counters)))]
                flagged = rng.random() < 0.01
                index = len(responses)  # becomes the database id after the insert
                responses.append({
                    "instrument_id": registered.instrument.id,
                    "instrument_version": registered.instrument.version,
                    "instrument_hash": registered.content_hash, "unit_id": point.id, "counter_id": counter.id,
                    "procedure_field": counter.procedure_field,
                    "channel": "qr" if rng.random() < 0.8 else "kiosk",
                    "language": "vi", "submitted_at": submitted_at,
                    "status": "flagged" if flagged else "valid",
                    "status_reason": BURST if flagged else None,
                    "idempotency_key": f"{KEY_PREFIX}{len(responses)}",
                })
                field = counter.procedure_field or ALL
                served_by_field[field] = served_by_field.get(field, 0) + 1
                latent = _calibrated_logit(true) + float(rng.normal(0, RESPONDENT_SD))
                if registered is quick:
                    _quick_answers(rng, index, latent, answers)
                elif code in SECTORS:
                    _sector_answers(rng, index, latent, registered, SECTORS[code][2], answers)
                else:
                    _sipas_answers(rng, index, latent, criteria, offsets, counter.procedure_field, answers)
                if code not in SECTORS and rng.random() < 0.08:  # the demo comments are about counters
                    pool = PLANTED if rng.random() < 0.05 else COMMENTS
                    texts.append({"response_id": index, "item_id": "comment",
                                  "text": pool[int(rng.integers(len(pool)))]})
            for field, count in served_by_field.items():
                rate = 0.15 + 0.25 * rng.random()
                next_month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
                frames.append({"unit_id": point.id, "procedure_field": field, "channel": ALL,
                               "period_start": month, "period_end": next_month - timedelta(days=1),
                               "served": int(count / rate) + 1})
    upload = FrameUpload(source="demo", rows=len(frames))
    session.add(upload)
    session.flush()
    for row in frames:
        row["upload_id"] = upload.id
    if not responses:
        return 0
    # Core executemany on the tables, not ORM bulk inserts: no per-row ORM bookkeeping, no RETURNING
    # (whose batch splicing was most of the run time); ids are then read back by idempotency key.
    connection = session.connection()
    # every model maps a Table; SQLAlchemy types `__table__` as any FromClause
    connection.execute(sa.insert(cast(sa.Table, Response.__table__)), responses)
    ids = dict(connection.execute(sa.select(Response.idempotency_key, Response.id)
                                  .where(Response.idempotency_key.like(f"{KEY_PREFIX}%"))).all())
    for row in (*answers, *texts):
        row["response_id"] = ids[f"{KEY_PREFIX}{row['response_id']}"]
    for table, rows in ((Answer, answers), (TextAnswer, texts), (ServedCount, frames)):
        if rows:
            connection.execute(sa.insert(cast(sa.Table, table.__table__)), rows)
    session.flush()
    return len(responses)


RESPONDENT_SD, ANSWER_SD, CRITERION_SD = 0.9, 0.5, 0.35


@functools.cache
def _calibrated_logit(share: float) -> float:
    """The mean logit whose answers, after respondent, criterion and answer noise, are satisfied with
    probability `share` on average (the noise pulls a plain logit(share) towards 50 %)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)
    weights = weights / weights.sum()
    spread = float(np.sqrt(RESPONDENT_SD**2 + ANSWER_SD**2 + CRITERION_SD**2))
    low, high = -10.0, 10.0
    for _ in range(60):  # bisection: the mean satisfied share rises with the location
        mid = (low + high) / 2
        if float(np.sum(weights / (1 + np.exp(-(mid + spread * nodes))))) < share:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def _sipas_answers(rng: np.random.Generator, response_id: int, latent: float, criteria: list[str],
                   offsets: np.ndarray, field: str | None, out: list[dict[str, object]]) -> None:
    probabilities = 1 / (1 + np.exp(-(latent + offsets + rng.normal(0, ANSWER_SD, len(criteria)))))
    draws = rng.random(len(criteria))
    missing = rng.random(len(criteria))
    for item, p, u, miss in zip(criteria, probabilities, draws, missing, strict=True):
        if miss < (0.35 if item in FEEDBACK_ITEMS else 0.03):
            out.append({"response_id": response_id, "item_id": item, "code": 0})  # not applicable
        elif miss < (0.37 if item in FEEDBACK_ITEMS else 0.05):
            continue  # skipped
        else:
            out.append({"response_id": response_id, "item_id": item, "code": _scale_code(rng, u < p)})
    overall = rng.random() < 1 / (1 + np.exp(-latent))
    out.append({"response_id": response_id, "item_id": "overall", "code": _scale_code(rng, overall)})
    troubled = rng.random() < 0.18 / (1 + np.exp(latent - 1))
    trouble = int(rng.choice([2, 3], p=[0.8, 0.2])) if troubled else 1
    out.append({"response_id": response_id, "item_id": "harassment", "code": trouble})
    paid = 2 if rng.random() < 0.04 / (1 + np.exp(latent - 1)) * 3 else 1
    out.append({"response_id": response_id, "item_id": "extra_payment", "code": paid})
    if rng.random() < 0.7:
        out.append({"response_id": response_id, "item_id": "age_band", "code": int(rng.integers(1, 6))})
        out.append({"response_id": response_id, "item_id": "sex", "code": int(rng.integers(1, 3))})
    if field in FIELD_ITEM_CODE and rng.random() < 0.6:
        out.append({"response_id": response_id, "item_id": "procedure_field", "code": FIELD_ITEM_CODE[field]})


def _quick_answers(rng: np.random.Generator, response_id: int, latent: float,
                   out: list[dict[str, object]]) -> None:
    satisfied = rng.random() < 1 / (1 + np.exp(-latent))
    rating = (3 if rng.random() < 0.5 else 2) if satisfied else 1
    out.append({"response_id": response_id, "item_id": "rating", "code": rating})
    if rating == 1:
        for code in rng.choice([1, 2, 3, 4, 5, 99], size=int(rng.integers(1, 3)), replace=False):
            out.append({"response_id": response_id, "item_id": "reasons", "code": int(code)})
    out.append({"response_id": response_id, "item_id": "on_time", "code": 1 if rng.random() < 0.9 else 2})
    courtesy = rng.random() < 1 / (1 + np.exp(-latent - 0.3))
    out.append({"response_id": response_id, "item_id": "courtesy",
                "code": (3 if rng.random() < 0.5 else 2) if courtesy else 1})


def _sector_answers(rng: np.random.Generator, response_id: int, latent: float,
                    registered: RegisteredInstrument, required_item: str,
                    out: list[dict[str, object]]) -> None:
    """A hospital or school response: every index criterion (3 % not applicable, 2 % skipped) and the
    instrument's required question, all driven by the respondent's latent satisfaction."""
    criteria = [c for e in registered.instrument.index.elements for c in e.criteria]
    probabilities = 1 / (1 + np.exp(-(latent + rng.normal(0, ANSWER_SD, len(criteria)))))
    for item, p, u, miss in zip(criteria, probabilities, rng.random(len(criteria)), rng.random(len(criteria)),
                                strict=True):
        if miss < 0.03:
            out.append({"response_id": response_id, "item_id": item, "code": 0})  # not applicable
        elif miss >= 0.05:
            out.append({"response_id": response_id, "item_id": item, "code": _scale_code(rng, u < p)})
    satisfied = rng.random() < 1 / (1 + np.exp(-latent))
    out.append({"response_id": response_id, "item_id": required_item, "code": _scale_code(rng, satisfied)})
