"""Where the dashboards' computed figures are shared between processes (`REPORT_CACHE_URI`).

Every gunicorn worker, a restarted server and the scheduled jobs read and fill the same store, so a
period's table is computed once between them (`survey.services.reporting.index_cache`). The store is
cachelib's: a directory (the default, ``instance/report-cache``) or Redis for several servers.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from cachelib import FileSystemCache, RedisCache
from flask import Flask

from survey.services.reporting.index_cache import SharedStore, share_between_processes

# An entry's version is checked on every read, so age only bounds what a store keeps for periods
# nobody opens any more. A province's report at a million responses a year is about 20 MB pickled, a
# commune's a few kilobytes; past the file limit cachelib removes the expired, then the oldest.
KEEP_SECONDS = 30 * 24 * 3600
MAX_FILES = 2000


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


def init_app(app: Flask) -> None:
    """Share the figures as the app's configuration says."""
    share_between_processes(store_for(app.config.get("REPORT_CACHE_URI"), app))
