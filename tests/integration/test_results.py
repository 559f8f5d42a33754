"""Results and their log entries through ``Catalog`` on real SQLite and real Git (docs/design.md §2, §3, §5, §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from jobsync import (
    LOG_LEVELS,
    Catalog,
    GitError,
    JobNotRunnableError,
    LogEntry,
    ResultError,
    ResultNotFoundError,
)
from jobsync.records import ResultRecord
from tests.helpers import GitRepo

JOBS = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Backups"


class BackupConfigs(Job):
    class Meta:
        description = "{description}"
        has_sensitive_variables = False  # its args are kept (see test_sensitive_args.py)


class RestoreConfigs(Job):
    pass


register_jobs({registered})
"""

BACKUP_REF = "netops:jobs.backup.BackupConfigs"
RESTORE_REF = "netops:jobs.backup.RestoreConfigs"
ARCHIVE_REF = "netops:jobs.archive.ArchiveConfigs"
ARGS = {"devices": ["rtr1", "rtr2"], "dry_run": False, "limit": 5, "site": {"name": "ams", "id": None}}


def write_jobs(
    repo: GitRepo, description: str = "Back up", registered: str = "BackupConfigs, RestoreConfigs"
) -> str:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", JOBS.format(description=description, registered=registered))
    return repo.commit("jobs")


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    """A catalog that has synced ``netops`` once, with BackupConfigs enabled and RestoreConfigs disabled."""
    write_jobs(repo)
    catalog.resync(repo.url, name="netops")
    catalog.enable(BACKUP_REF)
    return catalog


def job_results(catalog: Catalog) -> list[ResultRecord]:
    """Results of the job task only (every resync also records a sync result)."""
    return [r for r in catalog.results() if r["task"] == "job"]


def sync_results(catalog: Catalog) -> list[ResultRecord]:
    return [r for r in catalog.results() if r["task"] == "sync"]


def uninstall_and_delete_backup(repo: GitRepo, catalog: Catalog) -> None:
    """Remove BackupConfigs from the repository, resync (uninstalled), then delete it."""
    write_jobs(repo, registered="RestoreConfigs")
    assert catalog.resync("netops").uninstalled == [BACKUP_REF]
    catalog.delete_job(BACKUP_REF)


class TestRecording:
    def test_enabled_job_records_a_pending_result(self, synced: Catalog) -> None:
        """A result of an installed, enabled job is pending, names its job and keeps who queued it."""
        rid = synced.record_result(BACKUP_REF, ARGS, actor="alice", scheduled_job="nightly")
        result = synced.result(rid)
        assert result["id"] == rid and isinstance(rid, UUID)
        assert result["status"] == "pending"
        assert result["task"] == "job"
        assert result["job"] == BACKUP_REF and result["job_ref"] == BACKUP_REF
        assert result["job_name"] == "BackupConfigs"
        assert result["actor"] == "alice"
        assert result["scheduled_job"] == "nightly"
        assert result["created"] is not None
        assert result["started"] is None and result["completed"] is None and result["data"] is None

    def test_disabled_job_is_not_runnable(self, synced: Catalog) -> None:
        """A disabled job cannot record a result, and nothing is recorded."""
        with pytest.raises(JobNotRunnableError, match="disabled; enable it first"):
            synced.record_result(RESTORE_REF, {})
        assert job_results(synced) == []

    def test_uninstalled_job_is_not_runnable(self, repo: GitRepo, synced: Catalog) -> None:
        """A job gone from its source cannot record a result, even though it was enabled."""
        write_jobs(repo, registered="RestoreConfigs")
        assert synced.resync("netops").uninstalled == [BACKUP_REF]
        with pytest.raises(JobNotRunnableError, match=f"job {BACKUP_REF} is not installed"):
            synced.record_result(BACKUP_REF, {})
        assert job_results(synced) == []

    def test_deleted_job_is_not_runnable(self, repo: GitRepo, synced: Catalog) -> None:
        """A deleted job cannot record a result."""
        uninstall_and_delete_backup(repo, synced)
        with pytest.raises(JobNotRunnableError, match="not installed"):
            synced.record_result(BACKUP_REF, {})
        assert job_results(synced) == []

    def test_job_disabled_again_is_not_runnable(self, synced: Catalog) -> None:
        """Disabling a job stops new results from being recorded for it."""
        synced.record_result(BACKUP_REF)
        synced.disable(BACKUP_REF)
        with pytest.raises(JobNotRunnableError, match="disabled"):
            synced.record_result(BACKUP_REF)
        assert len(job_results(synced)) == 1

    def test_job_may_be_named_by_name_or_id(self, synced: Catalog) -> None:
        """A result can be recorded naming the job by its unique name or its UUID."""
        job_id = synced.job(BACKUP_REF)["id"]
        by_name = synced.record_result("BackupConfigs")
        by_id = synced.record_result(str(job_id))
        assert synced.result(by_name)["job"] == BACKUP_REF
        assert synced.result(by_id)["job"] == BACKUP_REF


