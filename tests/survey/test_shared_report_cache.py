"""The dashboards' figures shared between processes (`REPORT_CACHE_URI`, `index_cache`): a new worker
reads what another computed, as long as the data version and the code are the same, and a broken store
costs a recomputation, never a page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from flask import Flask

from survey import report_store
from survey.extensions import db
from survey.models import Role
from survey.report_store import WrittenAfterResponse, store_for
from survey.services.reporting import (
    index_cache,
    index_source,
    period_tables,
    respondent_data,
    response_counts,
)
from tests.survey.aggregate_helpers import (
    counting_period_tables,
    demo_with_responses,
    new_process,
    province_report,
    respond_at_first_counter,
)
from tests.survey.staff_helpers import running, signed_in

ALL_MONTHS = {"2025-12": 1, **{f"2026-{m:02d}": 1 for m in range(1, 12)}}


def _app(migrated_db: Path, tmp_path: Path, store: Path) -> Flask:
    return demo_with_responses(migrated_db, tmp_path, 120, seed=3, REPORT_CACHE_URI=f"filesystem:{store}")


@pytest.fixture
def sapp(migrated_db: Path, tmp_path: Path) -> Iterator[Flask]:
    yield from running(_app(migrated_db, tmp_path, tmp_path / "report-cache"))


def test_a_new_process_reads_the_figures_another_computed(sapp: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = province_report(sapp)
    new_process()
    computed = counting_period_tables(monkeypatch)
    again = province_report(sapp)
    assert not computed  # nothing computed: the report came from the store
    assert again is not first  # ... as a copy, not this process's object
    assert again.estimates.equals(first.estimates) and again.trend.equals(first.trend)
    assert again.responses == first.responses > 0


def test_after_a_new_response_a_new_process_computes_only_that_month(
        sapp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    before = province_report(sapp)
    respond_at_first_counter(sapp, {"e1_info": 5}, datetime(2026, 11, 20, 3, tzinfo=UTC))
    new_process()
    computed = counting_period_tables(monkeypatch)
    frames_read: list[object] = []
    real_read = respondent_data._read_frame_table
    monkeypatch.setattr(respondent_data, "_read_frame_table",
                        lambda *args: frames_read.append(args) or real_read(*args))
    counted: list[str] = []
    real_count = response_counts._counted
    monkeypatch.setattr(response_counts, "_counted",
                        lambda session, month, instrument: counted.append(month.label)
                        or real_count(session, month, instrument))
    after = province_report(sapp)
    assert computed == {"2026-11": 1}
    # the frames and the other months' counts come from the store too: a response moves neither
    assert frames_read == [] and counted == ["2026-11"]
    assert after.responses == before.responses + 1
    # the figures from the store are those a computation from scratch gives
    new_process()
    monkeypatch.setattr(index_cache, "_shared", [None])
    fresh = province_report(sapp)
    np.testing.assert_array_equal(after.trend["est"].to_numpy(float), fresh.trend["est"].to_numpy(float))


def test_another_database_or_another_release_shares_nothing(
        migrated_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "report-cache"
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    first = _app(migrated_db, first_dir, store)
    province_report(first)
    second = _app(migrated_db, second_dir, store)  # same store, same data, another database file
    new_process()
    computed = counting_period_tables(monkeypatch)
    province_report(second)
    assert computed == ALL_MONTHS
    new_process()
    computed.clear()
    monkeypatch.setattr(index_cache, "_CODE", "another-release")
    province_report(second)
    assert computed == ALL_MONTHS
    for app in (first, second):
        with app.app_context():
            db.engine.dispose()


class _BrokenStore:
    def get(self, key: str) -> object:
        raise OSError("disk gone")

    def set(self, key: str, value: object, timeout: int | None = None) -> object:
        raise OSError("disk gone")


def test_a_broken_store_costs_a_computation_not_a_page(sapp: Flask, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    expected = province_report(sapp)
    new_process()
    monkeypatch.setattr(index_cache, "_shared", [_BrokenStore()])
    computed = counting_period_tables(monkeypatch)
    with caplog.at_level(logging.WARNING, logger=index_cache.__name__):
        report = province_report(sapp)
    assert computed == ALL_MONTHS
    assert report.estimates.equals(expected.estimates)
    assert "shared report cache: could not read" in caplog.text
    assert "shared report cache: could not store" in caplog.text


PAGE = "/manage/?period=2026-11&instrument=sipas-counter@2025.1&weighted=1"


def _stored(store: Path) -> set[str]:
    return {p.name for p in store.glob("*") if not p.name.startswith("__")}  # cachelib's count file


def test_a_page_writes_to_the_store_once_its_response_is_sent(sapp: Flask, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The manager does not wait for the pickling: the WSGI server closes the response after sending its
    body, and only then are the page's figures written for the other processes."""
    client = signed_in(sapp, "store-writer", Role.MANAGER, ("HL",))
    store = tmp_path / "report-cache"
    signing_in = _stored(store)  # what the pages of signing in stored
    response = client.get(PAGE)
    assert response.status_code == 200 and _stored(store) == signing_in
    response.close()
    assert len(_stored(store) - signing_in) >= 3  # the report, its period tables, change, months' counts
    new_process()
    computed = counting_period_tables(monkeypatch)
    again = client.get(PAGE)
    assert again.status_code == 200 and not computed  # another process reads what this one computed


