"""Configuration: safe defaults here, then instance/config.py, then FLASK_* environment variables."""

from __future__ import annotations

INSECURE_DEFAULT_SECRET = "dev-insecure-secret-change-me"


class DefaultConfig:
    """Non-secret defaults. Everything here can be overridden; SECRET_KEY must be."""

    SECRET_KEY = INSECURE_DEFAULT_SECRET
    # Filled in by create_app with an absolute path in the instance folder when left empty.
    SQLALCHEMY_DATABASE_URI = ""

    # Werkzeug otherwise accepts large bodies and thousands of fields (reliability.md, pitfalls).
    MAX_CONTENT_LENGTH = 64 * 1024
    MAX_FORM_MEMORY_SIZE = 64 * 1024
    MAX_FORM_PARTS = 200

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")

    WTF_CSRF_TIME_LIMIT = 3600
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Survey integrity (reliability.md, "Integrity without CAPTCHAs").
    QR_TOKEN_MAX_LENGTH = 512
    FORM_NONCE_MAX_AGE = 6 * 3600  # seconds a rendered form stays submittable
    MIN_FILL_SECONDS = 3
    KIOSK_RETURN_SECONDS = 8

    # Base of the short URL printed under QR codes; empty = the URL the request came in on.
    PUBLIC_BASE_URL = ""

    DEFAULT_TARGET = 0.80

    # Signs counter QR tokens; empty = SECRET_KEY. Keep it separate in production so rotating the
    # session secret does not retire every printed poster.
    QR_SECRET_KEY = ""