class TestArgs:
    def test_args_come_back_equal(self, synced: Catalog) -> None:
        """Args are kept exactly, nested values included."""
        rid = synced.record_result(BACKUP_REF, ARGS)
        assert synced.result(rid)["args"] == ARGS

    def test_args_are_ready_to_queue_again(self, synced: Catalog) -> None:
        """A result's args, read back, queue a new run with the same args."""
        first = synced.record_result(BACKUP_REF, ARGS)
        again = synced.record_result(BACKUP_REF, synced.result(first)["args"])
        assert again != first
        assert synced.result(again)["args"] == ARGS
        assert synced.result(again)["status"] == "pending"

    def test_no_args_are_an_empty_object(self, synced: Catalog) -> None:
        """A result recorded without args keeps an empty JSON object."""
        rid = synced.record_result(BACKUP_REF)
        assert synced.result(rid)["args"] == {}

    @pytest.mark.parametrize("args", [{"devices": {"rtr1"}}, {1, 2}, {"n": float("nan")}, {"when": object()}])
    def test_non_json_args_are_refused(self, synced: Catalog, args: Any) -> None:
        """Args that are not a JSON document are refused with ResultError and nothing is recorded."""
        with pytest.raises(ResultError, match="args must be JSON-serialisable"):
            synced.record_result(BACKUP_REF, args)
        assert job_results(synced) == []

    def test_args_that_would_not_read_back_equal_are_refused(self, synced: Catalog) -> None:
        """Args with non-string keys would read back changed, so they are refused like other non-JSON args."""
        args = {1: "first", 2: "second"}
        try:
            rid = synced.record_result(BACKUP_REF, args)
        except ResultError:
            return
        assert synced.result(rid)["args"] == args

    def test_non_json_data_is_refused(self, synced: Catalog) -> None:
        """Finishing with data that is not JSON is refused and the result stays running."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        with pytest.raises(ResultError, match="data must be JSON-serialisable"):
            synced.finish_result(rid, "completed", {"seen": {"rtr1"}})
        assert synced.result(rid)["status"] == "running"


class TestLifecycle:
    def test_start_and_finish_stamp_times_and_keep_data(self, synced: Catalog) -> None:
        """Starting stamps ``started``; finishing sets the terminal status, stamps ``completed`` and keeps data."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid, actor="worker")
        running = synced.result(rid)
        assert running["status"] == "running" and running["started"] is not None
        assert running["completed"] is None
        synced.finish_result(rid, "failed", {"error": "timeout", "devices": 2}, actor="worker")
        done = synced.result(rid)
        assert done["status"] == "failed"
        assert done["data"] == {"error": "timeout", "devices": 2}
        started, completed = done["started"], done["completed"]
        assert started is not None and completed is not None and completed >= started >= done["created"]

    def test_status_never_moves_backwards(self, synced: Catalog) -> None:
        """A finished result cannot start again or finish a second time; it keeps its first outcome."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        with pytest.raises(ResultError, match="only a pending result can start"):
            synced.start_result(rid)
        synced.finish_result(rid, "completed", {"ok": True})
        with pytest.raises(ResultError, match="only a pending result can start"):
            synced.start_result(rid)
        with pytest.raises(ResultError, match="already finished as completed"):
            synced.finish_result(rid, "errored", {"ok": False})
        result = synced.result(rid)
        assert result["status"] == "completed" and result["data"] == {"ok": True}

    def test_non_terminal_finish_status_is_refused(self, synced: Catalog) -> None:
        """Finishing as anything but completed, failed or errored is refused."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        with pytest.raises(ResultError, match="not 'running'"):
            synced.finish_result(rid, "running")
        assert synced.result(rid)["status"] == "running"

    def test_result_survives_reopening_the_store(
        self, synced: Catalog, state_dir: Path, store_url: str
    ) -> None:
        """A result and its log entries are read back from the file by a new catalog."""
        rid = synced.record_result(BACKUP_REF, ARGS)
        synced.start_result(rid)
        synced.log(rid, "hello", level="success")
        synced.finish_result(rid, "completed", {"n": 1})
        with Catalog.open(store=store_url, state_dir=state_dir, actor="other") as reopened:
            assert reopened.result(rid) == synced.result(rid)
            assert [e["message"] for e in reopened.logs(rid)] == ["hello"]


