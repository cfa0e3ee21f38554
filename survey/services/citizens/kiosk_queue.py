"""Answers a registered counter tablet queued while it was offline (docs/kiosk.md, "Offline").

The tablet cannot mint form nonces, so while it is online it keeps a stock of unused ones issued by
the server (`nonce_stock`), one for each form it shows offline. A queued answer is sent later to the
tablet's own address with its nonce, whose random part stays the response's idempotency key (UNIQUE):
however often a queued answer is sent again, it is stored at most once.

The one rule that differs from a live form (`queued_settings`): the nonce is accepted for
KIOSK_QUEUE_MAX_AGE after it was issued instead of FORM_NONCE_MAX_AGE, so an answer given during a
long outage is not refused for a token problem. Only a registered, unrevoked tablet's address gets
this window; everything else is as for a live form: the nonce must be genuine and name the tablet's
counter and instrument, the limits count the sync, the plausibility flags apply, a receipt is spent.
The time the tablet says the citizen answered is believed only within what the server knows: not
before the nonce was issued, not after it arrived (`answered_at`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from survey.services.citizens.form_nonce import FormNonce, issue_nonce
from survey.services.citizens.submissions import SubmissionSettings

MAX_STOCK = 200  # a bound on the JSON the tablet downloads, whatever KIOSK_NONCE_STOCK says


def queued_settings(config: Mapping[str, Any]) -> SubmissionSettings:
    """The settings a queued kiosk answer is validated with: the queue's longer nonce window."""
    return SubmissionSettings(secret=str(config["SECRET_KEY"]),
                              nonce_max_age=timedelta(seconds=config["KIOSK_QUEUE_MAX_AGE"]))


def nonce_stock(secret: str, counter_id: int, instrument_key: str, now: datetime, size: int) -> list[str]:
    """`size` fresh nonces (at most MAX_STOCK) for forms the tablet will show while offline."""
    return [issue_nonce(secret, counter_id, instrument_key, now) for _ in range(max(0, min(size, MAX_STOCK)))]


def answered_at(claimed_ms: str | None, nonce: FormNonce, now: datetime) -> datetime:
    """When the citizen answered, as the tablet says (UNIX milliseconds), clamped to the span the server
    can vouch for: from the nonce's issue to the arrival. Missing or malformed: the arrival."""
    try:
        claimed = datetime.fromtimestamp(int(claimed_ms or "") / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return now
    return min(max(claimed, nonce.rendered_at), now)
