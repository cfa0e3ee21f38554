"""Machine clients of the frames API: one bearer token per one-stop system, scoped to a unit subtree.

Only SHA-256(token) is stored, so a copied database holds no usable token; the token itself is shown
once, when the client is created. Looking a client up by the hash of the presented token needs no
constant-time comparison: what a timing difference could leak is how far the *hash* matched, and
steering a hash prefix requires SHA-256 preimages; the token has 256 random bits, so guessing is hopeless.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import ApiClient, Unit, User
from survey.services.staff import audit

TOKEN_PREFIX = "hl_"  # makes a leaked token easy to recognise in logs and secret scanners
MAX_TOKEN_LENGTH = 200


class UnknownUnit(LookupError):
    """No unit has this code."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_client(session: Session, name: str, unit_code: str, *, actor: User | None,
                  now: datetime) -> tuple[ApiClient, str]:
    """A client for the subtree of `unit_code`, with its token (show it once, then forget it)."""
    unit = session.scalar(sa.select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise UnknownUnit(unit_code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(name=name.strip()[:120], token_hash=hash_token(token), unit_id=unit.id, created_at=now)
    session.add(client)
    session.flush()
    audit.record(session, actor=actor, action="api_client.create", object_type="api_client",
                 object_id=str(client.id), unit_id=unit.id, detail={"name": client.name}, now=now)
    return client, token


def revoke_client(session: Session, client_id: int, *, actor: User | None, now: datetime) -> ApiClient | None:
    """Revoke a client for good (its token stops at once); None if there is no such client."""
    client = session.get(ApiClient, client_id)
    if client is None:
        return None
    if client.revoked_at is None:
        client.revoked_at = now
        session.flush()
        audit.record(session, actor=actor, action="api_client.revoke", object_type="api_client",
                     object_id=str(client.id), unit_id=client.unit_id, now=now)
    return client


def client_for_token(session: Session, token: str, *, now: datetime) -> ApiClient | None:
    """The live client holding `token`, stamped as used; None for an unknown or revoked token."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    client = session.scalar(sa.select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None or client.revoked_at is not None:
        return None
    client.last_used_at = now
    return client