class TestListing:
    def test_results_filtered_by_job(self, synced: Catalog) -> None:
        """``results(job=...)`` lists only that job's runs, newest first."""
        synced.enable(RESTORE_REF)
        first = synced.record_result(BACKUP_REF)
        restore = synced.record_result(RESTORE_REF)
        second = synced.record_result(BACKUP_REF)
        assert [r["id"] for r in synced.results(job=BACKUP_REF)] == [second, first]
        assert [r["id"] for r in synced.results(job="RestoreConfigs")] == [restore]

    def test_results_filtered_by_status(self, synced: Catalog) -> None:
        """``results(status=...)`` lists only results in that status."""
        pending = synced.record_result(BACKUP_REF)
        running = synced.record_result(BACKUP_REF)
        synced.start_result(running)
        failed = synced.record_result(BACKUP_REF)
        synced.finish_result(failed, "failed")
        assert [r["id"] for r in synced.results(status="pending")] == [pending]
        assert [r["id"] for r in synced.results(status="running")] == [running]
        assert [r["id"] for r in synced.results(status="failed")] == [failed]
        completed = {r["id"] for r in synced.results(status="completed")}
        assert completed == {r["id"] for r in sync_results(synced)}

    def test_results_limit(self, synced: Catalog) -> None:
        """``limit`` keeps the newest results only."""
        synced.record_result(BACKUP_REF)
        newest = synced.record_result(BACKUP_REF)
        assert [r["id"] for r in synced.results(job=BACKUP_REF, limit=1)] == [newest]

    def test_unique_prefix_resolves(self, synced: Catalog) -> None:
        """A unique prefix of a result id names that result, as git accepts short hashes."""
        rid = synced.record_result(BACKUP_REF)
        assert synced.result(str(rid)[:8])["id"] == rid
        assert synced.result(str(rid).upper())["id"] == rid
        synced.start_result(str(rid)[:12])
        assert synced.result(rid)["status"] == "running"

    @pytest.mark.parametrize("ref", ["zzzz", "00000000-0000-4000-8000-000000000000", "", "   "])
    def test_unknown_id_is_not_found(self, synced: Catalog, ref: str) -> None:
        """An id or prefix no result has raises ResultNotFoundError."""
        synced.record_result(BACKUP_REF)
        with pytest.raises(ResultNotFoundError, match="no result matches"):
            synced.result(ref)

    @pytest.mark.parametrize("ref", ["_", "%", "________"])
    def test_wildcard_is_not_a_prefix(self, catalog: Catalog, ref: str) -> None:
        """Characters that no result id starts with never resolve, even when there is only one result."""
        with pytest.raises(GitError):
            catalog.resync(str(catalog.state_dir / "nowhere"), name="ghost")
        [only] = catalog.results()
        assert only["status"] == "failed"
        with pytest.raises(ResultNotFoundError):
            catalog.resolve_result(ref)


