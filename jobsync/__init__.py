"""jobsync: an event-sourced catalog of Nautobot-style automation jobs kept in Git repositories."""

from jobsync.app import SyncSummary
from jobsync.catalog import Catalog
from jobsync.domain.discovery import Problem
from jobsync.domain.errors import (
    AmbiguousJobRefError,
    ConfigError,
    ConflictError,
    FieldError,
    GitError,
    JobDeletedError,
    JobNotFoundError,
    JobStillInstalledError,
    JobSyncError,
    SourceConflictError,
    SourceNotFoundError,
    StoreError,
)
from jobsync.sync import SourceSpec

__all__ = [
    "AmbiguousJobRefError",
    "Catalog",
    "ConfigError",
    "ConflictError",
    "FieldError",
    "GitError",
    "JobDeletedError",
    "JobNotFoundError",
    "JobStillInstalledError",
    "JobSyncError",
    "Problem",
    "SourceConflictError",
    "SourceNotFoundError",
    "SourceSpec",
    "StoreError",
    "SyncSummary",
]
