"""The one cache mechanism (`index_cache`): a new response recomputes only its own month, a review that
leaves a response out is seen at once, and a page view reads each stamp once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask

from survey.blueprints.manage import dashboard
from survey.extensions import db
from survey.models import Counter, Response, Role, Unit, User
from survey.services.citizens.flag_review import Decision, decide
from survey.services.reporting import index_cache, indices, league, period_tables
from survey.services.reporting.periods import Period, month_spans
from tests.survey.aggregate_helpers import (
    KEY,
    counting_period_tables,
    demo_with_responses,
    new_process,
    province_report,
    respond_at_first_counter,
    submit,
    submit_many,
)
from tests.survey.staff_helpers import signed_in

NOVEMBER = Period.month(2026, 11)


@pytest.fixture
def capp(migrated_db: Path, tmp_path: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 120, seed=3)


def test_a_new_response_recomputes_only_its_own_month(capp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    first = province_report(capp)
    computed = counting_period_tables(monkeypatch)
    assert province_report(capp) is first and not computed  # nothing changed: the whole report is reused
    respond_at_first_counter(capp, {"e1_info": 5}, datetime(2026, 11, 20, 3, tzinfo=UTC))
    second = province_report(capp)
    assert second is not first
    assert computed == {"2026-11": 1}  # the eleven past months of the trend came from the cache
    assert second.responses == first.responses + 1
    october = [row for row in second.trend_of("HL") if row[0] == "2026-10"]
    assert october == [row for row in first.trend_of("HL") if row[0] == "2026-10"]


def test_a_response_left_out_by_a_review_is_seen_at_once(capp: Flask) -> None:
    flagged = submit_many(capp, 12, seed=4, flagged_every=4)
    before = province_report(capp)
    assert int(before.excluded["n"].sum()) >= 1
    with capp.app_context():
        actor = User(username="reviewer", password_hash="x", role=Role.MANAGER)
        db.session.add(actor)
        db.session.flush()
        november = [i for i in flagged
                    if (r := db.session.get(Response, i)) is not None and r.submitted_at.month == 11]
        assert november, "a flagged response in November"
        response = db.session.get(Response, november[0])
        assert response is not None
        decide(db.session(), response, Decision.CONFIRM, actor=actor, note="", now=datetime(2026, 12, 1,
                                                                                             tzinfo=UTC))
        db.session.commit()
    after = province_report(capp)
    assert after is not before
    statuses = dict(zip(after.excluded["status"], after.excluded["n"], strict=True))
    assert statuses.get("excluded") == 1


def test_a_dashboard_view_reads_each_stamp_once(capp: Flask) -> None:
    """However many caches ask (the report, each month's table, the change, the rates), a view runs one
    query on the aggregates' stamps per subtree, not one per month and cache."""
    client = signed_in(capp, "tinh", Role.MANAGER, ("HL",), totp=True)
    assert client.get(f"/manage/?period={NOVEMBER.label}").status_code == 200
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with capp.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(f"/manage/?period={NOVEMBER.label}").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    stamps = [s for s in statements if "index_aggregates" in s and "GROUP BY index_aggregates.month" in s]
    assert len(stamps) == 1, stamps
    # the old per-month fingerprints counted every response of each month: no such query any more
    assert not [s for s in statements if "FROM responses" in s and "max(responses.id)" in s
                and "responses.status IN" not in s]


@pytest.mark.parametrize("page", ["/manage/?period=2026-11", "/manage/units/{ward}?period=2026-11",
                                  "/manage/?period=2026"])
def test_a_first_view_reads_the_stamps_once_per_subtree(capp: Flask, page: str) -> None:
    """Computing every month of a trend also asks every unit's stamps of each month (the months'
    response counts are kept for every unit: `response_counts`): one query for all of them, not one
    per month."""
    client = signed_in(capp, "tinh-first", Role.MANAGER, ("HL",), totp=True)
    with capp.app_context():
        engine = db.engine
        page = page.format(ward=db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB")))
    new_process()
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(page).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    stamps = [s for s in statements if "index_aggregates" in s and "GROUP BY index_aggregates.month" in s]
    assert len([s for s in stamps if "unit_id IN" not in s]) == 1, stamps  # every unit's, once
    left_out = [s for s in statements if "FROM response_tallies" in s
                and "GROUP BY response_tallies.month" in s and "unit_id IN" not in s]
    # every unit's months' tallies (responses left out, revisions): one query too, and on a unit page one
    # more for the month before the window that its "what to fix first" reads (the previous period's)
    assert len(left_out) == (2 if "units" in page else 1), left_out
    assert not [s for s in statements if "FROM responses" in s and "max(responses.id)" in s]


@pytest.mark.parametrize("period", [Period.year(2026), Period.quarter(2026, 4), NOVEMBER])
def test_the_months_stamps_read_at_once_are_those_read_one_by_one(capp: Flask, period: Period) -> None:
    """A window's stamps, read in one query, must give each month the version it has when read alone,
    or a month's cached values would be missed (or, worse, kept) depending on which page asked first."""
    with capp.app_context():
        flagged = db.session.scalars(sa.select(Counter).order_by(Counter.id)).first()
        assert flagged is not None  # left-out responses in two months, one of them excluded later
        for day in (3, 9):
            submit(db.session(), flagged, {"e1_info": 1}, datetime(2026, 10 + day % 2, day, 2, tzinfo=UTC),
                   flags=("device",))
        # on a month's first instant (local midnight, 17:00 UTC the day before): that month's, not the last
        submit(db.session(), flagged, {"e1_info": 2}, datetime(2026, 10, 31, 17, 0, tzinfo=UTC),
               flags=("device",))
        db.session.commit()
        spans = month_spans(period.first, period.last)
        alone = []
        for since, until in spans:
            db.session.remove()
            alone.append(index_cache.data_version(db.session(), None, since, until))
        db.session.remove()
        index_cache.data_version(db.session(), None, period.first, period.last)
        together = [index_cache.data_version(db.session(), None, since, until) for since, until in spans]
    assert together == alone
    assert len(spans) == 1 or len({v[1] for v in alone}) > 1  # months that differ: the test can tell


def _league_on_the_page_of(app: Flask, code: str) -> pd.DataFrame:
    """The league of the province's children on unit `code`'s page (November, weighted)."""
    with app.app_context():
        unit, province = (db.session.scalar(sa.select(Unit).where(Unit.code == c)) for c in (code, "HL"))
        assert unit is not None and province is not None
        report = indices.unit_indices(db.session(), unit, KEY, NOVEMBER, weighted=True, league_root=province)
        db.session.rollback()
        assert report.league is not None
        return report.league


def test_a_league_reads_its_parents_report_table_when_it_is_there(capp: Flask,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit page's league ranks its parent's children on the overall index: computed on its own
    (overall rows only) or read from the parent's report table (the dashboard's, the alerts job's),
    the league is the same, and in the second case the parent's period is not computed again, nor are
    the unit's own months with responses: their rows are the parent's tables' (`period_tables`)."""
    on_its_own = _league_on_the_page_of(capp, "HL-AB")  # no report of the province computed yet
    for cache in (indices._REPORTS, period_tables.PERIOD_TABLES, league._LEAGUES):
        cache._entries.clear()
    province_report(capp)  # as the dashboard or the alerts job would
    computed = counting_period_tables(monkeypatch)
    from_the_report = _league_on_the_page_of(capp, "HL-AB")
    assert computed["2026-11"] == computed["2026-10"] == 0  # neither the province's months nor the ward's
    assert computed  # the months without responses: an empty table says nothing of the units' cells
    pd.testing.assert_frame_equal(from_the_report, on_its_own)


def test_the_pages_of_a_provinces_children_share_its_league(capp: Flask,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Every child's page shows its parent's league: computed once per data version of the parent's
    subtree, again after a new response, and the same table either way; ranked in a thread of its own
    while the child's tables are computed."""
    computed: list[str] = []
    real = league.league_table

    def counted(*args: object, **kwargs: object) -> object:
        computed.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(league, "league_table", counted)

    first = _league_on_the_page_of(capp, "HL-AB")
    pd.testing.assert_frame_equal(_league_on_the_page_of(capp, "HL-HL"), first)
    assert len(computed) == 1 and computed[0].startswith("league")
    with capp.app_context():
        counter = db.session.scalars(sa.select(Counter).join(Unit).where(Unit.code == "HL-HL-1")).first()
        assert counter is not None
        submit(db.session(), counter, {"e1_info": 1, "overall": 1}, datetime(2026, 11, 23, 3, tzinfo=UTC))
        db.session.commit()
    after = _league_on_the_page_of(capp, "HL-AB")
    assert len(computed) == 2 and not after.equals(first)
    league._LEAGUES._entries.clear()  # computed again: the same table
    pd.testing.assert_frame_equal(_league_on_the_page_of(capp, "HL-TTHCC"), after)


def test_a_league_started_ahead_of_the_report_is_ranked_once(capp: Flask,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit page starts its siblings' ranks before its breakdowns (`indices.rank_ahead`); its report
    then takes that league rather than ranking it again: the page ranks as many leagues (the benchmarks'
    reports have theirs) as without the early start, and shows the same table."""
    ranked: list[int] = []
    real = league.league_table

    def counted(*args: object, **kwargs: object) -> object:
        ranked.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(league, "league_table", counted)
    client = signed_in(capp, "tinh", Role.MANAGER, ("HL",))
    with capp.app_context():
        commune = db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB"))
    url = f"/manage/units/{commune}?period={NOVEMBER.label}&lang=en"

    def view() -> tuple[int, str]:
        for cache in (indices._REPORTS, period_tables.PERIOD_TABLES, league._LEAGUES):
            cache._entries.clear()
        ranked.clear()
        page = client.get(url).get_data(as_text=True)
        assert not league._RUNNING  # taken off once finished
        start = page.index('<table class="league">')
        return len(ranked), page[start:page.index("</table>", start)]

    ahead, table = view()
    monkeypatch.setattr(dashboard, "rank_ahead", lambda *args, **kwargs: None)
    assert view() == (ahead, table) and ahead >= 1 and table.count('<th scope="row">') >= 3


def test_a_tree_of_every_unit_is_stamped_as_every_unit(capp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The province's whole tree reads every unit's stamps (no list of its thousand ids) and moves with a
    response; a subtree one unit short reads its own, which that unit's response leaves alone."""
    def versions() -> tuple[index_cache.Version, index_cache.Version, index_cache.Version]:
        with capp.app_context():
            session = db.session()
            every = set(session.scalars(sa.select(Unit.id)))
            counter = session.scalars(sa.select(Counter).order_by(Counter.id)).first()
            assert counter is not None
            short = every - {counter.unit_id}
            found = (index_cache.data_version(session, every, NOVEMBER.first, NOVEMBER.last),
                     index_cache.data_version(session, None, NOVEMBER.first, NOVEMBER.last),
                     index_cache.data_version(session, short, NOVEMBER.first, NOVEMBER.last))
            db.session.remove()
            return found

    statements: list[str] = []
    with capp.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    every, none, short = versions()
    assert every == none and short != none
    stamp_reads = [s for s in statements if "index_aggregates" in s or "response_tallies" in s]
    assert not any("unit_id IN" in s for s in stamp_reads[:2])  # the whole tree's: no list of ids
    respond_at_first_counter(capp, {"e1_info": 5}, datetime(2026, 11, 20, 3, tzinfo=UTC))
    after = versions()
    assert after[0] == after[1] and after[0] != every and after[2] == short


@pytest.mark.parametrize("scope", ["HL", "HL-AB"])
def test_after_a_response_a_unit_page_computes_the_provinces_month_alone(
        capp: Flask, monkeypatch: pytest.MonkeyPatch, scope: str) -> None:
    """Whoever views a commune's page (its province's manager or its own), after a new response only the
    province's month is computed: the benchmarks' report comes first, and the commune's own tables are
    taken from it (`period_tables`)."""
    client = signed_in(capp, f"viewer-{scope}", Role.MANAGER, (scope,))
    with capp.app_context():
        unit_id = db.session.scalar(sa.select(Unit.id).where(Unit.code == "HL-AB"))
    page = f"/manage/units/{unit_id}?period=2026-11&instrument={KEY}"
    assert client.get(page).status_code == 200
    with capp.app_context():
        counter = db.session.scalars(sa.select(Counter).join(Unit).where(Unit.code == "HL-AB-1")).first()
        assert counter is not None
        submit(db.session(), counter, {"e1_info": 2, "overall": 2}, datetime(2026, 11, 24, 3, tzinfo=UTC))
        db.session.commit()
    computed = counting_period_tables(monkeypatch)
    assert client.get(page).status_code == 200
    assert computed == {"2026-11": 1}
