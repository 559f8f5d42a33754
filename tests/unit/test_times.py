"""Times as people type them and as jobsync shows them, in local zones with and without a change of offset."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import pytest

from jobsync.times import BadTimeError, DayBound, moment_of, parse_time, time_json, time_text

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


@contextmanager
def local_zone(name: str) -> Iterator[None]:
    """Run the block with ``TZ=name``, as a user's shell would set it; the process's zone is restored after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def at(zone: tzinfo, *fields: int) -> datetime:
    """``datetime(*fields)`` on ``zone``'s clock."""
    return datetime(*fields).replace(tzinfo=zone)  # type: ignore[arg-type]  # mypy cannot count *fields


#: Monday 2026-11-30, 14:30:51 in New York (EST, -05:00).
NY_NOW = at(NEW_YORK, 2026, 11, 30, 14, 30, 51)
START, END = (0, 0, 0, 0), (23, 59, 59, 999_999)

#: (text, which end of a day a day means, the moment expected), read at NY_NOW in New York.
NEW_YORK_TABLE: list[tuple[str, DayBound, datetime]] = [
    ("now", "start", NY_NOW),
    ("today", "start", at(NEW_YORK, 2026, 11, 30, *START)),
    ("today", "end", at(NEW_YORK, 2026, 11, 30, *END)),
    ("yesterday", "start", at(NEW_YORK, 2026, 11, 29, *START)),
    ("Yesterday", "end", at(NEW_YORK, 2026, 11, 29, *END)),
    ("3 days ago", "start", at(NEW_YORK, 2026, 11, 27, 14, 30, 51)),
    ("3 days ago", "end", at(NEW_YORK, 2026, 11, 27, 14, 30, 51)),
    ("2 hours ago", "start", at(NEW_YORK, 2026, 11, 30, 12, 30, 51)),
    ("90 minutes ago", "end", at(NEW_YORK, 2026, 11, 30, 13, 0, 51)),
    ("1 week ago", "start", at(NEW_YORK, 2026, 11, 23, 14, 30, 51)),
    ("last week", "start", at(NEW_YORK, 2026, 11, 23, 14, 30, 51)),
    ("last week", "end", at(NEW_YORK, 2026, 11, 23, 14, 30, 51)),
    ("last tuesday", "start", at(NEW_YORK, 2026, 11, 24, *START)),
    ("last tuesday", "end", at(NEW_YORK, 2026, 11, 24, *END)),
    ("last tuesday 14:00", "start", at(NEW_YORK, 2026, 11, 24, 14, 0)),
    ("last tuesday 14:00", "end", at(NEW_YORK, 2026, 11, 24, 14, 0)),
    ("tuesday 00:00", "end", at(NEW_YORK, 2026, 11, 24, 0, 0)),
    ("last monday", "start", at(NEW_YORK, 2026, 11, 23, *START)),
    ("nov 3", "end", at(NEW_YORK, 2026, 11, 3, *END)),
    ("2026-11-17", "start", at(NEW_YORK, 2026, 11, 17, *START)),
    ("2026-11-17", "end", at(NEW_YORK, 2026, 11, 17, *END)),
    (" 2026-11-17 ", "end", at(NEW_YORK, 2026, 11, 17, *END)),
    ("2026-11-17T09:30", "start", at(NEW_YORK, 2026, 11, 17, 9, 30)),
    ("2026-11-17 09:30:15", "end", at(NEW_YORK, 2026, 11, 17, 9, 30, 15)),
    ("2026-11-17T09:30+00:00", "start", at(UTC, 2026, 11, 17, 9, 30)),
    ("2026-11-17T09:30Z", "end", at(UTC, 2026, 11, 17, 9, 30)),
    # What jobsync prints reads back: a person copies a time from `audit` into `--since`.
    ("2026-11-30 14:30:51 EST", "start", NY_NOW),
    ("2026-11-30 19:30:51 UTC", "start", NY_NOW),
]


