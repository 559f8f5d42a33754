"""In-memory implementations of jobsync's ports, so the use cases run in milliseconds in unit tests.

Real implementations, not mocks: a source reader built from a dict of files, and a read model
kept in dicts from the same ViewChanges the SQL read models are written from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, IntegrityError

from jobsync.adapters.summaries import MemorySummaryStore
from jobsync.app import JobCatalogApp
from jobsync.domain.fields import facts_digest
from jobsync.domain.planning import JobRow
from jobsync.domain.provenance import Provenance
from jobsync.domain.result import JobResult
from jobsync.ports import Change, ClaimCandidate, FileEntry, RunningRun, SummaryStore, ViewChanges


def blob_id(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


class DictSnapshot:
    """The files of a DictReader at one moment; ``commit`` is a digest of every (path, content id)."""

    def __init__(self, files: Mapping[str, bytes], reads: list[str]) -> None:
        self._files = {path: blob_id(data) for path, data in files.items()}
        self._data = {blob_id(data): data for data in files.values()}
        self._reads = reads
        listing = "\n".join(f"{path} {sha}" for path, sha in sorted(self._files.items()))
        self.commit = "dict:" + blob_id(listing.encode())
        self.branch = "main"

    def files(self) -> list[FileEntry]:
        return [FileEntry(path, sha) for path, sha in sorted(self._files.items())]

    def changes_since(self, old_commit: str, known: Mapping[str, str]) -> list[Change] | None:
        changes = [Change(path, sha) for path, sha in self._files.items() if known.get(path) != sha]
        return changes + [Change(path, None) for path in known if path not in self._files]

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        self._reads.extend(shas)
        return [self._data[sha] for sha in shas]

    def links(self) -> list[str]:
        return []

    def provenance(self, since: str | None, paths: Collection[str]) -> Provenance:
        return Provenance()


class DictReader:
    """A source whose files a test edits in place: ``files[path] = text``, ``del files[path]``.

    ``reads`` lists every content id read, so a test can see that only changed files were read.
    """

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        self.files: dict[str, str] = dict(files or {})
        self.reads: list[str] = []

    def snapshot(self, branch: str | None = None) -> DictSnapshot:
        return DictSnapshot({path: text.encode() for path, text in self.files.items()}, self.reads)


class LinkedSnapshot(DictSnapshot):
    """A DictSnapshot that also holds symbolic links (never followed), as a folder or git tree can."""

    def __init__(
        self, files: Mapping[str, bytes], reads: list[str], links: list[str], known: list[str]
    ) -> None:
        super().__init__(files, reads)
        self._links = links
        self._known_links = known
        self.commit += "+" + ",".join(links)

    def changes_since(self, old_commit: str, known: Mapping[str, str]) -> list[Change] | None:
        changes = super().changes_since(old_commit, known) or []
        changes += [Change(path, None, link=True) for path in self._links if path not in self._known_links]
        return changes + [Change(path, None) for path in self._known_links if path not in self._links]

    def links(self) -> list[str]:
        return list(self._links)


class LinkedReader(DictReader):
    """A DictReader whose ``links`` a test sets; each snapshot diffs links against the previous one."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        super().__init__(files)
        self.links: list[str] = []
        self._previous: list[str] = []

    def snapshot(self, branch: str | None = None) -> LinkedSnapshot:
        files = {path: text.encode() for path, text in self.files.items()}
        snapshot = LinkedSnapshot(files, self.reads, list(self.links), self._previous)
        self._previous = list(self.links)
        return snapshot


class MemoryReadModel:
    """The planner's read model in dicts: job rows by id, and the tracking position."""

    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, JobRow]] = {}  # job id -> (source, row)
        self.refs: dict[str, str] = {}  # job id -> ref
        self.syncs: dict[UUID, tuple[str, object, str]] = {}  # sync result id -> (source, args, status)
        self._position = 0

    def position(self) -> int:
        return self._position

    def source_rows(self, source: str, modules: Collection[str] | None = None) -> list[JobRow]:
        return [
            row
            for owner, row in self.rows.values()
            if owner == source and (modules is None or row.key.rsplit(".", 1)[0] in modules)
        ]

    def installed_count(self, source: str) -> int:
        return sum(
            1 for owner, row in self.rows.values() if owner == source and row.installed and not row.deleted
        )

    def name_holders(self, names: Iterable[str]) -> dict[str, str]:
        wanted = set(names)
        return {
            row.name: self.refs[ident]
            for ident, (_, row) in self.rows.items()
            if row.name in wanted and not row.deleted
        }

    def running_syncs(self, source: str) -> list[tuple[UUID, object]]:
        return [
            (ident, args)
            for ident, (of, args, status) in self.syncs.items()
            if of == source and status == "running"
        ]

    def claimable(
        self, queue: str, limit: int, skip: Collection[str] = (), skip_jobs: Collection[str] = ()
    ) -> list[ClaimCandidate]:
        """No worker claims here: claims are tested on real stores, where they are atomic."""
        return []

    def running_runs(self) -> list[RunningRun]:
        """No run is reaped here: the reaper is tested on real stores."""
        return []

    def apply_within(self, cursor: Any, changes: ViewChanges, start: int, position: int) -> bool:
        """Never called: the in-memory recorder has no transaction to project in (it catches up)."""
        raise AssertionError("the POPO recorder does not project within a save")

    def apply(self, changes: ViewChanges, start: int, position: int) -> None:
        if start != self._position:
            raise IntegrityError(f"position moved past {start}")
        for event in changes.result_events:
            if isinstance(event, JobResult.ResultRecorded) and event.task == "sync":
                self.syncs[event.originator_id] = (event.job_ref, event.args, "pending")
            elif event.originator_id in self.syncs:
                source, args, _ = self.syncs[event.originator_id]
                if isinstance(event, JobResult.ResultStarted):
                    self.syncs[event.originator_id] = (source, args, "running")
                elif isinstance(event, JobResult.ResultFinished):
                    self.syncs[event.originator_id] = (source, args, event.status)
        for job in changes.jobs:
            self.rows[str(job.id)] = (
                job.source,
                JobRow(
                    id=job.id,
                    key=job.key,
                    name=job.name,
                    name_override="name" in job.overrides,
                    source_name=str(job.source_values["name"]),
                    installed=job.installed,
                    deleted=job.deleted,
                    digest=facts_digest(job.facts()),
                ),
            )
            self.refs[str(job.id)] = job.ref
        self._position = position


class Processes:
    """A process table a test controls: the processes in ``ended`` have ended."""

    def __init__(self, current: tuple[str, int] = ("testhost", 100)) -> None:
        self.now = current
        self.ended: set[tuple[str, int]] = set()

    def current(self) -> tuple[str, int]:
        return self.now

    def gone(self, host: str, pid: int) -> bool:
        return (host, pid) in self.ended


def memory_app(summaries: SummaryStore | None = None, processes: Processes | None = None) -> JobCatalogApp:
    """The Application on eventsourcing's in-memory store, with in-memory read model and summaries."""

    def read_model(factory: InfrastructureFactory[Any]) -> MemoryReadModel:
        return MemoryReadModel()

    return JobCatalogApp(
        env={},
        read_model=read_model,
        summaries=summaries if summaries is not None else MemorySummaryStore(),
        processes=processes if processes is not None else Processes(),
    )
