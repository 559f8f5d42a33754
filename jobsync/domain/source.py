"""The Source aggregate: where job code lives and how far jobsync has read it."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from jobsync.domain.errors import SourceConflictError
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

    class SourceSyncFailed(Event):
        """A sync could not read the source (``reason`` classifies why); nothing else was saved."""

        reason: str
        message: str

    class SourceRelocated(Event):
        """The configuration moved the source to another URL or branch."""

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
