"""One response per dossier, where a counter asks for the receipt number (docs/integrity.md, "Receipts").

The citizen types the number printed on the handover slip (giấy tiếp nhận hồ sơ và hẹn trả kết quả).
It is canonicalised (NFKC, upper case, letters and digits only: "000.00.12.H12-241204-0001" and
"00000 12h12 2412040001" are the same number), then kept only as HMAC-SHA-256 under the key of the
current period, in its own table with no link to the response, in the same transaction as the
response. A number used before in the period is refused (409). The period keys live in the
configuration, never in the database: RECEIPT_KEYS maps a period ("2026") to a secret; without one,
the key is derived from SECRET_KEY and the period. Destroying an old period's key leaves its digests
impossible to test against any number.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey.models import Counter, SpentReceipt, Unit

RECEIPT_FIELD = "receipt"
MIN_LENGTH, MAX_LENGTH = 6, 40
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]")


def canonical_receipt(raw: str) -> str | None:
    """The canonical receipt number, or None when it cannot be one (too short, too long)."""
    if len(raw) > 4 * MAX_LENGTH:
        return None
    text = _NOT_ALPHANUMERIC.sub("", unicodedata.normalize("NFKC", raw).upper())
    return text if MIN_LENGTH <= len(text) <= MAX_LENGTH else None


def receipts_required(counter: Counter, config: Mapping[str, Any]) -> bool:
    """Whether RECEIPT_COUNTERS names the counter ("UNIT/COUNTER") or one of its units up the tree."""
    wanted = set(config.get("RECEIPT_COUNTERS", ()))
    if not wanted:
        return False
    unit: Unit | None = counter.unit
    if f"{counter.unit.code}/{counter.code}" in wanted:
        return True
    while unit is not None:
        if unit.code in wanted:
            return True
        unit = unit.parent
    return False


def period_of(now: datetime) -> str:
    """Receipt keys rotate every calendar year (UTC)."""
    return f"{now.year:04d}"


def period_key(period: str, config: Mapping[str, Any]) -> bytes:
    keys: Mapping[str, str] = config.get("RECEIPT_KEYS", {})
    if period in keys:
        return str(keys[period]).encode()
    return hmac.new(str(config["SECRET_KEY"]).encode(), f"receipt-period:{period}".encode(),
                    hashlib.sha256).digest()


def receipt_digest(canonical: str, period: str, config: Mapping[str, Any]) -> str:
    return hmac.new(period_key(period, config), canonical.encode(), hashlib.sha256).hexdigest()


def receipt_spent(session: Session, canonical: str, period: str, config: Mapping[str, Any]) -> bool:
    digest = receipt_digest(canonical, period, config)
    return session.scalar(sa.select(SpentReceipt.digest).where(SpentReceipt.digest == digest)) is not None


def spend_receipt(session: Session, canonical: str, now: datetime, config: Mapping[str, Any], *,
                  period: str | None = None) -> bool:
    """Record the receipt as used (flush, never commit); False when it was used before in the period
    (`now`'s, unless given: a survey link is spent under the period it was minted in).

    The primary key is the guarantee; the look-up first spares the common case an exception. A
    concurrent twin that got in between (PostgreSQL runs them side by side; SQLite serialises them on
    its write lock) is caught in a savepoint, so the caller's transaction stays usable.
    """
    period = period or period_of(now)
    if receipt_spent(session, canonical, period, config):
        return False
    digest = receipt_digest(canonical, period, config)
    try:
        with session.begin_nested():
            session.add(SpentReceipt(digest=digest, period=period))
    except IntegrityError:
        return False
    return True