class TestLogs:
    def test_entries_are_readable_at_once_while_running(self, synced: Catalog) -> None:
        """Each entry can be read as soon as it is logged, before the result finishes."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        synced.log(rid, "connecting to rtr1")
        assert [e["message"] for e in synced.logs(rid)] == ["connecting to rtr1"]
        synced.log(rid, "saved rtr1", level="success")
        assert [e["message"] for e in synced.logs(rid)] == ["connecting to rtr1", "saved rtr1"]
        assert synced.result(rid)["status"] == "running"

    def test_entries_come_in_order_with_increasing_seq(self, synced: Catalog) -> None:
        """Entries, logged one by one or in batches, read back in order with a strictly increasing ``seq``."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        synced.log(rid, "m0")
        synced.log_many(rid, [LogEntry(f"m{n}") for n in range(1, 6)])
        synced.log(rid, "m6")
        entries = synced.logs(rid)
        assert [e["message"] for e in entries] == [f"m{n}" for n in range(7)]
        seqs = [e["seq"] for e in entries]
        assert seqs == sorted(set(seqs))
        times = [e["time"] for e in entries]
        assert times == sorted(times)

    def test_since_returns_only_later_entries(self, synced: Catalog) -> None:
        """``logs(since=seq)`` returns only entries logged after the one with that ``seq`` (for --follow)."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        synced.log_many(rid, [LogEntry(f"m{n}") for n in range(4)])
        entries = synced.logs(rid)
        assert synced.logs(rid, since=entries[1]["seq"]) == entries[2:]
        assert synced.logs(rid, since=entries[-1]["seq"]) == []
        synced.log(rid, "m4")
        assert [e["message"] for e in synced.logs(rid, since=entries[-1]["seq"])] == ["m4"]

    def test_level_filter_returns_that_level_and_more_severe(self, synced: Catalog) -> None:
        """``logs(level="warning")`` returns warning, failure, error and critical entries, in order."""
        rid = synced.record_result(BACKUP_REF)
        synced.log_many(rid, [LogEntry(f"at {level}", level) for level in reversed(LOG_LEVELS)])
        warnings = synced.logs(rid, level="warning")
        assert [e["level"] for e in warnings] == ["critical", "error", "failure", "warning"]
        assert [e["level"] for e in synced.logs(rid, level="debug")] == list(reversed(LOG_LEVELS))
        assert [e["level"] for e in synced.logs(rid, level="critical")] == ["critical"]

    def test_unknown_level_filter_is_refused(self, synced: Catalog) -> None:
        """Filtering by a level that is not one of Nautobot's seven is refused."""
        rid = synced.record_result(BACKUP_REF)
        with pytest.raises(ResultError, match="log level 'warn' is not one of"):
            synced.logs(rid, level="warn")

    def test_entry_keeps_every_field(self, synced: Catalog) -> None:
        """An entry reads back with its level, message, grouping, object, url and time."""
        rid = synced.record_result(BACKUP_REF)
        synced.log(rid, "backed up", level="success", grouping="ams", object="rtr1", url="/dcim/devices/7/")
        [entry] = synced.logs(rid)
        assert {k: entry[k] for k in ("level", "message", "grouping", "object", "url")} == {
            "level": "success",
            "message": "backed up",
            "grouping": "ams",
            "object": "rtr1",
            "url": "/dcim/devices/7/",
        }
        assert entry["time"] >= synced.result(rid)["created"]

    def test_bad_entry_in_a_batch_appends_none(self, synced: Catalog) -> None:
        """A batch is all or none: one bad entry refuses the whole batch."""
        rid = synced.record_result(BACKUP_REF)
        batch = [LogEntry("fine"), LogEntry("too long", grouping="g" * 256), LogEntry("also fine")]
        with pytest.raises(ResultError, match="log grouping is 256 characters; at most 255"):
            synced.log_many(rid, batch)
        assert synced.logs(rid) == []

    def test_unknown_level_is_refused(self, synced: Catalog) -> None:
        """Logging at a level outside Nautobot's seven is refused and nothing is appended."""
        rid = synced.record_result(BACKUP_REF)
        with pytest.raises(ResultError, match="log level 'verbose'"):
            synced.log(rid, "x", level="verbose")
        assert synced.logs(rid) == []

    def test_finished_result_takes_no_more_entries(self, synced: Catalog) -> None:
        """Logging to a finished result is refused; its entries stay as they were."""
        rid = synced.record_result(BACKUP_REF)
        synced.log(rid, "only")
        synced.finish_result(rid, "completed")
        with pytest.raises(ResultError, match="takes no more log entries"):
            synced.log(rid, "late")
        assert [e["message"] for e in synced.logs(rid)] == ["only"]


