"""Syncing real Git repositories into a real SQLite store (docs/design.md §3 to §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobsync import Catalog, GitError, JobStillInstalledError, MassUninstallError, SourceConflictError
from jobsync.spec import SourceSpec
from tests.helpers import GitRepo

BACKUP = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Backups"


class BackupConfigs(Job):
    class Meta:
        description = "{description}"
        time_limit = {time_limit}


class RestoreConfigs(Job):
    pass


register_jobs(BackupConfigs, RestoreConfigs)
"""

BACKUP_REF = "netops:jobs.backup.BackupConfigs"
RESTORE_REF = "netops:jobs.backup.RestoreConfigs"


def write_backup(repo: GitRepo, description: str = "Back up", time_limit: int = 600) -> str:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", BACKUP.format(description=description, time_limit=time_limit))
    return repo.commit("backup jobs")


def event_count(catalog: Catalog) -> int:
    """How many events the store holds (the notification log's last id)."""
    return catalog._app.recorder.max_notification_id() or 0


def catalog_event_count(catalog: Catalog) -> int:
    """How many job and source events the store holds (sync results not counted)."""
    notifications = catalog._app.recorder.select_notifications(start=None, limit=1_000_000)
    return sum(1 for n in notifications if "result:JobResult" not in n.topic)


class TestFirstSync:
    def test_first_sync_adds_every_job(self, repo: GitRepo, catalog: Catalog) -> None:
        """A first sync discovers every job with its source metadata and the commit it was read at."""
        commit = write_backup(repo)
        summary = catalog.resync(repo.url, name="netops")
        assert summary.commit == commit
        assert sorted(summary.added) == [BACKUP_REF, RESTORE_REF]
        job = catalog.job(BACKUP_REF)
        assert job["description"] == "Back up"
        assert job["time_limit"] == 600
        assert job["grouping"] == "Backups"
        assert job["commit"] == commit
        assert job["installed"] is True and job["enabled"] is False
        assert [j["ref"] for j in catalog.jobs()] == [BACKUP_REF, RESTORE_REF]

    def test_source_is_remembered_by_name(self, repo: GitRepo, catalog: Catalog) -> None:
        """A source first synced by URL is synced again by its name alone."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        commit = write_backup(repo, description="Back up v2")
        summary = catalog.resync("netops")
        assert summary.commit == commit
        assert summary.changed == [BACKUP_REF]
        assert catalog.source("netops")["last_commit"] == commit

    def test_remembered_name_with_other_url_is_refused(
        self, repo: GitRepo, catalog: Catalog, tmp_path: Path
    ) -> None:
        """A remembered name given a different URL is refused and nothing is appended."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        other = GitRepo(tmp_path / "other")
        write_backup(other)
        before = event_count(catalog)
        with pytest.raises(SourceConflictError, match="already"):
            catalog.resync(other.url, name="netops")
        assert event_count(catalog) == before

    def test_plain_path_works_like_file_url(self, repo: GitRepo, catalog: Catalog) -> None:
        """A local path is accepted as the repository location, and named after its folder."""
        write_backup(repo)
        summary = catalog.resync(str(repo.path))
        assert summary.source == "netops"
        assert len(summary.added) == 2


