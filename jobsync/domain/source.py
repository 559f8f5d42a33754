"""The Source aggregate: where job code lives and how far jobsync has read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from jobsync.domain.errors import SourceConflictError, SourceStillHasJobsError
from jobsync.domain.job import NAMESPACE
from jobsync.domain.provenance import CommitInfo


def source_id(name: str) -> UUID:
    """The source's deterministic id, the same on every host."""
    return uuid5(NAMESPACE, f"source:{name}")


class Source(Aggregate):
    """One configured or remembered source: its location and its last synced commit."""

    #: Who saved the last sync (``daemon@HOST`` for a daemon); a class default, so snapshots taken
    #: before it was kept still load.
    last_synced_by: str | None = None
    #: Where the last sync ran and which Python parsed it (syntax newer Pythons accept is a parse
    #: error on older ones); None for syncs saved before they were recorded.
    last_synced_host: str | None = None
    last_synced_python: str | None = None
    #: The last synced commit's author, committer, time and subject; None for folders and apps.
    last_origin: CommitInfo | None = None
    #: When the last sync was saved (None: never, or saved before it was kept: see ``last_synced``).
    last_synced_on: datetime | None = None
    #: Life-cycle (docs/design.md §2): a suspended source is not synced; a removed one is listed
    #: nowhere, its jobs stay. ``renamed_to``: the removal was a rename, and this name's old job
    #: refs now name that source's jobs (so no new source may take it).
    suspended: bool = False
    removed: bool = False
    renamed_to: str | None = None

    class Event(Aggregate.Event):
        """Every source event says who caused it."""

        actor: str

    class SourceRegistered(Event, Aggregate.Created):
        """A source was synced for the first time; its URL (redacted) and branch are remembered."""

        name: str
        kind: str
        url: str
        branch: str | None

    class SourceSynced(Event):
        """A sync read ``commit`` and saved what it found, on ``host`` with Python ``python``.

        ``origin`` (version 3): that commit's author, committer, time and subject; None for folders
        and apps, and in syncs saved before it was kept.
        """

        class_version = 3
        commit: str
        branch: str
        added: int
        changed: int
        uninstalled: int
        reinstalled: int
        problems: int
        #: ``problems`` by kind (docs/design.md §4); None in syncs saved before kinds were kept apart.
        errors: int | None
        warnings: int | None
        notes: int | None
        host: str | None
        python: str | None
        origin: CommitInfo | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(errors=None, warnings=None, notes=None, host=None, python=None)

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["origin"] = None

        def mutate(self, aggregate: Any) -> Any:
            """Also keep when the sync was saved: later events (a suspension) move ``modified_on``."""
            source = super().mutate(aggregate)
            assert source is not None
            source.last_synced_on = self.timestamp
            return source

    class SourceSyncFailed(Event):
        """A sync could not read the source (``reason`` classifies why); nothing else was saved."""

        reason: str
        message: str

    class SourceRelocated(Event):
        """The configuration moved the source to another URL or branch."""

        url: str
        branch: str | None

    class SourceSuspended(Event):
        """An operator stopped the source from being synced (daemon, webhooks, plain resync)."""

    class SourceResumed(Event):
        """An operator let a suspended source be synced again."""

    class SourceRemoved(Event):
        """An operator removed the source: it is listed no more; its jobs and their history stay."""

    class SourceRenamed(Event):
        """The source now goes by ``new_name``: its jobs moved there, and this name is retired."""

        new_name: str

    class SourceInherited(Event):
        """This name took over the renamed source ``old_name``: its location, last sync and state."""

        old_name: str
        kind: str
        url: str
        branch: str | None
        last_commit: str | None
        last_branch: str | None
        last_counts: dict[str, int]
        last_synced: datetime | None
        last_synced_by: str | None
        last_synced_host: str | None
        last_synced_python: str | None
        last_origin: CommitInfo | None
        suspended: bool

    class SourceRegisteredAgain(Event):
        """A removed source was synced again: it starts afresh at this location (its jobs come back)."""

        kind: str
        url: str
        branch: str | None

    @staticmethod
    def create_id(name: str) -> UUID:
        return source_id(name)

    @event(SourceRegistered)
    def __init__(self, name: str, kind: str, url: str, branch: str | None, actor: str) -> None:
        self.name = name
        self.kind = kind
        self.url = url
        self.branch = branch
        self.last_commit: str | None = None
        self.last_branch: str | None = None
        self.last_counts: dict[str, int] = {}
        self.failure: dict[str, str] | None = None

    def check_same_location(self, url: str) -> None:
        """Refuse reusing a remembered name for another repository."""
        if url != self.url:
            raise SourceConflictError(
                f"source {self.name!r} is already {self.url}; choose another --name for {url}"
            )

    def relocate(self, url: str, branch: str | None, actor: str) -> bool:
        """Follow a configuration change of URL or branch; False when nothing changed."""
        if url == self.url and branch == self.branch:
            return False
        self._relocate(url=url, branch=branch, actor=actor)
        return True

    @property
    def last_synced(self) -> datetime | None:
        """When the last sync was saved; for syncs saved before that was kept, the last event's time."""
        if self.last_commit is None:
            return None
        return self.last_synced_on or self.modified_on

    def suspend(self, actor: str) -> bool:
        """Stop syncing this source; False when it already was suspended."""
        self._check_present()
        if self.suspended:
            return False
        self._suspend(actor=actor)
        return True

    def resume(self, actor: str) -> bool:
        """Let this source be synced again; False when it was not suspended."""
        self._check_present()
        if not self.suspended:
            return False
        self._resume(actor=actor)
        return True

    def remove(self, installed_jobs: int, actor: str) -> None:
        """Remove the source; only one without installed jobs (its jobs and their history stay)."""
        self._check_present()
        if installed_jobs:
            raise SourceStillHasJobsError(self.name, installed_jobs)
        self._remove(actor=actor)

    def rename(self, new_name: str, actor: str) -> None:
        """Hand this source over to ``new_name`` (its jobs must follow in the same save)."""
        self._check_present()
        if new_name == self.name:
            raise SourceConflictError(f"source {self.name!r} already has that name")
        self._rename(new_name=new_name, actor=actor)

    def inherit(self, old: Source, actor: str) -> None:
        """Take over the renamed source ``old``: where it lives, how far it was read, suspended or not."""
        fresh = len(self.pending_events) == self.version  # created now, not yet saved
        if not (fresh or self.removed):
            raise SourceConflictError(f"source name {self.name!r} is taken")
        self._inherit(
            old_name=old.name,
            kind=old.kind,
            url=old.url,
            branch=old.branch,
            last_commit=old.last_commit,
            last_branch=old.last_branch,
            last_counts=dict(old.last_counts),
            last_synced=old.last_synced,
            last_synced_by=old.last_synced_by,
            last_synced_host=old.last_synced_host,
            last_synced_python=old.last_synced_python,
            last_origin=old.last_origin,
            suspended=old.suspended,
            actor=actor,
        )

    def register_again(self, kind: str, url: str, branch: str | None, actor: str) -> None:
        """Bring a removed source back, afresh at ``url``; a name retired by a rename cannot be."""
        if not self.removed:
            return
        if self.renamed_to is not None:
            raise SourceConflictError(
                f"source name {self.name!r} was renamed to {self.renamed_to!r}, and its old job refs "
                f"still name that source's jobs; choose another name"
            )
        self._register_again(kind=kind, url=url, branch=branch, actor=actor)

    def _check_present(self) -> None:
        if self.removed:
            raise SourceConflictError(f"source {self.name!r} was removed")

    @event(SourceSuspended)
    def _suspend(self, actor: str) -> None:
        self.suspended = True

    @event(SourceResumed)
    def _resume(self, actor: str) -> None:
        self.suspended = False

    @event(SourceRemoved)
    def _remove(self, actor: str) -> None:
        self.removed = True

    @event(SourceRenamed)
    def _rename(self, new_name: str, actor: str) -> None:
        self.removed = True
        self.renamed_to = new_name

    @event(SourceInherited)
    def _inherit(
        self,
        old_name: str,
        kind: str,
        url: str,
        branch: str | None,
        last_commit: str | None,
        last_branch: str | None,
        last_counts: dict[str, int],
        last_synced: datetime | None,
        last_synced_by: str | None,
        last_synced_host: str | None,
        last_synced_python: str | None,
        last_origin: CommitInfo | None,
        suspended: bool,
        actor: str,
    ) -> None:
        self.kind = kind
        self.url = url
        self.branch = branch
        self.last_commit = last_commit
        self.last_branch = last_branch
        self.last_counts = dict(last_counts)
        self.last_synced_on = last_synced
        self.last_synced_by = last_synced_by
        self.last_synced_host = last_synced_host
        self.last_synced_python = last_synced_python
        self.last_origin = last_origin
        self.suspended = suspended
        self.failure = None
        self.removed = False
        self.renamed_to = None

    @event(SourceRegisteredAgain)
    def _register_again(self, kind: str, url: str, branch: str | None, actor: str) -> None:
        self.kind = kind
        self.url = url
        self.branch = branch
        self.last_commit = None
        self.last_branch = None
        self.last_counts = {}
        self.last_synced_on = None
        self.failure = None
        self.suspended = False
        self.removed = False
        self.renamed_to = None

    def record_sync(
        self,
        commit: str,
        branch: str,
        counts: dict[str, int],
        actor: str,
        host: str,
        python: str,
        origin: CommitInfo | None = None,
    ) -> None:
        """Remember that ``commit`` was read and saved, where, by which Python, and who made it."""
        self._synced(
            commit=commit,
            branch=branch,
            added=counts.get("added", 0),
            changed=counts.get("changed", 0),
            uninstalled=counts.get("uninstalled", 0),
            reinstalled=counts.get("reinstalled", 0),
            problems=counts.get("problems", 0),
            errors=counts.get("errors"),
            warnings=counts.get("warnings"),
            notes=counts.get("notes"),
            host=host,
            python=python,
            origin=origin,
            actor=actor,
        )

    def record_failure(self, reason: str, message: str, actor: str) -> bool:
        """Remember why the last sync failed; the same failure again is not a new fact."""
        if self.failure == {"reason": reason, "message": message}:
            return False
        self._failed(reason=reason, message=message, actor=actor)
        return True

    @event(SourceSyncFailed)
    def _failed(self, reason: str, message: str, actor: str) -> None:
        self.failure = {"reason": reason, "message": message}

    @event(SourceRelocated)
    def _relocate(self, url: str, branch: str | None, actor: str) -> None:
        self.url = url
        self.branch = branch

    @event(SourceSynced)
    def _synced(
        self,
        commit: str,
        branch: str,
        added: int,
        changed: int,
        uninstalled: int,
        reinstalled: int,
        problems: int,
        errors: int | None,
        warnings: int | None,
        notes: int | None,
        host: str | None,
        python: str | None,
        origin: CommitInfo | None,
        actor: str,
    ) -> None:
        self.last_commit = commit
        self.last_origin = origin
        self.last_branch = branch
        self.last_synced_by = actor
        self.last_synced_host = host
        self.last_synced_python = python
        self.failure = None
        self.last_counts = {
            "added": added,
            "changed": changed,
            "uninstalled": uninstalled,
            "reinstalled": reinstalled,
            "problems": problems,
        }
        for kind, count in (("errors", errors), ("warnings", warnings), ("notes", notes)):
            if count is not None:
                self.last_counts[kind] = count
