"""Hài Lòng web app: citizens answer at the counter, managers read the indices, researchers export."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

# NumPy asks Linux for transparent huge pages for every array of 4 MB or more (numpy.org, "madvise
# hugepage on Linux"). A dashboard computation allocates and frees arrays of tens of MB; each fresh one
# then waits for the kernel to find and zero 2 MB pages, which on a virtual machine made the first
# computation in a process up to ten times slower than the next ones (docs/bench.md, "Huge pages").
# Read once, when NumPy is first imported: set NUMPY_MADVISE_HUGEPAGE=1 to let NumPy ask again.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

from survey import proxies
from survey.config import INSECURE_DEFAULT_SECRET, DefaultConfig
from survey.resources import app_dir


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. No side effects beyond creating the instance folder: no migrations, no network."""
    app = Flask(__name__, instance_relative_config=True, template_folder=app_dir("templates"),
                static_folder="static")
    app.config.from_object(DefaultConfig)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "hailong.db")
    _refuse_default_secret(app)
    app.wsgi_app = proxies.wrap(app.wsgi_app, app.config)  # type: ignore[method-assign]

    from survey import assets, auth, database, errors, i18n, report_store, security
    from survey.blueprints import register_blueprints
    from survey.commands import register_commands
    from survey.extensions import compress, csrf, db, migrate
    from survey.services.citizens.limits import check_rule_config

    check_rule_config(app.config)

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(app_dir("migrations")), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    assets.init_app(app)
    compress.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    report_store.init_app(app)
    register_blueprints(app)
    register_commands(app)
    return app


def _refuse_default_secret(app: Flask) -> None:
    if app.config["SECRET_KEY"] == INSECURE_DEFAULT_SECRET and not (app.debug or app.testing):
        raise RuntimeError(
            "Refusing to start with the default SECRET_KEY: set FLASK_SECRET_KEY or SECRET_KEY in "
            "instance/config.py (or run with --debug for local development)."
        )
