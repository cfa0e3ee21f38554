"""Shared set-up of the report and dashboard tests: the demo tree, October 2026 responses, scoped accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Answer, Response, TextAnswer, Unit

PERIOD = "2026-10"
RAW_PHONE = "0912 345 678"
PHONE_COMMENT = f"Gọi tôi {RAW_PHONE}, chị Lan ở quầy 3 rất tận tình"
FORMULA_COMMENT = '=HYPERLINK("http://evil.example","bấm vào đây")'
# Deliberately varied codes so elements and criteria differ, and one unit is below 80 %.
AB_CODES = [5, 4, 2, 5, 4, 3, 5, 4, 1, 5, 4, 4, 2, 5, 5, 4, 3, 4, 5, 2] * 2
HL_CODES = [2, 3, 4, 2, 1, 3, 2, 4, 3, 2, 5, 1] * 2


def add_responses(app: Flask, unit_code: str, codes: list[int], comments: tuple[str, ...] = (), *,
                  day: int | None = None, month: int = 10, harassment: bool = True,
                  extra: dict[str, list[int | None]] | None = None) -> None:
    """One response per code, answering every criterion near that code, in `month` of 2026 (October).

    Responses fall on `day` of the month, or spread over days 1-28 when it is None; `harassment=False`
    leaves that question unanswered; `extra` gives further items' codes, one per response (None: not
    answered), e.g. the profile's ``sex`` and ``age_band``.
    """
    registered = get_registered("sipas-counter", "2025.1")
    criteria = [c for e in registered.instrument.index.elements for c in e.criteria]
    with app.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == unit_code))
        assert unit is not None
        for i, code in enumerate(codes):
            response = Response(
                instrument_id="sipas-counter", instrument_version="2025.1",
                instrument_hash=registered.content_hash, unit_id=unit.id, channel="qr", language="vi",
                submitted_at=datetime(2026, month, day or (1 + i % 28), 3, i % 60, tzinfo=UTC),
                idempotency_key=f"report-{unit_code}-{month}-{i}",
            )
            db.session.add(response)
            db.session.flush()
            for j, item in enumerate(criteria):
                answer = code if j % 3 else max(1, code - i % 2)
                db.session.add(Answer(response_id=response.id, item_id=item, code=answer))
            db.session.add(Answer(response_id=response.id, item_id="overall", code=code))
            if harassment:
                db.session.add(Answer(response_id=response.id, item_id="harassment", code=1 if i % 7 else 2))
            for item, item_codes in (extra or {}).items():
                if item_codes[i] is not None:
                    db.session.add(Answer(response_id=response.id, item_id=item, code=item_codes[i]))
            if i < len(comments):
                db.session.add(TextAnswer(response_id=response.id, item_id="comment", text=comments[i]))
        db.session.commit()


def seed_responses(app: Flask) -> None:
    add_responses(app, "HL-AB-1", AB_CODES,
                  comments=(PHONE_COMMENT, FORMULA_COMMENT, "Phòng chờ nóng, cần thêm quạt."))
    add_responses(app, "HL-HL-1", HL_CODES)


# The figures of commune An Bình (HL-AB = its one desk HL-AB-1) in October 2026, unweighted, worked out
# by hand from `AB_CODES` and the answering rule of `add_responses` -- not by the code under test.
# 40 responses (AB_CODES twice). A criterion at position j (0-18 in the instrument's element order) gets
# the response's code, except every third one (j % 3 == 0), where odd-numbered responses answer one
# lower. Satisfied = 4 or 5:
# - j % 3 != 0: codes >= 4 in AB_CODES' 20 = 14 -> 28/40 = 0.70;
# - j % 3 == 0: 6 of the 10 even positions (5,4,5,4,5,5) and 3 of the 10 odd ones once lowered
#   (5->4 three times) -> 18/40 = 0.45.
# Elements (mean of their criteria): access j=0-3 (0.45, .7, .7, 0.45) = 0.575; procedure j=4-7
# (.7, .7, .45, .7) = 0.6375; civil_servant j=8-12 (.7, .45, .7, .7, .45) = 0.60; result j=13-15 and
# feedback j=16-18 (.7, .7, .45) = 37/60. Index = mean of the five = 3.0458333 / 5 = 731/1200.
# Intervals of a simple share: n = 40 equal weights, the with-replacement design variance is
# p(1-p)/(n-1), so n_eff = 39 and Wilson (1927) uses t = qt(0.975, df 39) = 2.022690920036761
# (scipy.stats.t.ppf): 0.45 -> (0.30138069, 0.60811375); 0.70 -> (0.53853684, 0.82348537).
AB_INDEX = 731 / 1200
AB_ELEMENTS = {"access": 0.575, "procedure": 0.6375, "civil_servant": 0.60, "result": 37 / 60,
               "feedback": 37 / 60}
AB_CRITERION_LOW, AB_CRITERION_HIGH = 0.45, 0.70  # j % 3 == 0, otherwise
AB_INTERVAL_LOW = (0.3013806945377433, 0.6081137523547816)
AB_INTERVAL_HIGH = (0.5385368399017597, 0.8234853725281411)

# The same hand working for the centre's desk HL-TTHCC-1 holding `HL_CODES` (24 responses, 12 codes
# twice, so a response's parity is its position's): j % 3 != 0: codes >= 4 are 4, 4, 5 -> 6/24 = 1/4;
# j % 3 == 0: even positions keep their code (2, 4, 1, 2, 3, 5: two satisfied), odd ones answer one lower
# (3, 2, 3, 4, 2, 1 -> 2, 1, 2, 3, 1, 1: none) -> 4/24 = 1/6. Elements: access (1/6, 1/4, 1/4, 1/6) = 5/24;
# procedure (1/4, 1/4, 1/6, 1/4) = 11/48; civil_servant (1/4, 1/6, 1/4, 1/4, 1/6) = 13/60; result and
# feedback (1/4, 1/4, 1/6) = 2/9. Index = (5/24 + 11/48 + 13/60 + 2/9 + 2/9) / 5 = 791/3600.
TT_ELEMENTS = {"access": 5 / 24, "procedure": 11 / 48, "civil_servant": 13 / 60, "result": 2 / 9,
               "feedback": 2 / 9}
TT_INDEX = 791 / 3600


def run_alerts_job(app: Flask, period: str = PERIOD) -> None:
    """`flask alerts refresh --period`: the only way alerts are made (no page view creates them)."""
    result = app.test_cli_runner().invoke(args=["alerts", "refresh", "--period", period])
    assert result.exit_code == 0, result.output
