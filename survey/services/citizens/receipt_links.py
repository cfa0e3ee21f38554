"""Per-dossier survey links minted by a one-stop system through the API (docs/integrity.md, "Receipts").

When the one-stop system hands a dossier's result over, it asks the API for a link for that dossier's
receipt number and counter, and prints its QR code on the slip. Minting spends the dossier's receipt
(the same HMAC row as a typed number, `receipts.spend_receipt`): a dossier gets one link, and once it
has one its number can no longer be typed at a receipt counter either. The link `/r/<token>` carries,
signed with HMAC-SHA-256 under its own salt, the counter, the receipt period and a random id: never
the receipt number nor its digest, and nothing is stored at minting that ties the id to the dossier.

The link is single-use (the id is spent in the same table, in the response's transaction), expires
after RECEIPT_LINK_DAYS, and is bound to its counter: opened elsewhere it is refused, and a form of
another counter sent from the same browser does not use it. A response sent through it is marked
`receipt_verified`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from survey.errors import SurveyError
from survey.models import Counter
from survey.services.citizens.receipts import canonical_receipt, period_of, receipt_spent, spend_receipt
from survey.services.qr.qr_tokens import token_secret

SALT = "hai-long.receipt-link.v1"
MAX_TOKEN_LENGTH = 200
LINK_PATH = "/r/"
# A spent link id is kept beside typed receipt numbers; this prefix is outside the canonical alphabet
# of a receipt number ([0-9A-Z]), so no typed number can collide with it.
_SPENT_PREFIX = "link:"


class ReceiptLinkRefused(Exception):
    """The API request cannot be served: `status`, a stable `code`, and a message."""

    def __init__(self, status: int, code: str, message: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class ReceiptLink:
    counter_id: int
    period: str
    link_id: str


def _serializer(config: Mapping[str, Any]) -> URLSafeSerializer:
    # The expiry travels in the signed payload, judged against the app's clock (not the signer's).
    return URLSafeSerializer(token_secret(config), salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def link_lifetime(config: Mapping[str, Any]) -> timedelta:
    return timedelta(days=int(config.get("RECEIPT_LINK_DAYS", 30)))


def mint_link(session: Session, counter: Counter, receipt: str, *, now: datetime,
              config: Mapping[str, Any]) -> tuple[str, datetime]:
    """Spend the dossier's receipt and return a link token for `counter` with its expiry (flush only).

    ReceiptLinkRefused: 422 E-RECEIPT-FORMAT for a number that cannot be one, 409 E-RECEIPT-USED when
    the dossier already has a link or an answer, 410 E-COUNTER-REVOKED for a counter out of use."""
    if counter.revoked_at is not None or not counter.active:
        raise ReceiptLinkRefused(410, "E-COUNTER-REVOKED", _l("This counter no longer takes answers."))
    canonical = canonical_receipt(receipt)
    if canonical is None:
        raise ReceiptLinkRefused(422, "E-RECEIPT-FORMAT", _l(
            "'receipt' must be the dossier's receipt number (6 to 40 letters or digits)."))
    if not spend_receipt(session, canonical, now, config):
        raise ReceiptLinkRefused(409, "E-RECEIPT-USED", _l(
            "This dossier already has a survey link or an answer: each dossier can be rated once."))
    expires = now + link_lifetime(config)
    token = _serializer(config).dumps([counter.id, period_of(now), secrets.token_urlsafe(16),
                                       int(expires.timestamp())])
    return str(token), expires


def read_link(token: str, *, config: Mapping[str, Any], now: datetime, grace: timedelta = timedelta(0)
              ) -> ReceiptLink:
    """The link a token names. SurveyError 404 E-RECEIPT-LINK for a malformed or forged token, 410
    E-RECEIPT-LINK-EXPIRED once its lifetime (plus `grace`, for a form opened in time) has passed."""
    invalid = SurveyError(404, "E-RECEIPT-LINK", _l("This survey link is not valid. Please scan the code on "
                                                     "your slip again."))
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        payload = _serializer(config).loads(token)
    except (BadData, UnicodeError, ValueError):
        raise invalid from None
    if not (isinstance(payload, list) and len(payload) == 4 and type(payload[0]) is int
            and isinstance(payload[1], str) and isinstance(payload[2], str) and type(payload[3]) is int):
        raise invalid
    if now.timestamp() >= payload[3] + grace.total_seconds():
        raise SurveyError(410, "E-RECEIPT-LINK-EXPIRED", _l(
            "This survey link has expired. You can still answer with the code on the counter."))
    return ReceiptLink(payload[0], payload[1], payload[2])


def spend_link(session: Session, link: ReceiptLink, now: datetime, config: Mapping[str, Any]) -> bool:
    """Record the link as used (flush only); False when it was used before. Spent under the period it
    was minted in, so that a link minted in December cannot be used again in January."""
    return spend_receipt(session, _SPENT_PREFIX + link.link_id, now, config, period=link.period)


def link_spent(session: Session, link: ReceiptLink, config: Mapping[str, Any]) -> bool:
    """Whether the link was used (checked when it is opened, to say so before the citizen answers)."""
    return receipt_spent(session, _SPENT_PREFIX + link.link_id, link.period, config)
