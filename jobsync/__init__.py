"""jobsync: an event-sourced catalog of Nautobot-style automation jobs kept in Git repositories."""

#: The one place the version is written: the package metadata takes it from here (pyproject.toml's
#: [tool.hatch.version]), so ``jobsync.__version__`` and ``pip show jobsync`` always agree.
__version__ = "0.1.0"

from jobsync.app import SyncSummary
from jobsync.catalog import Catalog
from jobsync.domain.discovery import Problem
from jobsync.domain.errors import (
    AmbiguousJobRefError,
    ArgsNotStoredWarning,
    ConfigError,
    ConflictError,
    FieldError,
    FileNotInSourceError,
    GitError,
    IncompleteCopyError,
    JobDeletedError,
    JobNotFoundError,
    JobNotRunnableError,
    JobStillInstalledError,
    JobSyncError,
    MassUninstallError,
    ResultNotFoundError,
    SourceBusyError,
    SourceConflictError,
    SourceNotFoundError,
    SourceReadError,
    SourceRemovedError,
    SourceStillHasJobsError,
    SourceSuspendedError,
    StoreError,
)
from jobsync.domain.result import LOG_LEVELS, LogEntry, ResultError
from jobsync.domain.schedule import ScheduleError, ScheduleNotFoundError
from jobsync.points import BadPointError, PointNotFoundError
from jobsync.records import (
    ClassExplanationRecord,
    HistoryEntry,
    JobDiff,
    JobRecord,
    JobSourceValues,
    LogRecord,
    ResultRecord,
    ScheduleRecord,
    SourceRecord,
)
from jobsync.spec import SourceSpec

__all__ = [
    "LOG_LEVELS",
    "AmbiguousJobRefError",
    "ArgsNotStoredWarning",
    "BadPointError",
    "Catalog",
    "ClassExplanationRecord",
    "ConfigError",
    "ConflictError",
    "FieldError",
    "FileNotInSourceError",
    "GitError",
    "HistoryEntry",
    "IncompleteCopyError",
    "JobDeletedError",
    "JobDiff",
    "JobNotFoundError",
    "JobNotRunnableError",
    "JobRecord",
    "JobSourceValues",
    "JobStillInstalledError",
    "JobSyncError",
    "LogEntry",
    "LogRecord",
    "MassUninstallError",
    "PointNotFoundError",
    "Problem",
    "ResultError",
    "ResultNotFoundError",
    "ResultRecord",
    "ScheduleError",
    "ScheduleNotFoundError",
    "ScheduleRecord",
    "SourceBusyError",
    "SourceConflictError",
    "SourceNotFoundError",
    "SourceReadError",
    "SourceRecord",
    "SourceRemovedError",
    "SourceSpec",
    "SourceStillHasJobsError",
    "SourceSuspendedError",
    "StoreError",
    "SyncSummary",
    "__version__",
]
