"""The mark a store carries while ``store migrate`` copies into it: a partial log must not pass for a whole one.

``store migrate`` writes the mark before the first event and removes it only after the copy is
verified, so a copy killed at any point leaves it behind. Every other opening of the store is
refused with a line that says how far the copy got and how to resume or start over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from jobsync.adapters.store import redact_password
from jobsync.domain.errors import IncompleteCopyError

#: The marker's table, next to the events (in the store URL's schema on PostgreSQL).
MARKER_TABLE = "jobsync_incomplete_copy"


@dataclass(frozen=True)
class CopyMarker:
    """What a partial copy says about itself."""

    source: str  # the URL copied from, its password redacted
    total: int  # events the source held when the copy last (re)started


def read_marker(recorder: ApplicationRecorder) -> CopyMarker | None:
    """The store's marker, or None for a store no copy is under way into."""
    sql = _Sql.of(recorder)
    with sql.transaction(commit=False) as cursor:
        cursor.execute(sql.exists, (sql.exists_arg,))
        if not cursor.fetchone()["present"]:
            return None
        cursor.execute(f"SELECT source, total FROM {sql.marker}")
        row = cursor.fetchone()
    return CopyMarker(source="?", total=0) if row is None else CopyMarker(row["source"], row["total"])


def write_marker(recorder: ApplicationRecorder, marker: CopyMarker) -> None:
    """Mark the store as holding a partial copy (replacing an earlier marker), in one transaction."""
    sql = _Sql.of(recorder)
    with sql.transaction(commit=True) as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {sql.marker} (source TEXT NOT NULL, total BIGINT NOT NULL)"
        )
        cursor.execute(f"DELETE FROM {sql.marker}")
        cursor.execute(
            f"INSERT INTO {sql.marker} (source, total) VALUES ({sql.mark}, {sql.mark})",
            (marker.source, marker.total),
        )


def remove_marker(recorder: ApplicationRecorder) -> None:
    """The copy is whole and verified: the store may be used."""
    sql = _Sql.of(recorder)
    with sql.transaction(commit=True) as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {sql.marker}")


def stored_event_count(recorder: ApplicationRecorder) -> int:
    """How many events the store holds (PostgreSQL's notification ids have gaps: they are no count)."""
    sql = _Sql.of(recorder)
    with sql.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT COUNT(*) AS n FROM {sql.events}")
        count: int = cursor.fetchone()["n"]
    return count


def incomplete_copy_error(
    url: str, settings: Mapping[str, str], marker: CopyMarker, copied: int
) -> IncompleteCopyError:
    """The one line that refuses a partial copy: how far it got, and the two ways out."""
    target = redact_password(url)
    return IncompleteCopyError(
        f"store {target} holds an incomplete copy from {marker.source} ({copied} of {marker.total} events); "
        f"run 'jobsync store migrate {marker.source} {target}' again to resume, "
        f"or {start_over_hint(settings)} to start over"
    )


def start_over_hint(settings: Mapping[str, str]) -> str:
    """How an operator empties a store made for a copy (a copy goes only into a new, empty store)."""
    if settings.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        return f"delete {settings['SQLITE_DBNAME']}"
    if settings.get("POSTGRES_SCHEMA"):
        return f"drop schema {settings['POSTGRES_SCHEMA']} cascade"
    return f"drop and re-create database {settings['POSTGRES_DBNAME']}"


@dataclass(frozen=True)
class _Sql:
    """The two dialects' differences: table names, parameter marks, and how to ask if a table exists."""

    transaction: Callable[..., AbstractContextManager[Any]]
    marker: str
    events: str
    mark: str
    exists: str
    exists_arg: str

    @classmethod
    def of(cls, recorder: ApplicationRecorder) -> _Sql:
        if isinstance(recorder, SQLiteApplicationRecorder):
            return cls(
                recorder.datastore.transaction,
                MARKER_TABLE,
                recorder.events_table_name,
                "?",
                "SELECT COUNT(*) AS present FROM sqlite_master WHERE type = 'table' AND name = ?",
                MARKER_TABLE,
            )
        from eventsourcing.postgres import PostgresApplicationRecorder  # only a PostgreSQL store gets here

        assert isinstance(recorder, PostgresApplicationRecorder)
        schema = recorder.datastore.schema
        marker = f'"{schema}"."{MARKER_TABLE}"'
        return cls(
            recorder.datastore.transaction,
            marker,
            f'"{schema}"."{recorder.events_table_name}"',
            "%s",
            "SELECT to_regclass(%s) IS NOT NULL AS present",
            marker,
        )
