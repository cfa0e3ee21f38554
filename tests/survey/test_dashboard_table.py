"""The dashboard table: sorted and filtered by verdict, index and n without JavaScript, and exported
as CSV and XLSX with the same rows as numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from survey.extensions import db
from survey.models import Role, Unit
from survey.services.reporting.indices import compute_unit_indices
from survey.services.reporting.periods import Period
from tests.survey.conftest import audit_events, unit_id
from tests.survey.report_helpers import AB_CODES, HL_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import running, signed_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"
GOOD = [5] * 60  # a unit whose whole interval clears the 90 % target


@pytest.fixture
def tapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10, harassment=False)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10, harassment=False)
    add_responses(app, "HL-HL-1", GOOD, day=10, harassment=False)
    yield from running(app)


def _estimates(app: Flask) -> dict[str, tuple[float, int, str]]:
    """(est, n, verdict) of each unit from the analysis service, independent of the page."""
    with app.app_context():
        root = db.session.scalar(sa.select(Unit).where(Unit.code == "HL"))
        assert root is not None
        report = compute_unit_indices(db.session, root, "sipas-counter@2025.1", Period.parse(PERIOD, None),
                                      weighted=False, default_target=0.8)
        out = {}
        for code in ("HL-TTHCC", "HL-AB", "HL-HL"):
            row = report.overall(code)
            assert row is not None
            out[code] = (float(row["est"]), int(row["n"]), str(row["verdict"]))
        return out


def _rows(client: FlaskClient, app: Flask, extra: str) -> list[str]:
    html = client.get(f"/manage/?{QUERY}{extra}&lang=en").get_data(as_text=True)
    ids = {unit_id(c, app): c for c in ("HL", "HL-TTHCC", "HL-AB", "HL-HL")}
    return [ids[int(i)] for i in re.findall(r'<th scope="row"[^>]*><a href="/manage/units/(\d+)\?', html)]


def test_sort_and_filter_without_javascript(tapp: Flask) -> None:
    client = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    figures = _estimates(tapp)
    by_index = sorted(figures, key=lambda c: figures[c][0])
    assert _rows(client, tapp, "&sort=index") == ["HL", *by_index]
    by_n = sorted(figures, key=lambda c: figures[c][1])
    assert _rows(client, tapp, "&sort=n") == ["HL", *by_n]
    assert _rows(client, tapp, "") == ["HL", "HL-TTHCC", "HL-AB", "HL-HL"]  # the tree
    met = [c for c in ("HL-TTHCC", "HL-AB", "HL-HL") if figures[c][2] == "met"]
    below = [c for c in ("HL-TTHCC", "HL-AB", "HL-HL") if figures[c][2] == "below"]
    assert met == ["HL-HL"] and below  # the data give both verdicts, so the filter can be wrong
    assert _rows(client, tapp, "&verdict=met") == ["HL", *met]
    assert _rows(client, tapp, "&verdict=below&sort=index") == ["HL", *[c for c in by_index if c in below]]
    assert _rows(client, tapp, "&sort=verdict")[1:len(below) + 1] == [c for c in by_index if c in below]
    assert _rows(client, tapp, "&sort=nonsense&verdict=nonsense") == ["HL", "HL-TTHCC", "HL-AB", "HL-HL"]


def test_the_table_exports_as_csv_and_xlsx_with_the_pages_rows(tapp: Flask) -> None:
    client = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    figures = _estimates(tapp)
    response = client.get(f"/manage/dashboard.csv?{QUERY}&sort=index&lang=en")
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Unit code", "Unit", "Level", "Target"]
    codes = [r[0] for r in rows[1:]]
    assert codes == _rows(client, tapp, "&sort=index")
    ab = next(r for r in rows if r[0] == "HL-AB")
    assert float(ab[5]) == pytest.approx(figures["HL-AB"][0], rel=1e-12) and int(ab[9]) == figures["HL-AB"][1]
    assert float(ab[3]) == 0.9 and ab[4] == "from Demo Province"
    xlsx = client.get(f"/manage/dashboard.xlsx?{QUERY}&verdict=met&lang=vi")
    sheet = load_workbook(io.BytesIO(xlsx.data))["Units"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [v[0] for v in values] == ["HL", "HL-HL"]
    assert values[1][5] == pytest.approx(figures["HL-HL"][0], rel=1e-12)
    assert sheet["F3"].number_format == "0.0%"
    assert [e.detail.count('"table": "dashboard"') for e in audit_events("report.download", tapp)] == [1, 1]
    ward = signed_in(tapp, "phuong", Role.MANAGER, ("HL-AB",))
    mine = list(csv.reader(io.StringIO(ward.get(f"/manage/dashboard.csv?{QUERY}").data.decode("utf-8-sig"))))
    assert {r[0] for r in mine[1:]} == {"HL-AB"}  # scoped like the page (its one service point collapsed)


def test_the_ranked_chart_orders_units_by_index_with_the_target_line(tapp: Flask) -> None:
    client = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    figures = _estimates(tapp)
    names = {"HL-TTHCC": "Provincial Public Administrative Service Centre", "HL-AB": "An Binh Ward",
             "HL-HL": "Hoa Lac Commune"}
    html = client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    figure = html[html.index('<figure class="ranked"'):]
    figure = figure[:figure.index("</figure>")]
    labels = re.findall(r'<text class="label"[^>]*>([^<]+)</text>', figure)
    assert labels == [names[c] for c in sorted(figures, key=lambda c: -figures[c][0])]
    assert figure.count('class="ci"') == 3 and 'class="target"' in figure and "<svg" in figure


def test_what_to_fix_first_lists_the_criteria_furthest_below_target(tapp: Flask) -> None:
    client = signed_in(tapp, "tinh", Role.MANAGER, ("HL",))
    with tapp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        assert unit is not None
        report = compute_unit_indices(db.session, unit, "sipas-counter@2025.1", Period.parse(PERIOD, None),
                                      weighted=False, default_target=0.8)
        rows = report.estimates[(report.estimates["domain"] == "HL-AB")
                                & (report.estimates["stat_type"] == "criterion")]
        below = rows[rows["est"].astype(float) < 0.9].sort_values("est", kind="stable")
    expected = list(below["stat"])[:5]
    assert len(expected) == 5  # the ward is under its 90 % target on many criteria
    html = client.get(f"/manage/units/{unit_id('HL-AB', tapp)}?{QUERY}&lang=vi").get_data(as_text=True)
    assert "Cần cải thiện trước" in html
    assert re.findall(r'<li data-criterion="([^"]+)">', html) == expected
    good = client.get(f"/manage/units/{unit_id('HL-HL', tapp)}?{QUERY}&lang=en").get_data(as_text=True)
    assert "What to fix first" not in good  # every criterion of Hoa Lac is above its target
