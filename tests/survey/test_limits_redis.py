"""The submission limits in Redis (SUBMISSION_LIMIT_STORAGE = "redis://…"), against a real server."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.survey.conftest import RELAXED_RULES
from tests.survey.kiosk_allowance_helpers import SCENARIOS, served_with_store
from tests.survey.survey_helpers import FRESH_FORM, VALID, Served, hidden_fields, serve_kitchen_sink

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (make system-deps installs it)")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    from tests.survey.redis_server import temporary_redis

    with temporary_redis() as url:
        yield url


def _served(migrated_db: Path, folder: Path, url: str) -> Served:
    folder.mkdir()
    return serve_kitchen_sink(migrated_db, folder, SUBMISSION_LIMIT_STORAGE=url,
                              SUBMISSION_RULES={**RELAXED_RULES, "cookieless_limit": "2 per hour"})


def _post(served: Served, address: str) -> int:
    client = served.app.test_client(use_cookies=False)
    url, environ = served.url(), {"REMOTE_ADDR": address}
    page = client.get(url, query_string=FRESH_FORM, environ_base=environ)
    form = hidden_fields(page.get_data(as_text=True))
    return client.post(url, data={**form, **VALID}, environ_base=environ).status_code


def test_two_servers_with_their_own_databases_share_the_limits_in_redis(migrated_db: Path, tmp_path: Path,
                                                                        redis_url: str) -> None:
    first = _served(migrated_db, tmp_path / "a", redis_url)
    second = _served(migrated_db, tmp_path / "b", redis_url)
    assert [_post(first, "203.0.113.50"), _post(second, "203.0.113.50"), _post(first, "203.0.113.50"),
            _post(second, "203.0.113.50")] == [303, 303, 429, 429]
    assert first.counts()[0] == second.counts()[0] == 1  # each database holds only its own response
    assert _post(second, "203.0.113.51") == 303  # another address is not affected
    keys = [key.decode() for key in redis.Redis.from_url(redis_url).keys("*")]
    assert keys and all(key.startswith("LIMITS:hailong/") for key in keys)
    assert not any("203.0.113" in key for key in keys)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_tablet_allowances_in_redis(scenario: Callable[[Served], None], migrated_db: Path, tmp_path: Path,
                                    redis_url: str) -> None:
    """The same tablet scenarios as on the database and memory stores (kiosk_allowance_helpers.py)."""
    redis.Redis.from_url(redis_url).flushdb()  # the server is shared by the module's tests
    scenario(served_with_store(migrated_db, tmp_path / "app", redis_url))
