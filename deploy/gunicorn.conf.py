"""Gunicorn settings for Hài Lòng (docs/deploy.md): `gunicorn -c deploy/gunicorn.conf.py`.

- `forwarded_allow_ips` comes from the app's own TRUSTED_PROXIES (instance/config.py or
  FLASK_TRUSTED_PROXIES), read the way the app reads it, so gunicorn and Werkzeug's ProxyFix trust the
  same proxies: a TLS proxy on another host then gets its X-Forwarded-Proto believed by both.
- No client address in any log: the access-log format leaves out `%(h)s`, and every gunicorn and
  application log record passes survey.log_privacy.AddressScrubber, which also catches gunicorn's
  own "Invalid request from ip=…" warnings for malformed (400) and too-long (414) requests.

Environment: GUNICORN_BIND (default 127.0.0.1:8000, behind nginx), WEB_CONCURRENCY (workers, 2).
"""

import os

from flask import Config, Flask

from survey.config import DefaultConfig
from survey.proxies import forwarded_allow_ips as _allowed_proxies


def _app_config() -> Config:
    """The app's configuration without building the app: defaults, instance/config.py, FLASK_*."""
    config = Config(Flask("survey", instance_relative_config=True).instance_path)
    config.from_object(DefaultConfig)
    config.from_pyfile("config.py", silent=True)
    config.from_prefixed_env()
    return config


wsgi_app = "survey:create_app()"


def post_worker_init(worker: object) -> None:
    """Once a worker has loaded the app: compile its templates and keep the collector off its long-lived
    objects (survey/worker_start.py)."""
    from survey.worker_start import prepare_worker

    prepare_worker(getattr(worker, "wsgi", None))


bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
forwarded_allow_ips = _allowed_proxies(_app_config())

# Time, request line, status, bytes, seconds: no %(h)s (address), no %(a)s / %(f)s (browser, referrer).
ACCESS_LOG_FORMAT = '%(t)s "%(r)s" %(s)s %(b)s %(L)s'
access_log_format = ACCESS_LOG_FORMAT
accesslog = "-"
errorlog = "-"

_scrubbed_stream = {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_address"]}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_address": {"()": "survey.log_privacy.AddressScrubber"}},
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error": {**_scrubbed_stream, "stream": "ext://sys.stderr"},
        "access": {**_scrubbed_stream, "formatter": "access", "stream": "ext://sys.stdout"},
    },
    "root": {"level": "WARNING", "handlers": ["error"]},  # the app and libraries: warnings and errors
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}
