"""Plausibility flags raised in the submit path (docs/integrity.md, "Flags").

A flagged response is stored with status `flagged` and its reason codes, excluded from the indices by
default, and shown to managers, who reinstate or confirm it (survey.services.citizens.flag_review).
Flagging never blames or refuses the citizen: the thank-you page is the same. The reason codes and
their wording live here only; the demo seed and the manager pages use them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from survey.models import Answer, Response
from survey.services.citizens.limits import CounterRules
from survey.services.organisation.opening_hours import WeeklyHours

BURST_WINDOW = timedelta(minutes=1)
REPEAT_WINDOW = timedelta(minutes=30)  # identical answers "in a row" only count within this span
REASON_SEPARATOR = ","


class FlagReason(StrEnum):
    BURST = "burst"  # many responses at one counter within a minute (or past counter_flag_from in its window)
    CLIENT_BURST = "client_burst"  # many responses from one address (or without the browser cookie)
    DEVICE = "device"  # more than one response from the same browser at one counter
    TOO_FAST = "too_fast"  # sent sooner after the form was shown than the instrument's minimum
    REPEATED = "repeated"  # the same answers as the responses just before it at the counter
    AFTER_HOURS = "after_hours"  # sent outside the counter's opening hours (plus the grace after closing)


REASON_LABELS: Mapping[str, Any] = {
    FlagReason.BURST: _l("many responses from one counter within a minute"),
    FlagReason.CLIENT_BURST: _l("many responses from one network address"),
    FlagReason.DEVICE: _l("several responses from the same browser"),
    FlagReason.TOO_FAST: _l("sent faster than the questions can be read"),
    FlagReason.REPEATED: _l("identical answers several times in a row"),
    FlagReason.AFTER_HOURS: _l("sent outside the opening hours"),
}


def join_reasons(reasons: tuple[str, ...]) -> str | None:
    return REASON_SEPARATOR.join(reasons) if reasons else None


def reason_labels(status_reason: str | None) -> list[str]:
    """Each stored reason code in the reader's language; a reason typed by staff as typed."""
    if not status_reason:
        return []
    return [str(REASON_LABELS.get(code, code)) for code in status_reason.split(REASON_SEPARATOR)]


def min_fill_for(instrument_id: str, config: Mapping[str, Any]) -> timedelta:
    """The instrument's minimum plausible fill time: MIN_FILL_SECONDS_BY_INSTRUMENT, else MIN_FILL_SECONDS."""
    seconds = config.get("MIN_FILL_SECONDS_BY_INSTRUMENT", {}).get(instrument_id, config["MIN_FILL_SECONDS"])
    return timedelta(seconds=seconds)


def plausibility_flags(session: Session, *, counter_id: int, answers: Mapping[str, tuple[int, ...]],
                       rendered_at: datetime, now: datetime, min_fill: timedelta, rules: CounterRules,
                       counts: Mapping[str, int], hours: WeeklyHours | None = None) -> tuple[FlagReason, ...]:
    """The reasons to flag a submission about to be stored; `counts` come from the limits just hit,
    `hours` are the counter's opening hours in force (None: unknown, never flagged)."""
    reasons: list[FlagReason] = []
    # `now` is in the past for an answer a kiosk queued offline
    recent = session.scalar(_RECENT, {"counter_id": counter_id, "since": now - BURST_WINDOW, "until": now})
    if ((recent or 0) >= rules.threshold("burst_per_minute")
            or counts.get("counter", 0) >= rules.threshold("counter_flag_from")):
        reasons.append(FlagReason.BURST)
    if (counts.get("address", 0) >= rules.threshold("address_flag_from")
            or counts.get("cookieless", 0) >= rules.threshold("cookieless_flag_from")):
        reasons.append(FlagReason.CLIENT_BURST)
    if counts.get("browser", 0) >= rules.threshold("browser_flag_from"):
        reasons.append(FlagReason.DEVICE)
    if now - rendered_at < min_fill:
        reasons.append(FlagReason.TOO_FAST)
    if _repeats(session, counter_id, answers, now, rules):
        reasons.append(FlagReason.REPEATED)
    grace = timedelta(minutes=rules.threshold("after_hours_grace_minutes"))
    if hours is not None and not hours.is_open(now, grace):
        reasons.append(FlagReason.AFTER_HOURS)
    return tuple(reasons)


# Built once (it runs on every submission): the counter and the window are bound.
_RECENT = sa.select(sa.func.count()).select_from(Response).where(
    Response.counter_id == sa.bindparam("counter_id"), Response.submitted_at > sa.bindparam("since"),
    Response.submitted_at <= sa.bindparam("until"))


def _vector(answers: Mapping[str, tuple[int, ...]]) -> frozenset[tuple[str, int]]:
    return frozenset((item, code) for item, codes in answers.items() for code in codes)


def _repeats(session: Session, counter_id: int, answers: Mapping[str, tuple[int, ...]], now: datetime,
             rules: CounterRules) -> bool:
    """Whether the last `repeat_run - 1` responses at the counter carry exactly these answers."""
    mine = _vector(answers)
    before = rules.threshold("repeat_run") - 1
    if len(answers) < rules.threshold("repeat_min_answers") or before < 1:
        return False
    # The latest response alone first: a citizen's answers seldom equal the one before, and then the run
    # is broken without reading the others' answers (two thirds of the rows, at the shipped run of 4).
    return all(_last_vectors(session, counter_id, now, count) == [mine] * count
               for count in sorted({1, before}))


def _last_vectors(session: Session, counter_id: int, now: datetime,
                  count: int) -> list[frozenset[tuple[str, int]]]:
    """The answer vectors of the last `count` responses at the counter within the window (fewer if there
    are fewer), the latest first."""
    vectors: dict[int, set[tuple[str, int]]] = {}
    window = {"counter_id": counter_id, "since": now - REPEAT_WINDOW, "until": now, "before": count}
    for response_id, item_id, code in session.execute(_LAST_RUN, window):
        vector = vectors.setdefault(response_id, set())
        if item_id is not None:
            vector.add((item_id, code))
    return [frozenset(vectors[response_id]) for response_id in sorted(vectors, reverse=True)]


def _last_run_statement() -> sa.Select[Any]:
    """The last `before` responses at a counter within the window, with their coded answers.

    One statement for the responses and their answers: the outer join keeps a response without a
    coded answer (its vector is empty), so that it still counts as one of the run. Built once, with
    the counter, the window and the run's length bound: building it cost more CPU than running it.
    """
    last = (sa.select(Response.id).where(
        Response.counter_id == sa.bindparam("counter_id"), Response.submitted_at > sa.bindparam("since"),
        Response.submitted_at <= sa.bindparam("until"))
        .order_by(Response.id.desc()).limit(sa.bindparam("before", type_=sa.Integer))).subquery()
    return (sa.select(last.c.id, Answer.item_id, Answer.code).select_from(last)
            .outerjoin(Answer, Answer.response_id == last.c.id))


_LAST_RUN = _last_run_statement()