class TestAudit:
    def test_uninstalled_job_still_owns_its_results(self, repo: GitRepo, synced: Catalog) -> None:
        """Uninstalling a job does not detach its results; only deleting does."""
        rid = synced.record_result(BACKUP_REF)
        write_jobs(repo, registered="RestoreConfigs")
        synced.resync("netops")
        assert synced.result(rid)["job"] == BACKUP_REF

    def test_results_of_a_deleted_job_stay_with_its_ref_as_text(self, repo: GitRepo, synced: Catalog) -> None:
        """A deleted job's results stay, with ``job`` null and its ref and name kept as text, logs intact."""
        rid = synced.record_result(BACKUP_REF, ARGS)
        synced.start_result(rid)
        synced.log_many(rid, [LogEntry("step 1"), LogEntry("step 2", "warning", object="rtr1")])
        synced.finish_result(rid, "completed", {"n": 2})
        logs_before = synced.logs(rid)
        uninstall_and_delete_backup(repo, synced)
        result = synced.result(rid)
        assert result["job"] is None
        assert result["job_ref"] == BACKUP_REF
        assert result["job_name"] == "BackupConfigs"
        assert result["status"] == "completed" and result["args"] == ARGS and result["data"] == {"n": 2}
        assert synced.logs(rid) == logs_before
        assert [e["message"] for e in logs_before] == ["step 1", "step 2"]
        listed = {r["id"]: r for r in synced.results()}
        assert listed[rid]["job"] is None
        assert [r["id"] for r in synced.results(job=BACKUP_REF)] == [rid]

    def test_running_result_of_a_deleted_job_can_still_finish(self, repo: GitRepo, synced: Catalog) -> None:
        """A run in flight when its job is deleted can still log and finish, for the audit trail."""
        rid = synced.record_result(BACKUP_REF)
        synced.start_result(rid)
        uninstall_and_delete_backup(repo, synced)
        synced.log(rid, "finishing anyway")
        synced.finish_result(rid, "completed")
        result = synced.result(rid)
        assert result["status"] == "completed" and result["job"] is None
        assert [e["message"] for e in synced.logs(rid)] == ["finishing anyway"]

    def test_results_of_a_deleted_job_stay_detached_when_it_returns(
        self, repo: GitRepo, synced: Catalog
    ) -> None:
        """A deleted job that reappears is a new job; results of the deleted one keep ``job`` null."""
        rid = synced.record_result(BACKUP_REF)
        uninstall_and_delete_backup(repo, synced)
        write_jobs(repo)
        assert synced.resync("netops").reinstalled == [BACKUP_REF]
        assert synced.result(rid)["job"] is None
        assert synced.results(job=BACKUP_REF) == []


PROBLEM_COMMIT_FILES = {
    "jobs/archive.py": (
        "from nautobot.apps.jobs import Job, register_jobs\n\n"
        "class ArchiveConfigs(Job):\n    pass\n\nregister_jobs(ArchiveConfigs)\n"
    ),
    "jobs/broken.py": "x = 1\nclass Broken(:\n",
}


