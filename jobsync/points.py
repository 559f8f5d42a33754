"""Points in a job's history as people name them (a time, a commit or ``vN``), and the job at each."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias
from uuid import UUID

from jobsync.domain.errors import JobNotFoundError, JobSyncError
from jobsync.domain.job import Job
from jobsync.domain.source import Source, source_id
from jobsync.records import DiffEnd, JobDiff
from jobsync.timeline import SYNC_CAUSED, state_changes
from jobsync.times import BadTimeError, moment_of, parse_time

if TYPE_CHECKING:
    from jobsync.app import JobCatalogApp

#: Git's own shortest unique abbreviation: fewer hex digits would match too many commits to mean one.
MIN_COMMIT_PREFIX = 7
_VERSION = re.compile(r"^v(?P<number>\d+)$", re.IGNORECASE)
_COMMIT = re.compile(rf"^[0-9a-f]{{{MIN_COMMIT_PREFIX},64}}$", re.IGNORECASE)


@dataclass(frozen=True)
class Version:
    """``vN``: the job right after its N-th event, as ``jobs history`` numbers them."""

    number: int


@dataclass(frozen=True)
class CommitPrefix:
    """A commit (full sha or a prefix of 7 or more hex digits): the job as the sync of it left it."""

    text: str


#: A point in one job's history; a time is a timezone-aware datetime.
Point: TypeAlias = datetime | Version | CommitPrefix


class BadPointError(JobSyncError):
    """Text that names no point at all: neither a time, nor a commit, nor ``vN`` (a usage error)."""


class PointNotFoundError(JobNotFoundError):
    """The job exists, but not at that point: before it was discovered, or a version or commit it never had.

    A JobNotFoundError, as ``job(ref, at=...)`` raised for a moment before discovery before points
    had other forms.
    """

    def __init__(self, ref: str, message: str) -> None:
        JobSyncError.__init__(self, message)
        self.ref = ref


def parse_point(text: str, *, day_start: bool = False) -> Point:
    """The point ``text`` names: ``vN``, 7 to 64 hex digits (a commit), else a time ``parse_time`` reads.

    A bare date is the end of that day, or its start with ``day_start`` (where a comparison starts).
    """
    stripped = text.strip()
    version = _VERSION.match(stripped)
    if version:
        number = int(version["number"])
        if number < 1:
            raise BadPointError(f"{text!r}: versions start at v1")
        return Version(number)
    if _COMMIT.match(stripped):
        return CommitPrefix(stripped.lower())
    try:
        return parse_time(stripped, day="start" if day_start else "end")
    except BadTimeError as exc:
        raise BadPointError(
            f"{text!r} is not a time, a commit (7+ hex digits) or a version (v3): {exc}"
        ) from None


def point_of(value: object, what: str, *, day_start: bool = False) -> Point | None:
    """A library caller's point: None, a datetime (naive as ``moment_of`` takes it), a Point, or text."""
    if value is None or isinstance(value, datetime):
        return moment_of(value, what, day="start" if day_start else "end")
    if isinstance(value, Version | CommitPrefix):
        return value
    if isinstance(value, str):
        return parse_point(value, day_start=day_start)
    raise BadPointError(
        f"{what} must be a datetime or a time such as '2026-11-17T09:30', a commit or vN, "
        f"not {type(value).__name__}"
    )


def commit_matching(ref: str, prefix: str, known: Iterable[str]) -> str:
    """The one commit of ``known`` that starts with ``prefix``; none or several is refused."""
    found = sorted({commit for commit in known if commit.lower().startswith(prefix)})
    if not found:
        raise PointNotFoundError(ref, f"job {ref} was never synced at a commit starting {prefix!r}")
    if len(found) > 1:
        raise PointNotFoundError(ref, f"commit prefix {prefix!r} is ambiguous: {', '.join(found)}")
    return found[0]


@dataclass(frozen=True)
class JobAtPoint:
    """The job as it stood at a point, and the moment that point stands for."""

    job: Job
    time: datetime

    def end(self) -> DiffEnd:
        return {"time": self.time, "version": self.job.version, "commit": self.job.commit}


def job_at_point(app: JobCatalogApp, ident: UUID, point: Point) -> JobAtPoint:
    """The job at ``point``: at a time, right after its N-th event, or right after the sync of a commit.

    A commit is looked for among the syncs of the job's source, then among the commits the job's
    own events record (a sync that no longer shows in its source's history still counts).
    """
    latest = app.get_job(ident)
    ref = latest.ref
    if isinstance(point, datetime):
        then = app.job_at(ident, point)
        if then is None:
            raise PointNotFoundError(ref, f"job {ref} did not exist at {point.isoformat()}")
        return JobAtPoint(then, point)
    if isinstance(point, Version):
        if point.number > latest.version:
            raise PointNotFoundError(
                ref, f"job {ref} has no v{point.number}: its latest is v{latest.version}"
            )
        job: Job = app.repository.get(ident, version=point.number)
        return JobAtPoint(job, job.modified_on)
    syncs = [
        event for event in app.events.get(source_id(latest.source)) if isinstance(event, Source.SourceSynced)
    ]
    synced_by_job = [event for event in app.job_events(ident) if _commits_of(event)]
    commit = commit_matching(
        ref, point.text, [e.commit for e in syncs] + [c for e in synced_by_job for c in _commits_of(e)]
    )
    sync = next((event for event in syncs if event.commit == commit), None)
    if sync is None:
        own = next(event for event in synced_by_job if commit in _commits_of(event))
        then = app.repository.get(ident, version=own.originator_version)
        return JobAtPoint(then, own.timestamp)
    # A sync stamps its job events before its SourceSynced: the job at that stamp includes them.
    then = app.job_at(ident, sync.timestamp)
    if then is None:
        raise PointNotFoundError(
            ref, f"job {ref} did not exist at commit {commit[:12]} (synced {sync.timestamp.isoformat()})"
        )
    return JobAtPoint(then, sync.timestamp)


def _commits_of(event: Job.Event) -> tuple[str, ...]:
    """The commits a sync-caused job event records: the synced one, and the one that changed the
    job's file (its ``origin``, which history shows); none for an operator's event."""
    if not isinstance(event, SYNC_CAUSED):
        return ()
    origin = event.origin
    return (event.commit,) + (
        (origin.commit,) if origin is not None and origin.commit != event.commit else ()
    )


def job_diff(app: JobCatalogApp, ident: UUID, start: Point, end: Point | None = None) -> JobDiff:
    """How the job differs between two points (``end`` None: its latest state), and the events between.

    The points may come in either order, as with ``git diff``: the changes read from ``start`` to
    ``end``, and the events listed are those after the earlier point up to the later one.
    """
    from jobsync.audit import job_history  # only audit commands replay history

    before = job_at_point(app, ident, start)
    if end is None:
        latest = app.get_job(ident)
        after = JobAtPoint(latest, latest.modified_on)
    else:
        after = job_at_point(app, ident, end)
    low, high = sorted((before.job.version, after.job.version))
    return {
        "ref": after.job.ref,
        "from": before.end(),
        "to": after.end(),
        "changes": state_changes(before.job, after.job),
        "events": [entry for entry in job_history(app, ident) if low < entry["version"] <= high],
    }
