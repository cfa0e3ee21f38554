"""A gunicorn worker with the shipped config exempts what it loaded from later garbage collections."""

from __future__ import annotations

import gc
import runpy
import weakref
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import patch

from flask import Flask

CONF = Path(__file__).parents[2] / "deploy" / "gunicorn.conf.py"


class _Node:
    other: object = None


def test_the_worker_hook_freezes_the_objects_alive_after_start() -> None:
    settings = runpy.run_path(str(CONF))
    assert gc.get_freeze_count() == 0
    garbage = _Node()
    garbage.other = garbage  # a cycle only the collector frees
    collected = weakref.ref(garbage)
    del garbage
    try:
        settings["post_worker_init"](None)
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the modules loaded by now
        assert collected() is None  # garbage is collected first, never frozen
        gc.collect()
        assert gc.get_freeze_count() == frozen  # later collections leave them alone
    finally:
        gc.unfreeze()


def test_the_worker_hook_compiles_the_apps_templates_first(app: Flask) -> None:
    """Each template is compiled at the worker's start, not on the first page that needs it."""
    settings = runpy.run_path(str(CONF))
    cache = app.jinja_env.cache
    assert cache is not None
    cache.clear()
    try:
        settings["post_worker_init"](SimpleNamespace(wsgi=app))
        names = app.jinja_env.list_templates()
        assert len(names) > 40 and len(cache) == len(names)
        with patch.object(app.jinja_env, "compile", side_effect=AssertionError("compiled again")):
            app.jinja_env.get_template("manage/dashboard/unit.html")  # from the cache
    finally:
        gc.unfreeze()
