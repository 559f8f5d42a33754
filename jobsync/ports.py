"""What the use cases need from outside, in one screen: a source reader, the summary store, the read model, locks.

Adapters implement these (git mirror, folder scan, SQLite summary file, SQL read models); the
Application receives them. Tests pass in-memory implementations of the same ports.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from jobsync.domain.discovery import ModuleEntry, ModuleSummary, Problem, Registration
from jobsync.domain.job import Job
from jobsync.domain.planning import JobRow
from jobsync.domain.provenance import Provenance
from jobsync.domain.result import JobResult
from jobsync.domain.schedule import ScheduledJob
from jobsync.domain.source import Source

# -- reading a source -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """A regular file of a snapshot: its source-relative POSIX path and the id of its content.

    ``size`` when the reader knows it without reading the file (a folder's ``stat``), else None.
    """

    path: str
    sha: str
    size: int | None = None


@dataclass(frozen=True)
class Change:
    """A regular file added, modified (``sha`` is the new content) or deleted (``sha`` is None).

    ``link``: the path is now a symbolic link, which is never followed (and has no content here).
    """

    path: str
    sha: str | None
    link: bool = False
    size: int | None = None


class Snapshot(Protocol):
    """A source's files at one ``commit`` (a git commit, or a content digest of a folder).

    ``branch`` says what led there: a branch name, ``tag v1``, ``commit 0a1b…`` ("" for folders).
    """

    @property
    def commit(self) -> str: ...

    @property
    def branch(self) -> str: ...

    def files(self) -> list[FileEntry]:
        """Every regular file."""
        ...

    def changes_since(self, old_commit: str, known: Mapping[str, str]) -> list[Change] | None:
        """Files that differ from ``old_commit`` (``known``: path -> sha then); None if it cannot tell."""
        ...

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        """The contents of these files, in order."""
        ...

    def links(self) -> list[str]:
        """Symbolic links the snapshot did not follow."""
        ...

    def provenance(self, since: str | None, paths: Collection[str]) -> Provenance:
        """Who made ``commit``, and which commit after ``since`` last changed each of ``paths``."""
        ...


class SourceReader(Protocol):
    """Brings a source's current files: a git fetch, a folder scan, an installed app's files."""

    def snapshot(self, branch: str | None = None) -> Snapshot: ...


# -- per-file discovery summaries -----------------------------------------------------------------


@dataclass(frozen=True)
class SummaryIndex:
    """What the summary store holds for one source: the commit they describe and an entry per file.

    ``problems`` are every problem the last sync reported, so a sync that re-examines only part of
    the source can still report all of them; ``registration`` is what its register_jobs calls
    registered (the facts it looked at are read per module, with ``registration_facts``).
    """

    commit: str
    entries: Mapping[str, ModuleEntry]
    problems: tuple[Problem, ...] = ()
    registration: Registration | None = None


@dataclass(frozen=True)
class KeepRegistration:
    """The registration stored with the summaries still holds: leave it, and what it looked at, as is."""


class SummaryStore(Protocol):
    """Per-file summaries of each source, kept between syncs: derived data, safe to lose."""

    def index(self, source: str, filters: str) -> SummaryIndex | None:
        """The stored entries, or None when there are none for these include/exclude ``filters``."""
        ...

    def load(self, source: str, wanted: Mapping[str, str]) -> dict[str, ModuleSummary]:
        """The stored summaries of ``wanted`` paths at their content ``sha`` (others are left out)."""
        ...

    def save(
        self,
        source: str,
        filters: str,
        commit: str,
        changed: Sequence[tuple[ModuleEntry, ModuleSummary]],
        removed: Collection[str],
        problems: Sequence[Problem],
        registration: Registration | KeepRegistration | None,
        based_on: str | None,
    ) -> None:
        """Record the summaries at ``commit``: ``changed`` written, ``removed`` dropped.

        ``based_on`` is the commit of the stored summaries this update was made from; when another
        process moved them on meanwhile nothing is written (the next sync catches up). None: the
        update holds every file, and replaces whatever was stored.
        """
        ...

    def registration_facts(
        self, source: str, modules: Collection[str]
    ) -> tuple[tuple[str, str, str, str], ...] | None:
        """What the stored registration looked at in these modules (see ``Registration.looked_at``).

        None when the store cannot tell: the registration is then decided afresh.
        """
        ...

    def close(self) -> None:
        """Let go of any file or connection."""
        ...


# -- the read model the planner queries ------------------------------------------------------------


@dataclass(frozen=True)
class ViewChanges:
    """What one batch of events changes in the read models."""

    jobs: list[Job]
    sources: list[Source]
    result_events: list[JobResult.Event]
    deletions: list[tuple[str, str]]  # (job id, when): results recorded until then lose their link
    schedules: list[ScheduledJob] = field(default_factory=list)


class SingletonBusyError(IntegrityError):
    """A claim counted on no other run of its singleton job running, and one is; the save is rolled back."""


@dataclass(frozen=True)
class ClaimCandidate:
    """A pending run a worker may claim: ``exclusive`` when no other run of its job may run beside
    it (a singleton job, not recorded with ``ignore_singleton``), ``busy`` when one is running."""

    id: UUID
    job_id: str | None
    exclusive: bool
    busy: bool


@dataclass(frozen=True)
class RunningRun:
    """A running job run as the reaper sees it: when it started and was last heard of (a claim, a
    start, a heartbeat or a log entry), and its job's effective ``time_limit`` (0: none)."""

    id: UUID
    started: datetime | None
    last_seen: datetime | None
    time_limit: float


class CatalogReadModel(Protocol):
    """The read models as the use cases see them: the planner's queries and the projection's writes."""

    def position(self) -> int:
        """The last log position applied (0 before the first)."""
        ...

    def source_rows(self, source: str, modules: Collection[str] | None = None) -> list[JobRow]:
        """The jobs of ``source`` (of these ``modules`` only, when given)."""
        ...

    def installed_count(self, source: str) -> int:
        """How many live jobs of ``source`` are installed (all of them, whatever a sync planned)."""
        ...

    def name_holders(self, names: Iterable[str]) -> dict[str, str]:
        """Which live (not deleted) job holds each of ``names``: name -> ref."""
        ...

    def apply(self, changes: ViewChanges, start: int, position: int) -> None:
        """Write the changes and move the position from ``start``; IntegrityError if it moved meanwhile."""
        ...

    def apply_within(self, cursor: Any, changes: ViewChanges, start: int, position: int) -> bool:
        """The same inside the store's own save transaction (``cursor`` is its recorder's).

        False, writing nothing, when the position is not at ``start``; raises an IntegrityError
        (rolling the save back) when a live job would take a name another live job holds, and
        SingletonBusyError when an exclusive claim meets another running run of its job.
        """
        ...

    def running_syncs(self, source: str) -> list[tuple[UUID, object]]:
        """The sync results of ``source`` still running: (result id, args)."""
        ...

    def claimable(
        self, queue: str, limit: int, skip: Collection[str] = (), skip_jobs: Collection[str] = ()
    ) -> list[ClaimCandidate]:
        """Pending job runs a worker of ``queue`` may claim, oldest first, less the ``skip``ped ones
        (result ids) and the runs of ``skip_jobs`` (job ids)."""
        ...

    def running_runs(self) -> list[RunningRun]:
        """Job runs still running (syncs have their own handling), oldest first."""
        ...


class ProcessTable(Protocol):
    """Who runs a sync, and whether that process has ended: how a crashed sync is told from a slow one."""

    def current(self) -> tuple[str, int]:
        """(host, pid) of this process."""
        ...

    def gone(self, host: str, pid: int) -> bool:
        """True only when that process is known to have ended."""
        ...


# -- dividing the work between processes ----------------------------------------------------------


class WorkLocks(Protocol):
    """One process at a time per piece of shared work, across every process on the same store (docs/design.md §7).

    Work is named: ``source:NAME`` is a sync of that source. Due schedules and stale-run reaping,
    when the daemon does them as work of their own, take names of their own here. A lock is let go
    when its ``with`` block ends, and also when its holder dies: a killed daemon keeps nothing.
    """

    def holding(self, work: str, wait: float = 0.0) -> AbstractContextManager[bool]:
        """Hold ``work`` for the ``with`` block: True; or False, holding nothing, when another process
        still held it after ``wait`` seconds (0: do not wait at all)."""
        ...

    def close(self) -> None:
        """Let go of any file or connection."""
        ...
