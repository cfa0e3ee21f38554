"""Time-based one-time passwords (RFC 6238) with pyotp, and the enrolment QR as inline SVG.

The secret is stored as plain base32 in `users.totp_secret`. Encrypting it would need a key kept
outside the database and a cipher library; `cryptography` is not a dependency of this project and is
not worth adding for this alone. The database file is already the crown jewel (it holds the answers),
so it must be protected at rest anyway; a leaked secret is re-issued by an admin's "reset two-factor".
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import qrcode
from markupsafe import Markup
from qrcode.image.svg import SvgPathImage

ISSUER = "Hài Lòng"
VALID_WINDOW = 1  # accept the previous and next 30-second step: phones drift, people type slowly


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def accepted_step(secret: str | None, code: str, *, now: datetime, after: int | None) -> int | None:
    """The time step `code` belongs to if it is valid at `now` (±1 step) and newer than `after`,
    the step of the last accepted code: a code is never accepted twice (RFC 6238 §5.2), so one
    seen over a shoulder is useless once typed. `code` may contain spaces ("123 456")."""
    if not secret:
        return None
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isascii() or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        step = current + offset
        fresh = after is None or step > after
        if fresh and hmac.compare_digest(totp.at(now, counter_offset=offset), digits):
            return step
    return None


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG (no data: URL, no script: fits the CSP)."""
    image = qrcode.make(uri, image_factory=SvgPathImage, box_size=8, border=4)
    svg = image.to_string(encoding="unicode")
    # Drop the XML declaration: it is not allowed inside HTML.
    start = svg.find("<svg")
    return Markup(svg[start:] if start >= 0 else svg)
