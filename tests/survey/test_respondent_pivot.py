"""The respondents' answers placed in numpy (`respondent_data._pivoted`) are the frame the database's
own pivot gave (conditional aggregation, ``MAX(CASE WHEN item_id = 'x' THEN code END)``, written out
here as the loader ran it before): every column, value and type, on the demo with answers missing,
a multiple-choice item and a month without responses."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import aliased

from instruments.model import Instrument
from survey.extensions import db
from survey.local_time import TIMEZONE, local_date, utc_bounds
from survey.models import Answer, Counter, Response, Unit
from survey.services.citizens.surveys import find_instrument
from survey.services.reporting import respondent_data
from survey.services.reporting.indices import instrument_for
from tests.survey.aggregate_helpers import demo_with_responses
from tests.survey.staff_helpers import clock_of
from tests.survey.survey_helpers import VALID
from tests.survey.test_plausibility_flags import _send, _served


def _database_pivot(session: Any, unit_ids: list[int], first: date, last: date, instrument: Instrument
                    ) -> pd.DataFrame:
    coded, multi = respondent_data._item_columns(instrument)
    start, end = utc_bounds(first, last, TIMEZONE)
    parent = aliased(Unit)
    columns: list[Any] = [
        Response.id.label("response_id"), Unit.code.label("unit"), parent.code.label("parent"),
        Counter.code.label("counter"), Response.procedure_field.label("field"),
        Response.channel.label("channel"), Response.submitted_at.label("submitted_at"),
        Response.status.label("status"), Response.status_reason.label("status_reason")]
    columns += [sa.func.max(sa.case((Answer.item_id == item, Answer.code))).label(item) for item in coded]
    columns += [sa.func.max(sa.case((sa.and_(Answer.item_id == item, Answer.code == code), 1), else_=0))
                .label(f"{item}__{code}") for item, code in multi]
    query = (sa.select(*columns).select_from(Response).join(Unit, Unit.id == Response.unit_id)
             .outerjoin(parent, parent.id == Unit.parent_id)
             .outerjoin(Counter, Counter.id == Response.counter_id)
             .outerjoin(Answer, Answer.response_id == Response.id)
             .where(Response.unit_id.in_(unit_ids), Response.instrument_id == instrument.id,
                    Response.instrument_version == instrument.version,
                    Response.submitted_at >= start, Response.submitted_at < end)
             .group_by(Response.id, Unit.code, parent.code, Counter.code).order_by(Response.id))
    result = session.execute(query)
    raw = pd.DataFrame(result.all(), columns=list(result.keys()))
    local = pd.to_datetime(raw["submitted_at"], utc=True).dt.tz_convert(TIMEZONE)
    raw["submitted"] = local.dt.date
    raw["month"] = local.dt.strftime("%Y-%m")
    raw["status"] = raw["status"].map(lambda s: respondent_data.ResponseStatus(s).value)
    raw["channel"] = raw["channel"].map(lambda c: str(getattr(c, "value", c)))
    if len(raw):
        raw = raw.astype(dict.fromkeys(respondent_data._TEXT_COLUMNS, respondent_data.TEXT))
    if coded:
        raw[coded] = raw[coded].to_numpy(dtype="float64", na_value=np.nan)
    return raw[[*respondent_data.META_COLUMNS, *coded, *(f"{item}__{code}" for item, code in multi)]]


@pytest.fixture
def papp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 150, seed=12)


@pytest.mark.parametrize("months", [(date(2026, 10, 1), date(2026, 11, 30)),
                                    (date(2026, 11, 1), date(2026, 11, 30)),
                                    (date(2026, 3, 1), date(2026, 3, 31))])
def test_the_answers_placed_in_numpy_are_the_databases_pivot(papp: Flask, months: tuple[date, date]) -> None:
    with papp.app_context():
        session = db.session()
        units = list(session.scalars(sa.select(Unit.id)))
        found = respondent_data._rows(session, units, *months, instrument_for("sipas-counter"), TIMEZONE)
        expected = _database_pivot(session, units, *months, instrument_for("sipas-counter"))
        pd.testing.assert_frame_equal(found, expected, check_exact=True)
        if months[0].month == 3:
            assert found.empty
        else:
            assert len(found) > 20 and found["e1_info"].isna().any()  # unanswered criteria stay NaN


def test_a_multiple_choice_item_becomes_one_column_per_option(migrated_db: Path, tmp_path: Path) -> None:
    """The kitchen-sink instrument's multiple-choice options (0/1) and number item, as the database
    pivoted them."""
    served = _served(migrated_db, tmp_path)
    for overall, chosen in (("1", ["1", "99"]), ("5", []), ("2", ["2"])):  # reasons asked below 3
        _send(served, answers={**VALID, "overall": overall, "reasons": chosen})  # type: ignore[dict-item]
    with served.app.app_context():
        session = db.session()
        paths = served.app.config["INSTRUMENT_PATHS"]
        instrument = find_instrument("kitchen-sink", "2025.1", paths).instrument
        today = local_date(clock_of(served.app).now)
        units = list(session.scalars(sa.select(Unit.id)))
        found = respondent_data._rows(session, units, today.replace(day=1), today, instrument, TIMEZONE)
        expected = _database_pivot(session, units, today.replace(day=1), today, instrument)
        options = [column for column in found.columns if "__" in column]
        assert options and len(found) == 3 and found[options].to_numpy().sum() > 0
        pd.testing.assert_frame_equal(found, expected, check_exact=True)