class TestSyncResults:
    def test_first_sync_result_logs_each_added_job(self, repo: GitRepo, catalog: Catalog) -> None:
        """A first sync's result is completed, has no job, and logs one ``added`` entry per job plus a summary."""
        commit = write_jobs(repo)
        summary = catalog.resync(repo.url, name="netops")
        assert summary.result is not None
        result = catalog.result(str(summary.result))
        assert result["task"] == "sync" and result["status"] == "completed"
        assert result["job"] is None and result["job_ref"] == "netops" and result["job_name"] == "Sync netops"
        assert result["started"] is not None and result["completed"] is not None
        assert result["data"] == summary.as_dict()
        entries = catalog.logs(str(summary.result))
        assert [(e["level"], e["message"], e["object"]) for e in entries[:-1]] == [
            ("info", f"added {BACKUP_REF}", BACKUP_REF),
            ("info", f"added {RESTORE_REF}", RESTORE_REF),
        ]
        assert entries[-1]["level"] == "success"
        assert entries[-1]["message"] == (
            f"synced {commit}: 2 added, 0 changed, 0 uninstalled, 0 reinstalled, 0 errors, 0 warnings, 0 notes"
        )

    def test_sync_result_logs_match_the_summary(self, repo: GitRepo, catalog: Catalog) -> None:
        """Each added, changed and uninstalled job and each problem (with file:line) is one log entry."""
        write_jobs(repo)
        catalog.resync(repo.url, name="netops")
        for path, text in PROBLEM_COMMIT_FILES.items():
            repo.write(path, text)
        commit = write_jobs(repo, description="Back up v2", registered="BackupConfigs")
        summary = catalog.resync("netops")
        assert summary.added == [ARCHIVE_REF]
        assert summary.changed == [BACKUP_REF]
        assert summary.uninstalled == [RESTORE_REF]
        assert [(p.file, p.line) for p in summary.problems] == [("jobs/broken.py", 2)]
        [problem] = summary.problems
        entries = catalog.logs(str(summary.result))
        assert [(e["level"], e["grouping"], e["message"], e["object"]) for e in entries] == [
            ("info", "sync", f"added {ARCHIVE_REF}", ARCHIVE_REF),
            ("info", "sync", f"changed {BACKUP_REF}", BACKUP_REF),
            ("warning", "sync", f"uninstalled {RESTORE_REF}", RESTORE_REF),
            ("error", "problems", f"jobs/broken.py:2: {problem.reason}", "jobs/broken.py:2"),
            (
                "success",
                "sync",
                f"synced {commit}: 1 added, 1 changed, 1 uninstalled, 0 reinstalled, 1 errors, 0 warnings, 0 notes",
                "",
            ),
        ]
        result = catalog.result(str(summary.result))
        assert result["status"] == "completed"
        assert result["data"]["problems"] == [
            {"file": "jobs/broken.py", "line": 2, "kind": "error", "reason": problem.reason}
        ]

    def test_reinstalled_job_is_logged(self, repo: GitRepo, catalog: Catalog) -> None:
        """A job that comes back is logged as reinstalled by the sync that found it."""
        write_jobs(repo)
        catalog.resync(repo.url, name="netops")
        write_jobs(repo, registered="BackupConfigs")
        catalog.resync("netops")
        write_jobs(repo)
        summary = catalog.resync("netops")
        assert summary.reinstalled == [RESTORE_REF]
        messages = [e["message"] for e in catalog.logs(str(summary.result))]
        assert messages[:-1] == [f"reinstalled {RESTORE_REF}"]

    def test_every_resync_is_a_completed_sync_result(self, repo: GitRepo, catalog: Catalog) -> None:
        """Every resync, an up-to-date one included, records its own completed sync result."""
        write_jobs(repo)
        ids = [catalog.resync(repo.url, name="netops").result]
        write_jobs(repo, description="v2")
        ids.append(catalog.resync("netops").result)
        up_to_date = catalog.resync("netops")
        assert up_to_date.up_to_date
        ids.append(up_to_date.result)
        assert None not in ids and len(set(ids)) == 3
        listed = sync_results(catalog)
        assert [r["id"] for r in listed] == list(reversed(ids))
        assert {r["status"] for r in listed} == {"completed"}
        [last] = catalog.logs(str(up_to_date.result))
        assert last["level"] == "success" and last["message"].startswith("already up to date at ")

    def test_unreachable_source_is_a_failed_sync_result(self, catalog: Catalog, tmp_path: Path) -> None:
        """A sync that cannot fetch ends ``failed``; its data and its one log entry carry the reason."""
        with pytest.raises(GitError) as caught:
            catalog.resync(str(tmp_path / "nowhere"), name="ghost")
        reason = str(caught.value)
        [result] = catalog.results()
        assert result["task"] == "sync" and result["job_ref"] == "ghost"
        assert result["status"] == "failed"
        assert result["started"] is not None and result["completed"] is not None
        assert result["data"] == {"error": reason}
        [entry] = catalog.logs(result["id"])
        assert (entry["level"], entry["grouping"], entry["message"]) == ("failure", "sync", reason)
        assert "nowhere" in reason

    def test_sync_results_need_no_enabled_job(self, repo: GitRepo, catalog: Catalog) -> None:
        """Sync results are recorded although no job is enabled (they belong to the sync task)."""
        write_jobs(repo)
        summary = catalog.resync(repo.url, name="netops")
        assert all(not job["enabled"] for job in catalog.jobs())
        assert [r["id"] for r in catalog.results()] == [summary.result]