class TestChanges:
    def test_metadata_change_is_one_event(self, repo: GitRepo, catalog: Catalog) -> None:
        """A metadata edit changes exactly that job and records JobChanged with the new commit."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        commit = write_backup(repo, time_limit=900)
        summary = catalog.resync("netops")
        assert summary.changed == [BACKUP_REF] and not summary.added and not summary.uninstalled
        assert catalog.job(BACKUP_REF)["time_limit"] == 900
        assert catalog.job(BACKUP_REF)["commit"] == commit
        history = catalog.history(BACKUP_REF)
        assert [h["event"] for h in history] == ["JobDiscovered", "JobChanged"]
        assert history[-1]["changes"]["time_limit"] == [600, 900]

    def test_no_new_commit_appends_nothing(self, repo: GitRepo, catalog: Catalog) -> None:
        """A resync with no new commit appends no events at all."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        before = catalog_event_count(catalog)
        summary = catalog.resync("netops")
        assert summary.up_to_date
        assert catalog_event_count(catalog) == before
        assert summary.result is not None
        result = catalog.result(str(summary.result))
        assert result["status"] == "completed" and result["task"] == "sync"
        assert "already up to date" in catalog.logs(str(summary.result))[-1]["message"]

    def test_new_commit_without_job_changes_appends_no_job_events(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """A commit that touches no job records only the source's sync, no job event."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        repo.write("README.md", "docs only")
        repo.commit("docs")
        history_before = catalog.history(BACKUP_REF)
        before = catalog_event_count(catalog)
        summary = catalog.resync("netops")
        assert summary.counts() == {
            "added": 0,
            "changed": 0,
            "uninstalled": 0,
            "reinstalled": 0,
            "problems": 0,
            "errors": 0,
            "warnings": 0,
            "notes": 0,
        }
        assert catalog_event_count(catalog) == before + 1  # SourceSynced only
        assert catalog.history(BACKUP_REF) == history_before

    def test_removed_job_is_uninstalled_not_deleted(self, repo: GitRepo, catalog: Catalog) -> None:
        """A job that vanishes is marked uninstalled; it stays in the catalog with its history."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        repo.write(
            "jobs/backup.py", BACKUP.format(description="x", time_limit=1).replace(", RestoreConfigs)", ")")
        )
        repo.commit("drop restore")
        summary = catalog.resync("netops")
        assert summary.uninstalled == [RESTORE_REF]
        assert [j["ref"] for j in catalog.jobs(installed=False)] == [RESTORE_REF]
        assert catalog.job(RESTORE_REF)["installed"] is False

    def test_restored_job_is_reinstalled_with_overrides(self, repo: GitRepo, catalog: Catalog) -> None:
        """A job that comes back is reinstalled and its overrides apply again."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        catalog.override(BACKUP_REF, "description", "pinned")
        repo.remove("jobs/backup.py")
        repo.commit("remove")
        assert sorted(catalog.resync("netops").uninstalled) == [BACKUP_REF, RESTORE_REF]
        write_backup(repo, description="back again")
        summary = catalog.resync("netops")
        assert sorted(summary.reinstalled) == [BACKUP_REF, RESTORE_REF]
        job = catalog.job(BACKUP_REF)
        assert job["installed"] is True
        assert job["description"] == "pinned" and job["description_override"] is True

    def test_broken_module_keeps_its_jobs(self, repo: GitRepo, catalog: Catalog) -> None:
        """A module that no longer parses is reported and its jobs keep their last known state."""
        write_backup(repo)
        repo.write(
            "jobs/other.py",
            "from nautobot.apps.jobs import Job, register_jobs\nclass Other(Job):\n    pass\nregister_jobs(Other)\n",
        )
        repo.commit("other")
        catalog.resync(repo.url, name="netops")
        repo.write("jobs/backup.py", "class Broken(:\n")
        repo.write(
            "jobs/other.py",
            "from nautobot.apps.jobs import Job, register_jobs\nclass Other(Job):\n    class Meta:\n        description = 'v2'\nregister_jobs(Other)\n",
        )
        repo.commit("break backup")
        summary = catalog.resync("netops")
        assert summary.uninstalled == []
        assert summary.changed == ["netops:jobs.other.Other"]
        assert [(p.file, p.line) for p in summary.problems] == [("jobs/backup.py", 1)]
        assert catalog.job(BACKUP_REF)["installed"] is True
        assert catalog.job(BACKUP_REF)["description"] == "Back up"

    def test_force_push_is_handled_by_tree_diff(self, repo: GitRepo, catalog: Catalog) -> None:
        """A rewritten branch is synced by diffing trees, not history."""
        first = write_backup(repo)
        catalog.resync(repo.url, name="netops")
        write_backup(repo, description="doomed")
        catalog.resync("netops")
        repo.git("reset", "-q", "--hard", first)
        rewritten = write_backup(repo, description="rewritten")
        summary = catalog.resync("netops")
        assert summary.commit == rewritten
        assert catalog.job(BACKUP_REF)["description"] == "rewritten"

    def test_summary_store_loss_changes_nothing(
        self, repo: GitRepo, catalog: Catalog, state_dir: Path, store_url: str
    ) -> None:
        """Without the stored summaries a sync re-reads every file and reaches the same catalog."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        catalog.close()
        removed = list(state_dir.glob("summaries.db*"))
        assert removed
        for path in removed:
            path.unlink()
        write_backup(repo, description="v2")
        with Catalog.open(store=store_url, state_dir=state_dir, actor="tester") as reopened:
            summary = reopened.resync("netops")
            assert summary.changed == [BACKUP_REF] and not summary.added
            assert reopened.job(BACKUP_REF)["description"] == "v2"


