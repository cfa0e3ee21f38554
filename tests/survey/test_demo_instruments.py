"""Every shipped instrument at its demo counter: a form sent empty is refused in Vietnamese and
nothing is stored; a form with its required answer is stored under the served version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from survey.demo.tree import seed_demo, seed_demo_sectors
from survey.extensions import db
from survey.models import Response
from tests.survey.conftest import make_app
from tests.survey.survey_helpers import Served, error_code_in

# demo counter -> (instrument key it serves, the answer to its always-required question)
DEMO = {
    "HL-TTHCC-1/Q1": ("sipas-counter@2025.1", {"overall": "4"}),
    "HL-HL-1/Q1": ("quick-rating@2025.1", {"rating": "2"}),
    "HL-BV-1/KKB": ("outpatient@2026.1", {"return_intention": "5"}),
    "HL-HL-THCS/PH": ("school-parents@2026.1", {"overall": "5"}),
}


@pytest.fixture
def served(migrated_db: Path, tmp_path: Path) -> Served:
    app = make_app(migrated_db, tmp_path)
    with app.app_context():
        counters = seed_demo(db.session) + seed_demo_sectors(db.session)
        ids = {f"{c.unit.code}/{c.code}": c.id for c in counters}
        db.session.commit()
    return Served(app, app.test_client(), ids)


def _stored(app: Flask) -> list[tuple[str, str, dict[str, list[int]]]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Response).order_by(Response.id)).all()
        out = []
        for row in rows:
            answers: dict[str, list[int]] = {}
            for answer in row.answers:
                answers.setdefault(answer.item_id, []).append(answer.code)
            out.append((row.instrument_id, row.instrument_version, answers))
        return out


@pytest.mark.parametrize("counter", list(DEMO))
def test_an_empty_form_is_refused_in_vietnamese_and_nothing_is_stored(served: Served, counter: str) -> None:
    url = served.url(counter)
    fields: dict[str, Any] = served.open_form(url)
    response = served.client.post(url, data=fields)  # only the hidden nonce: nothing answered
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:600]
    assert error_code_in(html) == {"E-REQUIRED"}
    assert "Xin vui lòng trả lời câu hỏi này." in html  # the message, in the citizen's language
    assert served.counts() == (0, 0, 0)


@pytest.mark.parametrize("counter", list(DEMO))
def test_the_required_answer_alone_is_stored_under_the_served_version(served: Served, counter: str) -> None:
    key, answer = DEMO[counter]
    url = served.url(counter)
    response = served.client.post(url, data={**served.open_form(url), **answer})
    assert response.status_code == 303, response.get_data(as_text=True)[:600]
    [(instrument_id, version, answers)] = _stored(served.app)
    assert f"{instrument_id}@{version}" == key
    assert answers == {item: [int(code)] for item, code in answer.items()}


def test_a_long_option_list_is_a_drop_down_whose_empty_entry_is_no_answer(served: Served) -> None:
    url = served.url("HL-TTHCC-1/Q1")  # sipas-counter: 17 procedure fields
    html = served.client.get(url + "?new=1").get_data(as_text=True)
    assert re.search(r'<label class="item-label" for="q-procedure_field">[^<]+</label>'
                     r'<select id=q-procedure_field name=procedure_field class="text-input">'
                     r'<option value="">—</option>'
                     r'<option value=1>Đất đai</option>', html)
    assert html.count("<option ") == 18  # the empty entry and the 17 fields
    response = served.client.post(url, data={**served.open_form(url), "overall": "4", "procedure_field": ""})
    assert response.status_code == 303, response.get_data(as_text=True)[:600]
    [(_, _, answers)] = _stored(served.app)
    assert answers == {"overall": [4]}
    response = served.client.post(url, data={**served.open_form(url), "overall": "4", "procedure_field": "0"})
    assert response.status_code == 422 and error_code_in(response.get_data(as_text=True)) == {"E-VALUE"}
