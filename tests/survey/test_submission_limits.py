"""Submission limits (survey/services/citizens/limits.py): per browser, per cookieless address, per
address and per counter, in the database so that they bind across app instances and processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from survey import create_app
from survey.extensions import db
from survey.models import Counter, Response, SubmissionHit, SubmissionRefusal, Unit
from survey.services.citizens.browser_cookie import COOKIE_NAME, issue_browser_id, read_browser_id
from survey.services.citizens.limits import _STORAGES, client_network, parse_rules, rules_for
from tests.survey.conftest import RELAXED_RULES, TEST_SECRET, _config
from tests.survey.kiosk_allowance_helpers import SCENARIOS, served_with_store
from tests.survey.staff_helpers import Clock
from tests.survey.survey_helpers import (
    FRESH_FORM,
    VALID,
    Served,
    checked,
    error_code_in,
    hidden_fields,
    kitchen_sink_paths,
    serve_kitchen_sink,
    serve_kitchen_sink_on,
    summary_heading,
)


def _served(migrated_db: Path, tmp_path: Path, **rules: Any) -> Served:
    return serve_kitchen_sink(migrated_db, tmp_path, SUBMISSION_RULES={**RELAXED_RULES, **rules},
                              CLOCK=Clock())


def _post(served: Served, client: FlaskClient | None = None, address: str = "127.0.0.1",
          counter: str = "HL-AB-1/Q1") -> Any:
    client = client or served.client
    url = served.url(counter)
    environ = {"REMOTE_ADDR": address}
    page = client.get(url, query_string=FRESH_FORM, environ_base=environ)
    form = hidden_fields(page.get_data(as_text=True))
    return client.post(url, data={**form, **VALID}, environ_base=environ)


def _refusals(served: Served) -> dict[str, int]:
    with served.app.app_context():
        rows = db.session.execute(sa.select(SubmissionRefusal.limit_name, SubmissionRefusal.refused)).all()
        return {name: refused for name, refused in rows}


def test_one_browser_past_its_limit_is_refused_and_keeps_answers(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_limit="2 per hour")
    assert [_post(served).status_code for _ in range(2)] == [303, 303]
    refused = _post(served)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and error_code_in(html) == {"E-RATE"}
    assert "Câu trả lời của Ông/Bà vẫn còn" in html  # Vietnamese by default, answers promised kept
    # Its own heading, not the validation error's "check your answers": the citizen did nothing wrong.
    assert summary_heading(html) == "Có quá nhiều phiếu được gửi trong thời gian ngắn"
    assert checked(html, "q_access", "4") and checked(html, "overall", "5")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert served.counts()[0] == 2 and _refusals(served) == {"browser": 1}
    # Another browser (a new cookie jar) on the same address is a different citizen.
    assert _post(served, served.app.test_client()).status_code == 303


def test_the_429_page_in_english_has_its_own_heading_and_the_code_in_small_print(migrated_db: Path,
                                                                                tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_limit="1 per hour")
    url = served.url() + "?lang=en"
    for expected in (303, 429):
        form = hidden_fields(served.client.get(url + "&new=1").get_data(as_text=True))
        refused = served.client.post(url, data={**form, **VALID})
        assert refused.status_code == expected
    html = refused.get_data(as_text=True)
    assert summary_heading(html) == "Too many answers in a short time"
    assert "please wait a few minutes and send them again" in html and "Please check your answers" not in html
    assert '<p class="error-code">Error code: <code>E-RATE</code></p>' in html


def test_the_refused_citizen_can_send_the_same_answers_after_the_window(migrated_db: Path,
                                                                       tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_limit="1 per 10 minutes")
    assert _post(served).status_code == 303
    url = served.url()
    form = hidden_fields(served.client.get(url, query_string=FRESH_FORM).get_data(as_text=True))
    assert served.client.post(url, data={**form, **VALID}).status_code == 429
    served.app.config["CLOCK"].advance(minutes=10)
    assert served.client.post(url, data={**form, **VALID}).status_code == 303  # the kept form, resent
    assert served.counts()[0] == 2


@pytest.fixture
def fresh_memory_store() -> Iterator[None]:
    """`memory://` lives as long as the process: each test starts with an empty one."""
    _STORAGES.pop("memory://", None)
    yield
    _STORAGES.pop("memory://", None)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
@pytest.mark.parametrize("storage", ["database", "memory://"])
def test_tablet_allowances(scenario: Callable[[Served], None], storage: str, migrated_db: Path,
                           tmp_path: Path, fresh_memory_store: None) -> None:
    """A registered tablet has its own allowance; ?mode=kiosk alone, a revoked tablet or another
    counter's is a phone (tests/survey/kiosk_allowance_helpers.py; Redis: test_limits_redis.py)."""
    scenario(served_with_store(migrated_db, tmp_path / "app", storage))


