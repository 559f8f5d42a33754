"""Read models of the catalog, kept from the notification log exactly once, in the same database."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent, TrackingRecorder
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
)

from jobsync.domain.fields import facts_digest
from jobsync.domain.job import Job
from jobsync.domain.planning import JobRow
from jobsync.domain.result import JobResult
from jobsync.domain.schedule import ScheduledJob
from jobsync.domain.source import Source
from jobsync.domain.text import storable
from jobsync.ports import ClaimCandidate, RunningRun, SingletonBusyError, ViewChanges

JOB_SORTS = ("source", "name", "ref", "grouping", "updated")


@dataclass(frozen=True)
class JobQuery:
    """Which jobs ``jobs list`` shows; ``None`` means "don't filter on this"."""

    source: str | None = None
    grouping: str | None = None
    installed: bool | None = True
    enabled: bool | None = None
    overridden: bool | None = None
    search: str | None = None
    sort: str = "source"
    limit: int | None = None


#: Bump when a read-model table changes shape: stores made before are rebuilt from the log on open.
SCHEMA_VERSION = (
    9  # 7: results keep args_stored, commit, file, queues, worker; 8: schedules; 9: results by status
)

_JOB_COLUMNS = (
    "id", "ref", "source", "module_name", "job_class_name", "name", "source_name", "name_override",
    "grouping", "installed", "enabled", "deleted", "overridden", "digest", "search_text", "last_updated", "record",
)  # fmt: skip
_VIEW_TABLES = (
    "CREATE TABLE IF NOT EXISTS {jobs} ("
    "id TEXT PRIMARY KEY, ref TEXT NOT NULL UNIQUE, source TEXT NOT NULL, "
    "module_name TEXT NOT NULL, job_class_name TEXT NOT NULL, name TEXT NOT NULL, "
    "source_name TEXT NOT NULL, name_override INTEGER NOT NULL, grouping TEXT NOT NULL, "
    "installed INTEGER NOT NULL, enabled INTEGER NOT NULL, deleted INTEGER NOT NULL, "
    "overridden INTEGER NOT NULL, digest TEXT NOT NULL, search_text TEXT NOT NULL, "
    "last_updated TEXT NOT NULL, record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {jobs_index}_source ON {jobs} (source, module_name, job_class_name)",
    "CREATE INDEX IF NOT EXISTS {jobs_index}_name ON {jobs} (name)",
    "CREATE TABLE IF NOT EXISTS {sources} (name TEXT PRIMARY KEY, id TEXT NOT NULL, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {results} ("
    "id TEXT PRIMARY KEY, job_id TEXT, job_ref TEXT NOT NULL, job_name TEXT NOT NULL, "
    "task TEXT NOT NULL, status TEXT NOT NULL, args TEXT NOT NULL, actor TEXT NOT NULL, "
    "scheduled_job TEXT, created TEXT NOT NULL, started TEXT, completed TEXT, data TEXT, "
    "args_stored INTEGER NOT NULL, commit_sha TEXT, file TEXT, queues TEXT NOT NULL, "
    "ignore_singleton INTEGER NOT NULL, worker TEXT, heartbeat TEXT)",
    "CREATE INDEX IF NOT EXISTS {results_index}_job ON {results} (job_id, created)",
    "CREATE INDEX IF NOT EXISTS {results_index}_created ON {results} (created)",
    "CREATE INDEX IF NOT EXISTS {results_index}_status ON {results} (status, created)",
    "CREATE INDEX IF NOT EXISTS {results_index}_job_status ON {results} (job_id, status)",
    "CREATE TABLE IF NOT EXISTS {logs} ("
    "result_id TEXT NOT NULL, version INTEGER NOT NULL, time TEXT NOT NULL, level TEXT NOT NULL, "
    "message TEXT NOT NULL, grouping TEXT NOT NULL, object TEXT NOT NULL, url TEXT NOT NULL, "
    "PRIMARY KEY (result_id, version))",
    "CREATE TABLE IF NOT EXISTS {schedules} ("
    "id TEXT PRIMARY KEY, name TEXT NOT NULL, job_id TEXT, job_ref TEXT NOT NULL, "
    "enabled INTEGER NOT NULL, deleted INTEGER NOT NULL, next_run TEXT, record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {schedules_index}_name ON {schedules} (name)",
    "CREATE INDEX IF NOT EXISTS {schedules_index}_job ON {schedules} (job_id)",
)


class NameTakenError(IntegrityError):
    """A save would give a live job a name another live job holds; the save is rolled back."""


#: What a save passes its recorder to write the read models in the save's own transaction: it is
#: called with the recorder's cursor and the notification ids just inserted.
Project = Callable[[Any, Sequence[int]], None]


class CatalogViews(TrackingRecorder):
    """The jobs, sources, results and log-entry tables, written together with the tracking position.

    The SQL is written once, with ``?`` placeholders and ``{table}`` names; a subclass per
    database (SQLite, PostgreSQL) says how to spell them and which eventsourcing tracking
    recorder keeps the position. ``prefix`` names a second, scratch set of tables for ``replay``;
    each set tracks its own position under its own name.
    """

    prefix = ""
    datastore: Any
    names: dict[str, str]
    tracking_name: str

    # -- spelling, per database ----------------------------------------------------------------

    def _setup_names(self, qualify: Callable[[str], str], tracking_table: str) -> None:
        tables = {
            "jobs": f"{self.prefix}jobs_view",
            "sources": f"{self.prefix}sources_view",
            "results": f"{self.prefix}results_view",
            "logs": f"{self.prefix}log_entries",
            "schedules": f"{self.prefix}schedules_view",
        }
        self.names = {key: qualify(table) for key, table in tables.items()}
        self._format = {
            **self.names,
            "jobs_index": f"{self.prefix}jobs_view",
            "results_index": f"{self.prefix}results_view",
            "schedules_index": f"{self.prefix}schedules_view",
            "tracking": tracking_table,
            "schema_table": qualify("projection_schema"),
        }
        self.tracking_name = f"jobsync{':' + self.prefix.rstrip('_') if self.prefix else ''}"

    def sql(self, statement: str) -> str:
        """``statement`` with its ``{table}`` names for this set (and placeholders for this database)."""
        return statement.format_map(self._format)

    def _move_position(self, c: Any, start: int, position: int) -> bool:
        """Move the tracking position from ``start`` to ``position``; False if it is not at ``start``.

        A compare-and-set, written first so the transaction takes the write lock at once: if
        another process applied any of these events since this batch was read, the position is
        no longer ``start`` and nothing of the batch may be written -- applied exactly once.
        """
        c.execute(
            self.sql(
                "UPDATE {tracking} SET notification_id = ? WHERE application_name = ? AND notification_id = ? "
                "RETURNING notification_id"
            ),
            (position, self.tracking_name, start),
        )
        if c.fetchone() is not None:
            return True
        if start == 0:
            c.execute(
                self.sql(
                    "INSERT INTO {tracking} VALUES (?, ?) ON CONFLICT (application_name) DO NOTHING "
                    "RETURNING notification_id"
                ),
                (self.tracking_name, position),
            )
            if c.fetchone() is not None:
                return True
        return False

    # -- tables --------------------------------------------------------------------------------

    def create_views(self) -> None:
        """Create the tables; if they were made by another schema version, drop them first.

        Read models are derived data: after an upgrade that changes their shape they are rebuilt
        from the log by the next catch-up, rather than migrated.
        """
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                self.sql(
                    "CREATE TABLE IF NOT EXISTS {schema_table} (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
            )
            c.execute(self.sql("SELECT version FROM {schema_table} WHERE name = ?"), (self.tracking_name,))
            row = c.fetchone()
            if row is not None and row["version"] == SCHEMA_VERSION:
                # Current: no DDL. CREATE INDEX, even IF NOT EXISTS, takes a share lock on its table
                # first; two of them in one transaction deadlock with a daemon saving meanwhile.
                return
            for table in self.names.values():
                c.execute(f"DROP TABLE IF EXISTS {table}")
            c.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (self.tracking_name,))
            c.execute(self.sql("DELETE FROM {schema_table} WHERE name = ?"), (self.tracking_name,))
            c.execute(
                self.sql("INSERT INTO {schema_table} VALUES (?, ?)"), (self.tracking_name, SCHEMA_VERSION)
            )
            for statement in _VIEW_TABLES:
                c.execute(self.sql(statement))

    # -- writing -----------------------------------------------------------------------------

    def apply(self, changes: ViewChanges, start: int, position: int) -> None:
        """Write the new state of jobs, sources, results and the position, in one transaction.

        ``start`` is the position this batch was read after; if another process moved it
        meanwhile, nothing is written (IntegrityError), so no event is ever applied twice.
        """
        with self.datastore.transaction(commit=True) as c:
            if not self._move_position(c, start, position):
                raise IntegrityError(
                    f"{self.tracking_name} moved past {start} while this batch was applied elsewhere"
                )
            self._write(c, changes)

    def apply_within(self, cursor: Any, changes: ViewChanges, start: int, position: int) -> bool:
        """The same, inside the transaction that saves the events (``cursor`` is the recorder's).

        Saved means projected: both commit or neither does. Returns False, writing nothing, when
        the views are not at ``start`` (a catch-up after the commit applies them). A live job's
        new name held by another live job raises NameTakenError, which rolls the save back: names
        stay unique even between processes racing to take the same one.
        """
        self._check_singletons_free(cursor, changes.result_events)
        if not self._move_position(cursor, start, position):
            return False
        self._check_names_free(cursor, changes.jobs)
        self._write(cursor, changes)
        return True

    def _check_names_free(self, c: Any, jobs: Sequence[Job]) -> None:
        """Refuse a save that gives a live job a name another live job holds (checked under the write lock)."""
        live = {str(job.id): job.name for job in jobs if not job.deleted}
        if not live:
            return
        ids = list(live)
        unchanged: set[str] = set()
        for chunk in _chunks(ids):
            c.execute(
                self.sql("SELECT id, name FROM {jobs} WHERE id IN (" + ",".join("?" * len(chunk)) + ")"),
                chunk,
            )
            unchanged.update(row["id"] for row in c.fetchall() if live[row["id"]] == row["name"])
        # Only names that change are checked: two jobs an older version let share one keep syncing.
        taking: dict[str, str] = {}
        for ident, name in live.items():
            if ident in unchanged:
                continue
            if name in taking:
                raise NameTakenError(f"name {name!r} given to two jobs in one save")
            taking[name] = ident
        names = list(taking)
        for chunk in _chunks(names):
            c.execute(
                self.sql(
                    "SELECT id, name, ref FROM {jobs} WHERE deleted = 0 AND name IN ("
                    + ",".join("?" * len(chunk))
                    + ")"
                ),
                chunk,
            )
            for row in c.fetchall():
                if live.get(row["id"], row["name"]) == row["name"] and row["id"] != taking[row["name"]]:
                    raise NameTakenError(f"name {row['name']!r} is already used by {row['ref']}")

    def _check_singletons_free(self, c: Any, events: Sequence[JobResult.Event]) -> None:
        """Refuse an exclusive claim while another run of the same job runs (checked under the write lock)."""
        for e in events:
            if isinstance(e, JobResult.ResultClaimed) and e.exclusive:
                c.execute(
                    self.sql(
                        "SELECT o.id FROM {results} r JOIN {results} o ON o.job_id = r.job_id "
                        "WHERE r.id = ? AND o.status = 'running' AND o.id <> r.id LIMIT 1"
                    ),
                    (str(e.originator_id),),
                )
                if c.fetchone() is not None:
                    raise SingletonBusyError(f"result {e.originator_id}: another run of its job is running")

    def _write(self, c: Any, changes: ViewChanges) -> None:
        """The rows one batch changes; text no database can keep is written in its safe form."""
        for statement, rows in _grouped(_result_change(e) for e in changes.result_events):
            c.executemany(self.sql(statement), [_storable_row(row) for row in rows])
        if changes.schedules:
            c.executemany(
                self.sql(_UPSERT_SCHEDULE), [_storable_row(_schedule_params(s)) for s in changes.schedules]
            )
        # A deleted job's results and schedules keep its ref and name as text but no longer point
        # at it, even if a later sync brings a job of the same ref back (a new job, as in Nautobot).
        if changes.deletions:
            c.executemany(
                self.sql("UPDATE {results} SET job_id = NULL WHERE job_id = ? AND created <= ?"),
                changes.deletions,
            )
            c.executemany(
                self.sql("UPDATE {schedules} SET job_id = NULL WHERE job_id = ?"),
                [(job,) for job, _ in changes.deletions],
            )
        if changes.jobs:
            c.executemany(self.sql(_UPSERT_JOB), [_storable_row(_job_params(job)) for job in changes.jobs])
        # A removed (or renamed-away) source is listed no more; its jobs keep their rows.
        gone = [s for s in changes.sources if s.removed]
        if gone:
            c.executemany(self.sql("DELETE FROM {sources} WHERE name = ?"), [(s.name,) for s in gone])
        listed = [s for s in changes.sources if not s.removed]
        if listed:
            c.executemany(
                self.sql(
                    "INSERT INTO {sources} VALUES (?,?,?) "
                    "ON CONFLICT (name) DO UPDATE SET id = excluded.id, record = excluded.record"
                ),
                [_storable_row((s.name, str(s.id), json.dumps(source_record(s)))) for s in listed],
            )

    def reset(self) -> None:
        """Forget every row and the position, so the next catch-up starts from the first event."""
        with self.datastore.transaction(commit=True) as c:
            for table in self.names.values():
                c.execute(f"DELETE FROM {table}")
            c.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (self.tracking_name,))

    def take_over(self, rebuilt: CatalogViews) -> None:
        """Replace every row and the position with those of ``rebuilt``, in one transaction."""
        position = rebuilt.position()
        with self.datastore.transaction(commit=True) as c:
            for key, table in self.names.items():
                c.execute(f"DELETE FROM {table}")
                c.execute(f"INSERT INTO {table} SELECT * FROM {rebuilt.names[key]}")
            c.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (self.tracking_name,))
            c.execute(self.sql("INSERT INTO {tracking} VALUES (?, ?)"), (self.tracking_name, position))

    def differences(self, other: CatalogViews, limit: int = 20) -> tuple[int, int, list[str]]:
        """Rows that differ between two sets, read in one transaction: (my position, theirs, descriptions)."""
        found: list[str] = []
        with self.datastore.transaction(commit=False) as c:
            positions = []
            for views in (self, other):
                c.execute(
                    self.sql("SELECT notification_id FROM {tracking} WHERE application_name = ?"),
                    (views.tracking_name,),
                )
                row = c.fetchone()
                positions.append(row["notification_id"] if row else 0)
            for key, table in self.names.items():
                theirs = other.names[key]
                c.execute(self.sql(f"SELECT * FROM {table} EXCEPT SELECT * FROM {theirs} LIMIT ?"), (limit,))
                live = {_row_key(key, row): row for row in c.fetchall()}
                c.execute(self.sql(f"SELECT * FROM {theirs} EXCEPT SELECT * FROM {table} LIMIT ?"), (limit,))
                rebuilt = {_row_key(key, row): row for row in c.fetchall()}
                plain = table.rsplit(".", 1)[-1].strip('"')  # without the PostgreSQL schema
                for row_key in sorted(live.keys() | rebuilt.keys()):
                    found.append(f"{plain} {row_key}: {_compare(live.get(row_key), rebuilt.get(row_key))}")
        return positions[0], positions[1], found[:limit]

    def drop(self) -> None:
        """Remove this set of tables (a scratch set, after a verify)."""
        with self.datastore.transaction(commit=True) as c:
            for table in self.names.values():
                c.execute(f"DROP TABLE IF EXISTS {table}")
            c.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (self.tracking_name,))
            c.execute(self.sql("DELETE FROM {schema_table} WHERE name = ?"), (self.tracking_name,))

    # -- reading -----------------------------------------------------------------------------

    def position(self) -> int:
        """The last log position applied to this set of tables (0 before the first)."""
        return self.max_tracking_id(self.tracking_name) or 0

    def source_rows(self, source: str, modules: Collection[str] | None = None) -> list[JobRow]:
        """The jobs of ``source``, or of these ``modules`` of it (an incremental sync plans no others)."""
        select = (
            "SELECT id, module_name, job_class_name, name, name_override, source_name, installed, "
            "deleted, digest FROM {jobs} WHERE source = ?"
        )
        with self.datastore.transaction(commit=False) as c:
            if modules is None:
                c.execute(self.sql(select), (source,))
                return [_job_row(row) for row in c.fetchall()]
            wanted = sorted(modules)
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(self.sql(f"{select} AND module_name IN ({marks})"), (source, *chunk))
                rows += [_job_row(row) for row in c.fetchall()]
            return rows

    def installed_count(self, source: str) -> int:
        """How many live jobs of ``source`` are installed: what the mass-uninstall guard weighs a sync against."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT COUNT(*) AS n FROM {jobs} WHERE source = ? AND installed = 1 AND deleted = 0"
                ),
                (source,),
            )
            row = c.fetchone()
        return int(row["n"]) if row is not None else 0

    def name_holders(self, names: Iterable[str]) -> dict[str, str]:
        """Which live (not deleted) job holds each of ``names``: name -> ref."""
        wanted = list(set(names))
        found: dict[str, str] = {}
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                c.execute(
                    self.sql("SELECT name, ref FROM {jobs} WHERE deleted = 0 AND name IN (" + marks + ")"),
                    chunk,
                )
                found.update({row["name"]: row["ref"] for row in c.fetchall()})
        return found

    def find_jobs(self, ref: str) -> list[dict[str, Any]]:
        """Jobs matching a ref, an id or a name; live jobs first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT record FROM {jobs} WHERE ref = ? OR id = ? OR name = ? ORDER BY deleted, ref"
                ),
                (ref, ref, ref),
            )
            return [json.loads(row["record"]) for row in c.fetchall()]

    def list_jobs(self, query: JobQuery) -> list[dict[str, Any]]:
        """Live (not deleted) jobs matching ``query``, as records, in the order it asks for."""
        return [json.loads(text) for text in self.list_job_texts(query)]

    def list_job_texts(self, query: JobQuery) -> list[str]:
        """The same records as stored JSON text, for a caller that only prints them."""
        clauses = ["deleted = 0"]
        params: list[Any] = []
        for column, value in (
            ("source", query.source),
            ("grouping", query.grouping),
            ("installed", query.installed),
            ("enabled", query.enabled),
            ("overridden", query.overridden),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(int(value) if isinstance(value, bool) else value)
        if query.search:
            clauses.append("search_text LIKE ? ESCAPE '!'")
            pattern = query.search.casefold().replace("!", "!!").replace("%", "!%").replace("_", "!_")
            params.append(f"%{pattern}%")
        order = {
            "name": "name, ref",
            "ref": "ref",
            "source": "source, grouping, name",
            "grouping": "grouping, name",
            "updated": "last_updated DESC, ref",
        }[query.sort]
        limit = "" if query.limit is None else f" LIMIT {int(query.limit)}"
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT record FROM {jobs} WHERE " + " AND ".join(clauses) + f" ORDER BY {order}{limit}"
                ),
                params,
            )
            return [row["record"] for row in c.fetchall()]

    def job_sources(self) -> list[str]:
        """Every source name some job carries (a removed source's jobs stay, and keep its name)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql("SELECT DISTINCT source FROM {jobs}"))
            return [row["source"] for row in c.fetchall()]

    def list_sources(self) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.sql("SELECT record FROM {sources} ORDER BY name"))
            return [json.loads(row["record"]) for row in c.fetchall()]

    def list_schedules(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Live (not deleted) schedules by name, with ``job`` null once their job is deleted."""
        where, params = ("AND job_id = ?", (job_id,)) if job_id is not None else ("", ())
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(f"SELECT * FROM {{schedules}} WHERE deleted = 0 {where} ORDER BY name, id"), params
            )
            return [_schedule_record(row) for row in c.fetchall()]

    def find_schedules(self, ref: str) -> list[dict[str, Any]]:
        """Live schedules whose id or name is ``ref``."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql("SELECT * FROM {schedules} WHERE deleted = 0 AND (id = ? OR name = ?) ORDER BY id"),
                (ref, ref),
            )
            return [_schedule_record(row) for row in c.fetchall()]

    def schedule_ids_of_job(self, job_id: str, job_ref: str) -> list[str]:
        """Every schedule ever made for a job (deleted ones too): its history shows their events."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql("SELECT id FROM {schedules} WHERE job_id = ? OR (job_id IS NULL AND job_ref = ?)"),
                (job_id, job_ref),
            )
            return [row["id"] for row in c.fetchall()]

    def due_schedules(self, now: datetime) -> list[str]:
        """Ids of enabled live schedules whose next run is at or before ``now``, the most overdue first."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT id FROM {schedules} WHERE enabled = 1 AND deleted = 0 AND job_id IS NOT NULL "
                    "AND next_run <= ? ORDER BY next_run, id"
                ),
                (sortable_time(now),),
            )
            return [row["id"] for row in c.fetchall()]

    def running_syncs(self, source: str) -> list[tuple[UUID, object]]:
        """The sync results of ``source`` still running: (result id, args)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT id, args FROM {results} WHERE task = 'sync' AND job_ref = ? AND status = 'running'"
                ),
                (source,),
            )
            return [(UUID(row["id"]), json.loads(row["args"])) for row in c.fetchall()]

    def claimable(
        self, queue: str, limit: int, skip: Collection[str] = (), skip_jobs: Collection[str] = ()
    ) -> list[ClaimCandidate]:
        """Pending job runs a worker of ``queue`` may claim, oldest first, less the ``skip``ped ones."""
        pattern = json.dumps(queue).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses, params = "", [f"%{pattern}%"]
        if skip:
            clauses += f" AND r.id NOT IN ({','.join('?' * len(skip))})"
            params.extend(skip)
        if skip_jobs:
            clauses += f" AND (r.job_id IS NULL OR r.job_id NOT IN ({','.join('?' * len(skip_jobs))}))"
            params.extend(skip_jobs)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT r.id, r.job_id, r.queues, r.ignore_singleton, j.record, "
                    "EXISTS (SELECT 1 FROM {results} o WHERE o.job_id = r.job_id AND o.status = 'running') "
                    "AS busy FROM {results} r LEFT JOIN {jobs} j ON j.id = r.job_id "
                    "WHERE r.status = 'pending' AND r.task = 'job' AND r.queues LIKE ? ESCAPE '\\'"
                    + clauses
                    + f" ORDER BY r.created, r.id LIMIT {int(limit)}"
                ),
                params,
            )
            rows = c.fetchall()
        # LIKE only narrows (SQLite's ignores case): the queue must be one of the run's, exactly.
        return [
            ClaimCandidate(
                id=UUID(row["id"]),
                job_id=row["job_id"],
                exclusive=not row["ignore_singleton"]
                and row["record"] is not None
                and bool(json.loads(row["record"]).get("is_singleton")),
                busy=bool(row["busy"]),
            )
            for row in rows
            if queue in json.loads(row["queues"])
        ]

    def running_runs(self) -> list[RunningRun]:
        """Job runs still running, with when they were last heard of and their job's time limit."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT r.id, r.started, r.heartbeat, j.record, "
                    "(SELECT l.time FROM {logs} l WHERE l.result_id = r.id ORDER BY l.version DESC LIMIT 1) "
                    "AS last_log FROM {results} r LEFT JOIN {jobs} j ON j.id = r.job_id "
                    "WHERE r.status = 'running' AND r.task = 'job' ORDER BY r.created"
                )
            )
            rows = c.fetchall()
        runs = []
        for row in rows:
            seen = [
                datetime.fromisoformat(t) for t in (row["started"], row["heartbeat"], row["last_log"]) if t
            ]
            limit = json.loads(row["record"]).get("time_limit", 0) if row["record"] is not None else 0
            started = datetime.fromisoformat(row["started"]) if row["started"] else None
            runs.append(
                RunningRun(
                    id=UUID(row["id"]),
                    started=started,
                    last_seen=max(seen) if seen else None,
                    time_limit=float(limit or 0),
                )
            )
        return runs

    def find_results(self, ref: str) -> list[str]:
        """Result ids equal to ``ref`` or starting with it (a unique prefix, as git accepts)."""
        with self.datastore.transaction(commit=False) as c:
            # A range on the primary key (ids are lower-case hex and '-', all below '~') uses its index.
            c.execute(
                self.sql("SELECT id FROM {results} WHERE id >= ? AND id < ? ORDER BY id LIMIT 10"),
                (ref, ref + "~"),
            )
            return [row["id"] for row in c.fetchall()]

    def list_results(
        self,
        job_id: str | None = None,
        status: str | None = None,
        result_id: str | None = None,
        limit: int | None = None,
        detached_ref: str | None = None,
    ) -> list[dict[str, Any]]:
        """Results newest first, with ``job`` null once the job is deleted (its ref stays as text)."""
        clauses, params = [], []
        if detached_ref is not None:
            clauses.append("r.job_id IS NULL AND r.task = 'job' AND r.job_ref = ?")
            params.append(detached_ref)
        for column, value in (("r.job_id", job_id), ("r.status", status), ("r.id", result_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        bound = "" if limit is None else f" LIMIT {int(limit)}"
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql("SELECT r.* FROM {results} r " + where + " ORDER BY r.created DESC, r.id" + bound),
                params,
            )
            return [_result_record(row) for row in c.fetchall()]

    def log_entries(self, result_id: str, since: int = 0, levels: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Log entries of a result after position ``since``, oldest first; ``seq`` is the position."""
        level_clause = f"AND level IN ({','.join('?' * len(levels))})" if levels else ""
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                self.sql(
                    "SELECT version, time, level, message, grouping, object, url FROM {logs} "
                    f"WHERE result_id = ? AND version > ? {level_clause} ORDER BY version"
                ),
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


_UPSERT_JOB = (
    f"INSERT INTO {{jobs}} ({', '.join(_JOB_COLUMNS)}) VALUES ({','.join('?' * len(_JOB_COLUMNS))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _JOB_COLUMNS[1:])}"
)


_SCHEDULE_COLUMNS = ("id", "name", "job_id", "job_ref", "enabled", "deleted", "next_run", "record")
#: A schedule keeps ``job_id`` null once its job was deleted (set by the deletion, never set back).
_UPSERT_SCHEDULE = (
    f"INSERT INTO {{schedules}} ({', '.join(_SCHEDULE_COLUMNS)}) VALUES ({','.join('?' * len(_SCHEDULE_COLUMNS))}) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
    "job_id = CASE WHEN {schedules}.job_id IS NULL THEN NULL ELSE excluded.job_id END, "
    "job_ref = excluded.job_ref, enabled = excluded.enabled, deleted = excluded.deleted, "
    "next_run = excluded.next_run, record = excluded.record"
)


def schedule_record(schedule: ScheduledJob) -> dict[str, Any]:
    """A schedule with the keys of docs/design.md §6 (``job`` is its job's ref; the read model nulls it on deletion)."""
    return {
        "id": str(schedule.id),
        "name": schedule.name,
        "job": schedule.job_ref,
        "job_name": schedule.job_name,
        "args": schedule.args,
        "queue": schedule.queue,
        "interval": schedule.interval,
        "crontab": schedule.crontab or None,
        "start_time": schedule.start_time.isoformat(),
        "time_zone": schedule.time_zone,
        "enabled": schedule.enabled,
        "approved_by": schedule.approved_by,
        "next_run": _iso(schedule.next_run),
        "last_run": _iso(schedule.last_run),
        "total_run_count": schedule.total_run_count,
        "actor": schedule.created_by,
        "created": schedule.created_on.isoformat(),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def sortable_time(moment: datetime) -> str:
    """A moment as fixed-width UTC text (``2030-03-04T02:00:00.000000Z``), so that comparing the text,
    under any database collation, compares the moments (ISO-8601 drops zero microseconds)."""
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z"


def _schedule_params(schedule: ScheduledJob) -> tuple[Any, ...]:
    return (
        str(schedule.id),
        schedule.name,
        str(schedule.job_id),
        schedule.job_ref,
        int(schedule.enabled),
        int(schedule.deleted),
        sortable_time(schedule.next_run) if schedule.next_run is not None else None,
        json.dumps(schedule_record(schedule)),
    )


def _schedule_record(row: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(row["record"])
    record["job"] = row["job_ref"] if row["job_id"] is not None else None
    return record


class ProjectingSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's recorder, letting a save write the read models in its own transaction."""

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        project: Project | None = kwargs.get("project")
        if project is not None and ids:
            project(c, ids)
        return ids


class SQLiteCatalogViews(CatalogViews, SQLiteTrackingRecorder):
    """The read models in the SQLite file, next to the events."""

    def __init__(self, datastore: SQLiteDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self._setup_names(lambda table: table, "tracking")

    def create_table(self) -> None:
        super().create_table()  # the tracking table first: a schema change clears its row
        self.create_views()


class SQLiteScratchViews(SQLiteCatalogViews):
    """A second set of tables that ``replay`` rebuilds from the first event."""

    prefix = "replay_"


_KEY_COLUMNS = {
    "jobs": ("id",),
    "sources": ("name",),
    "results": ("id",),
    "logs": ("result_id", "version"),
    "schedules": ("id",),
}


def _row_key(table: str, row: Any) -> str:
    return " ".join(f"{column}={row[column]}" for column in _KEY_COLUMNS[table])


def _compare(live: Any, rebuilt: Any) -> str:
    """One line saying how a live row differs from the rebuilt one (cells shortened)."""
    if rebuilt is None:
        return "in the live view but not in the log"
    if live is None:
        return "missing from the live view"
    return (
        ", ".join(
            f"{column}: live {_short(live[column])} != rebuilt {_short(rebuilt[column])}"
            for column in live.keys()  # noqa: SIM118 - sqlite3.Row has keys() but is not a mapping
            if live[column] != rebuilt[column] and column != "record"
        )
        or "record: the stored JSON differs"
    )


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _result_record(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "job": row["job_ref"] if row["job_id"] is not None else None,
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
        "args_stored": bool(row["args_stored"]),
        "worker": row["worker"],
        "commit": row["commit_sha"],
        "file": row["file"],
        "queues": json.loads(row["queues"]),
        "ignore_singleton": bool(row["ignore_singleton"]),
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
        f"{job.name}\n{job.value('description')}".casefold(),  # SQLite's lower() folds ASCII only
        record["last_updated"],
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
        "last_synced": source.last_synced.isoformat() if source.last_synced is not None else None,
        "last_synced_by": source.last_synced_by,
        "last_synced_host": source.last_synced_host,
        "last_synced_python": source.last_synced_python,
        "last_counts": source.last_counts,
        # Suspended wins: a suspended source is not synced, so its last failure is no news.
        "status": "suspended" if source.suspended else "failing" if source.failure else "ok",
        "last_error": source.failure["message"] if source.failure else None,
        "last_reason": source.failure["reason"] if source.failure else None,
        "created": source.created_on.isoformat(),
    }


_INSERT_RESULT = (
    "INSERT INTO {results} VALUES (?,?,?,?,?,'pending',?,?,?,?,NULL,NULL,NULL,?,?,?,?,?,NULL,NULL) "
    "ON CONFLICT (id) DO NOTHING"
)
_START_RESULT = "UPDATE {results} SET status = 'running', started = ? WHERE id = ?"
_CLAIM_RESULT = "UPDATE {results} SET status = 'running', started = ?, heartbeat = ?, worker = ? WHERE id = ?"
_HEARTBEAT_RESULT = "UPDATE {results} SET heartbeat = ? WHERE id = ?"
_FINISH_RESULT = "UPDATE {results} SET status = ?, completed = ?, data = ? WHERE id = ?"
_INSERT_LOG = "INSERT INTO {logs} VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (result_id, version) DO NOTHING"


def _result_change(e: JobResult.Event) -> tuple[str, tuple[Any, ...]]:
    """The row change one result event makes; results are simple enough to project event by event."""
    rid = str(e.originator_id)
    when = e.timestamp.isoformat()
    if isinstance(e, JobResult.LogEmitted):
        return _INSERT_LOG, (rid, e.originator_version, when, e.level, e.message, e.grouping, e.object, e.url)
    if isinstance(e, JobResult.ResultRecorded):
        job = str(e.job_id) if e.job_id else None
        args = json.dumps(e.args)
        return _INSERT_RESULT, (
            *(rid, job, e.job_ref, e.job_name, e.task, args, e.actor, e.scheduled_job, when),
            *(int(e.args_stored), e.commit, e.file, json.dumps(e.queues), int(e.ignore_singleton)),
        )
    if isinstance(e, JobResult.ResultStarted):
        return _START_RESULT, (when, rid)
    if isinstance(e, JobResult.ResultClaimed):
        return _CLAIM_RESULT, (when, when, e.worker, rid)
    if isinstance(e, JobResult.ResultHeartbeat):
        return _HEARTBEAT_RESULT, (when, rid)
    if isinstance(e, JobResult.ResultFinished):
        return _FINISH_RESULT, (e.status, when, json.dumps(e.data), rid)
    raise TypeError(f"no projection for {type(e).__qualname__}")


def _storable_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A row whose text every database keeps: events written before text was checked at the
    boundary may hold a NUL or a lone surrogate, and one such value must never wedge the views."""
    return tuple(_storable_text(value) if isinstance(value, str) else value for value in row)


def _storable_text(text: str) -> str:
    """``text`` in a form every database keeps; ASCII without NUL (nearly all of it) costs no regex."""
    return text if text.isascii() and "\x00" not in text else storable(text)[0]


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """Slices small enough for one ``IN (...)`` on every database."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
