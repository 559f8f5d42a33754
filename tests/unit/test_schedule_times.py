"""Due times of schedules, in their own zone, across changes to and from summer time (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from jobsync.schedule_times import BadRecurrenceError, Recurrence, check_crontab, zone_of

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in ``zone``; a repeated one means its first occurrence (fold 0)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def due_times(recurrence: Recurrence, count: int) -> list[datetime]:
    """The first ``count`` due times from the start, in UTC (an exact moment, even in a repeated hour)."""
    found: list[datetime] = []
    due = recurrence.first_due(recurrence.start)
    while due is not None and len(found) < count:
        found.append(due)
        due = recurrence.after(due)
    return found


class TestDueTimes:
    @pytest.mark.parametrize(
        ("recurrence", "expected"),
        [
            pytest.param(
                Recurrence("daily", local(BERLIN, 2026, 3, 28, 2, 30), BERLIN),
                # 02:30 does not exist on 29 March (clocks jump 02:00 -> 03:00): read at the old offset.
                [
                    local(BERLIN, 2026, 3, 28, 2, 30),
                    local(BERLIN, 2026, 3, 29, 3, 30),
                    local(BERLIN, 2026, 3, 30, 2, 30),
                ],
                id="daily-berlin-spring-forward",
            ),
            pytest.param(
                Recurrence("daily", local(BERLIN, 2026, 10, 24, 2, 30), BERLIN),
                # 02:30 happens twice on 25 October: the first time only (still summer time, +02:00).
                [
                    local(BERLIN, 2026, 10, 24, 2, 30),
                    utc(2026, 10, 25, 0, 30),
                    local(BERLIN, 2026, 10, 26, 2, 30),
                ],
                id="daily-berlin-fall-back",
            ),
            pytest.param(
                Recurrence("weekly", local(NEW_YORK, 2026, 3, 2, 9, 0), NEW_YORK),
                # Monday 09:00 stays 09:00 on the wall: 14:00 UTC in winter, 13:00 UTC in summer.
                [
                    local(NEW_YORK, 2026, 3, 2, 9),
                    local(NEW_YORK, 2026, 3, 9, 9),
                    local(NEW_YORK, 2026, 3, 16, 9),
                ],
                id="weekly-new-york-spring-forward",
            ),
            pytest.param(
                Recurrence("hourly", local(NEW_YORK, 2026, 11, 1, 0, 15), NEW_YORK),
                # Hourly counts elapsed hours: 01:15 comes twice, at -04:00 and then at -05:00.
                [
                    utc(2026, 11, 1, 4, 15),
                    utc(2026, 11, 1, 5, 15),
                    utc(2026, 11, 1, 6, 15),
                    utc(2026, 11, 1, 7, 15),
                ],
                id="hourly-new-york-fall-back",
            ),
            pytest.param(
                Recurrence("custom", utc(2026, 3, 7, 12), NEW_YORK, "30 2 * * *"),
                # cron's rule (cronsim): a time the jump skips runs when the clock lands, at 03:00.
                [local(NEW_YORK, 2026, 3, 8, 3, 0), local(NEW_YORK, 2026, 3, 9, 2, 30)],
                id="cron-new-york-spring-forward",
            ),
            pytest.param(
                Recurrence("custom", utc(2026, 10, 31, 12), NEW_YORK, "30 1 * * *"),
                # ... and a time that happens twice runs once, the first time.
                [local(NEW_YORK, 2026, 11, 1, 1, 30), local(NEW_YORK, 2026, 11, 2, 1, 30)],
                id="cron-new-york-fall-back",
            ),
            pytest.param(
                Recurrence("custom", local(BERLIN, 2026, 3, 25, 10, 0), BERLIN, "0 9 * * 1"),
                [local(BERLIN, 2026, 3, 30, 9), local(BERLIN, 2026, 4, 6, 9)],
                id="cron-mondays-nine-berlin",
            ),
            pytest.param(
                Recurrence("custom", utc(2026, 5, 1, 2, 0), "UTC", "0 2 * * *"),
                [utc(2026, 5, 1, 2), utc(2026, 5, 2, 2)],
                id="cron-start-on-a-due-time-includes-it",
            ),
            pytest.param(Recurrence("future", utc(2026, 5, 1, 2), "UTC"), [utc(2026, 5, 1, 2)], id="once"),
        ],
    )
    def test_due_times(self, recurrence: Recurrence, expected: list[datetime]) -> None:
        """Each interval's due times follow the schedule's zone as the table says."""
        assert due_times(recurrence, len(expected)) == [moment.astimezone(UTC) for moment in expected]

    def test_a_once_schedule_has_nothing_after_its_time(self) -> None:
        """``future`` is due once: nothing after it, nothing when asked from later."""
        once = Recurrence("future", utc(2026, 5, 1, 2), "UTC")
        assert once.after(utc(2026, 5, 1, 2)) is None
        assert once.first_due(utc(2026, 5, 2)) is None

    def test_missed_times_are_skipped_to_the_first_after_now(self) -> None:
        """Asked from ten and a half hours after the start, hourly answers the eleventh hour, not the first."""
        hourly = Recurrence("hourly", utc(2026, 5, 1, 0), "UTC")
        assert hourly.after(utc(2026, 5, 1, 10, 30)) == utc(2026, 5, 1, 11)
        weekly = Recurrence("weekly", utc(2026, 5, 1, 0), "UTC")
        assert weekly.after(utc(2026, 7, 1)) == utc(2026, 7, 3)

    def test_due_times_are_in_utc(self) -> None:
        """Stored and compared as UTC, whatever the zone."""
        due = Recurrence("daily", local(BERLIN, 2026, 6, 1, 8), BERLIN).first_due(utc(2026, 6, 1))
        assert due is not None and due.tzinfo is UTC and due == utc(2026, 6, 1, 6)


class TestChecks:
    def test_a_bad_crontab_is_refused(self) -> None:
        """Four fields, or a minute of 61, is one clear error."""
        assert check_crontab("*/5 * * * *") == "*/5 * * * *"
        for bad in ("0 2 * *", "61 * * * *", "every day"):
            with pytest.raises(BadRecurrenceError, match="crontab"):
                check_crontab(bad)

    def test_an_unknown_zone_is_refused(self) -> None:
        """Only IANA names are zones."""
        assert str(zone_of(BERLIN)) == BERLIN
        for bad in ("Mars/Olympus", "", "../etc/passwd"):
            with pytest.raises(BadRecurrenceError, match="time zone"):
                zone_of(bad)
