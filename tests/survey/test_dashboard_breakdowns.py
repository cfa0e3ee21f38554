"""Breakdowns of a unit's index by group and the respondent profile: hand-computed figures, the small-cell
rule with its complement, and the "all" row equal to the unit page's overall index."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask

from survey.extensions import db
from survey.models import Role, Unit
from survey.services.reporting import breakdowns
from survey.services.reporting.breakdowns import NOT_ANSWERED, hidden_categories, overall_of_all
from survey.services.reporting.indices import unit_indices
from survey.services.reporting.periods import Period
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import PERIOD, add_responses
from tests.survey.staff_helpers import signed_in, staff_app

# 39 responses at An Bình's desk. Codes 5 (satisfied on every criterion) and 2 (on none): add_responses
# lowers every third criterion by one for odd responses, which keeps 5 satisfied (4) and 2 not (1), so a
# group's overall index is its share of 5s.
#   i 0-14: 5, i 15-19: 2          -> men (sex 1), 15 of 20 satisfied = 0.75
#   i 20-27: 5, i 28-35: 2         -> women (sex 2), 8 of 16 = 0.5
#   i 36-38: 5                     -> sex not answered (3: a small cell)
# Age band 1: i 0-2 (3, small); band 2: i 3-14 (12); band 3: i 15-38 (24), of whom 5 + 3 = 8... see below.
# Band 3 = i 15-19 (2), 20-27 (5), 28-35 (2), 36-38 (5): 8 + 3 = 11 satisfied of 24.
CODES = [5] * 15 + [2] * 5 + [5] * 8 + [2] * 8 + [5] * 3
SEX: list[int | None] = [1] * 20 + [2] * 16 + [None] * 3
AGE: list[int | None] = [1] * 3 + [2] * 12 + [3] * 24


@pytest.fixture
def bapp(migrated_db: Path, tmp_path: Path) -> Flask:
    app = staff_app(migrated_db, tmp_path)
    add_responses(app, "HL-AB-1", CODES, day=10, extra={"sex": SEX, "age_band": AGE})
    return app


def _rows(html: str, variable: str) -> dict[str, str]:
    table = re.search(rf'data-breakdown="{variable}".*?</table>', html, re.S)
    assert table is not None, variable
    return dict(re.findall(r'data-group="[^:]+:([^"]+)">(.*?)</tr>', table.group(0), re.S))


def _percent(cell_html: str) -> float:
    found = re.search(r'<span class="est">([\d,]+)%</span>', cell_html)
    assert found is not None, cell_html
    return float(found.group(1).replace(",", ".")) / 100


def test_sex_and_age_breakdowns_equal_the_hand_computed_shares_and_hide_small_groups(bapp: Flask) -> None:
    client = signed_in(bapp, "admin", Role.ADMIN, totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB', bapp)}?period={PERIOD}&weighted=0&lang=vi"
                      ).get_data(as_text=True)
    sex = _rows(html, "sex")
    assert _percent(sex["1"]) == pytest.approx(0.75, abs=5e-4)
    assert ">20<" in sex["1"]  # n
    # 3 without an answer are hidden; women (16, the smallest other group) too, or 39 - 20 - 16 = 3.
    assert "ẩn" in sex[NOT_ANSWERED] and "%" not in sex[NOT_ANSWERED]
    assert "%" not in sex["2"] and ">16<" not in sex["2"]
    age = _rows(html, "age_band")
    assert _percent(age["3"]) == pytest.approx(11 / 24, abs=5e-4)
    assert "%" not in age["1"] and "%" not in age["2"]  # 3 respondents, and its complement (12)
    assert "Nam" in sex["1"] and "Từ 35 đến 49" in age["3"]
    english = client.get(f"/manage/units/{unit_id('HL-AB', bapp)}?period={PERIOD}&weighted=0&lang=en"
                         ).get_data(as_text=True)
    assert "Male" in _rows(english, "sex")["1"] and "hidden (small group)" in english
    assert 'data-breakdown="channel"' not in html  # every response came by QR: one group says nothing


def test_the_all_row_equals_the_unit_pages_overall_index(bapp: Flask) -> None:
    with bapp.app_context():
        unit = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-AB"))
        assert unit is not None
        period = Period.parse(PERIOD, Period.month(2026, 11).first)
        report = unit_indices(db.session(), unit, "sipas-counter@2025.1", period, weighted=False)
        page = report.overall()
        everyone = overall_of_all(db.session(), unit, "sipas-counter@2025.1", period, weighted=False,
                                  target=report.target, min_cell=10, variable="sex")
        assert page is not None and everyone is not None
        assert everyone["est"] == pytest.approx(26 / 39) == pytest.approx(page["est"])
        assert (everyone["ci_lo"], everyone["ci_hi"], everyone["n"]) == pytest.approx(
            (page["ci_lo"], page["ci_hi"], page["n"]))


@pytest.mark.parametrize(
    ("respondents", "index_n", "hidden"),
    [
        ({"a": 20, "b": 16, "c": 3}, {"a": 20, "b": 16, "c": 3}, {"b", "c"}),  # c, then the smallest other
        ({"a": 20, "b": 16, "c": 10}, {"a": 20, "b": 16, "c": 10}, set()),
        ({"a": 3, "b": 2, "c": 30}, {"a": 3, "b": 2, "c": 30}, {"a", "b"}),  # two unknowns: no complement
        # respondents need nothing hidden, but only 4 of c's 10 answered the index: c hidden in the n
        # table with its complement b, and the union hidden in both
        ({"a": 20, "b": 16, "c": 10}, {"a": 20, "b": 16, "c": 4}, {"b", "c"}),
        ({"a": 0, "b": 12, "c": 7}, {"a": 0, "b": 12, "c": 7}, set()),  # a zero is not a small cell
    ],
)
def test_hidden_categories_by_hand(respondents: dict[str, int], index_n: dict[str, int],
                                   hidden: set[str]) -> None:
    assert hidden_categories(respondents, index_n) == frozenset(hidden)


def test_a_variable_whose_total_is_a_small_cell_is_hidden_whole() -> None:
    assert hidden_categories({"a": 2, "b": 2}, {"a": 2, "b": 2}) is None
    assert hidden_categories({"a": 3, "b": 3}, {"a": 3, "b": 1}) is None  # the index's n total is 4


def _profile_rows(html: str, variable: str) -> dict[str, str]:
    body = re.search(rf'data-profile="{variable}".*?</tbody>', html, re.S)
    assert body is not None, variable
    return dict(re.findall(r'data-group="[^:]+:([^"]+)">(.*?)</tr>', body.group(0), re.S))


def test_respondent_profile_counts_and_shares_with_the_same_groups_hidden(bapp: Flask) -> None:
    client = signed_in(bapp, "admin", Role.ADMIN, totp=True)
    html = client.get(f"/manage/units/{unit_id('HL-AB', bapp)}?period={PERIOD}&weighted=0&lang=vi"
                      ).get_data(as_text=True)
    sex = _profile_rows(html, "sex")
    assert re.search(r">20</td>\s*<td class=\"num\">51,3%<", sex["1"])  # 20 of 39
    assert "ẩn" in sex["2"] and "ẩn" in sex[NOT_ANSWERED] and "16" not in sex["2"]
    age = _profile_rows(html, "age_band")
    assert re.search(r">24</td>\s*<td class=\"num\">61,5%<", age["3"])  # 24 of 39
    assert "%" not in age["1"] and "%" not in age["2"]
    assert "39 người trả lời" in html


def test_category_keys_spell_each_value_once_and_missing_as_not_answered() -> None:
    """Answer codes become their integer text, text stays itself, and a missing value (None, NaN, an
    empty text) is "not answered", on the index of the values given."""
    codes = pd.Series([3.0, None, 1.0, float("nan"), 3.0], index=[5, 6, 7, 8, 9], name="age_band")
    assert breakdowns._keys(codes, True).tolist() == ["3", NOT_ANSWERED, "1", NOT_ANSWERED, "3"]
    assert list(breakdowns._keys(codes, True).index) == [5, 6, 7, 8, 9]
    text = pd.Series(["qr", None, "", float("nan"), "kiosk", "qr"], dtype=object, name="channel")
    assert breakdowns._keys(text, False).tolist() == ["qr", NOT_ANSWERED, NOT_ANSWERED, NOT_ANSWERED, "kiosk",
                                                      "qr"]
    assert breakdowns._keys(pd.Series(["5", "x"], dtype=object), True).tolist() == ["5", NOT_ANSWERED]
