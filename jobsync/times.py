"""Moments in time as people type them (ISO-8601, a date, ``last tuesday 14:00``) and as they are shown."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import TYPE_CHECKING, Literal

from jobsync.domain.errors import JobSyncError

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

#: Which moment of a day a bare day (``2026-11-30``, ``yesterday``, ``last tuesday``) means: its
#: start where a window opens (``--since``, a diff's FROM), its end where it closes (``--until``)
#: or where a job is shown as it was that evening (``--at``).
DayBound = Literal["start", "end"]

#: Where times are shown: the local zone (``TZ`` honoured), or UTC (``jobsync --utc``).
Zone = Literal["local", "utc"]

_RELATIVE = re.compile(
    r"(?P<n>\d+)\s*(?P<unit>s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\s+ago"
)
#: Units of elapsed time: ``2 hours ago`` is 7,200 seconds ago, even across a change to summer time.
_ELAPSED = {"s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1)}
#: Calendar units: ``3 days ago`` is this clock time three days ago, even across a change of offset.
_CALENDAR_DAYS = {"d": 1, "w": 7}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HELP = "use ISO-8601 (2026-11-17T09:30), a date, '3 days ago', 'yesterday' or 'last tuesday 14:00'"


class BadTimeError(JobSyncError):
    """A moment could not be understood."""


def parse_time(text: str, now: datetime | None = None, *, day: DayBound) -> datetime:
    """The aware moment ``text`` names; naive times are local (``TZ``), as Python's own are.

    ``day`` says which end of a day a bare day means. A period (``3 days ago``, ``last week``,
    ``2 hours ago``) names one moment, whatever ``day`` says. The common forms are read here;
    only other phrases load dateparser, whose import every other call is spared.
    """
    moment_now = (now or datetime.now(UTC)).astimezone()
    try:
        return _parse_time(text.strip(), text.strip().lower(), moment_now, day)
    except (OverflowError, ValueError):  # a moment before year 1 or after 9999, somewhere
        raise BadTimeError(f"time {text!r} is out of range") from None


def _parse_time(text: str, lowered: str, now: datetime, day: DayBound) -> datetime:
    if lowered == "now":
        return now
    if lowered in ("today", "yesterday"):
        return _day_bound(now.date() - timedelta(days=lowered == "yesterday"), day)
    match = _RELATIVE.fullmatch(lowered)
    if match:
        return _ago(int(match["n"]), match["unit"], now)
    try:
        moment = date.fromisoformat(text) if _DATE.fullmatch(text) else datetime.fromisoformat(text)
    except ValueError:
        return _phrase(text, lowered, now, day)
    if not isinstance(moment, datetime):
        return _day_bound(moment, day)
    return moment if moment.tzinfo is not None else moment.astimezone()


def _ago(n: int, unit: str, now: datetime) -> datetime:
    key = "m" if unit.startswith("mi") or unit == "m" else unit[0]
    if key in _ELAPSED:
        return now - n * _ELAPSED[key]
    wall = now.replace(tzinfo=None) - timedelta(days=n * _CALENDAR_DAYS[key])
    return wall.astimezone()


def _day_bound(which: date, day: DayBound) -> datetime:
    """The first or last microsecond of a local day."""
    if day == "end" and which == date.max:  # the last day there is ends where datetime does
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(which, clock.min if day == "start" else clock.max).astimezone()


def _phrase(text: str, lowered: str, now: datetime, day: DayBound) -> datetime:
    """What dateparser reads in ``text`` (``last tuesday 14:00``, ``last week``, ``nov 3``)."""
    if not re.search(r"[a-z]", lowered):  # digits alone ('7', '2026') are a typo, not "July"
        raise BadTimeError(f"cannot read time {text!r}; {_HELP}")
    found = _date_parser(now).get_date_data(text)
    moment = found.date_obj
    if not isinstance(moment, datetime):
        raise BadTimeError(f"cannot read time {text!r}; {_HELP}")
    # A day named without a clock time (``last tuesday``, ``nov 3``) comes back at midnight; it
    # means the whole day, like a date. ``tuesday 00:00`` has period "time" and stays a moment.
    if found.period == "day" and moment.time() == clock.min and moment.tzinfo is None:
        return _day_bound(moment.date(), day)
    return moment if moment.tzinfo is not None else moment.astimezone()


def _date_parser(now: datetime) -> DateDataParser:
    from dateparser.date import DateDataParser  # ~50 ms to import: only phrases pay it

    settings = {
        "RELATIVE_BASE": now.replace(tzinfo=None),  # local wall time, as naive results are
        "PREFER_DATES_FROM": "past",  # 'tuesday' is the last one: an audit looks back
        "RETURN_TIME_AS_PERIOD": True,  # tells 'tuesday 00:00' (a moment) from 'tuesday' (a day)
    }
    return DateDataParser(languages=["en"], settings=settings)


def moment_of(value: object, what: str, *, day: DayBound) -> datetime | None:
    """A library caller's moment: None, a datetime or text ``parse_time`` reads.

    A naive datetime is local time, as the CLI's naive text and Python's own ``astimezone`` take
    it; pass an aware one (``datetime.now(UTC)``) to mean an exact moment anywhere. Anything else
    is refused in one line, rather than failing later deep in a comparison.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.astimezone()
    if isinstance(value, str):
        return parse_time(value, day=day)
    raise BadTimeError(
        f"{what} must be a datetime or a time such as '2026-11-17T09:30' or '3 days ago', "
        f"not {type(value).__name__}"
    )


def in_zone(moment: datetime, zone: Zone) -> datetime:
    """``moment`` on the clock it is shown on."""
    return moment.astimezone(UTC) if zone == "utc" else moment.astimezone()


def time_text(moment: datetime, zone: Zone = "local", *, millis: bool = False) -> str:
    """The one way text output shows a moment: ``2026-11-30 14:30:51 CET`` (with ``millis``, ``51.123``)."""
    shown = in_zone(moment, zone)
    seconds = f".{shown.microsecond // 1000:03d}" if millis else ""
    return f"{shown:%Y-%m-%d %H:%M:%S}{seconds} {shown.tzname()}"


def time_json(moment: datetime, zone: Zone = "local") -> str:
    """The one way JSON output shows a moment: ISO-8601 with its offset (``2026-11-30T14:30:51+01:00``)."""
    return in_zone(moment, zone).isoformat()


def stored_times_shown_as_is(zone: Zone) -> bool:
    """Whether stored times (ISO-8601 in UTC) already read as ``zone`` shows them: --utc, or a local zone that is UTC all year."""
    return zone == "utc" or (time.timezone == 0 and not time.daylight)
