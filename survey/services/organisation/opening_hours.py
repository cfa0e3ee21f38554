"""Weekly opening hours of units and counters, in Vietnam time, and who may set them.

A schedule is written as people write it on a notice board: entries separated by ";" or new lines,
each a day or day range and one or more intervals, e.g. "T2-T6 07:30-11:30, 13:30-17:00; T7
07:30-11:30" (Vietnamese day names T2…T7, CN) or "mon-fri 07:30-11:30 13:30-17:00; sat 07:30-11:30".
"7h30" reads as 07:30; a day not named is closed. It is stored in one canonical spelling (English day
names, so that it reads the same whatever the manager's language) and shown in the reader's.

A counter's own hours override its unit's; a unit without hours uses its nearest ancestor's; with none
anywhere the hours are unknown and nothing is flagged. A response sent outside the hours in force,
plus a grace after closing (the `after_hours_grace_minutes` submission rule), is flagged
`after_hours` (survey.services.citizens.plausibility), never refused.

Hours decide which responses are flagged, so a unit's own manager must not be able to widen them: as
for targets, they are set by an admin or a manager of the unit above (`targets.may_set_target`), and
every change is audited with the old and new value. Functions flush; callers commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from survey.errors import SurveyError
from survey.local_time import VIETNAM
from survey.models import Counter, Role, Unit, User
from survey.services.organisation.assignments import ancestors_and_self
from survey.services.organisation.targets import may_set_target
from survey.services.organisation.units import UnitRefused, get_counter
from survey.services.staff import access, audit

MAX_LENGTH = 300  # the column's length
DAY_NAMES = {"en": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
             "vi": ("T2", "T3", "T4", "T5", "T6", "T7", "CN")}
_DAYS = {name.lower(): index for names in DAY_NAMES.values() for index, name in enumerate(names)}
_MINUTES_PER_DAY, _MINUTES_PER_WEEK = 24 * 60, 7 * 24 * 60
_TIME = r"(\d{1,2})[:hH](\d{2})"
_INTERVAL = re.compile(rf"{_TIME}\s*[-–]\s*{_TIME}")
_DAY_PART = re.compile(r"([A-Za-z0-9]+)(?:\s*[-–]\s*([A-Za-z0-9]+))?$")

Interval = tuple[int, int]  # minutes since midnight, [opens, closes)


@dataclass(frozen=True)
class WeeklyHours:
    """Intervals per weekday, Monday first."""

    days: tuple[tuple[Interval, ...], ...]

    def text(self, lang: str = "en") -> str:
        """The schedule in the reader's day names; parses back to the same schedule."""
        names = DAY_NAMES["vi" if lang == "vi" else "en"]
        entries: list[str] = []
        day = 0
        while day < 7:
            last = day
            while last + 1 < 7 and self.days[last + 1] == self.days[day]:
                last += 1
            if self.days[day]:
                span = names[day] if last == day else f"{names[day]}-{names[last]}"
                entries.append(f"{span} " + " ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in self.days[day]))
            day = last + 1
        return "; ".join(entries)

    def is_open(self, moment: datetime, grace: timedelta = timedelta(0)) -> bool:
        """Whether `moment` (aware) falls in an interval in Vietnam time, or within `grace` after one
        closes (past midnight and past Sunday too)."""
        local = moment.astimezone(VIETNAM)
        minute = local.weekday() * _MINUTES_PER_DAY + local.hour * 60 + local.minute
        extra = int(grace.total_seconds() // 60)
        for day, intervals in enumerate(self.days):
            for opens, closes in intervals:
                start, end = day * _MINUTES_PER_DAY + opens, day * _MINUTES_PER_DAY + closes + extra
                if start <= minute < end or start <= minute + _MINUTES_PER_WEEK < end:
                    return True
        return False


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hours(text: str) -> WeeklyHours | None:
    """Read a schedule typed by a person; None for an empty text (no hours of its own). UnitRefused,
    naming the part at fault, for anything else that is not a schedule."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise UnitRefused(_("The opening hours are too long (at most %(n)d characters).", n=MAX_LENGTH))
    days: list[list[Interval] | None] = [None] * 7
    for entry in filter(None, (part.strip() for part in re.split(r"[;\n]", text))):
        first = _INTERVAL.search(entry)
        if first is None:
            raise UnitRefused(_("'%(entry)s': give the hours as 07:30-11:30.", entry=entry[:60]))
        span = _day_span(entry[:first.start()].strip().rstrip(":").strip(), entry)
        rest = entry[first.start():]
        intervals = [_interval(match, entry) for match in _INTERVAL.finditer(rest)]
        if _INTERVAL.sub("", rest).strip(" ,") != "":
            raise UnitRefused(_("'%(entry)s': give the hours as 07:30-11:30.", entry=entry[:60]))
        intervals.sort()
        if any(a[1] > b[0] for a, b in pairwise(intervals)):
            raise UnitRefused(_("'%(entry)s': the intervals overlap.", entry=entry[:60]))
        for day in span:
            if days[day] is not None:
                raise UnitRefused(_("'%(entry)s': a day is named twice.", entry=entry[:60]))
            days[day] = intervals
    return WeeklyHours(tuple(tuple(day or ()) for day in days))


def _day_span(part: str, entry: str) -> list[int]:
    match = _DAY_PART.match(part)
    first = _DAYS.get(match.group(1).lower()) if match else None
    last = _DAYS.get((match.group(2) or match.group(1)).lower()) if match else None
    if first is None or last is None or last < first:
        raise UnitRefused(_("'%(entry)s': name the days as T2-T6, T7, CN (or mon-fri, sat, sun).",
                            entry=entry[:60]))
    return list(range(first, last + 1))


def _interval(match: re.Match[str], entry: str) -> Interval:
    hours1, minutes1, hours2, minutes2 = (int(group) for group in match.groups())
    opens, closes = hours1 * 60 + minutes1, hours2 * 60 + minutes2
    if minutes1 > 59 or minutes2 > 59 or opens >= _MINUTES_PER_DAY or closes > _MINUTES_PER_DAY:
        raise UnitRefused(_("'%(entry)s': %(time)s is not a time of day.", entry=entry[:60],
                            time=match.group(0)))
    if closes <= opens:
        raise UnitRefused(_("'%(entry)s': a counter must close after it opens (%(time)s).",
                            entry=entry[:60], time=match.group(0)))
    return opens, closes


# ---------------------------------------------------------------- the hours in force


@dataclass(frozen=True)
class HoursInForce:
    """The schedule that applies to a unit or counter and where it is set (None: nowhere)."""

    hours: WeeklyHours | None
    counter: Counter | None = None  # set on the counter itself
    unit: Unit | None = None  # else the unit (itself or an ancestor) it comes from


def stored_hours(text: str | None) -> WeeklyHours | None:
    """A stored schedule; None when there is none, or when it no longer parses (only a hand edit of the
    database can do that): the submit path must never fail on it, and flags nothing for the time."""
    try:
        return parse_hours(text or "")
    except UnitRefused:
        return None


def unit_hours(unit: Unit) -> HoursInForce:
    for node in ancestors_and_self(unit):
        if node.opening_hours:
            return HoursInForce(stored_hours(node.opening_hours), unit=node)
    return HoursInForce(None)


def counter_hours(counter: Counter) -> HoursInForce:
    if counter.opening_hours:
        return HoursInForce(stored_hours(counter.opening_hours), counter=counter)
    return unit_hours(counter.unit)


# ---------------------------------------------------------------- setting them


def parent_only() -> SurveyError:
    return SurveyError(403, "E-HOURS-PARENT", _l(
        "Opening hours are set by the manager of the unit above, because they decide which answers are "
        "flagged."))


def _require_setter(session: Session, actor: User, unit: Unit, object_type: str, object_id: int,
                    now: datetime) -> None:
    if may_set_target(actor, unit):  # the same rule as for targets: an admin, or a manager above
        return
    audit.record_independently(session, actor=actor, action="hours.denied", object_type=object_type,
                               object_id=object_id, unit_id=unit.id, now=now)
    raise parent_only()


def set_unit_hours(session: Session, actor: User, unit_id: int, text: str, *, now: datetime) -> Unit:
    """Set (or, for an empty text, clear) a unit's own hours; audited `unit.hours`."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER, now=now)
    unit = access.unit_or_404(session, actor, unit_id, now=now, action="unit.hours")
    _require_setter(session, actor, unit, "unit", unit.id, now)
    hours = parse_hours(text)
    new = hours.text() if hours else None
    if new != unit.opening_hours:
        audit.record(session, actor=actor, action="unit.hours", object_type="unit", object_id=unit.id,
                     unit_id=unit.id, detail={"old": unit.opening_hours, "new": new}, now=now)
        unit.opening_hours = new
        session.flush()
    return unit


def set_counter_hours(session: Session, actor: User, counter_id: int, text: str, *,
                      now: datetime) -> Counter:
    """Set (or, for an empty text, clear) a counter's own hours, overriding its unit's; audited
    `counter.hours`. Decided by the same people as its unit's hours."""
    access.require_role(actor, Role.ADMIN, Role.MANAGER, now=now)
    counter = get_counter(session, actor, counter_id, now=now, action="counter.hours")
    _require_setter(session, actor, counter.unit, "counter", counter.id, now)
    hours = parse_hours(text)
    new = hours.text() if hours else None
    if new != counter.opening_hours:
        audit.record(session, actor=actor, action="counter.hours", object_type="counter",
                     object_id=counter.id, unit_id=counter.unit_id,
                     detail={"old": counter.opening_hours, "new": new}, now=now)
        counter.opening_hours = new
        session.flush()
    return counter
