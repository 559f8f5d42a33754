"""Read models of the catalog, kept from the notification log exactly once, in the same database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder

from jobsync.domain.job import Job
from jobsync.domain.source import Source

if TYPE_CHECKING:
    from jobsync.app import JobCatalogApp

#: How many notifications one catch-up transaction applies.
BATCH_SIZE = 5000


def facts_digest(facts: dict[str, Any]) -> str:
    """A short fingerprint of a job's source facts, so sync skips loading unchanged jobs."""
    return hashlib.sha1(json.dumps(facts, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class JobRow:
    """What sync needs to know about a job without loading its aggregate."""

    id: UUID
    key: str
    name: str
    name_override: bool
    source_name: str
    installed: bool
    deleted: bool
    digest: str


class CatalogViews(SQLiteTrackingRecorder):
    """The jobs and sources tables, written together with the tracking position."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS jobs_view ("
            "id TEXT PRIMARY KEY, ref TEXT NOT NULL UNIQUE, source TEXT NOT NULL, "
            "module_name TEXT NOT NULL, job_class_name TEXT NOT NULL, name TEXT NOT NULL, "
            "source_name TEXT NOT NULL, name_override INTEGER NOT NULL, grouping TEXT NOT NULL, "
            "installed INTEGER NOT NULL, enabled INTEGER NOT NULL, deleted INTEGER NOT NULL, "
            "overridden INTEGER NOT NULL, digest TEXT NOT NULL, record TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS jobs_view_source ON jobs_view (source, module_name, job_class_name)",
            "CREATE INDEX IF NOT EXISTS jobs_view_name ON jobs_view (name)",
            "CREATE TABLE IF NOT EXISTS sources_view ("
            "name TEXT PRIMARY KEY, id TEXT NOT NULL, record TEXT NOT NULL)",
        ]

    # -- writing -----------------------------------------------------------------------------

    def apply(self, jobs: Sequence[Job], sources: Sequence[Source], tracking: Tracking) -> None:
        """Write the new state of ``jobs`` and ``sources`` and the position, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                "INSERT OR REPLACE INTO jobs_view VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_job_params(job) for job in jobs],
            )
            c.executemany(
                "INSERT OR REPLACE INTO sources_view VALUES (?,?,?)",
                [(s.name, str(s.id), json.dumps(source_record(s))) for s in sources],
            )
            self._insert_tracking(c, tracking)

    # -- reading -----------------------------------------------------------------------------

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(application_name) or 0

    def source_rows(self, source: str) -> list[JobRow]:
        return self._rows("WHERE source = ?", (source,))

    def name_holders(self, names: Iterable[str]) -> dict[str, str]:
        """Which live (not deleted) job holds each of ``names``: name -> ref."""
        wanted = list(set(names))
        found: dict[str, str] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                c.execute(
                    f"SELECT name, ref FROM jobs_view WHERE deleted = 0 AND name IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update({row["name"]: row["ref"] for row in c.fetchall()})
        return found

    def find_jobs(self, ref: str) -> list[dict[str, Any]]:
        """Jobs matching a ref, an id or a name; live jobs first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT record FROM jobs_view WHERE ref = ? OR id = ? OR name = ? ORDER BY deleted, ref",
                (ref, ref, ref),
            )
            return [json.loads(row["record"]) for row in c.fetchall()]

    def list_jobs(self, source: str | None = None, installed: bool | None = True) -> list[dict[str, Any]]:
        clauses = ["deleted = 0"]
        params: list[Any] = []
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        if installed is not None:
            clauses.append("installed = ?")
            params.append(int(installed))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT record FROM jobs_view WHERE {' AND '.join(clauses)} ORDER BY source, grouping, name",
                params,
            )
            return [json.loads(row["record"]) for row in c.fetchall()]

    def list_sources(self) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT record FROM sources_view ORDER BY name")
            return [json.loads(row["record"]) for row in c.fetchall()]

    def _rows(self, where: str, params: Sequence[Any]) -> list[JobRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT id, module_name, job_class_name, name, name_override, source_name, installed, "
                f"deleted, digest FROM jobs_view {where}",
                params,
            )
            return [_job_row(row) for row in c.fetchall()]

    def clear(self, c: SQLiteCursor, application_name: str) -> None:
        """Forget every row and the position, so a replay starts from the first event."""
        c.execute("DELETE FROM jobs_view")
        c.execute("DELETE FROM sources_view")
        c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


def _job_row(row: Any) -> JobRow:
    return JobRow(
        id=UUID(row["id"]),
        key=f"{row['module_name']}.{row['job_class_name']}",
        name=row["name"],
        name_override=bool(row["name_override"]),
        source_name=row["source_name"],
        installed=bool(row["installed"]),
        deleted=bool(row["deleted"]),
        digest=row["digest"],
    )


def _job_params(job: Job) -> tuple[Any, ...]:
    record = job.as_record()
    return (
        record["id"],
        job.ref,
        job.source,
        job.module_name,
        job.job_class_name,
        job.name,
        str(job.source_values["name"]),
        int("name" in job.overrides),
        str(job.value("grouping")),
        int(job.installed),
        int(job.enabled),
        int(job.deleted),
        int(bool(job.overrides)),
        facts_digest(job.facts()),
        json.dumps(record),
    )


def source_record(source: Source) -> dict[str, Any]:
    """A source as ``sources list/show`` print it."""
    return {
        "id": str(source.id),
        "name": source.name,
        "kind": source.kind,
        "url": source.url,
        "branch": source.branch,
        "last_commit": source.last_commit,
        "last_branch": source.last_branch,
        "last_synced": source.modified_on.isoformat() if source.last_commit else None,
        "last_counts": source.last_counts,
        "created": source.created_on.isoformat(),
    }


def catch_up(app: JobCatalogApp, views: CatalogViews) -> int:
    """Apply every notification after the views' position; return how many were applied.

    Events of one aggregate are folded onto its state just before the batch (loaded from the
    store at that version), so a cold catch-up of new aggregates needs no extra reads.
    """
    applied = 0
    position = views.position(app.name)
    while True:
        notifications = app.recorder.select_notifications(
            start=position, limit=BATCH_SIZE, inclusive_of_start=False
        )
        if not notifications:
            return applied
        states: dict[UUID, Any] = {}
        for notification in notifications:
            domain_event = cast("Aggregate.Event", app.mapper.to_domain_event(notification))
            aggregate_id = domain_event.originator_id
            if aggregate_id not in states:
                before = domain_event.originator_version - 1
                states[aggregate_id] = app.repository.get(aggregate_id, version=before) if before else None
            states[aggregate_id] = domain_event.mutate(states[aggregate_id])
        position = notifications[-1].id
        jobs = [s for s in states.values() if isinstance(s, Job)]
        sources = [s for s in states.values() if isinstance(s, Source)]
        try:
            views.apply(jobs, sources, Tracking(app.name, position))
        except IntegrityError:
            # Another process applied these first (its tracking row is ahead): carry on from there.
            position = views.position(app.name)
            continue
        applied += len(notifications)
