"""Signed, revocable counter tokens for the short survey URL `/s/<token>`.

The payload names unit, counter and key version. HMAC-SHA-256 (not itsdangerous' SHA-1 default), no
expiry: a printed poster lives for years. Revoking a counter or bumping its key version retires every
code printed before (docs/bad-input.md, integrity item 1).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from survey.errors import SurveyError
from survey.models import Counter

SALT = "hai-long.counter-qr.v1"
MAX_TOKEN_LENGTH = 512


@dataclass(frozen=True)
class CounterToken:
    unit_id: int
    counter_id: int
    key_version: int


def _invalid() -> SurveyError:
    return SurveyError(404, "E-QR-INVALID", _l("This QR code is not valid. Please scan the code on the "
                                               "counter again or ask the staff."),
                       title=_l("QR code not recognised"))


@functools.lru_cache(maxsize=8)  # stateless once built: one per secret, not one per request
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def issue_token(counter: Counter, secret: str) -> str:
    """Return the token printed on `counter`'s QR code for its current key version."""
    return str(_serializer(secret).dumps([counter.unit_id, counter.id, counter.key_version]))


def decode_token(token: str, secret: str) -> CounterToken:
    """Check the signature and shape only; raises SurveyError(404, E-QR-INVALID)."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise SurveyError(414, "E-TOO-LONG-URL", _l("The address is too long."))
    try:
        payload = _serializer(secret).loads(token)
    except (BadData, UnicodeError, ValueError):
        raise _invalid() from None
    if (not isinstance(payload, list) or len(payload) != 3
            or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in payload)):
        raise _invalid()
    return CounterToken(*payload)


def resolve_token(session: Session, token: str, secret: str) -> Counter:
    """Return the live counter a token names.

    404 E-QR-INVALID for anything malformed, forged or of another purpose; 410 E-QR-EXPIRED for a
    revoked or inactive counter or a retired key version.
    """
    decoded = decode_token(token, secret)
    return check_counter(session.get(Counter, decoded.counter_id), decoded)  # by primary key: no statement


def check_counter(counter: Counter | None, decoded: CounterToken) -> Counter:
    """`counter` (read for `decoded.counter_id`) if the token still opens it; else 404 or 410 as
    `resolve_token` says. For callers that read the counter together with other rows."""
    if counter is None or counter.unit_id != decoded.unit_id:
        raise _invalid()
    if counter.revoked_at is not None or not counter.active or counter.key_version != decoded.key_version:
        raise SurveyError(410, "E-QR-EXPIRED", _l("This QR code is no longer in use. Please scan the "
                                                  "current code at the counter or ask the staff."),
                          title=_l("QR code no longer in use"))
    return counter


def token_secret(config: Mapping[str, Any]) -> str:
    """The key counter tokens are signed with: QR_SECRET_KEY, else SECRET_KEY."""
    return str(config.get("QR_SECRET_KEY") or config["SECRET_KEY"])