class TestNames:
    def test_colliding_names_get_numbered(self, repo: GitRepo, catalog: Catalog, tmp_path: Path) -> None:
        """Jobs named alike across sources get ' (2)' as Nautobot does, and the sync says so."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        other = GitRepo(tmp_path / "other")
        write_backup(other)
        summary = catalog.resync(other.url, name="other")
        assert catalog.job("other:jobs.backup.BackupConfigs")["name"] == "BackupConfigs (2)"
        assert any("already used" in p.reason for p in summary.problems)
        assert catalog.job("netops:jobs.backup.BackupConfigs")["name"] == "BackupConfigs"

    def test_name_is_a_job_ref(self, repo: GitRepo, catalog: Catalog) -> None:
        """A job's unique name and its UUID both work as a reference."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        job = catalog.job("BackupConfigs")
        assert job["ref"] == BACKUP_REF
        assert catalog.job(job["id"])["ref"] == BACKUP_REF

    def test_override_to_taken_name_is_refused(self, repo: GitRepo, catalog: Catalog) -> None:
        """A name override must stay unique among jobs."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        with pytest.raises(Exception, match="already used by"):
            catalog.override(BACKUP_REF, "name", "RestoreConfigs")


class TestOperatorActions:
    def test_delete_only_uninstalled(self, repo: GitRepo, catalog: Catalog) -> None:
        """Deleting an installed job is refused; an uninstalled one is deleted and keeps its history."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        with pytest.raises(JobStillInstalledError):
            catalog.delete_job(BACKUP_REF)
        repo.remove("jobs/backup.py")
        repo.commit("remove")
        catalog.resync("netops")
        catalog.delete_job(BACKUP_REF)
        assert BACKUP_REF not in [j["ref"] for j in catalog.jobs(installed=None)]
        assert catalog.history(BACKUP_REF)[-1]["event"] == "JobDeleted"

    def test_job_as_it_was_at_a_time(self, repo: GitRepo, catalog: Catalog) -> None:
        """``job(ref, at=T)`` shows the job, and its overrides, as they were at T."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        catalog.override(BACKUP_REF, "description", "pinned", actor="alice")
        moment = catalog.history(BACKUP_REF)[-1]["time"]
        catalog.clear_override(BACKUP_REF, "description", actor="bob")
        then = catalog.job(BACKUP_REF, at=moment)
        assert then["description"] == "pinned" and then["description_override"] is True
        assert catalog.job(BACKUP_REF)["description_override"] is False
        assert [h["actor"] for h in catalog.history(BACKUP_REF)] == ["tester", "alice", "bob"]


class TestFailures:
    def test_unreachable_path_appends_only_a_failed_result(self, catalog: Catalog, tmp_path: Path) -> None:
        """A missing repository is a one-line GitError; no job event, and the sync result failed with the reason."""
        with pytest.raises(GitError) as caught:
            catalog.resync(str(tmp_path / "nowhere"), name="ghost")
        assert "\n" not in str(caught.value)
        assert catalog_event_count(catalog) == 0
        [result] = catalog.results()
        assert result["status"] == "failed" and result["task"] == "sync"
        assert result["completed"] is not None
        assert str(caught.value) in [entry["message"] for entry in catalog.logs(result["id"])]

    def test_unknown_branch_appends_nothing(self, repo: GitRepo, catalog: Catalog) -> None:
        """A branch that does not exist is refused, naming the branches there are."""
        write_backup(repo)
        with pytest.raises(GitError, match="main"):
            catalog.resync(repo.url, name="netops", branch="nope")
        assert catalog_event_count(catalog) == 0
        assert [r["status"] for r in catalog.results()] == ["failed"]


class TestTargets:
    def test_remembered_name_wins_over_a_folder_of_that_name(
        self, repo: GitRepo, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``resync NAME`` means the source NAME even when the current folder holds a folder called NAME."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        (tmp_path / "cwd" / "netops").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / "cwd")
        commit = write_backup(repo, description="v2")
        assert catalog.resync("netops").commit == commit


class TestSourceStatus:
    def test_failure_of_a_known_source_is_remembered_until_it_syncs(
        self, repo: GitRepo, catalog: Catalog, tmp_path: Path
    ) -> None:
        """`sources show` says why the last sync failed, once per failure, and clears it on success."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        moved = tmp_path / "moved"
        repo.path.rename(moved)
        for _ in range(2):
            with pytest.raises(GitError):
                catalog.resync("netops")
        shown = catalog.source("netops")
        assert shown["status"] == "failing" and shown["last_reason"] == "NotFound"
        assert shown["last_error"] is not None
        assert "netops" in shown["last_error"] or "not found" in shown["last_error"]
        failures = [e for e in catalog.audit(source="netops") if e["event"] == "SourceSyncFailed"]
        assert len(failures) == 1  # the same failure twice is one fact
        moved.rename(repo.path)
        catalog.resync("netops")
        assert catalog.source("netops")["status"] == "ok"
        assert catalog.source("netops")["last_error"] is None

    def test_sources_say_who_synced_last(
        self, repo: GitRepo, catalog: Catalog, store_url: str, state_dir: Path
    ) -> None:
        """A source names who saved its last sync (a daemon is ``daemon@HOST``); a sync that moved nothing keeps it."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        assert catalog.source("netops")["last_synced_by"] == "tester"
        write_backup(repo, description="v2")
        with Catalog.open(store=store_url, state_dir=state_dir, actor="daemon@web2") as daemon:
            daemon.resync("netops")
        assert catalog.source("netops")["last_synced_by"] == "daemon@web2"
        catalog.resync("netops")  # up to date: nothing saved, so web2 synced it last
        [listed] = catalog.sources()
        assert listed["last_synced_by"] == "daemon@web2"


COMMON = 'GROUPING = "{grouping}"\nMINUTE = 60\n'
REPORT = """\
from nautobot.apps.jobs import Job

