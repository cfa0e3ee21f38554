"""Rate limits for staff sign-in (Flask-Limiter), keyed without ever holding a raw IP address.

Keys are HMAC(daily key, IP prefix): the /24 (IPv4) or /64 (IPv6) a client sits in, so one host cannot
dodge the limit by hopping addresses in its own block, and the key changes every day, so the limiter's
store (memory or Redis) never holds a stable address fingerprint (docs/bad-input.md, integrity item 5).
`request.remote_addr` is the only address read: X-Forwarded-For is client-controlled unless a
configured proxy hop rewrites it (row 32).

Storage: `RATELIMIT_STORAGE_URI`, `memory://` by default, which counts per worker process. With
several workers set a shared store, e.g. `redis://localhost:6379/0` (docs/bad-input.md, pitfall P5).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from survey.client_address import parse_client_ip
from survey.errors import render_error

UNKNOWN_ADDRESS = "unknown"


def ip_prefix(address: str | None) -> str:
    """The network a client address belongs to: /24 for IPv4, /64 for IPv6."""
    ip = parse_client_ip(address)
    if ip is None:
        return UNKNOWN_ADDRESS
    bits = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def keyed(purpose: str, value: str, *, secret: str, day: str) -> str:
    """HMAC of `value` under a key derived from the secret, the purpose and the UTC day."""
    day_key = hmac.new(secret.encode(), f"ratelimit:{purpose}:{day}".encode(), hashlib.sha256).digest()
    return hmac.new(day_key, value.encode(), hashlib.sha256).hexdigest()[:32]


def utc_day() -> str:
    """The UTC day that selects the key of every keyed hash of a client: it rotates at 00:00 UTC."""
    return datetime.now(UTC).date().isoformat()


def address_key() -> str:
    return keyed("address", ip_prefix(request.remote_addr), secret=current_app.config["SECRET_KEY"],
                 day=utc_day())


def account_key() -> str:
    """Per account named in the sign-in form (known or not, so probing names costs the same)."""
    username = request.form.get("username", "").strip().casefold()[:80]
    return keyed("account", username or "-", secret=current_app.config["SECRET_KEY"], day=utc_day())


limiter = Limiter(key_func=address_key)


def _too_many(error: RateLimitExceeded) -> Any:
    body, status = render_error(429, "E-RATE", _l("Too many attempts. Please wait a moment and try again."))
    return body, status, {"Retry-After": str(_retry_after_seconds())}


def _retry_after_seconds() -> int:
    breached = [lim for lim in limiter.current_limits if lim.breached]
    if not breached:
        return 60
    return max(1, int(max(lim.reset_at for lim in breached) - time.time()) + 1)


# The sign-in limits an admin may lift: (config name, key purpose, endpoints). Keys as `address_key`,
# `account_key` and survey.blueprints.auth's two-factor key compute them.
_ADDRESS_LIMITS = (("LOGIN_LIMIT_PER_ADDRESS", ("auth.login",)),)
_ACCOUNT_LIMITS = (("LOGIN_LIMIT_PER_ACCOUNT", ("auth.login",)),)
_USER_LIMITS = (("TWO_FACTOR_LIMIT_PER_ACCOUNT", ("auth.two_factor", "auth.enrol")),
                ("LOGIN_LIMIT_PER_ACCOUNT", ("auth.change_password",)))


@dataclass(frozen=True)
class Lifted:
    """What `lift_lockout` cleared: how many limit windows were exhausted, how many had any attempt."""

    locked: int
    counted: int


def lift_lockout(config: Mapping[str, Any], *, address: str = "", username: str = "",
                 user_id: int | None = None, now: datetime | None = None) -> Lifted:
    """Forget the failed sign-in attempts counted for an address's network (/24 or /64), for a
    username, and for that account's two-factor and password-change attempts.

    Today's and yesterday's keys are cleared (keys change at midnight UTC; windows last minutes).
    With the default `memory://` store each worker process counts apart, and this clears the store
    of the process that serves the request only; with a shared store (Redis) it clears for all.
    """
    secret = config["SECRET_KEY"]
    moment = now or datetime.now(UTC)
    days = [moment.date().isoformat(), (moment - timedelta(days=1)).date().isoformat()]
    wanted: list[tuple[str, str, tuple[str, ...]]] = []
    if address:
        network = ip_prefix(address)
        wanted += [(config[name], keyed("address", network, secret=secret, day=day), endpoints)
                   for name, endpoints in _ADDRESS_LIMITS for day in days]
    if username:
        folded = username.strip().casefold()[:80]
        wanted += [(config[name], keyed("account", folded, secret=secret, day=day), endpoints)
                   for name, endpoints in _ACCOUNT_LIMITS for day in days]
    if user_id is not None:
        wanted += [(config[name], keyed("two-factor", f"user:{user_id}", secret=secret, day=""), endpoints)
                   for name, endpoints in _USER_LIMITS]
    locked = counted = 0
    for text, key, endpoints in wanted:
        for item in parse_many(text):
            for endpoint in endpoints:
                remaining = limiter.limiter.get_window_stats(item, key, endpoint).remaining
                locked += remaining <= 0
                counted += remaining < item.amount
                limiter.limiter.clear(item, key, endpoint)
    return Lifted(locked, counted)


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter.init_app(app)
    # More specific than the generic HTTPException handler in survey.errors, so it wins for 429s
    # raised by this limiter and can add the Retry-After header the generic page cannot know.
    app.register_error_handler(RateLimitExceeded, _too_many)
