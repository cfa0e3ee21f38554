"""Who receives which unit's report by e-mail: subscribing and cancelling, scoped like every page.

A manager (or an admin) subscribes to a unit they may see; a unit outside their scopes is a 404 and an
`access.denied` audit event, exactly as opening its page would be (docs/bad-input.md row 24). Each
account manages its own subscriptions; an admin may also cancel anyone's (a colleague who left).
Subscribing and cancelling are audited; the audit detail keeps the address's domain only, enough to
see a report leaving for an outside mailbox without storing the address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from survey.models import ReportFrequency, ReportSubscription, Role, User
from survey.services.staff import audit
from survey.services.staff.access import MANAGING_ROLES, refuse_404, require_role, unit_or_404

# One plain ASCII address (RFC 5322 dot-atom local part; no display name, quotes, spaces or line breaks,
# so nothing that could add a header, and nothing that needs a server's SMTPUTF8).
EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                   r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_EMAIL = 254  # RFC 5321 §4.5.3.1.3, a path's limit
REPORT_LANGUAGES = ("vi", "en")


class SubscriptionRefused(ValueError):
    """Bad subscription input; `field` names the form field it belongs to."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def valid_email(text: str) -> bool:
    return (len(text) <= MAX_EMAIL and EMAIL.fullmatch(text) is not None
            and len(text.rpartition("@")[0]) <= MAX_LOCAL_PART)


def subscribe(session: Session, user: User, unit_id: int, *, frequency: ReportFrequency, email: str,
              language: str, now: datetime) -> ReportSubscription:
    """Subscribe `user` to the report of `unit_id` (404 outside their scopes); reopens a cancelled
    subscription to the same unit and frequency, or updates a live one's address and language."""
    require_role(user, *MANAGING_ROLES, now=now)
    unit = unit_or_404(session, user, unit_id, now=now, action="report.subscribe")
    email = email.strip()
    if not valid_email(email):
        raise SubscriptionRefused("email", "not an e-mail address")
    if language not in REPORT_LANGUAGES:
        raise SubscriptionRefused("language", "unknown language")
    found = session.scalar(sa.select(ReportSubscription).where(
        ReportSubscription.user_id == user.id, ReportSubscription.unit_id == unit.id,
        ReportSubscription.frequency == frequency))
    reopened = found is not None
    if found is None:
        found = ReportSubscription(user_id=user.id, unit_id=unit.id, frequency=frequency, created_at=now,
                                   email=email, language=language)
        session.add(found)
    found.email, found.language, found.cancelled_at = email, language, None
    session.flush()
    audit.record(session, actor=user, action="report.subscribe", object_type="report_subscription",
                 object_id=found.id, unit_id=unit.id, now=now,
                 detail={"frequency": frequency.value, "language": language, "again": reopened,
                         "domain": email.rpartition("@")[2].lower()})
    return found


def cancel(session: Session, user: User, subscription_id: int, *, now: datetime) -> ReportSubscription:
    """Cancel a subscription of `user` (an admin: anyone's); someone else's is a 404 and audited."""
    require_role(user, *MANAGING_ROLES, now=now)
    found = session.get(ReportSubscription, subscription_id)
    if found is None or not (found.user_id == user.id or user.role == Role.ADMIN):
        refuse_404(session, user, object_type="report_subscription", object_id=subscription_id,
                   unit_id=found.unit_id if found is not None else None, action="report.unsubscribe", now=now)
    if found.cancelled_at is None:
        found.cancelled_at = now
        session.flush()
        audit.record(session, actor=user, action="report.unsubscribe", object_type="report_subscription",
                     object_id=found.id, unit_id=found.unit_id, now=now,
                     detail={"frequency": found.frequency.value, "owner": found.user_id})
    return found


def subscriptions_of(session: Session, user: User) -> Sequence[ReportSubscription]:
    """The live subscriptions `user` manages: their own, and for an admin everyone's."""
    query = sa.select(ReportSubscription).where(ReportSubscription.cancelled_at.is_(None))
    if user.role != Role.ADMIN:
        query = query.where(ReportSubscription.user_id == user.id)
    return session.scalars(query.order_by(ReportSubscription.user_id, ReportSubscription.unit_id,
                                          ReportSubscription.frequency)).all()