def test_a_page_read_from_the_store_reads_its_sums_ahead_once_sent(sapp: Flask,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that read a page from the store computed no cell sums: it reads those of the period and
    the previous one after the response, so that after a new response it fetches only the changed month,
    and its figures are still those of a computation from nothing."""
    client = signed_in(sapp, "reader-ahead", Role.MANAGER, ("HL",))
    client.get(PAGE).close()  # computed here, stored
    new_process()
    response = client.get(PAGE)  # read from the store
    assert response.status_code == 200 and not index_source._SUMS._entries  # nothing before it is sent
    response.close()
    assert {key[2] for key in index_source._SUMS._entries} == {"2026-11", "2026-10"}
    assert {key[2] for key in index_source._UNITS._entries} == {"2026-11", "2026-10"}
    respond_at_first_counter(sapp, {"e1_info": 2}, datetime(2026, 11, 21, 3, tzinfo=UTC))
    fetched: list[str] = []
    real_put = index_source._MONTH_ROWS.put
    monkeypatch.setattr(index_source._MONTH_ROWS, "put", lambda key, version, value:
                        fetched.append(str(key[2])) or real_put(key, version, value))
    after = client.get(PAGE)
    assert after.status_code == 200 and fetched == ["2026-11"]
    after.close()
    spliced = province_report(sapp)
    new_process()
    monkeypatch.setattr(index_cache, "_shared", [None])
    fresh = province_report(sapp)
    np.testing.assert_allclose(spliced.estimates["est"].to_numpy(float),
                               fresh.estimates["est"].to_numpy(float), rtol=1e-12, atol=1e-15)
    assert spliced.changes.equals(fresh.changes)


def test_a_store_failing_after_the_response_loses_only_the_copy(sapp: Flask, monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    client = signed_in(sapp, "store-failing", Role.MANAGER, ("HL",))
    deferred = index_cache._shared[0]
    assert isinstance(deferred, WrittenAfterResponse)
    monkeypatch.setattr(deferred, "store", _BrokenStore())
    with caplog.at_level(logging.WARNING, logger=report_store.__name__):
        response = client.get(PAGE)
        assert response.status_code == 200
        response.close()
    assert "shared report cache: could not store" in caplog.text


def test_the_store_setting(tmp_path: Path) -> None:
    app = Flask(__name__, instance_path=str(tmp_path))
    app.testing = True
    assert store_for(None, app) is None  # tests share nothing unless they ask
    assert store_for("none", app) is None
    app.testing = False
    default = store_for(None, app)
    assert default is not None
    default.set("k", (1, "v"))
    assert (tmp_path / "report-cache").is_dir() and default.get("k") == (1, "v")
    with pytest.raises(RuntimeError, match="REPORT_CACHE_URI"):
        store_for("memcached://x", app)


def test_several_servers_share_through_redis(migrated_db: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.survey.redis_server import temporary_redis

    with temporary_redis() as url:
        app = demo_with_responses(migrated_db, tmp_path, 60, seed=5, REPORT_CACHE_URI=url)
        first = province_report(app)
        new_process()
        computed = counting_period_tables(monkeypatch)
        again = province_report(app)
        assert not computed and again.estimates.equals(first.estimates)
        with app.app_context():
            db.engine.dispose()


class _DictStore:
    """A shared store in a dict, counting its reads."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.reads = 0

    def get(self, key: str) -> object:
        self.reads += 1
        return self.values.get(key)

    def set(self, key: str, value: object, timeout: int | None = None) -> object:
        self.values[key] = value
        return True


def test_the_latest_value_from_this_process_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value reused only if this process holds it (the last report's small-cell decisions) is not read
    from the shared store, where a province's report is megabytes."""
    store = _DictStore()
    monkeypatch.setattr(index_cache, "_shared", [store])
    writer, reader = index_cache.VersionedCache[str](4, "test"), index_cache.VersionedCache[str](4, "test")
    writer.put(("k",), (1,), "value")
    assert reader.latest(("k",), shared_too=False) is None and store.reads == 0
    assert reader.latest(("k",)) == "value" and store.reads == 1
    assert writer.latest(("k",), shared_too=False) == "value"


class _LoggedStore(_DictStore):
    """A `_DictStore` that lists the keys it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    def get(self, key: str) -> object:
        self.asked.append(key)
        return super().get(key)


def test_another_version_is_found_out_without_reading_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a new response most look-ups find an older version in the store: its version alone is read,
    not the value (a province's report is 20 MB to unpickle); the version asked for reads both."""
    store = _LoggedStore()
    monkeypatch.setattr(index_cache, "_shared", [store])
    writer, reader = index_cache.VersionedCache[str](4, "test"), index_cache.VersionedCache[str](4, "test")
    writer.put(("k",), (1,), "value")
    value_address = next(key for key in store.values if not key.endswith(":version"))
    assert reader.get(("k",), (2,)) is None
    assert store.asked == [value_address + ":version"]
    assert reader.get(("k",), (1,)) == "value"
    assert store.asked[1:] == [value_address + ":version", value_address]
    store.values[value_address] = ((3,), "other")  # a value written by another process meanwhile
    assert index_cache.VersionedCache[str](4, "test").get(("k",), (1,)) is None  # its own version counts


def test_a_report_read_from_the_store_reads_its_tables_ahead_once_sent(
        sapp: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that read a report from the store holds none of its period tables: it reads them once the
    page is sent, so that after a new response the report is computed from tables it holds, and reads
    nothing more from the store."""
    client = signed_in(sapp, "tables-ahead", Role.MANAGER, ("HL",))
    client.get(PAGE).close()  # computed here, stored
    new_process()
    response = client.get(PAGE)  # read from the store
    assert response.status_code == 200 and not period_tables.PERIOD_TABLES._entries
    response.close()
    assert {key[2] for key in period_tables.PERIOD_TABLES._entries} == set(ALL_MONTHS)
    respond_at_first_counter(sapp, {"e1_info": 2}, datetime(2026, 11, 21, 3, tzinfo=UTC))
    computed = counting_period_tables(monkeypatch)
    store = index_cache._shared[0]
    assert store is not None
    read: list[str] = []
    real_get = store.get
    monkeypatch.setattr(store, "get", lambda key: (read.append(key) if ":version" not in key else None)
                        or real_get(key))
    after = client.get(PAGE)
    assert after.status_code == 200 and computed == {"2026-11": 1}
    assert not [key for key in read if ":period-tables:" in key]
    after.close()
