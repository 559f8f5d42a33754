"""PostgreSQL specifics, imported only when a ``postgresql://`` store is used (they cost ~0.1 s to import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from jobsync.projections import CatalogViews, Project


class SerialPostgresApplicationRecorder(PostgresApplicationRecorder):
    """eventsourcing's recorder, whose bulk-insert function also takes the table lock.

    Large saves go through eventsourcing's ``es_insert_events`` database function (its default
    insert path hangs on saves of ~2,500 events), but that function does not take the EXCLUSIVE
    table lock the default path takes; without it, notification ids can commit out of order and a
    catch-up reading "greater than the last position" would skip an event committed later.
    """

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        if not datastore.enable_db_functions:
            return
        statement = SQL(
            "CREATE OR REPLACE FUNCTION "
            "{schema}.{insert_events}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint "
            "LANGUAGE plpgsql "
            "AS "
            "$BODY$"
            "BEGIN"
            "    SET LOCAL lock_timeout = '{lock_timeout}s';"
            "    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;"
            "    NOTIFY {channel};"
            "    RETURN QUERY"
            "    INSERT INTO {schema}.{table} AS t ("
            "    originator_id, originator_version, topic, state)"
            "    SELECT originator_id, originator_version, topic, state"
            "    FROM unnest(events)"
            "    RETURNING notification_id;"
            "END;"
            "$BODY$"
        ).format(
            insert_events=Identifier(self.pg_function_name_insert_events),
            lock_timeout=datastore.lock_timeout,
            channel=Identifier(self.channel_name),
            event=Identifier(self.stored_event_type_name),
            schema=Identifier(datastore.schema),
            table=Identifier(self.events_table_name),
        )
        self.sql_create_pg_function_insert_events = statement
        self.sql_create_statements[self.create_insert_function_statement_index] = statement

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert through the database function, and write the read models in the same transaction."""
        project: Project | None = kwargs.get("project")
        if not self.datastore.enable_db_functions or project is None:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        events = [
            self.construct_pg_stored_event(
                originator_id=e.originator_id,
                originator_version=e.originator_version,
                topic=e.topic,
                state=e.state,
            )
            for e in stored_events
        ]
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            curs.execute(self.sql_invoke_pg_function_insert_events, (events,), prepare=True)
            ids = [row[self.pg_function_name_insert_events] for row in curs.fetchall()]
            if ids:
                project(curs, ids)
        return ids


class PostgresCatalogViews(CatalogViews, PostgresTrackingRecorder):
    """The read models in the PostgreSQL schema, next to the events."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = datastore.schema
        self._setup_names(
            lambda table: f"{_quoted(schema)}.{_quoted(table)}",
            f"{_quoted(schema)}.{_quoted(self.tracking_table_name)}",
        )

    def sql(self, statement: str) -> str:
        return super().sql(statement).replace("?", "%s")

    def create_table(self) -> None:
        super().create_table()  # the tracking table first: a schema change clears its row
        self.create_views()


def _quoted(name: str) -> str:
    """An SQL identifier, quoted (store settings only allow plain names; this is the second guard)."""
    return '"' + name.replace('"', '""') + '"'


class PostgresScratchViews(PostgresCatalogViews):
    """A second set of tables that ``replay`` rebuilds from the first event."""

    prefix = "replay_"
