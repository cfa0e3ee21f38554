"""Unbound extension objects, bound to the app in create_app (one place, no import cycles)."""

from __future__ import annotations

from flask_babel import Babel
from flask_compress import Compress
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from survey.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
# gzip/brotli/zstd for HTML, CSS and JS: the SIPAS page shrinks about six-fold on a slow line
# (bench/page_weight.py). nginx compresses too when it is in front (docs/deploy.md).
compress = Compress()
