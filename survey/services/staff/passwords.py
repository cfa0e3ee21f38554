"""Staff passwords: argon2id (argon2-cffi), rehashed on login when the configured cost changes."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # long enough for any passphrase, short enough that hashing stays cheap to refuse


@dataclass(frozen=True)
class Verdict:
    ok: bool
    new_hash: str | None = None  # set when the stored hash used older parameters


def hasher(config: Mapping[str, Any]) -> PasswordHasher:
    """argon2id with the cost from config (argon2-cffi's RFC 9106 low-memory profile by default)."""
    defaults = PasswordHasher()
    return PasswordHasher(
        time_cost=int(config.get("ARGON2_TIME_COST") or defaults.time_cost),
        memory_cost=int(config.get("ARGON2_MEMORY_COST") or defaults.memory_cost),
        parallelism=int(config.get("ARGON2_PARALLELISM") or defaults.parallelism),
    )


def hash_password(config: Mapping[str, Any], password: str) -> str:
    return hasher(config).hash(password)


def verify_password(config: Mapping[str, Any], stored_hash: str | None, password: str) -> Verdict:
    """Check a password. With no stored hash (unknown user) a dummy hash is still verified, so the
    response time does not tell which usernames exist."""
    ph = hasher(config)
    try:
        ph.verify(stored_hash or _dummy_hash(ph), password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return Verdict(ok=False)
    if stored_hash is None:
        return Verdict(ok=False)
    return Verdict(ok=True, new_hash=ph.hash(password) if ph.check_needs_rehash(stored_hash) else None)


def password_problem(password: str) -> str | None:
    """Why a new password is refused (English msgid), or None. Length only, as NIST SP 800-63B advises:
    composition rules push people to predictable patterns."""
    if len(password) < MIN_LENGTH:
        return "too_short"
    if len(password) > MAX_LENGTH:
        return "too_long"
    return None


# No 0/o, 1/l/i: the admin often reads the password out over the phone.
_UNAMBIGUOUS = "abcdefghjkmnpqrstuvwxyz23456789"


def generate_password() -> str:
    """A one-time password for a new or reset account: four groups of four characters from a
    31-letter alphabet (16 × log2 31 ≈ 79 bits), e.g. `k7mq-x2ta-9hfe-wrs4`."""
    groups = ("".join(secrets.choice(_UNAMBIGUOUS) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


_DUMMIES: dict[tuple[int, int, int], str] = {}


def _dummy_hash(ph: PasswordHasher) -> str:
    key = (ph.time_cost, ph.memory_cost, ph.parallelism)
    if key not in _DUMMIES:
        _DUMMIES[key] = ph.hash(secrets.token_urlsafe(16))
    return _DUMMIES[key]
