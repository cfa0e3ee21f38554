"""Seed for the microdata tests: October 2026 responses with profile answers, N/A codes, distinctive
identifiers to look for in the exported bytes, and served-dossier frames so the weights are not 1."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from flask import Flask

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Answer, Counter, FrameUpload, Response, ServedCount, Unit

FIRST_ID = 7_340_001
SECRET_COUNTER = "QSECRET9"
KEY_PREFIX = "idem-zq8v"
TIME_OF_DAY = (7, 37)  # UTC hour and minute of every response: 14:37 in Hanoi
# One format per unit (docs/weights.md): HL-AB-1 by field (400 justice dossiers), HL-HL-1 as a total.
SERVED = {("HL-AB-1", "tu-phap"): 400, ("HL-HL-1", ""): 300}


def _unit(code: str) -> Unit:
    unit = db.session.scalar(sa.select(Unit).where(Unit.code == code))
    assert unit is not None
    return unit


def seed_microdata(app: Flask) -> list[int]:
    """Responses of three weighting cells; return their ids (the identifiers that must not leak).

    Every class of (unit, counter field, age band, sex) has 10 members with both answers to the
    integrity items, except five respondents aged over 60 of mixed sex in HL-AB-1: their age band
    and sex must be suppressed (alone they are 2 and 3), after which they form a group of five.
    """
    registered = get_registered("sipas-counter", "2025.1")
    criteria = [c for e in registered.instrument.index.elements for c in e.criteria]
    ids: list[int] = []
    with app.app_context():
        ab, hl = _unit("HL-AB-1"), _unit("HL-HL-1")
        secret = Counter(unit_id=ab.id, code=SECRET_COUNTER, name_vi="Quầy bí mật", name_en="Secret counter",
                         procedure_field="tu-phap")
        db.session.add(secret)
        kiosk = db.session.scalar(sa.select(Counter).where(Counter.unit_id == ab.id, Counter.code == "KIOSK"))
        hl_counter = db.session.scalar(sa.select(Counter).where(Counter.unit_id == hl.id))
        db.session.flush()
        plan = [(ab, secret, "tu-phap", "qr", 40), (ab, kiosk, None, "kiosk", 20),
                (hl, hl_counter, None, "qr", 24)]
        next_id = FIRST_ID
        for unit, counter, field, channel, size in plan:
            for i in range(size):
                profile = {"age_band": 2 + i % 2, "sex": 1 + (i // 2) % 2}
                _add(registered, criteria, next_id, unit, counter, field, channel, i, profile)
                ids.append(next_id)
                next_id += 1
        for i, sex in enumerate((1, 2, 1, 2, 1)):
            _add(registered, criteria, next_id, ab, secret, "tu-phap", "qr", i, {"age_band": 5, "sex": sex})
            ids.append(next_id)
            next_id += 1
        upload = FrameUpload(source="csv", rows=len(SERVED))
        db.session.add(upload)
        db.session.flush()
        for (code, field_name), served in SERVED.items():
            db.session.add(ServedCount(unit_id=_unit(code).id, procedure_field=field_name, channel="",
                                       period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                                       served=served, upload_id=upload.id))
        db.session.commit()
    return ids


def _add(registered, criteria, response_id, unit, counter, field, channel, i, profile) -> None:  # type: ignore[no-untyped-def]
    response = Response(
        id=response_id, instrument_id="sipas-counter", instrument_version="2025.1",
        instrument_hash=registered.content_hash, unit_id=unit.id, counter_id=counter.id,
        procedure_field=field, channel=channel, language="vi",
        submitted_at=datetime(2026, 10, 1 + i % 28, *TIME_OF_DAY, tzinfo=UTC),
        idempotency_key=f"{KEY_PREFIX}-{response_id}",
    )
    db.session.add(response)
    db.session.flush()
    base = 2 + (i * 7 + unit.id) % 4  # 2..5, varied by respondent and unit
    for j, item in enumerate(criteria):
        code = 0 if (i + j) % 11 == 0 else max(1, min(5, base + (j % 3) - 1))
        db.session.add(Answer(response_id=response.id, item_id=item, code=code))
    db.session.add(Answer(response_id=response.id, item_id="overall", code=base))
    db.session.add(Answer(response_id=response.id, item_id="harassment", code=2 if (i // 4) % 3 == 0 else 1))
    db.session.add(Answer(response_id=response.id, item_id="extra_payment",
                          code=2 if (i // 4) % 5 == 0 or i == 1 else 1))
    for item, code in profile.items():
        db.session.add(Answer(response_id=response.id, item_id=item, code=code))