from . import common
from .common import MINUTE

name = common.GROUPING
SUMMARY = "Every hardware notice"


class HardwareReport(Job):
    name = "Hardware notice report"
    description = SUMMARY
    soft_time_limit = 60 * 5
    time_limit = 10 * MINUTE

    class Meta:
        name = "Shown only if the attribute were missing"
        description = "Also not shown"
        has_sensitive_variables = False
"""
REPORT_REF = "netops:jobs.report.HardwareReport"


class TestMetadataAsNautobotReadsIt:
    def test_class_attributes_and_constants_through_git(self, repo: GitRepo, catalog: Catalog) -> None:
        """Class attributes win over Meta, constant expressions are evaluated, constants come from other modules."""
        repo.write("jobs/__init__.py", "")
        repo.write("jobs/common.py", COMMON.format(grouping="Hardware"))
        repo.write("jobs/report.py", REPORT)
        repo.commit("report")
        summary = catalog.resync(repo.url, name="netops")
        assert summary.added == [REPORT_REF] and not summary.problems
        job = catalog.job(REPORT_REF)
        assert (job["name"], job["description"]) == ("Hardware notice report", "Every hardware notice")
        assert (job["soft_time_limit"], job["time_limit"]) == (300, 600)
        assert (job["grouping"], job["has_sensitive_variables"]) == ("Hardware", False)

    def test_editing_a_constant_in_another_module_resyncs_the_job(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """An incremental sync that changes only common.py re-decides the job that uses its constants."""
        repo.write("jobs/__init__.py", "")
        repo.write("jobs/common.py", COMMON.format(grouping="Hardware"))
        repo.write("jobs/report.py", REPORT)
        repo.commit("report")
        catalog.resync(repo.url, name="netops")
        repo.write("jobs/common.py", COMMON.format(grouping="Inventory").replace("60", "90"))
        repo.commit("new grouping")
        summary = catalog.resync("netops")
        assert summary.changed == [REPORT_REF]
        job = catalog.job(REPORT_REF)
        assert (job["grouping"], job["time_limit"]) == ("Inventory", 900)
        assert catalog.history(REPORT_REF)[-1]["changes"]["grouping"] == ["Hardware", "Inventory"]


SSOT_INIT = """\
from django.conf import settings
from nautobot.apps.jobs import register_jobs
from nautobot_ssot.jobs.base import DataSource

