"""The PostgreSQL ``schema`` option: a plain name, created when missing, and every table lives in it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from jobsync import Catalog, StoreError
from jobsync.adapters.store import store_settings
from tests.helpers import GitRepo
from tests.postgres import PostgresServer


@pytest.mark.parametrize("schema", ['ops"team', "a;b", "Mixed", "x" * 64, ""])
def test_a_schema_that_is_not_a_plain_name_is_refused_in_one_line(schema: str) -> None:
    with pytest.raises(StoreError, match="option schema must be a plain lower-case name") as caught:
        store_settings("postgresql://u@h/db?schema=" + quote(schema))
    assert "\n" not in str(caught.value)


def test_a_missing_schema_is_created_and_holds_every_table(
    postgres_server: PostgresServer, repo: GitRepo, tmp_path: Path
) -> None:
    database = postgres_server.create_database()
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/a.py", "from nautobot.apps.jobs import Job\n\nclass A(Job):\n    pass\n")
    repo.commit("jobs")
    url = postgres_server.url(database) + "?schema=ops_team"
    with Catalog.open(store=url, state_dir=tmp_path / "state") as catalog:
        catalog.resync(repo.url, name="netops")
        assert [job["ref"] for job in catalog.jobs()] == ["netops:jobs.a.A"]
    with psycopg.connect(postgres_server.url(database)) as connection:
        tables = {
            (schema, table)
            for schema, table in connection.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
        }
    assert {schema for schema, _ in tables} == {"ops_team"}
    assert {"jobs_view", "log_entries", "sources_view", "results_view"} <= {table for _, table in tables}
