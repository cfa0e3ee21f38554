"""Configuration: safe defaults here, then instance/config.py, then FLASK_* environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from analysis.poststratification import DEFAULT_MIN_CELL
from survey.local_time import TIMEZONE

INSECURE_DEFAULT_SECRET = "dev-insecure-secret-change-me"


class DefaultConfig:
    """Non-secret defaults. Everything here can be overridden; SECRET_KEY must be."""

    SECRET_KEY = INSECURE_DEFAULT_SECRET
    # Filled in by create_app with an absolute path in the instance folder when left empty.
    SQLALCHEMY_DATABASE_URI = ""

    # Werkzeug otherwise accepts large bodies and thousands of fields (docs/bad-input.md, pitfall P6).
    MAX_CONTENT_LENGTH = 64 * 1024
    MAX_FORM_MEMORY_SIZE = 64 * 1024
    MAX_FORM_PARTS = 200

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = TIMEZONE
    LANGUAGES = ("vi", "en")

    WTF_CSRF_TIME_LIMIT = 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Survey integrity (docs/bad-input.md, "Integrity defences").
    FORM_NONCE_MAX_AGE = 6 * 3600  # seconds a rendered form stays submittable
    MIN_FILL_SECONDS = 3
    # Minimum plausible fill time per instrument id; a faster response is flagged, never refused.
    MIN_FILL_SECONDS_BY_INSTRUMENT: Mapping[str, int] = MappingProxyType(
        {"sipas-counter": 20, "outpatient": 15, "school-parents": 15})
    # Submission limits and plausibility flags (survey/services/citizens/limits.py, docs/integrity.md).
    # "database" keeps the limit counters in the database (shared by every worker and process);
    # a `limits` storage URI such as "redis://localhost:6379/1" keeps them in Redis.
    SUBMISSION_LIMIT_STORAGE = "database"
    # Overrides of limits.DEFAULT_RULES for every counter, e.g. {"address_limit": "200 per 10 minutes"};
    # then per unit code or "UNIT/COUNTER" (nearest wins), e.g. a busy provincial centre:
    # {"HL-TTHCC": {"counter_limit": "2400 per 10 minutes", "burst_per_minute": 20}}.
    SUBMISSION_RULES: Mapping[str, object] = MappingProxyType({})
    SUBMISSION_RULES_BY_UNIT: Mapping[str, Mapping[str, object]] = MappingProxyType({})
    # One response per dossier (survey/services/citizens/receipts.py): unit codes or "UNIT/COUNTER" whose
    # form asks for the receipt number, and the secret key of each period ("2026": "<64 hex>"), kept
    # here, never in the database; a period without a key uses one derived from SECRET_KEY.
    RECEIPT_COUNTERS: tuple[str, ...] = ()
    RECEIPT_KEYS: Mapping[str, str] = MappingProxyType({})
    KIOSK_RETURN_SECONDS = 8
    # A kiosk form left with answers on it for this long asks "still answering?" and, unless someone
    # taps Continue within the warning, clears itself for the next citizen (docs/kiosk.md).
    KIOSK_IDLE_SECONDS = 60
    KIOSK_IDLE_WARNING_SECONDS = 15
    # Offline kiosk (docs/kiosk.md, "Offline"): a registered tablet that loses the network queues its
    # answers; a queued answer's form key is accepted this long after it was issued (instead of
    # FORM_NONCE_MAX_AGE), and the tablet keeps this many unused form keys for the forms it shows offline.
    KIOSK_QUEUE_MAX_AGE = 7 * 24 * 3600
    KIOSK_NONCE_STOCK = 60
    # Extra directories of instrument YAML files, searched after the shipped ones (instruments/data)
    # when a unit's assignment names an instrument: local questionnaires, test fixtures.
    INSTRUMENT_PATHS: tuple[str, ...] = ()

    # Base of the short URL printed under QR codes; empty = the URL the request came in on.
    PUBLIC_BASE_URL = ""

    # Reverse proxies in front of the app (nginx, a load balancer) that append X-Forwarded-For and set
    # X-Forwarded-Proto: their addresses or networks, e.g. ["10.0.0.5"] or "10.0.0.0/29". Only a
    # request from one of them may set the client address and scheme (survey/proxies.py); the same
    # list is gunicorn's forwarded_allow_ips (deploy/gunicorn.conf.py). Empty: forwarded headers
    # are ignored, as a client can forge them (docs/bad-input.md row 32).
    TRUSTED_PROXIES: tuple[str, ...] = ()
    # How many proxies in a row append to X-Forwarded-For (1 = nginx alone; 0 = 1 when TRUSTED_PROXIES
    # is set). Set without TRUSTED_PROXIES it trusts that many hops from any peer, as before that
    # setting existed: prefer TRUSTED_PROXIES.
    PROXY_HOPS = 0

    DEFAULT_TARGET = 0.80
    # Fewest respondents a unit x field x month cell needs to keep its own post-stratification weight
    # (analysis.poststratification's collapse rule, docs/weights.md); the CLI's --min-cell. One default
    # for the library, the CLI and the app, chosen by the coverage simulation (docs/weights.md).
    POSTSTRAT_MIN_CELL = DEFAULT_MIN_CELL

    # Signs counter QR tokens; empty = SECRET_KEY. Keep it separate in production so rotating the
    # session secret does not retire every printed poster.
    QR_SECRET_KEY = ""

    # Staff sign-in (survey/auth.py). Sessions live server-side and end after this much inactivity,
    # or this long after sign-in whatever happens (docs/bad-input.md, pitfall P4).
    STAFF_IDLE_MINUTES = 30
    STAFF_ABSOLUTE_HOURS = 12
    # Admins must use a TOTP second factor; set False only for a throw-away demo or in tests.
    REQUIRE_ADMIN_TOTP = True
    # Optional callable returning an aware UTC datetime: tests move the clock instead of sleeping.
    CLOCK = None
    # argon2id cost; None = argon2-cffi's defaults (RFC 9106 low-memory profile). Raising them makes
    # existing hashes rehash on their owner's next sign-in.
    ARGON2_TIME_COST = None
    ARGON2_MEMORY_COST = None  # KiB
    ARGON2_PARALLELISM = None

    # Sign-in rate limits (Flask-Limiter, survey/ratelimit.py); only failed attempts count. Keys are
    # HMAC(daily key, IP /24 or /64), never the raw address. `memory://` counts per worker process:
    # with several workers use a shared store, e.g. RATELIMIT_STORAGE_URI = "redis://localhost:6379/0".
    RATELIMIT_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    LOGIN_LIMIT_PER_ADDRESS = "30 per 15 minutes"  # generous: an office shares one NAT address
    LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"  # per username tried, known or not
    TWO_FACTOR_LIMIT_PER_ACCOUNT = "5 per 5 minutes"  # a 6-digit code must not be guessable

    # Where computed dashboard figures are shared between workers, restarts and the jobs
    # (survey/report_store.py): None = a directory in the instance folder (nothing under tests),
    # "none", "filesystem:/path", or "redis://host:6379/2" when several servers serve one database.
    REPORT_CACHE_URI: str | None = None

    # Outgoing mail of `flask reports send` (scheduled reports, survey/mail.py). Empty host: the job
    # refuses to run. MAIL_SMTP_SECURITY: "starttls" (port 587), "ssl" (implicit TLS, port 465) or
    # "none" (a relay on this machine; a password is then only sent to a loopback address).
    MAIL_SMTP_HOST = ""
    MAIL_SMTP_PORT = 587
    MAIL_SMTP_SECURITY = "starttls"
    MAIL_SMTP_USER = ""
    MAIL_SMTP_PASSWORD = ""  # set it in instance/config.py or FLASK_MAIL_SMTP_PASSWORD, never here
    MAIL_SMTP_TIMEOUT = 30  # seconds per SMTP operation
    MAIL_FROM = ""  # e.g. "Hài Lòng <baocao@hailong.example.gov.vn>"; required with MAIL_SMTP_HOST