def test_a_client_without_the_cookie_has_a_tighter_allowance(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, cookieless_limit="2 per hour")
    script = served.app.test_client(use_cookies=False)
    assert [_post(served, script).status_code for _ in range(3)] == [303, 303, 429]
    assert _refusals(served) == {"cookieless": 1}
    assert _post(served).status_code == 303  # a browser that kept its cookie is not affected


def test_many_browsers_behind_one_address_share_a_generous_address_limit(migrated_db: Path,
                                                                         tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_limit="1 per hour", address_limit="3 per hour")
    browsers = [served.app.test_client() for _ in range(4)]
    assert [_post(served, b, "203.0.113.9").status_code for b in browsers] == [303, 303, 303, 429]
    assert _post(served, served.app.test_client(), "203.0.113.10").status_code == 303  # next address
    assert _refusals(served) == {"address": 1}


def test_the_counter_limit_binds_whatever_the_address(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, counter_limit="3 per hour")
    codes = [_post(served, served.app.test_client(), f"198.51.100.{i}").status_code for i in range(4)]
    assert codes == [303, 303, 303, 429] and _refusals(served) == {"counter": 1}


def test_a_flooded_counter_flags_rather_than_refuses_below_its_hard_cap(migrated_db: Path,
                                                                         tmp_path: Path) -> None:
    # 64 addresses flooding one counter must not lock out the honest citizens there: from the
    # counter_flag_from-th answer in the window on, answers are stored and flagged, not refused.
    served = _served(migrated_db, tmp_path, counter_flag_from=3)
    codes = [_post(served, served.app.test_client(), f"198.51.100.{i}").status_code for i in range(5)]
    assert codes == [303] * 5 and _refusals(served) == {}
    with served.app.app_context():
        rows = db.session.execute(
            sa.select(Response.status, Response.status_reason).order_by(Response.id)).all()
    assert [(status.value, reason) for status, reason in rows] == (
        [("valid", None)] * 2 + [("flagged", "burst")] * 3)


def test_a_refused_client_does_not_use_up_the_counters_allowance(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, cookieless_limit="1 per hour", counter_limit="3 per hour")
    script = served.app.test_client(use_cookies=False)
    assert [_post(served, script).status_code for _ in range(6)] == [303] + [429] * 5
    honest = [_post(served, served.app.test_client(), f"198.51.100.{i}").status_code for i in range(2)]
    assert honest == [303, 303]  # 1 + 2 = the counter's 3


