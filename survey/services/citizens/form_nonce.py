"""The signed single-use form nonce issued with every survey form (docs/bad-input.md, integrity item 3).

It carries a random 128-bit key (stored as `Response.idempotency_key`, UNIQUE: a double tap, retry
or back-button resubmission can store at most one response), the counter and instrument the form
was rendered for, and the render time (for the minimum fill time). Signed with HMAC-SHA-256 under
its own salt, so no other token of this app (QR, CSRF, session) can pass as a nonce.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadData, URLSafeTimedSerializer

SALT = "hai-long.form-nonce.v1"
# Several workers' clocks may differ slightly; a render time further in the future is refused.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class FormNonce:
    key: str
    counter_id: int
    instrument_key: str
    rendered_at: datetime


@functools.lru_cache(maxsize=8)  # stateless once built: one per secret, not one per request
def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def issue_nonce(secret: str, counter_id: int, instrument_key: str, now: datetime) -> str:
    """A fresh nonce for a form rendered at `now` (timezone-aware)."""
    rendered_ms = round(now.timestamp() * 1000)
    return str(_serializer(secret).dumps([secrets.token_hex(16), counter_id, instrument_key, rendered_ms]))


def read_nonce(token: str | None, secret: str, now: datetime, max_age: timedelta) -> FormNonce | None:
    """The nonce's content, or None when it is missing, forged, malformed or older than `max_age`."""
    if not token or len(token) > 512:
        return None
    try:
        payload = _serializer(secret).loads(token)
    except (BadData, UnicodeError, ValueError):
        return None
    if not (isinstance(payload, list) and len(payload) == 4):
        return None
    key, counter_id, instrument_key, rendered_ms = payload
    if not (isinstance(key, str) and len(key) == 32 and isinstance(instrument_key, str)
            and type(counter_id) is int and type(rendered_ms) is int):
        return None
    rendered_at = datetime.fromtimestamp(rendered_ms / 1000, UTC)
    if rendered_at - now > CLOCK_SKEW or now - rendered_at > max_age:
        return None
    return FormNonce(key, counter_id, instrument_key, rendered_at)
