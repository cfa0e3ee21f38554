"""The rich demo year: plausible, and generated only once."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from flask import Flask

from instruments.registry import get_instrument
from survey.demo.province import DROP_UNIT, generate_demo_responses
from survey.extensions import db
from survey.models import Answer, Response, ServedCount, TextAnswer, Unit, UnitKind
from survey.services.disclosure.scrubber import scrub

CRITERIA = [c for e in get_instrument("sipas-counter", "2025.1").index.elements for c in e.criteria]


def test_demo_year_is_plausible_and_idempotent(app: Flask) -> None:
    with app.app_context():
        added = generate_demo_responses(db.session)
        db.session.commit()
        assert 15_000 <= added <= 25_000
        assert generate_demo_responses(db.session) == 0  # second run: nothing new
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == added

        kinds = pd.Series(list(db.session.scalars(sa.select(Unit.kind))))
        assert (kinds == UnitKind.COMMUNE).sum() >= 20 and (kinds == UnitKind.AGENCY).sum() >= 3

        rows = db.session.execute(
            sa.select(Unit.code, Response.submitted_at, Answer.code)
            .join(Response, Response.unit_id == Unit.id)
            .join(Answer, Answer.response_id == Response.id)
            .where(Answer.item_id.in_(CRITERIA), Response.status == "valid")
        ).all()
        answers = pd.DataFrame(rows, columns=["unit", "at", "code"])
        assert (answers["code"] == 0).mean() > 0.01  # "not applicable" is used
        valid = answers[answers["code"] > 0]
        share = valid.assign(sat=valid["code"] >= 4).groupby("unit")["sat"].agg(["mean", "size"])
        big = share[share["size"] >= 200 * len(CRITERIA)]["mean"]
        assert big.min() < 0.80 and big.max() > 0.90  # units really differ
        assert share["size"].min() < 60 * len(CRITERIA)  # and some are tiny over a whole year

        drop = valid[valid["unit"] == f"{DROP_UNIT}-1"].copy()
        drop["month"] = pd.to_datetime(drop["at"], utc=True).dt.strftime("%Y-%m")
        monthly = drop.assign(sat=drop["code"] >= 4).groupby("month")["sat"].mean()
        assert monthly.iloc[-3:].mean() < monthly.iloc[:-3].mean() - 0.10

        skipped = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Response)
            .where(~sa.exists().where(Answer.response_id == Response.id, Answer.item_id == "e5_notified"))
        )
        assert skipped and skipped > 0
        flagged = db.session.scalar(
            sa.select(sa.func.count()).select_from(Response).where(Response.status == "flagged")
        )
        assert 0 < flagged < 0.03 * added

        texts = list(db.session.scalars(sa.select(TextAnswer.text)))
        assert any(scrub(t).redactions for t in texts) and any(not scrub(t).redactions for t in texts)
        frames = db.session.scalar(sa.select(sa.func.count()).select_from(ServedCount))
        assert frames and frames >= 12 * 24

        # The demo hospital and school answer their own instruments, each response with the required
        # question answered (as the web form demands), and they get served-dossier frames too.
        by_unit = dict(db.session.execute(
            sa.select(Unit.code, Response.instrument_id).join(Response, Response.unit_id == Unit.id)
            .where(Unit.code.in_(["HL-BV-1", "HL-HL-THCS"])).distinct()).all())
        assert by_unit == {"HL-BV-1": "outpatient", "HL-HL-THCS": "school-parents"}
        sector = Response.instrument_id.in_(["outpatient", "school-parents"])
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(sector))
        assert counted and counted > 1000
        without_required = db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(
            sector, ~sa.exists().where(Answer.response_id == Response.id,
                                       Answer.item_id.in_(["return_intention", "overall"]))))
        assert without_required == 0
