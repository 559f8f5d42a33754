"""Sensitive variables are never stored, and a result names the code it was meant to run (docs/design.md §3 rule 10).

On both real stores: a marker passed as an arg of a job with sensitive variables must appear in no
byte of the SQLite files and no row of any PostgreSQL table, after the run was recorded, started,
logged and finished; a job without them keeps its args.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg
import pytest

from jobsync import ArgsNotStoredWarning, Catalog, JobNotRunnableError
from tests.helpers import Cli, GitRepo

MARKER = "hunter2-3f9c1e7a-never-stored"

JOBS = """\
from nautobot.apps.jobs import Job


class Rotate(Job):
    class Meta:
        description = "Rotate a device password"
        task_queues = ["secure", "bulk"]


class Report(Job):
    class Meta:
        has_sensitive_variables = False
"""
ROTATE = "netops:jobs.ops.Rotate"
REPORT = "netops:jobs.ops.Report"


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    catalog.resync(repo.url, name="netops")
    catalog.enable(ROTATE)
    catalog.enable(REPORT)
    return catalog


def run_once(catalog: Catalog, ref: str) -> str:
    """Record, start, log and finish one run with the marker in its args; the result id."""
    expected: AbstractContextManager[object] = (
        pytest.warns(ArgsNotStoredWarning) if ref == ROTATE else no_args_warning()
    )
    with expected:
        rid = catalog.record_result(ref, {"device": "rtr1", "password": MARKER})
    catalog.start_result(rid)
    catalog.log(rid, "rotated rtr1")
    catalog.finish_result(rid, "completed", {"ok": True})
    return str(rid)


@contextmanager
def no_args_warning() -> Iterator[None]:
    """Fail on an ArgsNotStoredWarning inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ArgsNotStoredWarning)
        yield


def stored_text(catalog: Catalog, store_url: str, state_dir: Path) -> bytes:
    """Everything the store holds, as bytes: the SQLite files, or every row of every PostgreSQL table."""
    catalog.close()
    if store_url.startswith("sqlite"):
        return b"".join(
            path.read_bytes() for path in state_dir.iterdir() if path.name.startswith("jobsync.db")
        )
    found = b""
    with psycopg.connect(store_url) as connection:
        tables = connection.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            for row in connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                for value in row:
                    found += bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
    return found


class TestNeverStored:
    def test_a_sensitive_jobs_args_are_nowhere_in_the_store(
        self, synced: Catalog, store_url: str, state_dir: Path
    ) -> None:
        """The default (has_sensitive_variables true): the result says args null, not stored; no byte holds them."""
        rid = run_once(synced, ROTATE)
        result = synced.result(rid)
        assert (result["args"], result["args_stored"]) == (None, False)
        assert MARKER.encode() not in stored_text(synced, store_url, state_dir)

    def test_a_job_without_sensitive_variables_keeps_its_args(
        self, synced: Catalog, store_url: str, state_dir: Path
    ) -> None:
        """The control: with has_sensitive_variables false the same marker is stored (so the check can fail)."""
        rid = run_once(synced, REPORT)
        assert synced.result(rid)["args"] == {"device": "rtr1", "password": MARKER}
        assert synced.result(rid)["args_stored"] is True
        assert MARKER.encode() in stored_text(synced, store_url, state_dir)

    def test_the_override_counts_both_ways(self, synced: Catalog) -> None:
        """The effective value decides: an operator may mark a job sensitive, or vouch that it is not."""
        synced.override(REPORT, "has_sensitive_variables", True)
        synced.override(ROTATE, "has_sensitive_variables", False)
        with pytest.warns(ArgsNotStoredWarning, match=r"netops:jobs\.ops\.Report were not stored"):
            report = synced.record_result(REPORT, {"password": MARKER})
        rotate = synced.record_result(ROTATE, {"device": "rtr1"})
        assert synced.result(report)["args"] is None
        assert synced.result(rotate)["args"] == {"device": "rtr1"}

    def test_no_args_no_warning(self, synced: Catalog) -> None:
        """A caller that passes nothing is not warned: there was nothing to drop."""
        with no_args_warning():
            rid = synced.record_result(ROTATE)
        assert synced.result(rid)["args_stored"] is False


class TestRunProvenance:
    def test_a_result_keeps_the_jobs_commit_file_and_queues(self, synced: Catalog, repo: GitRepo) -> None:
        """Which code a run was meant to run, even after the job moved on; and where it may be claimed."""
        job = synced.job(ROTATE)
        rid = synced.record_result(ROTATE)
        repo.write("jobs/ops.py", JOBS.replace("Rotate a device password", "Rotate it"))
        repo.commit("newer")
        synced.resync("netops")
        result = synced.result(rid)
        assert (result["commit"], result["file"]) == (job["commit"], "jobs/ops.py")
        assert synced.job(ROTATE)["commit"] != result["commit"]
        assert result["queues"] == ["secure", "bulk"]
        assert synced.result(synced.record_result(REPORT))["queues"] == ["default"]

    def test_a_queue_must_be_one_of_the_jobs(self, synced: Catalog) -> None:
        assert synced.result(synced.record_result(ROTATE, queue="bulk"))["queues"] == ["bulk"]
        with pytest.raises(
            JobNotRunnableError, match="does not run on queue 'default'; its queues: secure, bulk"
        ):
            synced.record_result(ROTATE, queue="default")


class TestCommand:
    def test_args_given_for_a_sensitive_job_are_dropped_with_one_warning(self, tmp_path: Path) -> None:
        repo = GitRepo(tmp_path / "repo")
        repo.write("jobs/ops.py", JOBS)
        repo.commit("jobs")
        cli = Cli(tmp_path)
        cli.ok("resync", repo.url, "--name", "netops")
        cli.ok("jobs", "enable", ROTATE)
        done = cli.run("results", "record", ROTATE, "--args", f'{{"password": "{MARKER}"}}')
        assert done.returncode == 0, done.stderr
        assert done.stderr.count("warning: ") == 1 and "were not stored" in done.stderr
        assert MARKER not in done.stderr
        shown = cli.json("results", "show", done.stdout.strip())
        assert (shown["args"], shown["args_stored"]) == (None, False)