class TestParsing:
    @pytest.mark.parametrize(("text", "day", "expected"), NEW_YORK_TABLE)
    def test_each_form_in_new_york(self, text: str, day: DayBound, expected: datetime) -> None:
        """Each documented form names the expected moment; days their start or end, periods one moment."""
        with local_zone("America/New_York"):
            assert parse_time(text, NY_NOW, day=day) == expected

    @pytest.mark.parametrize(
        ("text", "day", "expected"),
        [
            # Berlin moved its clocks from 02:00 CET to 03:00 CEST on Sunday 2026-03-29.
            ("today", "start", datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)),
            ("today", "end", datetime(2026, 3, 29, 23, 59, 59, 999_999, tzinfo=BERLIN)),
            ("yesterday", "start", datetime(2026, 3, 28, 0, 0, tzinfo=BERLIN)),
            ("1 day ago", "start", datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)),  # 23 hours: same clock time
            ("24 hours ago", "start", datetime(2026, 3, 28, 11, 0, tzinfo=BERLIN)),  # 24 hours elapsed
            ("last week", "start", datetime(2026, 3, 22, 12, 0, tzinfo=BERLIN)),
            ("last saturday 23:00", "start", datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN)),
            ("2026-03-28T12:00", "start", datetime(2026, 3, 28, 11, 0, tzinfo=UTC)),  # CET, +01:00
            ("2026-03-29T12:00", "start", datetime(2026, 3, 29, 10, 0, tzinfo=UTC)),  # CEST, +02:00
        ],
    )
    def test_across_a_change_to_summer_time_in_berlin(
        self, text: str, day: DayBound, expected: datetime
    ) -> None:
        """Naive times take the offset of their own date; days and weeks keep the clock time, hours are elapsed."""
        now = datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN)
        with local_zone("Europe/Berlin"):
            assert parse_time(text, now, day=day) == expected

    def test_a_day_in_new_york_as_the_clocks_go_back_lasts_25_hours(self) -> None:
        """``yesterday`` on Monday 2026-11-02 runs from midnight EDT to the last microsecond before midnight EST."""
        now = datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK)
        with local_zone("America/New_York"):
            start = parse_time("yesterday", now, day="start")
            end = parse_time("yesterday", now, day="end")
        assert start.utcoffset() is not None and start.utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]
        assert end.utcoffset() is not None and end.utcoffset().total_seconds() == -5 * 3600  # type: ignore[union-attr]
        assert (end - start).total_seconds() == pytest.approx(25 * 3600)

    def test_a_date_is_the_local_day_not_the_utc_one(self) -> None:
        """In Tokyo (+09:00) the start of 2026-11-30 is 15:00 UTC the day before."""
        with local_zone("Asia/Tokyo"):
            assert parse_time("2026-11-30", day="start") == datetime(2026, 11, 29, 15, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        "text", ["soon", "", "7", "2026", "2026-02-30", "3 parsecs ago", "last blue moon"]
    )
    def test_what_cannot_be_read_is_refused_in_one_line(self, text: str) -> None:
        """Unreadable text raises BadTimeError whose one line quotes it and shows the forms that work."""
        with local_zone("America/New_York"), pytest.raises(BadTimeError) as raised:
            parse_time(text, NY_NOW, day="start")
        assert str(raised.value) == (
            f"cannot read time {text!r}; use ISO-8601 (2026-11-17T09:30), a date, '3 days ago', "
            "'yesterday' or 'last tuesday 14:00'"
        )

    @pytest.mark.parametrize("text", ["999999999 days ago", "99999999999 hours ago", "0001-01-01"])
    def test_out_of_range_is_refused_in_one_line(self, text: str) -> None:
        """A moment before the first year there is, somewhere, is refused rather than overflowing."""
        with local_zone("America/New_York"), pytest.raises(BadTimeError, match="is out of range"):
            parse_time(text, NY_NOW, day="start")

    def test_the_end_of_the_last_day_is_where_datetime_ends(self) -> None:
        """``9999-12-31`` as an end is the last moment there is, not an overflow."""
        assert parse_time("9999-12-31", day="end") == datetime.max.replace(tzinfo=UTC)