from .examples import ExampleSource, ExampleTarget


class OnboardDevices(DataSource):
    name = "Onboard devices"


jobs = [ExampleSource]
if settings.DEBUG:
    jobs.append(ExampleTarget)
for job in (OnboardDevices,):
    jobs.append(job)
register_jobs(*jobs)
"""
SSOT_EXAMPLES = """\
from nautobot.apps.jobs import Job


class ExampleSource(Job):
    pass


class ExampleTarget(Job):
    pass


class NeverRegistered(Job):
    pass
"""


class TestRegistrationAsAnAppDoesIt:
    def test_an_ssot_like_package_registers_outside_bases_and_computed_lists(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """register_jobs(*jobs) of a list built in branches and loops, with a class whose base is
        nautobot_ssot's: every class the list may hold is a job; notes say what is unknown."""
        repo.write("jobs/__init__.py", SSOT_INIT)
        repo.write("jobs/examples.py", SSOT_EXAMPLES)
        repo.commit("ssot-like")
        summary = catalog.resync(repo.url, name="netops")
        assert summary.added == [
            "netops:jobs.OnboardDevices",
            "netops:jobs.examples.ExampleSource",
            "netops:jobs.examples.ExampleTarget",
        ]
        assert catalog.job("netops:jobs.OnboardDevices")["name"] == "Onboard devices"
        assert sorted(p.kind for p in summary.problems) == ["note", "note"]
        assert any("nautobot_ssot.jobs.base.DataSource" in p.reason for p in summary.problems)
        repo.write("jobs/__init__.py", SSOT_INIT.replace("jobs = [ExampleSource]", "jobs = []"))
        repo.commit("drop one")
        summary = catalog.resync("netops")
        assert summary.uninstalled == ["netops:jobs.examples.ExampleSource"]


