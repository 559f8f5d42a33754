"""Moments in time as people type them: ISO-8601, a date, or ``3 days ago``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from jobsync.domain.errors import JobSyncError

_RELATIVE = re.compile(
    r"^\s*(?P<n>\d+)\s*(?P<unit>s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)\s+ago\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadTimeError(JobSyncError):
    """A moment could not be understood."""


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A timezone-aware UTC moment; naive ISO times and dates are taken as UTC.

    A bare date means the end of that day, so ``--at 2026-11-17`` shows the job as it was that evening.
    """
    try:
        return _parse_time(text, now or datetime.now(UTC))
    except OverflowError:
        raise BadTimeError(f"time {text!r} is out of range") from None


def _parse_time(text: str, now: datetime) -> datetime:
    lowered = text.strip().lower()
    if lowered == "now":
        return now
    if lowered == "yesterday":
        return now - timedelta(days=1)
    match = _RELATIVE.match(lowered)
    if match:
        unit = match["unit"].lower()
        key = "m" if unit.startswith("mi") or unit == "m" else unit[0]
        return now - timedelta(seconds=int(match["n"]) * _UNIT_SECONDS[key])
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTimeError(
            f"cannot read time {text!r}; use ISO-8601 (2026-11-17T09:30), a date, or '3 days ago'"
        ) from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        try:
            moment = moment + timedelta(days=1) - timedelta(microseconds=1)
        except OverflowError:  # the last day there is ends where datetime does
            moment = datetime.max
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def moment_of(value: object, what: str) -> datetime | None:
    """A library caller's moment: None, a datetime (naive taken as UTC) or text ``parse_time`` reads.

    Anything else is refused in one line, rather than failing later deep in a comparison.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        return parse_time(value)
    raise BadTimeError(
        f"{what} must be a datetime or a time such as '2026-11-17T09:30' or '3 days ago', "
        f"not {type(value).__name__}"
    )
