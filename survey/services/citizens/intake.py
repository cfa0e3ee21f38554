"""An accepted form to a stored response, through the limits and the plausibility flags.

The order matters: a form already stored (double tap, retry) is answered before any limit counts it;
a malformed receipt number next, before anything is counted; the limits, so a refused submission
writes nothing but its count and spends no receipt; the receipt; the flags last, so that they see
the responses stored before this one. Flush, never commit: the view commits once, and a
refusal's count commits with the limit hits (docs/integrity.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from survey.models import Channel
from survey.services.citizens.limits import Client, LimitStore, apply_limits, count_refusal, rules_for
from survey.services.citizens.plausibility import FlagReason, min_fill_for, plausibility_flags
from survey.services.citizens.receipt_links import ReceiptLink, spend_link
from survey.services.citizens.receipts import canonical_receipt, receipts_required, spend_receipt
from survey.services.citizens.submissions import Stored, Validation, already_stored, store_response
from survey.services.citizens.surveys import OpenSurvey
from survey.services.organisation.opening_hours import counter_hours


@dataclass(frozen=True)
class Intake:
    """What became of an accepted form: stored (maybe flagged), already stored, or refused."""

    stored: Stored | None  # None: refused by `refused_by` or for `receipt_problem`
    refused_by: str | None = None
    retry_after: int = 0
    flags: tuple[FlagReason, ...] = ()
    receipt_problem: str | None = None  # E-RECEIPT-FORMAT (422) or E-RECEIPT-USED (409)


def take_submission(session: Session, validation: Validation, *, survey: OpenSurvey, client: Client,
                    store: LimitStore, config: Mapping[str, Any], channel: Channel, language: str,
                    now: datetime, local_day: date, receipt: str | None = None,
                    link: ReceiptLink | None = None, answered_at: datetime | None = None) -> Intake:
    """Count `validation` against the counter's limits, spend its receipt where the counter asks
    for one (`receipt` as typed), flag it if implausible, and store it. With `link` (a per-dossier
    survey link of this counter, already checked) the link is spent instead of a typed number, and
    the response is stored as receipt-verified. `answered_at` (an answer a kiosk queued offline,
    survey.services.citizens.kiosk_queue) is when the citizen answered: the flags look at the counter
    around then and the response is stored with it; the limits count now."""
    when = now if answered_at is None else answered_at
    if validation.nonce is None:
        raise ValueError("only an accepted validation can be taken")
    if already_stored(session, validation):
        return Intake(Stored.ALREADY)
    counter = survey.counter
    canonical = None
    if link is None and receipts_required(counter, config):
        canonical = canonical_receipt(receipt or "")
        if canonical is None:
            return Intake(None, receipt_problem="E-RECEIPT-FORMAT")
    rules = rules_for(counter, config)
    check = apply_limits(store, client, counter.id, rules, now.timestamp())
    if check.refused_by is not None:
        count_refusal(session, counter.id, local_day, check.refused_by)
        return Intake(None, check.refused_by, check.retry_after)
    if canonical is not None and not spend_receipt(session, canonical, now, config):
        return Intake(None, receipt_problem="E-RECEIPT-USED")
    if link is not None and not spend_link(session, link, now, config):
        return Intake(None, receipt_problem="E-RECEIPT-USED")
    flags = plausibility_flags(session, counter_id=counter.id, answers=validation.answers,
                               rendered_at=validation.nonce.rendered_at, now=when,
                               min_fill=min_fill_for(survey.instrument.id, config), rules=rules,
                               counts=check.counts, hours=counter_hours(counter).hours)
    stored = store_response(session, validation, counter=counter, registered=survey.registered,
                            channel=channel, language=language, now=when, flags=flags,
                            receipt_verified=link is not None)
    return Intake(stored, flags=flags if stored is Stored.STORED else ())
