"""When a schedule is due: its interval or crontab read on the clock of its own time zone.

``hourly`` counts elapsed hours; ``daily`` and ``weekly`` keep the start's wall-clock time in the
schedule's zone across changes to and from summer time (a time the change skips runs at the same
offset as before it, i.e. an hour later on the wall; a time it repeats runs at its first
occurrence); ``custom`` is a crontab read by cronsim in that zone (imported only here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from jobsync.domain.schedule import ScheduleError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

_STEP_DAYS = {"daily": 1, "weekly": 7}
_TICK = timedelta(microseconds=1)


class BadRecurrenceError(ScheduleError):
    """A crontab or time zone that cannot be read."""


def zone_of(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``), or one clear error (zoneinfo is imported when asked: ~2 ms)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRecurrenceError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def check_crontab(expression: str) -> str:
    """The crontab, if cronsim reads it (five fields: minute hour day month weekday)."""
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as exc:
        raise BadRecurrenceError(f"crontab {expression!r} cannot be read: {exc}") from None
    return expression


@dataclass(frozen=True)
class Recurrence:
    """A schedule's due times: from ``start`` (aware), each ``interval`` (or on ``crontab``) in ``time_zone``."""

    interval: str
    start: datetime
    time_zone: str
    crontab: str = ""

    def first_due(self, not_before: datetime) -> datetime | None:
        """The first due time at or after ``not_before`` (None: none is left), in UTC."""
        zone = zone_of(self.time_zone)
        floor = max(self.start, not_before)
        if self.interval == "future":
            found: datetime | None = self.start if self.start >= not_before else None
        elif self.interval == "hourly":
            start = self.start.astimezone(UTC)  # elapsed hours: aware arithmetic in a zone is wall-clock
            hours = -((start - floor) // timedelta(hours=1))  # ceiling of the elapsed hours
            found = start + timedelta(hours=hours)
        elif self.interval in _STEP_DAYS:
            found = self._wall_clock(floor, zone, _STEP_DAYS[self.interval])
        else:
            found = self._cron(floor, zone)
        return found.astimezone(UTC) if found is not None else None

    def after(self, moment: datetime) -> datetime | None:
        """The first due time strictly after ``moment``."""
        return self.first_due(moment + _TICK)

    def _wall_clock(self, floor: datetime, zone: ZoneInfo, step: int) -> datetime:
        """The start's wall-clock time on every ``step``-th day from it, first one at or after ``floor``."""
        local = self.start.astimezone(zone)
        steps = max(0, (floor - self.start).days // step - 1)
        while True:
            day = local.date() + timedelta(days=steps * step)
            candidate = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
            # A wall time the zone skips (spring forward) does not exist: read it at the old offset.
            candidate = candidate.astimezone(UTC).astimezone(zone)
            if candidate >= floor:
                return candidate
            steps += 1

    def _cron(self, floor: datetime, zone: ZoneInfo) -> datetime:
        from cronsim import CronSim

        # cronsim yields times after the minute it is given: start a second early to include ``floor``.
        times = CronSim(self.crontab, (floor - timedelta(seconds=1)).astimezone(zone))
        found: datetime = next(times)
        while found < floor:
            found = next(times)
        return found
