"""The per-browser signal of the submission limits: a signed first-party cookie issued with the form.

Many honest citizens share one address (a centre's Wi-Fi, a carrier's NAT), so the address alone
cannot tell one voice from many. The cookie holds a random 64-bit id signed with HMAC-SHA-256 under
its own salt; it is never stored: the limits key on HMAC(daily key, id) (survey.services.citizens.limits).
It lives for one day and is sent only to the survey paths (/s/).
"""

from __future__ import annotations

import functools
import hashlib
import secrets

from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE_NAME = "hl_browser"
COOKIE_PATH = "/s/"
MAX_AGE_SECONDS = 24 * 3600
SALT = "hai-long.browser.v1"


@functools.lru_cache(maxsize=8)  # stateless once built: one per secret, not one per request
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def issue_browser_id(secret: str) -> str:
    """A new signed cookie value."""
    return str(_serializer(secret).dumps(secrets.token_hex(8)))


def read_browser_id(value: str | None, secret: str) -> str | None:
    """The id in a cookie value, or None when missing, forged, malformed or older than a day."""
    if not value or len(value) > 200:
        return None
    try:
        browser_id = _serializer(secret).loads(value, max_age=MAX_AGE_SECONDS)
    except (BadData, UnicodeError, ValueError):
        return None
    return browser_id if isinstance(browser_id, str) and len(browser_id) == 16 else None
