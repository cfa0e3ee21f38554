"""Parent and province benchmarks on the unit page: the province's figure worked out by hand, hidden
where the rest of the province is a small cell for a viewer outside it, and drawn in the charts."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask

from survey.charts import Benchmark, Point, interval_plot, trend_chart
from survey.models import Role
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, AB_INDEX, HL_CODES, PERIOD, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

SVG = "{http://www.w3.org/2000/svg}"

# Province HL = An Bình's 40 responses (AB_CODES twice) + the centre's 24 (HL_CODES twice), unweighted.
# add_responses answers criterion j with the response's code, except j % 3 == 0 where odd responses
# answer one lower. Satisfied (4-5) per criterion: An Bình 28 (j % 3 != 0) or 18 (j % 3 == 0), worked
# out in report_helpers; the centre: HL_CODES has 3 codes >= 4 (4, 4, 5) -> 6 of 24; at j % 3 == 0 its
# even positions (2, 4, 1, 2, 3, 5) give 2 and its odd ones, lowered (2, 1, 2, 3, 1, 1), none -> 4 of 24.
# Pooled: H = 34/64, L = 22/64. Elements: access (L H H L) 112/256, procedure (H H L H) 124/256,
# civil servant (H L H H L) 146/320, result (H H L) 90/192, feedback (H H L) 90/192; the index is their
# mean: (0.4375 + 0.484375 + 0.45625 + 0.46875 + 0.46875) / 5 = 0.463125.
PROVINCE_INDEX = 0.463125


def _benchmark(html: str, role: str) -> str:
    found = re.search(rf'data-benchmark="{role}">(.*?)</p>', html, re.S)
    assert found is not None, role
    return found.group(1)


def _share(text: str) -> float:
    found = re.search(r"<strong>([\d,]+)%</strong>", text)
    assert found is not None, text
    return float(found.group(1).replace(",", ".")) / 100


@pytest.fixture
def bapp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10)
    add_responses(app, "HL-TTHCC-1", HL_CODES, day=10)
    return app


def test_a_ward_manager_sees_the_province_figure_without_a_link(bapp: Flask) -> None:
    client = signed_in(bapp, "ab", Role.MANAGER, ("HL-AB",), totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB', bapp)}?period={PERIOD}&weighted=0&lang=vi"
                      ).get_data(as_text=True)
    province = _benchmark(html, "parent_province")  # An Bình's parent is the province
    assert _share(province) == pytest.approx(PROVINCE_INDEX, abs=5e-4 + 1e-9)
    assert "<a " not in province and f"/manage/units/{unit_id('HL', bapp)}" not in html
    desk = client.get(f"/manage/units/{unit_id('HL-AB-1', bapp)}?period={PERIOD}&weighted=0&lang=vi"
                      ).get_data(as_text=True)
    parent = _benchmark(desk, "parent")
    assert _share(parent) == pytest.approx(AB_INDEX, abs=5e-4 + 1e-9)  # the desk is An Bình's only one
    assert f'href="/manage/units/{unit_id("HL-AB", bapp)}?' in parent  # in scope: linked
    assert _share(_benchmark(desk, "province")) == pytest.approx(PROVINCE_INDEX, abs=5e-4 + 1e-9)
    assert "Tỉnh" in desk and 'class="bench bench-square"' in desk and 'class="bench bench-diamond"' in desk


def test_a_small_rest_of_the_province_is_not_shown_outside_its_scope(migrated_db: Path,
                                                                     tmp_path: Path) -> None:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", AB_CODES, day=10)
    add_responses(app, "HL-TTHCC-1", [5, 4, 2], day=10)  # 3 responses besides An Bình's: a small cell
    ward = signed_in(app, "ab", Role.MANAGER, ("HL-AB",), totp=True)
    url = f"/manage/units/{unit_id('HL-AB', app)}?period={PERIOD}&weighted=0&lang=vi"
    hidden = _benchmark(ward.get(url).get_data(as_text=True), "parent_province")
    assert "%" not in hidden and "–" in hidden
    # The province-wide viewer's own small-cell decision hides the centre's 3 responses and, as their
    # complement, An Bình itself (province = An Bình + centre): its page withholds every figure, the
    # benchmarks included, rather than showing the province beside a unit it could be subtracted from.
    admin = signed_in(app, "admin", Role.ADMIN, totp=True)
    page = admin.get(url).get_data(as_text=True)
    assert 'data-small-cell="1"' in page and 'data-benchmark="parent_province"' not in page


def test_benchmark_markers_sit_where_their_values_say() -> None:
    points = [Point("a", 0.5, 0.4, 0.6), Point("b", 0.7, 0.6, 0.8)]
    svg = ElementTree.fromstring(str(interval_plot(
        points, target=0.8, title="x", width=500, label_width=100,
        benchmarks=[Benchmark("Tỉnh", [0.6, None], "square")])))
    squares = svg.findall(f"{SVG}rect[@class='bench bench-square']")
    assert len(squares) == 1  # none where the benchmark has no value
    bar = svg.find(f"{SVG}line[@class='ci']")
    assert bar is not None
    # 0.6 is the first row's upper bound: the square's centre is on the bar's right end
    assert float(squares[0].get("x", "0")) + 4 == pytest.approx(float(bar.get("x2", "0")), abs=0.11)
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and "Tỉnh: a 60%, b –" in (desc.text or "")
    trend = ElementTree.fromstring(str(trend_chart(
        points, target=0.8, title="t", benchmarks=[Benchmark("Cấp trên", [0.55, 0.65], "diamond")])))
    line = trend.find(f"{SVG}polyline[@class='bench-line bench-diamond']")
    assert line is not None and len(line.get("points", "").split()) == 2
