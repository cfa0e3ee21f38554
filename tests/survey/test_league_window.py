"""A child's page shows its siblings' league around itself (`league.league_window`): the first and last
rows and its neighbours, with a link to the whole table; a short league whole."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from flask import Flask

from survey.services.reporting import league
from survey.services.reporting.league import LeftOut, league_window
from tests.survey.conftest import unit_id
from tests.survey.test_dashboard_small_cells import QUERY, _province, large  # noqa: F401 (a fixture)


def _league(n: int) -> pd.DataFrame:
    return pd.DataFrame({"unit": [f"U{i:03d}" for i in range(n)]})


def test_a_short_league_is_shown_whole() -> None:
    assert league_window(_league(25), "U010") == list(range(25))
    assert league_window(_league(3), "nobody") == [0, 1, 2]


def test_a_long_league_shows_its_ends_and_the_units_around_this_one() -> None:
    assert league_window(_league(100), "U050") == [0, 1, 2, LeftOut(42), *range(45, 56), LeftOut(41),
                                                   97, 98, 99]
    assert league_window(_league(100), "U003") == [*range(0, 9), LeftOut(88), 97, 98, 99]
    assert league_window(_league(100), "U099") == [0, 1, 2, LeftOut(91), *range(94, 100)]
    # a gap of one row is shown rather than marked
    assert league_window(_league(100), "U009") == [*range(0, 15), LeftOut(82), 97, 98, 99]
    # a unit not in the league (its own page's league is its children's): the ends alone
    assert league_window(_league(40), "elsewhere") == [0, 1, 2, LeftOut(34), 37, 38, 39]


def test_the_page_shows_the_window_and_links_to_the_whole_table(large: Flask,  # noqa: F811
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(league, "LEAGUE_WHOLE", 1)
    monkeypatch.setattr(league, "LEAGUE_ENDS", 0)
    monkeypatch.setattr(league, "LEAGUE_AROUND", 0)
    client = _province(large)
    url = f"/manage/units/{unit_id('HL-HL-1', large)}?{QUERY}&lang=en"

    def league_of(page: str) -> str:
        start = page.index('<table class="league">')
        return page[start:page.index("</table>", start)]

    page = client.get(url).get_data(as_text=True)
    shown = league_of(page)
    assert shown.count('<th scope="row">') == 1 and 'class="this-unit"' in shown
    assert shown.count('class="left-out"') in (1, 2)  # before and/or after it
    assert "1 of 3 units shown" in page
    assert re.search(r'<td colspan="7">… [12] units not shown …</td>', shown)
    link = re.search(r'<a href="([^"]*league=all[^"]*)">Show the whole table</a>', page)
    assert link is not None
    whole = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert league_of(whole).count('<th scope="row">') == 3 and 'class="left-out"' not in league_of(whole)
    assert "units shown" not in whole
    vietnamese = client.get(url.replace("lang=en", "lang=vi")).get_data(as_text=True)
    assert "Hiển thị 1 trên 3 đơn vị" in vietnamese and "Xem toàn bộ bảng" in vietnamese
