"""A save and the read-model update it causes commit together, on both stores (issue 12, item 5).

The read models are refused writes with a database trigger -- the way a full disk or a value the
database cannot keep refused them -- and the tests check what the log and the caller are told.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from jobsync import Catalog, FieldError, StoreError
from jobsync.domain.errors import ReadModelBehindWarning
from jobsync.domain.result import JobResult
from tests.conftest import run_sql
from tests.helpers import GitRepo

REF = "netops:jobs.backup.Backup"
OTHER = "netops:jobs.backup.Restore"


JOBS = "from nautobot.apps.jobs import Job\n\nclass Backup(Job):\n    pass\n\nclass Restore(Job):\n    pass\n"


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", JOBS)
    repo.commit("jobs")
    catalog.resync(repo.url, name="netops")
    catalog.enable(REF)
    return catalog


def refuse_writes_to(catalog: Catalog, table: str) -> None:
    """Triggers that make every write to one read-model table fail (not as a constraint: as a full disk)."""
    if catalog.store_label.startswith("sqlite"):
        for verb in ("INSERT", "UPDATE"):
            run_sql(
                catalog,
                f"CREATE TRIGGER refuse_{verb} BEFORE {verb} ON {{{table}}} "
                "BEGIN INSERT INTO refused_by_the_test VALUES (1); END",
            )
        return
    run_sql(
        catalog,
        "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
    )
    run_sql(
        catalog,
        f"CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON {{{table}}} FOR EACH ROW EXECUTE FUNCTION refuse()",
    )


def allow_writes_to(catalog: Catalog, table: str) -> None:
    if catalog.store_label.startswith("sqlite"):
        run_sql(catalog, "DROP TRIGGER refuse_INSERT")
        run_sql(catalog, "DROP TRIGGER refuse_UPDATE")
    else:
        run_sql(catalog, f"DROP TRIGGER refuse ON {{{table}}}")


class TestSavedMeansProjected:
    def test_a_write_the_read_models_refuse_is_not_saved_either(self, synced: Catalog) -> None:
        result = synced.record_result(REF, args={})
        before = synced.event_count()
        refuse_writes_to(synced, "logs")
        with pytest.raises(StoreError, match="refused"):
            synced.log(result, "device said hello")
        assert synced.event_count() == before  # a caller who retries adds it once, not twice
        allow_writes_to(synced, "logs")
        synced.log(result, "device said hello")
        assert [entry["message"] for entry in synced.logs(result)] == ["device said hello"]
        assert synced.replay(verify=True).ok

    def test_an_event_the_read_models_cannot_apply_is_named_and_reads_go_on(self, synced: Catalog) -> None:
        """Events saved without their rows (an older version's, say) that cannot be applied: every
        read still answers from what was applied, with a warning naming the event; writes go on."""
        app = synced._app
        job = app.get_job(synced.resolve(REF))
        job.override("description", "saved behind the views", actor="old")  # checked: only left behind
        app.save(job)  # a plain save: the rows are left to a catch-up
        refuse_writes_to(synced, "jobs")
        with pytest.warns(ReadModelBehindWarning, match=r"cannot apply event \d+ \(FieldOverridden of"):
            listed = {job["ref"]: job for job in synced.jobs()}
        assert listed[REF]["description"] == ""  # what was applied before the event
        before = synced.event_count()
        with pytest.warns(ReadModelBehindWarning):  # a write still lands, and is not reported failed
            result = synced.record_result(REF, args={})
        assert synced.event_count() > before
        allow_writes_to(synced, "jobs")
        assert {job["ref"]: job for job in synced.jobs()}[REF]["description"] == "saved behind the views"
        assert synced.result(result)["status"] == "pending"
        assert synced.replay(verify=True).ok

    def test_text_an_older_version_saved_unchecked_never_wedges_the_read_models(
        self, synced: Catalog
    ) -> None:
        """A NUL in saved events (written before text was checked at the
        boundary) are shown in their safe form; every command keeps working (PostgreSQL refused them)."""
        app = synced._app
        job = app.get_job(synced.resolve(REF))
        job._override("description", "see\x00this", actor="old")  # the event method: no checks
        app.save(job)
        result = synced.record_result(REF, args={})
        job_result: JobResult = app.repository.get(result)
        job_result.trigger_event(
            JobResult.LogEmitted, level="info", message="device said \x00 hello", grouping="", object="",
            url="", actor="old",
        )  # fmt: skip
        app.save(job_result)
        listed = {job["ref"]: job for job in synced.jobs(search="see")}
        assert listed[REF]["description"] == "see\x00this"  # JSON keeps the true value; columns its safe form
        assert "\ufffd" in synced.logs(result)[0]["message"]
        assert synced.replay(verify=True).ok
        assert synced.replay().ok  # the documented recovery: rebuilds the read models from the log


class TestNamesAnOlderVersionDuplicated:
    def test_two_jobs_sharing_a_name_still_sync(self, synced: Catalog, repo: GitRepo) -> None:
        """Only names a save changes are checked: duplicates an older version let in never block a source."""
        app = synced._app
        for ref in (REF, OTHER):
            job = app.get_job(synced.resolve(ref))
            job._override("name", "Shared", actor="old")  # the event method: no uniqueness check
            app.save(job)
        synced.jobs()  # the read models catch up: two live jobs named Shared, both pinned
        repo.write("jobs/backup.py", JOBS.replace("pass", "description = 'both edited'"))
        repo.commit("describe both")
        summary = synced.resync("netops")
        assert summary.changed == [REF, OTHER]


def _rename(store: str, state_dir: Path, ref: str, barrier: Any, outcomes: Any) -> None:
    with Catalog.open(store=store, state_dir=state_dir, actor=f"racer-{ref}") as catalog:
        barrier.wait()
        try:
            catalog.override(ref, "name", "Contested")
        except FieldError:
            outcomes.put("refused")
        else:
            outcomes.put("renamed")


class TestNamesUnderConcurrency:
    def test_two_processes_renaming_two_jobs_to_one_name_one_wins(
        self, synced: Catalog, store_url: str, state_dir: Path
    ) -> None:
        fork = multiprocessing.get_context("fork")
        for round_ in range(6):
            barrier, outcomes = fork.Barrier(2), fork.Queue()
            racers = [
                fork.Process(target=_rename, args=(store_url, state_dir, ref, barrier, outcomes))
                for ref in (REF, OTHER)
            ]
            for racer in racers:
                racer.start()
            for racer in racers:
                racer.join(60)
            assert sorted(outcomes.get(timeout=5) for _ in racers) == ["refused", "renamed"], round_
            holders = [job["ref"] for job in synced.jobs() if job["name"] == "Contested"]
            assert len(holders) == 1
            synced.clear_override(holders[0], "name")