class TestBrokenPackage:
    def test_a_package_importing_a_missing_file_is_warned_about(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """``from . import hello_world`` with no such file: Nautobot would load none of the package's
        jobs. The sync lists them (docs/design.md §4) and warns, naming the file and line; adding the file clears it."""
        write_backup(repo)
        repo.write("jobs/__init__.py", "from . import backup\nfrom . import hello_world\n")
        repo.commit("import a module that is not there")
        summary = catalog.resync(repo.url, name="netops")
        assert BACKUP_REF in summary.added
        [warning] = [p for p in summary.problems if p.kind == "warning"]
        assert (warning.file, warning.line) == ("jobs/__init__.py", 2)
        assert "jobs.hello_world names no file of the source" in warning.reason
        repo.write("jobs/hello_world.py", "")
        repo.commit("add the missing module")
        assert catalog.resync("netops").problems == []


def write_jobs(repo: GitRepo, path: str, count: int, message: str = "jobs") -> str:
    """Commit a module at ``path`` defining ``count`` jobs ``Job0``, ``Job1``, ... (an empty file for 0)."""
    classes = "".join(f"\n\nclass Job{i}(Job):\n    pass\n" for i in range(count))
    repo.write(path, f"from nautobot.apps.jobs import Job\n{classes}")
    return repo.commit(message)


def installed_refs(catalog: Catalog) -> list[str]:
    return [job["ref"] for job in catalog.jobs(source="netops")]


class TestMassUninstallGuard:
    def test_uninstalling_more_than_half_is_refused_and_nothing_applied(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """5 of 9 uninstalled is refused: jobs, source and events stay, the sync result failed saying why."""
        first = write_jobs(repo, "jobs/ops.py", 9)
        catalog.resync(repo.url, name="netops")
        before, events = installed_refs(catalog), catalog_event_count(catalog)
        write_jobs(repo, "jobs/ops.py", 4, "drop five")
        with pytest.raises(MassUninstallError) as caught:
            catalog.resync("netops")
        message = str(caught.value)
        assert "5 of 9" in message and "--allow-mass-uninstall" in message and "\n" not in message
        assert installed_refs(catalog) == before
        assert catalog_event_count(catalog) == events  # only the result's events were appended
        assert catalog.source("netops")["last_commit"] == first
        assert catalog.source("netops")["last_error"] is None  # a refusal, not a broken source
        failed = catalog.results()[0]
        assert failed["status"] == "failed" and failed["task"] == "sync"
        assert message in [entry["message"] for entry in catalog.logs(failed["id"])]
        assert catalog.replay(verify=True).ok

    def test_a_refused_sync_is_refused_again_until_allowed(self, repo: GitRepo, catalog: Catalog) -> None:
        """Nothing of a refused sync is kept: the next sync refuses again, and the flag then applies it all."""
        write_jobs(repo, "jobs/ops.py", 9)
        catalog.resync(repo.url, name="netops")
        drop = write_jobs(repo, "jobs/ops.py", 4, "drop five")
        with pytest.raises(MassUninstallError):
            catalog.resync("netops")
        with pytest.raises(MassUninstallError):
            catalog.resync("netops")
        summary = catalog.resync("netops", allow_mass_uninstall=True)
        assert summary.commit == drop and len(summary.uninstalled) == 5
        assert installed_refs(catalog) == [f"netops:jobs.ops.Job{i}" for i in range(4)]
        assert catalog.replay(verify=True).ok

    @pytest.mark.parametrize(("installed", "left"), [(4, 0), (10, 5)])
    def test_edges_that_are_allowed(self, repo: GitRepo, catalog: Catalog, installed: int, left: int) -> None:
        """4 of 4 (fewer than five) and 5 of 10 (not more than half) are uninstalled without the flag."""
        write_jobs(repo, "jobs/ops.py", installed)
        catalog.resync(repo.url, name="netops")
        write_jobs(repo, "jobs/ops.py", left, "drop some")
        summary = catalog.resync("netops")
        assert len(summary.uninstalled) == installed - left
        assert len(installed_refs(catalog)) == left

    def test_the_whole_source_counts_not_only_the_changed_files(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """An incremental sync that empties one file of 5 jobs, out of 12 in the source, is allowed."""
        write_jobs(repo, "jobs/a.py", 5)
        write_jobs(repo, "jobs/b.py", 7)
        catalog.resync(repo.url, name="netops")
        repo.remove("jobs/a.py")
        repo.commit("drop a")
        assert len(catalog.resync("netops").uninstalled) == 5
        repo.remove("jobs/b.py")
        repo.commit("drop b")
        with pytest.raises(MassUninstallError, match="7 of 7"):
            catalog.resync("netops")

    @pytest.mark.parametrize(
        ("limit", "dropped", "allowed"),
        [(6, 6, True), (6, 7, False), (0, 1, False), ("60%", 6, True), ("60%", 7, False), ("20%", 3, False)],
    )
    def test_max_uninstall_of_a_configured_source(
        self, repo: GitRepo, catalog: Catalog, limit: int | str, dropped: int, allowed: bool
    ) -> None:
        """A configured ``max_uninstall`` (a count, or a percentage of the installed jobs) replaces the default."""
        catalog.configure_sources(
            [SourceSpec(name="netops", url=repo.url, configured=True, max_uninstall=limit)]
        )
        write_jobs(repo, "jobs/ops.py", 10)
        catalog.resync("netops")
        write_jobs(repo, "jobs/ops.py", 10 - dropped, "drop some")
        if allowed:
            assert len(catalog.resync("netops").uninstalled) == dropped
            return
        events = catalog_event_count(catalog)
        with pytest.raises(MassUninstallError, match=f"{dropped} of 10"):
            catalog.resync("netops")
        assert len(installed_refs(catalog)) == 10 and catalog_event_count(catalog) == events
        assert len(catalog.resync("netops", allow_mass_uninstall=True).uninstalled) == dropped
