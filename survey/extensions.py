"""Unbound extension objects, bound to the app in create_app (one place, no import cycles).

Services take a SQLAlchemy `Session`; views and commands pass `db.session()`, the current app
context's session, because `db.session` itself is a `scoped_session` proxy, not a `Session`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from flask import Blueprint, Flask
from flask_babel import Babel
from flask_compress import Compress
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from survey.models.base import Base

_Exempted = TypeVar("_Exempted", bound=Callable[..., Any] | Blueprint)


class CsrfGuard(Protocol):
    """What the app uses of Flask-WTF's `CSRFProtect`, typed here because Flask-WTF ships no types."""

    def init_app(self, app: Flask) -> None: ...

    def exempt(self, view: _Exempted) -> _Exempted:
        """Skip the check for a view or a whole blueprint; returns its argument unchanged."""
        ...

    def protect(self) -> None:
        """Check the current request's token now; raises `CSRFError` when it is missing or bad."""
        ...


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf: CsrfGuard = CSRFProtect()
babel = Babel()
# gzip/brotli/zstd for HTML, CSS and JS: the SIPAS page shrinks about six-fold on a slow line
# (bench/page_weight.py). nginx compresses too when it is in front (docs/deploy.md).
compress = Compress()
