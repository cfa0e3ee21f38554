"""Where the dashboards' computed figures are shared between processes (`REPORT_CACHE_URI`).

Every gunicorn worker, a restarted server and the scheduled jobs read and fill the same store, so a
period's table is computed once between them (`survey.services.reporting.index_cache`). The store is
cachelib's: a directory (the default, ``instance/report-cache``) or Redis for several servers.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import unquote, urlsplit

from cachelib import FileSystemCache, RedisCache
from flask import Flask, Response, current_app, g, has_request_context

from survey.extensions import db
from survey.services.reporting.index_cache import (
    SharedStore,
    Task,
    prepare_later_with,
    share_between_processes,
)

# An entry's version is checked on every read, so age only bounds what a store keeps for periods
# nobody opens any more. A province's report at a million responses a year is about 20 MB pickled, a
# commune's a few kilobytes; past the file limit cachelib removes the expired, then the oldest. An entry
# is two files: its value, and its version alone (`index_cache.VersionedCache`).
KEEP_SECONDS = 30 * 24 * 3600
MAX_FILES = 4000


def store_for(uri: str | None, app: Flask) -> SharedStore | None:
    """The store `uri` names: "none", a directory ("filesystem:/path"), or "redis://…". Unset: the
    instance folder's report-cache directory, except under tests (app.testing), which share nothing."""
    if uri is None:
        if app.testing:
            return None
        uri = "filesystem:" + os.path.join(app.instance_path, "report-cache")
    if uri == "none":
        return None
    if uri.startswith("redis://"):
        # cachelib connects itself (redis is the deploy extra's, imported only then)
        parts = urlsplit(uri)
        return RedisCache(host=parts.hostname or "localhost", port=parts.port or 6379,
                          password=unquote(parts.password) if parts.password else None,
                          db=int(parts.path.strip("/") or 0), key_prefix="hailong-report:",
                          default_timeout=KEEP_SECONDS)
    if uri.startswith("filesystem:"):
        return FileSystemCache(uri.removeprefix("filesystem:"), threshold=MAX_FILES,
                               default_timeout=KEEP_SECONDS, mode=0o600)
    raise RuntimeError(f"REPORT_CACHE_URI must be none, filesystem:/path or redis://host:port/db: {uri!r}")


_LOG = logging.getLogger(__name__)
_PENDING = "report_store_writes"  # flask.g: what this request will write, {(store, key): (value, timeout)}


class WrittenAfterResponse:
    """`store`, its writes during a request made once the response has been sent (`init_app`): a
    province's table pickled into the store took 0.1-0.2 s, which the manager who asked for the page
    need not wait for. Outside a request (the scheduled jobs) it writes at once. This process keeps its
    own copy meanwhile; another process that asks before the write finds nothing and computes."""

    def __init__(self, store: SharedStore) -> None:
        self.store = store

    def get(self, key: str) -> Any:
        return self.store.get(key)

    def set(self, key: str, value: Any, timeout: int | None = None) -> Any:
        if not has_request_context():
            return self.store.set(key, value, timeout)
        g.setdefault(_PENDING, {})[self, key] = (value, timeout)  # a key's last value is the one kept
        return True


def _write(pending: dict[tuple[WrittenAfterResponse, str], tuple[Any, int | None]]) -> None:
    """Write what a request left, each entry on its own: a failure costs that entry only."""
    for (deferred, key), (value, timeout) in pending.items():
        try:
            deferred.store.set(key, value, timeout)
        except Exception:  # a full disk or a lost Redis must not fail anything: it is a cache
            _LOG.warning("shared report cache: could not store %s", key, exc_info=True)


_TASKS = "report_store_tasks"  # flask.g: what `index_cache.prepare_later` asked of this request


def _schedule(task: Task) -> None:
    if has_request_context():
        g.setdefault(_TASKS, []).append(task)


def _prepare(app: Flask, tasks: list[Task]) -> None:
    """Run what a request left to read ahead, in a context and session of their own (read only)."""
    with app.app_context():
        for task in tasks:
            try:
                task(db.session())
            except Exception:  # reading ahead is never needed: a failure costs a later view the read
                _LOG.warning("reading ahead after a response failed", exc_info=True)
            finally:
                db.session.rollback()


def init_app(app: Flask) -> None:
    """Share the figures as the app's configuration says, each request's writes after its response,
    and read ahead after it what the figures read from the store did not (`index_cache.prepare_later`)."""
    store = store_for(app.config.get("REPORT_CACHE_URI"), app)
    if store is None:
        share_between_processes(None)
        prepare_later_with(None)
        return
    share_between_processes(WrittenAfterResponse(store))
    prepare_later_with(_schedule)

    @app.after_request
    def write_when_sent(response: Response) -> Response:
        pending, tasks = g.pop(_PENDING, None), g.pop(_TASKS, None)
        if pending:  # the WSGI server closes the response once its body is sent
            response.call_on_close(lambda: _write(pending))
        if tasks:
            serving = current_app._get_current_object()  # type: ignore[attr-defined]
            response.call_on_close(lambda: _prepare(serving, tasks))
        return response
