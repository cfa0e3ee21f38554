"""Vietnam's clock face, in one place: the time zone the project's days and months are counted in.

Moments are stored in UTC; a citizen's "today", a dashboard month and a report period are local
(Asia/Ho_Chi_Minh, UTC+7 all year), so between 17:00 and 24:00 UTC the local day is already the
next one. Every conversion goes through here so no page counts a day differently from another.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Ho_Chi_Minh"
VIETNAM = ZoneInfo(TIMEZONE)  # UTC+7, no daylight saving time


def local_date(moment: datetime) -> date:
    """The local (Vietnam) date of an aware `moment`."""
    return moment.astimezone(VIETNAM).date()


def local_month(moment: datetime) -> str:
    """"YYYY-MM" of the local date of `moment`: the dashboard's months are local months."""
    return moment.astimezone(VIETNAM).strftime("%Y-%m")


def utc_bounds(first: date, last: date, tz: str = TIMEZONE) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days `first`..`last` inclusive."""
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time.min, zone)
    end = datetime.combine(last + timedelta(days=1), time.min, zone)
    return start.astimezone(UTC), end.astimezone(UTC)
