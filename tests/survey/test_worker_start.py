"""A gunicorn worker with the shipped config exempts what it loaded from later garbage collections."""

from __future__ import annotations

import gc
import runpy
import weakref
from pathlib import Path

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