class TestLibraryMoments:
    def test_a_naive_datetime_is_local_time(self) -> None:
        """A naive datetime means local time (as Python's ``astimezone`` takes it), like naive CLI text."""
        with local_zone("America/New_York"):
            moment = moment_of(datetime(2026, 11, 30, 9, 30), "at", day="end")
        assert moment == datetime(2026, 11, 30, 14, 30, tzinfo=UTC)

    def test_an_aware_datetime_is_kept(self) -> None:
        """An aware datetime is already a moment: it comes back as it is."""
        with local_zone("America/New_York"):
            assert moment_of(NY_NOW, "at", day="end") is NY_NOW

    def test_text_follows_the_day_bound(self) -> None:
        """Text given to the library reads as on the CLI, a bare day at the end asked for."""
        with local_zone("Asia/Tokyo"):
            assert moment_of("2026-11-30", "since", day="start") == datetime(2026, 11, 29, 15, tzinfo=UTC)
            assert moment_of("2026-11-30", "until", day="end") == datetime(
                2026, 11, 30, 14, 59, 59, 999_999, tzinfo=UTC
            )


class TestShowing:
    @pytest.mark.parametrize(
        ("zone", "moment", "text"),
        [
            ("America/New_York", NY_NOW, "2026-11-30 14:30:51 EST"),
            ("America/New_York", datetime(2026, 7, 1, 12, tzinfo=UTC), "2026-07-01 08:00:00 EDT"),
            ("Europe/Berlin", datetime(2026, 11, 30, 13, 30, 51, tzinfo=UTC), "2026-11-30 14:30:51 CET"),
            ("Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "2026-03-29 03:00:00 CEST"),
            ("UTC", NY_NOW, "2026-11-30 19:30:51 UTC"),
        ],
    )
    def test_text_is_local_with_the_zone(self, zone: str, moment: datetime, text: str) -> None:
        """Text output shows the local clock and the zone's name, summer or winter."""
        with local_zone(zone):
            assert time_text(moment) == text

    def test_utc_on_request(self) -> None:
        """``--utc`` shows UTC whatever the local zone: ``... UTC`` in text, ``+00:00`` in JSON."""
        with local_zone("America/New_York"):
            assert time_text(NY_NOW, "utc") == "2026-11-30 19:30:51 UTC"
            assert time_json(NY_NOW, "utc") == "2026-11-30T19:30:51+00:00"

    def test_json_is_iso_with_the_local_offset(self) -> None:
        """JSON output is ISO-8601 with the local offset, microseconds kept."""
        with local_zone("Europe/Berlin"):
            assert (
                time_json(datetime(2026, 11, 30, 13, 0, 0, 5, tzinfo=UTC))
                == "2026-11-30T14:00:00.000005+01:00"
            )

    def test_log_lines_keep_milliseconds(self) -> None:
        """Log entries show milliseconds, before the zone."""
        with local_zone("Asia/Tokyo"):
            moment = datetime(2026, 11, 30, 5, 30, 51, 123_456, tzinfo=UTC)
            assert time_text(moment, millis=True) == "2026-11-30 14:30:51.123 JST"


class TestImportCost:
    def test_common_forms_do_not_load_dateparser(self) -> None:
        """ISO times, dates, ``now``, ``today``, ``yesterday`` and ``N units ago`` are read without importing dateparser."""
        script = (
            "import sys\n"
            "from jobsync.times import parse_time\n"
            "for text in ('2026-11-17', '2026-11-17T09:30', 'now', 'today', 'yesterday', '3 days ago'):\n"
            "    parse_time(text, day='start')\n"
            "assert 'dateparser' not in sys.modules\n"
            "parse_time('last tuesday', day='start')\n"
            "assert 'dateparser' in sys.modules\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
