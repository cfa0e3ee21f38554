"""Counter tablets (kiosk mode): a manager registers one for a counter and gets its URL; revocable.

The URL `/k/<token>` carries the device id signed with HMAC-SHA-256 under its own salt (nothing secret
is stored, so the counter page can show the URL again). Registering and revoking are audited; a
revoked tablet's URL stops at its next form.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.orm import Session

from survey.errors import SurveyError
from survey.models import Counter, KioskDevice, Role, User
from survey.services.organisation.units import UnitRefused, get_counter
from survey.services.staff import access, audit

SALT = "hai-long.kiosk-device.v1"
MAX_TOKEN_LENGTH = 256
LABEL_LENGTH = 80


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def device_token(device: KioskDevice, secret: str) -> str:
    """The token of the tablet's kiosk URL `/k/<token>`."""
    return str(_serializer(secret).dumps([device.id, device.counter_id]))


def register_kiosk(session: Session, actor: User, counter_id: int, label: str, *,
                   now: datetime) -> KioskDevice:
    """Register a tablet for a counter in the manager's scope (audited `kiosk.register`)."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    counter = get_counter(session, actor, counter_id, now=now, action="kiosk.register")
    label = " ".join(label.split())[:LABEL_LENGTH]
    if not label:
        raise UnitRefused(_l("Please name the tablet, e.g. 'Tablet at counter 1'."))
    device = KioskDevice(counter=counter, label=label, created_at=now, created_by_id=actor.id)
    session.add(device)
    session.flush()
    audit.record(session, actor=actor, action="kiosk.register", object_type="kiosk_device",
                 object_id=device.id, unit_id=counter.unit_id, detail={"counter_id": counter.id}, now=now)
    return device


def revoke_kiosk(session: Session, actor: User, device_id: int, *, now: datetime) -> KioskDevice:
    """Stop a tablet's URL for good (audited `kiosk.revoke`); 404 outside the manager's scope."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER)
    device = kiosk_in_scope(session, actor, device_id, now=now)
    if device.revoked_at is None:
        device.revoked_at = now
        audit.record(session, actor=actor, action="kiosk.revoke", object_type="kiosk_device",
                     object_id=device.id, unit_id=device.counter.unit_id,
                     detail={"counter_id": device.counter_id}, now=now)
        session.flush()
    return device


def kiosk_in_scope(session: Session, actor: User, device_id: int, *, now: datetime) -> KioskDevice:
    """A tablet of a counter in the actor's scope; 404 (audited as for its counter) otherwise."""
    device = session.get(KioskDevice, device_id)
    if device is None:
        raise SurveyError(404, "E-NOT-FOUND", _l("This page does not exist."))
    get_counter(session, actor, device.counter_id, now=now, action="kiosk.view")
    return device


def counter_kiosks(session: Session, counter: Counter) -> list[KioskDevice]:
    """The counter's tablets, newest first, revoked ones included (the page shows them struck out)."""
    return list(session.scalars(sa.select(KioskDevice).where(KioskDevice.counter_id == counter.id)
                                .order_by(KioskDevice.id.desc())))


def resolve_kiosk(session: Session, token: str, secret: str) -> KioskDevice:
    """The tablet a kiosk URL names: 404 for a malformed or forged token, 410 once it is revoked or its
    counter no longer takes answers."""
    invalid = SurveyError(404, "E-KIOSK-INVALID", _l("This tablet address is not valid. Please ask the "
                                                     "staff to open the survey again."))
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        payload = _serializer(secret).loads(token)
    except (BadData, UnicodeError, ValueError):
        raise invalid from None
    if not (isinstance(payload, list) and len(payload) == 2 and all(type(x) is int for x in payload)):
        raise invalid
    device = session.get(KioskDevice, payload[0])
    if device is None or device.counter_id != payload[1]:
        raise invalid
    if device.revoked_at is not None or device.counter.revoked_at is not None or not device.counter.active:
        raise SurveyError(410, "E-KIOSK-REVOKED", _l("This tablet no longer takes answers. Please ask the "
                                                     "staff."))
    return device


def registered_kiosk_id(session: Session, token: str | None, secret: str, counter_id: int) -> int | None:
    """The id of the registered tablet `token` names if it may take answers at `counter_id` now; None
    for no token, a forged one, a revoked tablet or another counter's (the browser is then a phone)."""
    if not token:
        return None
    try:
        device = resolve_kiosk(session, token, secret)
    except SurveyError:
        return None
    return device.id if device.counter_id == counter_id else None
