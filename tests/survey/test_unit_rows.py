"""The dashboard's unit rows rendered once per content (`unit_rows`): the markup made from a row's plain
values is the markup the macro makes from the row itself (so those values hold everything it shows),
in both languages and every kind of row, and a row whose figures change is rendered again."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, get_template_attribute
from markupsafe import Markup

from survey.blueprints.manage import dashboard, unit_rows
from survey.extensions import db
from survey.models import Counter, Role, Target, TargetProposal, Unit
from tests.survey.aggregate_helpers import submit
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, HL_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"


@pytest.fixture
def rapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10, harassment=False)
    add_responses(app, "HL-HL-1", [4, 5, 3], day=10, harassment=False)  # too few: a small cell
    with app.app_context():  # a target of its own, one inherited from it, a pending proposal
        db.session.add(Target(unit_id=unit_id("HL-TTHCC", app), instrument_id="sipas-counter", year=2026,
                              target=0.85))
        db.session.add(TargetProposal(unit_id=unit_id("HL-AB", app), instrument_id="sipas-counter", year=2026,
                                      target=0.7, reason="test"))
        counter = db.session.scalars(sa.select(Counter).join(Unit).where(Unit.code == "HL-TTHCC-1")).first()
        assert counter is not None  # a response awaiting review: its unit's row links to the flags
        submit(db.session(), counter, {"e1_info": 2}, datetime(2026, 10, 11, 3, tzinfo=UTC),
               flags=("device",))
        db.session.commit()
    yield from running(app)


def _tbody(html: str) -> str:
    found = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    assert found is not None
    return found.group(1)


def _from_the_rows_themselves(rows: Sequence[Mapping[str, Any]], period_label: str, instrument_key: str,
                              weighted: bool) -> list[Markup]:
    """The macro given each row as the dashboard builds it (ORM targets, dicts), no plain values, no cache."""
    macro = get_template_attribute(*unit_rows.ROW_MACRO)
    return [Markup(macro(row, period_label, instrument_key, weighted)) for row in rows]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_plain_values_hold_everything_a_row_shows(rapp: Flask, monkeypatch: pytest.MonkeyPatch,
                                                      lang: str) -> None:
    client = signed_in(rapp, f"rows-{lang}", Role.MANAGER, ("HL",))
    cached = _tbody(client.get(f"/manage/?{QUERY}&lang={lang}").get_data(as_text=True))
    monkeypatch.setattr(dashboard, "rendered_rows", _from_the_rows_themselves)
    direct = _tbody(client.get(f"/manage/?{QUERY}&lang={lang}").get_data(as_text=True))
    assert cached == direct
    for shown in ("small-cell-mark", "target-proposal", "flagged-count", 'data-target-source="own"',
                  'data-target-source="inherited"', "change-"):
        assert shown in cached, shown


def test_a_row_whose_figures_change_is_rendered_again(rapp: Flask) -> None:
    client = signed_in(rapp, "rows-change", Role.MANAGER, ("HL",))
    before = _tbody(client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True))
    with rapp.app_context():
        counter = db.session.scalars(sa.select(Counter).join(Unit).where(Unit.code == "HL-AB-1")).first()
        assert counter is not None
        for minute in range(5):
            submit(db.session(), counter, {"e1_info": 1, "overall": 1},
                   datetime(2026, 10, 12, 3, minute, tzinfo=UTC))
        db.session.commit()
    after = _tbody(client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True))
    rows_before, rows_after = before.split("</tr>"), after.split("</tr>")
    changed = {i for i, (b, a) in enumerate(zip(rows_before, rows_after, strict=True)) if a != b}
    # the new counts show in the rows of the unit and every unit above it, and only there
    counts = [re.findall(r'<td class="num">(\d+)</td>', row) for row in rows_after]
    grown = {i for i, row in enumerate(rows_before)
             if re.findall(r'<td class="num">(\d+)</td>', row) != counts[i]}
    # the province's row and HL-AB's (shown with its one service point, HL-AB-1): rendered again
    assert grown == changed and len(changed) == 2 and 0 in changed
