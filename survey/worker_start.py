"""What a serving process does once the app is loaded, before its first request.

Python's cyclic garbage collector walks, in a full (oldest-generation) collection, every object that
has survived two collections: the app and the libraries it imported (pandas, NumPy, SciPy,
SQLAlchemy, Jinja2, Babel...), several hundred thousand objects that live as long as the process.
A dashboard's first view in a new worker allocates enough to set off one such collection: at a
million responses it took 0.11 s of the province page's 0.46 s (docs/bench.md, "A ward's first view,
and a year after a response"). `gc.freeze()` moves every object that exists once the app is loaded to
a permanent generation that collections skip (Python documentation, `gc.freeze`); unreachable objects
are collected first, so none is kept by it. Collections of what requests create run as before.

Before that, the worker compiles the app's templates: Jinja compiles a template on its first use, and a
manager's first page after a restart compiled its page's templates then (a ward's page: 70 ms of its
first view, docs/bench.md). Compiled at start, they are frozen with the rest.
"""

from __future__ import annotations

import gc

from flask import Flask


def prepare_worker(app: object) -> None:
    """What a worker does once it has loaded `app` (its WSGI callable): compile the templates of a Flask
    app, then `freeze_startup_objects`."""
    if isinstance(app, Flask):
        for name in app.jinja_env.list_templates():
            app.jinja_env.get_template(name)
    freeze_startup_objects()


def freeze_startup_objects() -> None:
    """Collect, then exempt the objects alive now from later collections (see the module)."""
    gc.collect()
    gc.freeze()
