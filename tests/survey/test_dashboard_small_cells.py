"""The dashboard keeps the reports' small-cell rule on every output: a unit with 1-4 responses is hidden,
and so is the sibling that would let a reader subtract it back out of the parent's published total.

The fixture gives commune Hòa Lạc (HL-HL) five desks. In October 2026: desk 1 has 3 responses, desks
2-5 have 40, 50, 60 and 70; no other unit has any. Worked out by hand (docs/research.md, "Report
tables"): desk 1 is a primary cell (0 < 3 < 5). HL-HL = desk 1 + ... + desk 5 + its own responses (0)
then has one unknown term, so the smallest other positive desk, desk 2 (40), is hidden too: now
223 - (50 + 60 + 70) = 43 is all a reader learns. The province's sum HL = HL-TTHCC (0) + HL-AB (0) +
HL-HL (223) contains no hidden cell, so nothing else goes. In September desks 1 and 2 have 40 each:
nothing is hidden that month.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from instruments.registry import get_registered
from survey.extensions import db
from survey.models import Alert, AlertKind, Response, ResponseStatus, Role, Unit, UnitKind
from survey.services.reporting.periods import Period
from tests.survey.conftest import unit_id
from tests.survey.report_helpers import AB_CODES, PERIOD, add_responses, run_alerts_job
from tests.survey.staff_helpers import running, signed_in, staff_app

QUERY = f"period={PERIOD}&instrument=sipas-counter@2025.1&weighted=0"
DESKS = {"HL-HL-1": "Hoa Lac one-stop desk", **{f"HL-HL-{i}": f"Hoa Lac desk {i}" for i in range(2, 6)}}
SMALL = {"HL-HL-1": 3, "HL-HL-2": 40, "HL-HL-3": 50, "HL-HL-4": 60, "HL-HL-5": 70}
HIDDEN = {"HL-HL-1", "HL-HL-2"}  # decided by hand above
LARGE = {"HL-HL-1": 40, "HL-HL-2": 40, "HL-HL-3": 50}  # every count >= 5: nothing may be hidden
MARK = "data-small-cell"
NOTE_EN = "nor those of another unit that would let a reader work them out by subtracting"
NOTE_VI = "quy tắc ô nhỏ"


def _codes(n: int) -> list[int]:
    return (AB_CODES * 2)[:n]


def _desks(app: Flask, counts: dict[str, int], month: int = 10) -> None:
    """Desks 2-5 under HL-HL (desk 1 is the demo's), then `counts` responses at each desk in `month`."""
    with app.app_context():
        parent = db.session.scalar(sa.select(Unit).where(Unit.code == "HL-HL"))
        for code, name in DESKS.items():
            if db.session.scalar(sa.select(Unit).where(Unit.code == code)) is None:
                db.session.add(Unit(code=code, kind=UnitKind.SERVICE_POINT, name_vi=f"Bàn {code[-1]}",
                                    name_en=name, parent=parent, valid_from=date(2025, 7, 1)))
        db.session.commit()
    for code, n in counts.items():
        add_responses(app, code, _codes(n), day=10, month=month, harassment=False)


@pytest.fixture
def small(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    _desks(app, SMALL)
    _desks(app, {"HL-HL-1": 40, "HL-HL-2": 40}, month=9)
    run_alerts_job(app)  # the alerts the pages list
    yield from running(app)


@pytest.fixture
def large(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    app = staff_app(migrated_db, tmp_path)
    _desks(app, LARGE)
    yield from running(app)


def _province(app: Flask) -> FlaskClient:
    return signed_in(app, "tinh", Role.MANAGER, ("HL",))


def _table_rows(html: str, app: Flask, codes: list[str]) -> dict[str, str]:
    """The dashboard table row (HTML) of each unit."""
    out = {}
    for code in codes:
        found = re.search(rf'<tr class="depth-\d">\s*<th scope="row"[^>]*><a href="/manage/units/'
                          rf'{unit_id(code, app)}\?.*?</tr>', html, re.S)
        assert found is not None, code
        out[code] = found.group(0)
    return out


def _n_cell(row: str) -> str | None:
    """The n column of a published dashboard row (the 4th of the estimate cells), or None."""
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    return cells[2] if len(cells) >= 3 else None


def test_html_table_hides_the_small_desk_and_its_complement_and_keeps_the_total(small: Flask) -> None:
    client = _province(small)
    html = client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    rows = _table_rows(html, small, ["HL", "HL-HL", *DESKS])
    for code in HIDDEN:
        assert MARK in rows[code] and "suppressed" in rows[code], code
        assert _n_cell(rows[code]) is None  # no count at all, not 0 and not blank
    assert ">40<" not in rows["HL-HL-2"]
    for code in ("HL-HL-3", "HL-HL-4", "HL-HL-5"):
        assert MARK not in rows[code] and _n_cell(rows[code]) == str(SMALL[code])
    assert _n_cell(rows["HL-HL"]) == "223" and _n_cell(rows["HL"]) == "223"
    assert NOTE_EN in html
    vi = client.get(f"/manage/?{QUERY}&lang=vi").get_data(as_text=True)
    assert "đã ẩn" in vi and NOTE_VI in vi


def test_sparklines_hide_a_unit_in_the_periods_it_is_small_only(small: Flask) -> None:
    html = _province(small).get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    rows = _table_rows(html, small, ["HL-HL", *DESKS])
    # September: 40 AB_CODES responses each, index 731/1200 = 60.9 % (report_helpers), drawn as 61 %.
    for code in HIDDEN:
        desc = re.search(r"<desc>([^<]*)</desc>", rows[code])
        assert desc is not None
        assert desc.group(1).endswith("2026-09: 61%; 2026-10: suppressed"), desc.group(1)
        assert 'class="noted"' in rows[code]
    for code in ("HL-HL", "HL-HL-3"):
        assert "suppressed" not in rows[code] and 'class="noted"' not in rows[code]


def test_unit_page_trend_and_units_below_use_the_same_rule(small: Flask) -> None:
    client = _province(small)
    desk = client.get(f"/manage/units/{unit_id('HL-HL-1', small)}?{QUERY}&lang=en").get_data(as_text=True)
    trend = desk[desk.index('<table class="trend">'):]
    trend = trend[:trend.index("</table>")]
    assert re.search(r"2026-10</th><td[^>]*colspan=\"2\">.*?suppressed", trend)  # its own 3 responses
    commune = client.get(f"/manage/units/{unit_id('HL-HL', small)}?{QUERY}&lang=en").get_data(as_text=True)
    below = commune[commune.index('id="below-h"'):]
    below = below[:below.index("</table>")]
    for code, name in DESKS.items():
        row = re.search(rf"{name}</a></th>(.*?)</tr>", below, re.S)
        assert row is not None, below
        assert (MARK in row.group(1)) == (code in HIDDEN), code
    assert ">40<" not in below and ">50<" in below


def test_ranked_chart_leaves_the_hidden_desks_out_and_names_them(small: Flask) -> None:
    html = _province(small).get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    figure = html[html.index('<figure class="ranked"'):]
    figure = figure[:figure.index("</figure>")]
    labels = set(re.findall(r'<text class="label"[^>]*>([^<]+)</text>', figure))
    assert labels == {"Hoa Lac Commune", DESKS["HL-HL-3"], DESKS["HL-HL-4"], DESKS["HL-HL-5"]}
    note = re.search(r'<p class="legend small-cell-note">([^<]*)</p>', figure)
    assert note is not None and DESKS["HL-HL-1"] in note.group(1) and DESKS["HL-HL-2"] in note.group(1)


def test_league_table_marks_the_hidden_desks_and_shows_no_count_for_them(small: Flask) -> None:
    client = _province(small)
    page = client.get(f"/manage/units/{unit_id('HL-HL-3', small)}?{QUERY}&lang=en").get_data(as_text=True)
    league = page[page.index('<table class="league">'):]
    league = league[:league.index("</table>")]
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', league))
    assert set(rows) == set(DESKS.values())
    for code, name in DESKS.items():
        if code in HIDDEN:
            assert MARK in rows[name] and 'class="num"' not in rows[name], code
        else:  # n is the last column
            assert re.findall(r'<td class="num">([^<]*)</td>', rows[name])[-1] == str(SMALL[code])
    assert NOTE_EN in page[page.index('id="league-h"'):]


def test_csv_and_xlsx_carry_the_mark_instead_of_the_figures(small: Flask) -> None:
    client = _province(small)
    rows = list(csv.reader(io.StringIO(
        client.get(f"/manage/dashboard.csv?{QUERY}&lang=en").data.decode("utf-8-sig"))))
    assert rows[0][5:] == ["Index", "Lower bound (95%)", "Upper bound (95%)", "Verdict", "Responses (n)",
                           "Response rate", "Change since the previous period", "Change", "Notes"]
    by_code = {r[0]: r for r in rows[1:]}
    for code in HIDDEN:
        assert by_code[code][5:13] == ["suppressed"] * 8 and NOTE_EN in by_code[code][13], code
    for code in ("HL-HL-3", "HL-HL-4", "HL-HL-5"):
        assert int(by_code[code][9]) == SMALL[code] and by_code[code][13] == ""
    assert int(by_code["HL-HL"][9]) == 223
    sheet = load_workbook(io.BytesIO(client.get(f"/manage/dashboard.xlsx?{QUERY}&lang=vi").data))["Units"]
    values = {r[0]: r for r in ([c.value for c in row] for row in sheet.iter_rows(min_row=2))}
    for code in HIDDEN:
        assert values[code][5:13] == ["đã ẩn"] * 8 and NOTE_VI in values[code][13], code
    assert values["HL-HL-3"][9] == 50 and values["HL-HL"][9] == 223


def test_an_all_large_tree_hides_nothing_anywhere(large: Flask) -> None:
    client = _province(large)
    html = client.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    rows = _table_rows(html, large, ["HL-HL", "HL-HL-1", "HL-HL-2", "HL-HL-3"])
    assert {code: _n_cell(row) for code, row in rows.items()} == {
        "HL-HL": "130", "HL-HL-1": "40", "HL-HL-2": "40", "HL-HL-3": "50"}
    assert MARK not in html and "⊘" not in html and 'class="noted"' not in html
    assert NOTE_EN not in html
    page = client.get(f"/manage/units/{unit_id('HL-HL-1', large)}?{QUERY}&lang=en").get_data(as_text=True)
    league = page[page.index('<table class="league">'):page.index("</table>", page.index('class="league"'))]
    assert MARK not in page and league.count('<th scope="row">') == 3
    data = client.get(f"/manage/dashboard.csv?{QUERY}&lang=en").data.decode("utf-8-sig")
    assert "suppressed" not in data
    by_code = {r[0]: r for r in list(csv.reader(io.StringIO(data)))[1:]}
    assert [int(by_code[c][9]) for c in ("HL-HL-1", "HL-HL-2", "HL-HL-3")] == [40, 40, 50]


# --- One decision per viewer: a complement stays hidden on its own page ---------------------------------
# The province manager's scope root is HL, so their decision is the one worked out at the top of this
# file: desks 1 and 2 hidden. A manager whose only scope is desk 2 has desk 2 as their root: the tree
# HL-HL-2 alone (40 responses, no children) has no small cell, so nothing is hidden for them, and they
# can open no page that publishes HL-HL or another desk to subtract from.


def _desk_manager(app: Flask) -> FlaskClient:
    return signed_in(app, "ban2", Role.MANAGER, ("HL-HL-2",))


def _page(client: FlaskClient, app: Flask, code: str) -> str:
    response = client.get(f"/manage/units/{unit_id(code, app)}?{QUERY}&lang=en")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(html: str, start: str) -> str:
    part = html[html.index(start):]
    return part[:part.index("</section>")]


def test_the_complements_own_page_shows_the_mark_to_the_province_viewer(small: Flask) -> None:
    page = _page(_province(small), small, "HL-HL-2")
    headline = _section(page, '<section class="headline"')
    assert MARK in headline and "n = 40" not in headline and "Response rate" not in headline
    assert "Responses needed" not in headline and NOTE_EN in headline
    elements = _section(page, 'id="elements-h"')
    rows = re.findall(r'<tr class="(?:element|criterion)" data-stat="[^"]+">(.*?)</tr>', elements, re.S)
    assert rows and all(MARK in row and 'class="num"' not in row for row in rows)
    assert "<svg" not in elements  # no element or criterion chart
    separate = _section(page, 'id="separate-h"')
    assert separate.count(MARK) == separate.count("<tr data-stat=") > 0
    assert 'class="num"' not in separate
    trend = _section(page, 'id="trend-h"')
    # September: 40 responses at desks 1 and 2 and nothing small: the figure stays (731/1200 = 60.9 %)
    assert re.search(r"2026-09</th><td class=\"num\">60\.9%", trend)
    assert re.search(r"2026-10</th><td[^>]*colspan=\"2\">.*?suppressed", trend)
    assert 'class="fix-first"' not in page
    assert "Left out (flagged or excluded" not in page


def test_the_desk_manager_sees_their_own_desk(small: Flask) -> None:
    page = _page(_desk_manager(small), small, "HL-HL-2")
    assert MARK not in page
    headline = _section(page, '<section class="headline"')
    assert "n = 40" in headline and 'data-stat="overall">60.9%' in headline  # 40 AB_CODES: 731/1200
    # and the parent stays out of their reach
    assert _desk_manager_status(small, "HL-HL") == 404


def _desk_manager_status(app: Flask, code: str) -> int:
    client = signed_in(app, "ban2b", Role.MANAGER, ("HL-HL-2",))
    return client.get(f"/manage/units/{unit_id(code, app)}?{QUERY}&lang=en").status_code


def test_a_visible_desk_page_keeps_its_figures_and_the_league_follows_the_viewer(small: Flask) -> None:
    page = _page(_province(small), small, "HL-HL-3")
    headline = _section(page, '<section class="headline"')
    assert MARK not in headline and "n = 50" in headline


def test_an_all_large_tree_hides_nothing_on_unit_pages(large: Flask) -> None:
    client = _province(large)
    for code in ("HL-HL", "HL-HL-1", "HL-HL-2"):
        page = _page(client, large, code)
        assert MARK not in page and NOTE_EN not in page, code


def _report(client: FlaskClient, app: Flask, code: str, fmt: str) -> bytes:
    response = client.get(f"/manage/units/{unit_id(code, app)}/report.{fmt}?{QUERY}&lang=en")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.data


def _report_csv(client: FlaskClient, app: Flask, code: str) -> list[dict[str, str]]:
    text = _report(client, app, code, "csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_complements_own_csv_and_xlsx_report_withhold_its_figures(small: Flask) -> None:
    client = _province(small)
    rows = _report_csv(client, small, "HL-HL-2")
    own = [r for r in rows if r["unit_code"] == "HL-HL-2"]
    assert {r["level"] for r in own} >= {"headline", "element", "criterion"}
    for row in own:
        assert row["n"] == "" and row["est"] == "" and row["ci_lo"] == "", row
        assert row["verdict"] == "suppressed" and "small_cell" in row["flags"].split("|"), row
    book = load_workbook(io.BytesIO(_report(client, small, "HL-HL-2", "xlsx")))
    for sheet in ("Overall", "Elements", "Criteria"):
        body = [[c.value for c in row] for row in book[sheet].iter_rows(min_row=2)]
        assert body, sheet
        for values in body:
            assert 40 not in values, (sheet, values)
            assert "suppressed" in [str(v).lower() for v in values], (sheet, values)
    method = {row[0].value: row[1].value for row in book["Method"].iter_rows(min_row=2)}
    assert method["Valid responses"] == "suppressed" and method["Response rate"] == "suppressed"
    units = {row[0].value: [c.value for c in row] for row in book["Units"].iter_rows(min_row=2)}
    assert 40 not in units["HL-HL-2"]


def test_the_complements_own_pdf_report_withholds_its_figures(small: Flask, tmp_path: Path) -> None:
    pdf = tmp_path / "desk2.pdf"
    pdf.write_bytes(_report(_province(small), small, "HL-HL-2", "pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True, timeout=120).stdout
    cover = " ".join(text[text.index("Valid responses"):text.index("Weighting")].split())
    assert "suppressed" in cover and "40" not in cover
    summary = " ".join(text[text.index("Summary"):text.index("Elements")].split())
    assert "%" not in summary.split("Responses needed")[0].replace("95%", "")  # no index, no bound
    assert "Responses needed this period" in summary and "more" not in summary


def test_the_desk_manager_gets_their_own_desks_report(small: Flask) -> None:
    rows = _report_csv(_desk_manager(small), small, "HL-HL-2")
    headline = [r for r in rows if r["level"] == "headline" and r["label"] == "SIPAS index"]
    assert len(headline) == 1 and headline[0]["n"] == "40" and headline[0]["verdict"] != "suppressed"
    assert abs(float(headline[0]["est"]) - 731 / 1200) < 1e-12  # report_helpers' hand-computed index


def test_an_all_large_tree_hides_nothing_in_unit_reports(large: Flask) -> None:
    rows = _report_csv(_province(large), large, "HL-HL")
    # (items nobody answered are "suppressed" by the analysis' minimum n, which is not this rule)
    assert rows and not [r for r in rows if "small_cell" in r["flags"].split("|") or r["n"] == ""]
    assert {r["unit_code"]: r["n"] for r in rows if r["level"] == "unit"} == {
        "HL-HL-1": "40", "HL-HL-2": "40", "HL-HL-3": "50", "HL-HL-4": "0", "HL-HL-5": "0"}


FIGURE = r'<td class="num">\d+\.\d%</td>'  # an estimate as the alerts page prints it


def _alert_rows(client: FlaskClient) -> dict[str, str]:
    html = client.get(f"/manage/alerts?period={PERIOD}&lang=en").get_data(as_text=True)
    table = html[html.index('<table class="alerts">'):html.index("</table>")]
    return {name: row for name, row in re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a></th>(.*?)</tr>',
                                                  table, re.S)}


def test_alerts_of_a_hidden_unit_show_the_mark_to_the_province_viewer(small: Flask) -> None:
    # Desks 2-5 all answer like AB_CODES (unweighted index 731/1200 = 60.9 %; the alerts use the weighted
    # one), whose interval lies below the default 80 % target: each has a below-target alert; desk 1's 3
    # responses are too few for an estimate.
    rows = _alert_rows(_province(small))
    desk2, desk3 = rows[DESKS["HL-HL-2"]], rows[DESKS["HL-HL-3"]]
    assert MARK in desk2 and "%" not in desk2.split("<details>")[0] and "below target" not in desk2
    assert MARK not in desk3 and re.search(FIGURE, desk3) and "below target" in desk3
    assert DESKS["HL-HL-1"] not in rows
    # listed after the others (dict order is page order), not at the place its estimate would give it
    assert list(rows)[-1] == DESKS["HL-HL-2"]


def test_the_desk_manager_sees_their_own_desks_alert(small: Flask) -> None:
    rows = _alert_rows(_desk_manager(small))
    assert set(rows) == {DESKS["HL-HL-2"]}
    assert MARK not in rows[DESKS["HL-HL-2"]] and re.search(FIGURE, rows[DESKS["HL-HL-2"]])


def _flag(app: Flask, counts: dict[str, int], instrument: tuple[str, str] = ("sipas-counter", "2025.1")
          ) -> None:
    """`counts` more responses per desk in October, flagged for review (so outside every index)."""
    registered = get_registered(*instrument)
    with app.app_context():
        for code, n in counts.items():
            for i in range(n):
                db.session.add(Response(
                    instrument_id=instrument[0], instrument_version=instrument[1],
                    instrument_hash=registered.content_hash, unit_id=unit_id(code, app), channel="qr",
                    language="vi", submitted_at=datetime(2026, 10, 12, 3, i, tzinfo=UTC),
                    idempotency_key=f"flagged-{instrument[0]}-{code}-{i}", status=ResponseStatus.FLAGGED))
        db.session.commit()


def test_a_hidden_row_shows_no_count_of_flagged_responses(small: Flask) -> None:
    _flag(small, {"HL-HL-2": 2, "HL-HL-3": 3})
    province = _province(small)
    html = province.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True)
    rows = _table_rows(html, small, ["HL-HL", "HL-HL-2", "HL-HL-3"])
    assert MARK in rows["HL-HL-2"] and "flagged" not in rows["HL-HL-2"]
    assert "3 flagged" in rows["HL-HL-3"]
    desk = _page(province, small, "HL-HL-2")
    assert "Left out (flagged or excluded" not in desk  # the unit page's count of them goes too
    own = _page(_desk_manager(small), small, "HL-HL-2")
    assert "Left out (flagged or excluded responses in the window):" in own and "2 flagged" in own


def test_a_rows_flagged_count_is_of_the_pages_instrument(small: Flask) -> None:
    """Two flagged SIPAS responses at desk 3 and one to the quick rating: the SIPAS page's row says 2,
    as its footer's count of left-out responses does (the quick rating's cannot enter this index)."""
    _flag(small, {"HL-HL-3": 2})
    _flag(small, {"HL-HL-3": 1}, ("quick-rating", "2025.1"))
    province = _province(small)
    rows = _table_rows(province.get(f"/manage/?{QUERY}&lang=en").get_data(as_text=True), small,
                       ["HL", "HL-HL", "HL-HL-3"])
    for code in rows:  # the desk, and each unit above it
        assert "2 flagged" in rows[code] and "3 flagged" not in rows[code], code
    assert "2 flagged" in _page(province, small, "HL-HL-3")


def test_flagged_counts_are_of_one_instrument_version(small: Flask) -> None:
    """Outpatient 2025.1 and 2026.1 are two indices: a row beside one counts only its own flags."""
    from survey.services.citizens.flag_review import flagged_counts

    _flag(small, {"HL-HL-3": 1}, ("outpatient", "2025.1"))
    _flag(small, {"HL-HL-4": 2}, ("outpatient", "2026.1"))
    _flag(small, {"HL-HL-4": 3})  # SIPAS
    desks = [unit_id(code, small) for code in ("HL-HL-3", "HL-HL-4")]
    october = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    with small.app_context():
        assert flagged_counts(db.session, desks, *october, "outpatient", "2025.1") == {desks[0]: 1}
        assert flagged_counts(db.session, desks, *october, "outpatient", "2026.1") == {desks[1]: 2}
        assert flagged_counts(db.session, desks, *october, "sipas-counter", "2025.1") == {desks[1]: 3}


def test_an_alerts_dates_name_its_period() -> None:
    assert Period.spanning(date(2026, 10, 1), date(2026, 10, 31)) == Period.month(2026, 10)
    assert Period.spanning(date(2026, 7, 1), date(2026, 9, 30)) == Period.quarter(2026, 3)
    assert Period.spanning(date(2026, 1, 1), date(2026, 12, 31)) == Period.year(2026)
    assert Period.spanning(date(2026, 1, 1), date(2026, 3, 31)) == Period.quarter(2026, 1)
    assert Period.spanning(date(2026, 2, 1), date(2026, 4, 30)) is None  # not a calendar quarter
    assert Period.spanning(date(2026, 10, 1), date(2026, 10, 30)) is None


def test_an_alert_with_no_decision_to_look_up_shows_the_mark(large: Flask) -> None:
    """An alert of an instrument no longer registered, or over dates that are no period the pages offer,
    has no decision to consult: its figures are withheld (fail closed), and the page still renders."""
    with large.app_context():
        for instrument, last in (("retired-form", date(2026, 10, 31)), ("sipas-counter", date(2026, 10, 30))):
            db.session.add(Alert(unit_id=unit_id("HL-HL-3", large), instrument_id=instrument,
                                 kind=AlertKind.BELOW_TARGET, period_start=date(2026, 10, 1), period_end=last,
                                 estimate=0.5, ci_low=0.4, ci_high=0.6, reference=0.8))
        db.session.commit()
    html = _province(large).get(f"/manage/alerts?period={PERIOD}&lang=en").get_data(as_text=True)
    assert html.count(MARK) == 2 * 2  # the kind and the figures of each of the two alerts
    assert "50.0%" not in html and "40.0% – 60.0%" not in html