def test_two_app_instances_on_one_database_share_the_limits(migrated_db: Path, tmp_path: Path) -> None:
    first = _served(migrated_db, tmp_path, cookieless_limit="2 per hour")
    same_file = Path(first.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
    second_app = create_app(_config(same_file, INSTRUMENT_PATHS=first.app.config["INSTRUMENT_PATHS"],
                                    SUBMISSION_RULES={**RELAXED_RULES, "cookieless_limit": "2 per hour"}))
    second = Served(second_app, second_app.test_client(use_cookies=False), first.counters)
    script = first.app.test_client(use_cookies=False)
    assert _post(first, script).status_code == 303
    assert _post(second).status_code == 303
    assert _post(first, script).status_code == 429
    assert _post(second).status_code == 429


def test_another_process_on_the_same_database_file_counts_too(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, cookieless_limit="2 per hour")
    database = served.app.config["SQLALCHEMY_DATABASE_URI"]
    program = textwrap.dedent(f"""
        from survey import create_app
        from tests.survey.conftest import RELAXED_RULES, TEST_SECRET
        from tests.survey.survey_helpers import FRESH_FORM, VALID, hidden_fields
        app = create_app({{"TESTING": True, "SECRET_KEY": TEST_SECRET,
                          "SQLALCHEMY_DATABASE_URI": {database!r}, "WTF_CSRF_ENABLED": False,
                          "MIN_FILL_SECONDS": 0,
                          "INSTRUMENT_PATHS": {served.app.config["INSTRUMENT_PATHS"]!r},
                          "SUBMISSION_RULES": {{**RELAXED_RULES, "cookieless_limit": "2 per hour"}}}})
        client = app.test_client(use_cookies=False)
        for _ in range(2):
            page = client.get({served.url()!r}, query_string=FRESH_FORM)
            form = hidden_fields(page.get_data(as_text=True))
            print(client.post({served.url()!r}, data={{**form, **VALID}}).status_code)
    """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[2])
    assert done.stdout.split() == ["303", "303"], done.stderr[-2000:]
    assert _post(served, served.app.test_client(use_cookies=False)).status_code == 429


def test_the_store_holds_no_address_and_no_cookie(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    assert _post(served, address="203.0.113.77").status_code == 303
    cookie = served.client.get_cookie(COOKIE_NAME, path="/s/")
    assert cookie is not None and read_browser_id(cookie.value, TEST_SECRET) is not None
    with served.app.app_context():
        keys = db.session.scalars(sa.select(SubmissionHit.key)).all()
    assert len(keys) == 3  # browser, address, counter
    browser_id = read_browser_id(cookie.value, TEST_SECRET)
    assert not any("203.0.113" in key or cookie.value in key or str(browser_id) in key for key in keys)


def test_the_browser_cookie_is_signed_first_party_and_short_lived(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path)
    header = served.client.get(served.url()).headers["Set-Cookie"]
    assert header.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in header and "SameSite=Lax" in header
    assert "Path=/s/" in header and "Max-Age=86400" in header
    assert "Set-Cookie" not in served.client.get(served.url()).headers  # kept, not reissued
    assert read_browser_id(issue_browser_id("another-secret"), TEST_SECRET) is None  # forged
    assert read_browser_id(issue_browser_id(TEST_SECRET) + "x", TEST_SECRET) is None


def test_the_address_key_is_the_ipv4_address_or_the_ipv6_slash_64() -> None:
    assert client_network("203.0.113.5") == "203.0.113.5"
    assert client_network("::ffff:203.0.113.5") == "203.0.113.5"
    assert client_network("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert client_network(None) == client_network("not an address") == "unknown"


def test_rules_per_unit_and_counter_nearest_wins() -> None:
    province = Unit(code="HL", name_vi="Tỉnh")
    centre = Unit(code="HL-TT", name_vi="Trung tâm", parent=province)
    commune = Unit(code="HL-AB", name_vi="Xã", parent=province)
    busy = Counter(code="Q1", name_vi="Quầy 1", unit=centre)
    quiet = Counter(code="Q1", name_vi="Quầy 1", unit=commune)
    config = {"SUBMISSION_RULES": {"counter_limit": "100 per 10 minutes"},
              "SUBMISSION_RULES_BY_UNIT": {"HL": {"burst_per_minute": 6},
                                           "HL-TT": {"counter_limit": "600 per 10 minutes",
                                                     "burst_per_minute": 12},
                                           "HL-TT/Q1": {"burst_per_minute": 20}}}
    busy_rules, quiet_rules = rules_for(busy, config), rules_for(quiet, config)
    assert (busy_rules.limits["counter"].amount, busy_rules.threshold("burst_per_minute")) == (600, 20)
    assert (quiet_rules.limits["counter"].amount, quiet_rules.threshold("burst_per_minute")) == (100, 6)
    assert quiet_rules.limits["browser"].amount == 3  # the shipped default


@pytest.mark.parametrize(("rules", "message"), [
    ({"browser_limit": "three per hour"}, "browser_limit"), ({"burst_per_minute": 0}, "burst_per_minute"),
    ({"brwoser_limit": "3 per hour"}, "brwoser_limit"),
])
def test_a_malformed_rule_stops_the_app_at_start(rules: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(rules)
    with pytest.raises(ValueError, match=message):
        create_app(_config(tmp_path / "x.db", SUBMISSION_RULES_BY_UNIT={"HL-AB": rules}))


def test_limits_bind_on_postgresql_too(tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    from flask_migrate import upgrade

    from tests.survey.postgres import temporary_server

    with temporary_server() as server:
        server.execute("CREATE DATABASE hailong_limits")
        app = create_app({**_config(tmp_path / "unused.db", CLOCK=Clock(),
                                    INSTRUMENT_PATHS=kitchen_sink_paths(tmp_path),
                                    SUBMISSION_RULES={**RELAXED_RULES, "browser_limit": "2 per hour"}),
                          "SQLALCHEMY_DATABASE_URI": server.url("hailong_limits")})
        with app.app_context():
            upgrade()
        served = serve_kitchen_sink_on(app)
        assert [_post(served).status_code for _ in range(3)] == [303, 303, 429]
        assert _refusals(served) == {"browser": 1}
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_ended_windows_are_swept_when_a_new_one_starts(migrated_db: Path, tmp_path: Path) -> None:
    served = _served(migrated_db, tmp_path, browser_limit="5 per 10 minutes",
                     address_limit="5 per 10 minutes", counter_limit="5 per 10 minutes")
    assert _post(served).status_code == 303

    def windows() -> list[int]:
        with served.app.app_context():
            return sorted(set(db.session.scalars(sa.select(SubmissionHit.window_start))))

    assert len(windows()) == 1
    served.app.config["CLOCK"].advance(minutes=10)
    assert _post(served).status_code == 303
    assert len(windows()) == 1  # the ended window's rows are gone, the new window's are there


def test_the_limits_after_the_refusing_one_are_left_as_they_were(migrated_db: Path, tmp_path: Path) -> None:
    """The database store hits a submission's limits in one statement and takes back those after the
    first exceeded: their rows are as if never hit (an existing count unchanged, a new row absent)."""
    from limits import parse

    from survey.services.citizens.limits import SqlLimitStore

    served = _served(migrated_db, tmp_path)
    one, ten = parse("1 per hour"), parse("10 per hour")
    now = 1_800_000_000.0

    def table() -> set[tuple[str, int]]:
        return {(row.key.split("/")[0], row.hits) for row in db.session.scalars(sa.select(SubmissionHit))}

    with served.app.app_context():
        store = SqlLimitStore(db.session())
        assert store.hit_in_order([("b:x", one), ("a:y", ten)], now) == [1, 1]
        assert table() == {("b:x", 1), ("a:y", 1)}
        # b:x is now over its limit: a:y keeps its count and c:z is not created
        assert store.hit_in_order([("b:x", one), ("a:y", ten), ("c:z", ten)], now) == [2]
        assert table() == {("b:x", 2), ("a:y", 1)}
        assert store.hit_in_order([("a:y", ten), ("c:z", ten)], now) == [2, 1]
        assert table() == {("b:x", 2), ("a:y", 2), ("c:z", 1)}
        db.session.rollback()
