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
from jobsync.domain.result import JobResult
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
            "CREATE TABLE IF NOT EXISTS results_view ("
            "id TEXT PRIMARY KEY, job_id TEXT, job_ref TEXT NOT NULL, job_name TEXT NOT NULL, "
            "task TEXT NOT NULL, status TEXT NOT NULL, args TEXT NOT NULL, actor TEXT NOT NULL, "
            "scheduled_job TEXT, created TEXT NOT NULL, started TEXT, completed TEXT, data TEXT)",
            "CREATE INDEX IF NOT EXISTS results_view_job ON results_view (job_id, created)",
            "CREATE INDEX IF NOT EXISTS results_view_created ON results_view (created)",
            "CREATE TABLE IF NOT EXISTS log_entries ("
            "result_id TEXT NOT NULL, version INTEGER NOT NULL, time TEXT NOT NULL, level TEXT NOT NULL, "
            "message TEXT NOT NULL, grouping TEXT NOT NULL, object TEXT NOT NULL, url TEXT NOT NULL, "
            "PRIMARY KEY (result_id, version)) WITHOUT ROWID",
        ]

    # -- writing -----------------------------------------------------------------------------

    def apply(
        self,
        jobs: Sequence[Job],
        sources: Sequence[Source],
        result_events: Sequence[JobResult.Event],
        tracking: Tracking,
    ) -> None:
        """Write the new state of ``jobs``, ``sources``, results and the position, in one transaction."""
        with self.datastore.transaction(commit=True) as c:
            for statement, rows in _grouped(_result_change(e) for e in result_events):
                c.executemany(statement, rows)
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

    def find_results(self, ref: str) -> list[str]:
        """Result ids equal to ``ref`` or starting with it (a unique prefix, as git accepts)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT id FROM results_view WHERE id = ? OR id LIKE ? LIMIT 10",
                (ref, ref.replace("%", "") + "%"),
            )
            return [row["id"] for row in c.fetchall()]

    def list_results(
        self,
        job_id: str | None = None,
        status: str | None = None,
        result_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Results newest first, with ``job`` null once the job is deleted (its ref stays as text)."""
        clauses, params = [], []
        for column, value in (("r.job_id", job_id), ("r.status", status), ("r.id", result_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT r.*, j.deleted AS job_deleted FROM results_view r LEFT JOIN jobs_view j ON j.id = r.job_id "
                f"{where} ORDER BY r.created DESC, r.id LIMIT ?",
                [*params, -1 if limit is None else limit],
            )
            return [_result_record(row) for row in c.fetchall()]

    def log_entries(self, result_id: str, since: int = 0, levels: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Log entries of a result after position ``since``, oldest first; ``seq`` is the position."""
        level_clause = f"AND level IN ({','.join('?' * len(levels))})" if levels else ""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT version, time, level, message, grouping, object, url FROM log_entries "
                f"WHERE result_id = ? AND version > ? {level_clause} ORDER BY version",
                [result_id, since, *levels],
            )
            return [
                {
                    "time": row["time"],
                    "level": row["level"],
                    "message": row["message"],
                    "grouping": row["grouping"],
                    "object": row["object"],
                    "url": row["url"],
                    "seq": row["version"],
                }
                for row in c.fetchall()
            ]

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
        c.execute("DELETE FROM results_view")
        c.execute("DELETE FROM log_entries")
        c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))


def _result_record(row: Any) -> dict[str, Any]:
    live_job = row["job_id"] is not None and row["job_deleted"] == 0
    return {
        "id": row["id"],
        "job": row["job_ref"] if live_job else None,
        "job_ref": row["job_ref"],
        "job_name": row["job_name"],
        "task": row["task"],
        "status": row["status"],
        "args": json.loads(row["args"]),
        "actor": row["actor"],
        "scheduled_job": row["scheduled_job"],
        "created": row["created"],
        "started": row["started"],
        "completed": row["completed"],
        "data": json.loads(row["data"]) if row["data"] is not None else None,
    }


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


_INSERT_RESULT = "INSERT OR IGNORE INTO results_view VALUES (?,?,?,?,?,'pending',?,?,?,?,NULL,NULL,NULL)"
_START_RESULT = "UPDATE results_view SET status = 'running', started = ? WHERE id = ?"
_FINISH_RESULT = "UPDATE results_view SET status = ?, completed = ?, data = ? WHERE id = ?"
_INSERT_LOG = "INSERT OR IGNORE INTO log_entries VALUES (?,?,?,?,?,?,?,?)"


def _result_change(e: JobResult.Event) -> tuple[str, tuple[Any, ...]]:
    """The row change one result event makes; results are simple enough to project event by event."""
    rid = str(e.originator_id)
    when = e.timestamp.isoformat()
    if isinstance(e, JobResult.LogEmitted):
        return _INSERT_LOG, (rid, e.originator_version, when, e.level, e.message, e.grouping, e.object, e.url)
    if isinstance(e, JobResult.ResultRecorded):
        job = str(e.job_id) if e.job_id else None
        args = json.dumps(e.args)
        return _INSERT_RESULT, (rid, job, e.job_ref, e.job_name, e.task, args, e.actor, e.scheduled_job, when)
    if isinstance(e, JobResult.ResultStarted):
        return _START_RESULT, (when, rid)
    if isinstance(e, JobResult.ResultFinished):
        return _FINISH_RESULT, (e.status, when, json.dumps(e.data), rid)
    raise TypeError(f"no projection for {type(e).__qualname__}")


def _grouped(changes: Iterable[tuple[str, tuple[Any, ...]]]) -> Iterable[tuple[str, list[tuple[Any, ...]]]]:
    """Runs of the same statement, in order, so each run is one executemany."""
    current: str | None = None
    rows: list[tuple[Any, ...]] = []
    for statement, params in changes:
        if statement != current and rows:
            assert current is not None
            yield current, rows
            rows = []
        current = statement
        rows.append(params)
    if rows and current is not None:
        yield current, rows


def split_for_views(
    aggregates: Iterable[Any], events: Iterable[Any]
) -> tuple[list[Job], list[Source], list[JobResult.Event]]:
    """Jobs and sources are projected from their state; results from their events."""
    jobs = [a for a in aggregates if isinstance(a, Job)]
    sources = [a for a in aggregates if isinstance(a, Source)]
    result_events = [e for e in events if isinstance(e, JobResult.Event)]
    return jobs, sources, result_events


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
        result_events: list[JobResult.Event] = []
        for notification in notifications:
            domain_event = cast("Aggregate.Event", app.mapper.to_domain_event(notification))
            if isinstance(domain_event, JobResult.Event):
                result_events.append(domain_event)
                continue
            aggregate_id = domain_event.originator_id
            if aggregate_id not in states:
                before = domain_event.originator_version - 1
                states[aggregate_id] = app.repository.get(aggregate_id, version=before) if before else None
            states[aggregate_id] = domain_event.mutate(states[aggregate_id])
        position = notifications[-1].id
        jobs, sources, _ = split_for_views(states.values(), ())
        try:
            views.apply(jobs, sources, result_events, Tracking(app.name, position))
        except IntegrityError:
            # Another process applied these first (its tracking row is ahead): carry on from there.
            position = views.position(app.name)
            continue
        applied += len(notifications)
