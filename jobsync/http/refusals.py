"""The HTTP status of a catalog refusal, one rule for the API and the pages."""

from __future__ import annotations

from jobsync.domain.errors import (
    FileNotInSourceError,
    JobNotFoundError,
    JobSyncError,
    ResultNotFoundError,
    SourceNotFoundError,
    StoreError,
)
from jobsync.domain.schedule import ScheduleNotFoundError

#: What does not exist (a job at a point it never had included: PointNotFoundError is a JobNotFoundError).
_NOT_FOUND = (
    JobNotFoundError,
    SourceNotFoundError,
    ResultNotFoundError,
    FileNotInSourceError,
    ScheduleNotFoundError,
)


def status_of(exc: JobSyncError) -> int:
    """404 for what does not exist, 503 when the store refuses, else 400 (the request's fault)."""
    if isinstance(exc, _NOT_FOUND):
        return 404
    if isinstance(exc, StoreError):
        return 503
    return 400
