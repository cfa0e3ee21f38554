"""The dashboard table filtered by change since the previous period, and the change column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from survey.models import Role
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, AB_INDEX, HL_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"
# September -> October, each unit's one desk (unweighted; satisfied = 4-5 on every criterion, see
# report_helpers.add_responses):
#   An Bình: 5 of 40 satisfied (index 0.125) -> AB_CODES (731/1200): a rise of 0.484 points, far beyond
#            chance with 40 responses each;
#   the centre: 50 of 60 (0.833) -> HL_CODES (about 0.2): a drop far beyond chance;
#   Hòa Lạc: AB_CODES in both months: a difference of exactly 0, not significant.
LOW = [2] * 35 + [5] * 5
HIGH = [5] * 50 + [2] * 10


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", LOW, day=10, month=9, harassment=False)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", HIGH, day=10, month=9, harassment=False)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10, harassment=False)
    add_responses(app, "HL-HL-1", AB_CODES, day=10, month=9, harassment=False)
    add_responses(app, "HL-HL-1", AB_CODES, day=10, harassment=False)
    yield from running(app)


def _rows(client: FlaskClient, app: Flask, extra: str, lang: str = "en") -> tuple[list[str], str]:
    html = client.get(f"/manage/?{QUERY}{extra}&lang={lang}").get_data(as_text=True)
    ids = {unit_id(c, app): c for c in ("HL", "HL-TTHCC", "HL-AB", "HL-HL")}
    found = re.findall(r'<th scope="row"[^>]*><a href="/manage/units/(\d+)\?', html)
    return [ids[int(i)] for i in found], html


def test_filter_by_change_keeps_the_units_that_moved_that_way(capp: Flask) -> None:
    client = signed_in(capp, "tinh", Role.MANAGER, ("HL",))
    assert _rows(client, capp, "&change=improved")[0] == ["HL", "HL-AB"]
    assert _rows(client, capp, "&change=worsened")[0] == ["HL", "HL-TTHCC"]
    assert _rows(client, capp, "&change=unchanged")[0] == ["HL", "HL-HL"]
    assert _rows(client, capp, "&change=nonsense")[0] == ["HL", "HL-TTHCC", "HL-AB", "HL-HL"]
    _, html = _rows(client, capp, "&change=improved", "vi")
    cell = re.search(r'data-change="up">(.*?)</td>', html, re.S)
    assert cell is not None and "▲" in cell.group(1) and "tăng có ý nghĩa thống kê" in cell.group(1)
    assert cell is not None and f"+{round((AB_INDEX - 0.125) * 100, 1)}".replace(".", ",") in cell.group(1)
    assert 'name="change"' in html and '<option value="improved" selected>' in html


def test_the_export_keeps_the_change_filter_and_has_the_change_as_a_number(capp: Flask) -> None:
    client = signed_in(capp, "tinh", Role.MANAGER, ("HL",))
    response = client.get(f"/manage/dashboard.csv?{QUERY}&change=improved&lang=en")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][-3:] == ["Change since the previous period", "Change", "Notes"]
    assert [r[0] for r in rows[1:]] == ["HL", "HL-AB"]
    ab = rows[2]
    assert float(ab[-3]) == pytest.approx(AB_INDEX - 0.125, rel=1e-9) and ab[-2] == "significant rise"
