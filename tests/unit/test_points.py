"""Points in a job's history as people type them (time, commit, vN): parsed in one place, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobsync.domain.errors import JobNotFoundError
from jobsync.points import (
    BadPointError,
    CommitPrefix,
    PointNotFoundError,
    Version,
    commit_matching,
    parse_point,
    point_of,
)
from jobsync.times import parse_time

SHA_A = "abc1234" + "0" * 33
SHA_B = "abc1234" + "f" * 33
SHA_C = "9f8e7d6" + "1" * 33


class TestParsePoint:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("v1", Version(1)),
            ("v12", Version(12)),
            (" V3 ", Version(3)),
            ("abc1234", CommitPrefix("abc1234")),
            ("ABC1234D", CommitPrefix("abc1234d")),
            (SHA_A, CommitPrefix(SHA_A)),
            ("a" * 64, CommitPrefix("a" * 64)),
        ],
    )
    def test_versions_and_commits(self, text: str, expected: object) -> None:
        """``vN`` is a version and 7 to 64 hex digits a commit (lower-cased, as git prints them)."""
        assert parse_point(text) == expected

    def test_anything_else_is_a_time(self) -> None:
        """Text that is neither a version nor a commit is read by ``parse_time``."""
        assert parse_point("2026-11-17T09:30:00+00:00") == datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
        assert parse_point("2026-11-17") == parse_time("2026-11-17", day="end")

    def test_a_date_starts_a_comparison_at_its_start(self) -> None:
        """With ``day_start`` a bare date is the first moment of that day, otherwise (``--at``) its end."""
        start = parse_point("2026-11-17", day_start=True)
        end = parse_point("2026-11-17")
        assert isinstance(start, datetime) and isinstance(end, datetime)
        assert start == parse_time("2026-11-17", day="start")
        assert end - start == timedelta(days=1) - timedelta(microseconds=1)
        assert parse_point("3 days ago", day_start=True) != start  # only bare dates move

    @pytest.mark.parametrize(
        ("text", "says"),
        [
            ("v0", "versions start at v1"),
            ("abc123", "is not a time, a commit (7+ hex digits) or a version"),  # 6 hex digits
            ("a" * 65, "cannot read time"),
            ("v", "cannot read time"),
            ("v-1", "cannot read time"),
            ("last blue moon", "cannot read time 'last blue moon'"),
        ],
    )
    def test_malformed_text_is_refused(self, text: str, says: str) -> None:
        """Text naming no point raises BadPointError in one line saying why."""
        with pytest.raises(BadPointError) as caught:
            parse_point(text)
        assert says in str(caught.value)
        assert "\n" not in str(caught.value)


class TestPointOf:
    def test_library_values(self) -> None:
        """None stays None, a naive datetime is local time, a point passes, text is parsed."""
        assert point_of(None, "at") is None
        assert point_of(datetime(2026, 1, 2, 3, 4), "at") == datetime(2026, 1, 2, 3, 4).astimezone()
        assert point_of(Version(2), "at") == Version(2)
        assert point_of("v2", "at") == Version(2)
        assert point_of("2026-11-17", "from_", day_start=True) == parse_time("2026-11-17", day="start")

    def test_other_types_are_refused(self) -> None:
        """A value of another type is refused naming the argument and the type."""
        with pytest.raises(BadPointError, match=r"^to must be a datetime or a time .* not int$"):
            point_of(5, "to")


class TestCommitMatching:
    def test_a_unique_prefix_or_full_sha_finds_its_commit(self) -> None:
        """A prefix one known commit starts with, or the full sha, gives that commit."""
        known = [SHA_A, SHA_C, SHA_C]
        assert commit_matching("r", "9f8e7d6", known) == SHA_C
        assert commit_matching("r", SHA_A, [SHA_A, SHA_B]) == SHA_A

    def test_a_prefix_of_several_commits_is_ambiguous(self) -> None:
        """A prefix two different commits share is refused, naming both."""
        with pytest.raises(PointNotFoundError) as caught:
            commit_matching("netops:jobs.a.Backup", "abc1234", [SHA_A, SHA_B, SHA_C, SHA_A])
        assert str(caught.value) == f"commit prefix 'abc1234' is ambiguous: {SHA_A}, {SHA_B}"

    def test_a_prefix_of_no_commit_is_not_found(self) -> None:
        """A prefix no known commit starts with is refused as a point the job never had."""
        with pytest.raises(JobNotFoundError, match="job r was never synced at a commit starting 'abc1235'"):
            commit_matching("r", "abc1235", [SHA_A, SHA_B])
