"""The source life-cycle through the library: suspend, resume, remove, rename (docs/design.md §2), on both stores."""

from __future__ import annotations

import pytest

from jobsync import Catalog, JobNotFoundError, SourceConflictError, SourceNotFoundError
from jobsync.domain.errors import SourceRemovedError, SourceStillHasJobsError, SourceSuspendedError
from jobsync.spec import SourceSpec
from tests.helpers import GitRepo, job_module

OLD_REF = "netops:jobs.backup.Backup"
NEW_REF = "network:jobs.backup.Backup"


def _synced(repo: GitRepo, catalog: Catalog, name: str = "netops") -> None:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", job_module("Backup", "Restore"))
    repo.commit("jobs")
    catalog.resync(repo.url, name=name)


def _events(catalog: Catalog, name: str) -> list[tuple[str, str]]:
    """``(event, actor)`` of each event of source ``name``, oldest first, as the audit shows them."""
    return [
        (e["event"], e["actor"])
        for e in catalog.audit()
        if e["ref"] == name and e["event"].startswith("Source")
    ]


def _verified(catalog: Catalog) -> None:
    report = catalog.replay(verify=True)
    assert report.ok, report.differences


class TestSuspend:
    def test_suspend_and_resume_are_events_with_their_actor(self, repo: GitRepo, catalog: Catalog) -> None:
        """Suspending and resuming each append one event saying who did it, and the read model shows the state."""
        _synced(repo, catalog)
        assert catalog.suspend_source("netops", actor="carol") is True
        assert catalog.source("netops")["status"] == "suspended"
        _verified(catalog)
        assert catalog.resume_source("netops", actor="dave") is True
        assert catalog.source("netops")["status"] == "ok"
        _verified(catalog)
        assert _events(catalog, "netops")[-2:] == [("SourceSuspended", "carol"), ("SourceResumed", "dave")]

    def test_suspend_twice_is_no_new_fact(self, repo: GitRepo, catalog: Catalog) -> None:
        """A second suspension (or a resume of an active source) says False and appends nothing."""
        _synced(repo, catalog)
        assert catalog.resume_source("netops") is False
        catalog.suspend_source("netops")
        assert catalog.suspend_source("netops") is False
        assert [e for e, _ in _events(catalog, "netops")].count("SourceSuspended") == 1

    def test_resync_refuses_a_suspended_source_unless_forced(self, repo: GitRepo, catalog: Catalog) -> None:
        """A plain resync of a suspended source is refused; a forced one syncs it once and it stays suspended."""
        _synced(repo, catalog)
        catalog.suspend_source("netops")
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")
        with pytest.raises(SourceSuspendedError, match="sources resume netops"):
            catalog.resync("netops")
        assert "netops:jobs.more.More" not in [j["ref"] for j in catalog.jobs()]
        summary = catalog.resync("netops", force=True)
        assert summary.added == ["netops:jobs.more.More"]
        assert catalog.source("netops")["status"] == "suspended"

    def test_the_daemon_poll_skips_a_suspended_source(self, repo: GitRepo, catalog: Catalog) -> None:
        """The daemon's poll of a suspended source reads nothing and raises SourceSuspendedError."""
        _synced(repo, catalog)
        catalog.suspend_source("netops")
        spec = SourceSpec(name="netops", url=repo.url)
        with pytest.raises(SourceSuspendedError):
            catalog.poll(spec, catalog.reader_for(spec))

    def test_suspending_an_unknown_source_is_refused(self, catalog: Catalog) -> None:
        """A name no source has is a SourceNotFoundError naming the known ones."""
        with pytest.raises(SourceNotFoundError, match="ghost"):
            catalog.suspend_source("ghost")


class TestRemove:
    def test_a_source_with_installed_jobs_is_not_removed(self, repo: GitRepo, catalog: Catalog) -> None:
        """Removing a source that still has installed jobs is refused, saying how to proceed."""
        _synced(repo, catalog)
        with pytest.raises(SourceStillHasJobsError, match=r"2 installed jobs.*--uninstall-jobs"):
            catalog.remove_source("netops")
        assert [s["name"] for s in catalog.sources()] == ["netops"]

    def test_remove_with_uninstall_keeps_jobs_and_history(self, repo: GitRepo, catalog: Catalog) -> None:
        """--uninstall-jobs uninstalls the jobs (with the actor), removes the source, and keeps jobs and history."""
        _synced(repo, catalog)
        uninstalled = catalog.remove_source("netops", uninstall_jobs=True, actor="erin")
        assert uninstalled == [OLD_REF, "netops:jobs.backup.Restore"]
        assert catalog.sources() == []
        job = catalog.job(OLD_REF)
        assert job["installed"] is False
        last = catalog.history(OLD_REF)[-1]
        assert (last["event"], last["actor"]) == ("JobUninstalled", "erin")
        assert _events(catalog, "netops")[-1] == ("SourceRemoved", "erin")
        _verified(catalog)

    def test_a_removed_source_comes_back_afresh(self, repo: GitRepo, catalog: Catalog) -> None:
        """Syncing a removed source's URL again adds it back and reinstalls its jobs."""
        _synced(repo, catalog)
        catalog.remove_source("netops", uninstall_jobs=True)
        with pytest.raises(SourceNotFoundError):
            catalog.resync("netops")
        summary = catalog.resync(repo.url, name="netops")
        assert sorted(summary.reinstalled) == [OLD_REF, "netops:jobs.backup.Restore"]
        assert catalog.source("netops")["status"] == "ok"
        _verified(catalog)

    def test_the_daemon_poll_adds_a_removed_source_back_only_when_told(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """A poll of a removed source is refused; with ``readd`` (the config still names it) it comes back."""
        _synced(repo, catalog)
        catalog.remove_source("netops", uninstall_jobs=True)
        spec = SourceSpec(name="netops", url=repo.url, configured=True)
        with pytest.raises(SourceRemovedError):
            catalog.poll(spec, catalog.reader_for(spec))
        assert catalog.sources() == []
        summary = catalog.poll(spec, catalog.reader_for(spec), readd=True)
        assert summary.reinstalled == [OLD_REF, "netops:jobs.backup.Restore"]
        assert catalog.source("netops")["status"] == "ok"
        _verified(catalog)

    def test_a_removed_source_is_not_followed_by_the_daemon(self, repo: GitRepo, catalog: Catalog) -> None:
        """followed_sources lists remembered sources, and no removed one."""
        _synced(repo, catalog)
        assert [s.name for s in catalog.followed_sources([]).specs] == ["netops"]
        catalog.remove_source("netops", uninstall_jobs=True)
        assert catalog.followed_sources([]).specs == []


class TestRename:
    def test_rename_moves_refs_and_old_refs_keep_resolving(self, repo: GitRepo, catalog: Catalog) -> None:
        """After a rename the jobs answer to the new ref and source; the old ref still finds them and their history."""
        _synced(repo, catalog)
        catalog.override(OLD_REF, "description", "pinned")
        moved = catalog.rename_source("netops", "network", actor="frank")
        assert moved == [NEW_REF, "network:jobs.backup.Restore"]
        assert [s["name"] for s in catalog.sources()] == ["network"]
        job = catalog.job(NEW_REF)
        assert (job["source"], job["ref"], job["description"]) == ("network", NEW_REF, "pinned")
        assert catalog.job(OLD_REF)["ref"] == NEW_REF
        history = catalog.history(OLD_REF)
        assert (history[-1]["event"], history[-1]["actor"]) == ("JobSourceRenamed", "frank")
        assert [e["event"] for e in catalog.history(NEW_REF)] == [e["event"] for e in history]
        assert catalog.jobs(source="netops") == []
        _verified(catalog)

    def test_a_renamed_source_keeps_its_last_sync(self, repo: GitRepo, catalog: Catalog) -> None:
        """The new name shows the same last commit, time, host and counts the old one had."""
        _synced(repo, catalog)
        before = catalog.source("netops")
        catalog.rename_source("netops", "network")
        after = catalog.source("network")
        for key in (
            "kind",
            "url",
            "last_commit",
            "last_synced",
            "last_synced_by",
            "last_synced_host",
            "last_counts",
        ):
            assert after[key] == before[key], key

    def test_a_renamed_source_syncs_under_its_new_name(self, repo: GitRepo, catalog: Catalog) -> None:
        """The next sync of the new name changes the same jobs; nothing is added twice."""
        _synced(repo, catalog)
        catalog.rename_source("netops", "network")
        repo.write("jobs/backup.py", job_module("Backup", "Restore", description="new"))
        repo.commit("describe")
        summary = catalog.resync("network")
        assert summary.added == []
        assert sorted(summary.changed) == [NEW_REF, "network:jobs.backup.Restore"]
        assert catalog.source("network")["last_commit"] == summary.commit
        assert catalog.source("network")["last_synced_by"] is not None
        _verified(catalog)

    def test_a_taken_name_is_refused(
        self, repo: GitRepo, tmp_path_factory: pytest.TempPathFactory, catalog: Catalog
    ) -> None:
        """Renaming onto another source's name is refused, and so is reusing a name a rename retired."""
        _synced(repo, catalog)
        other = GitRepo(tmp_path_factory.mktemp("other"))
        _synced(other, catalog, name="other")
        with pytest.raises(SourceConflictError, match="'other' is taken"):
            catalog.rename_source("netops", "other")
        catalog.rename_source("netops", "network")
        with pytest.raises(SourceConflictError, match="renamed to 'network'"):
            catalog.rename_source("other", "netops")
        with pytest.raises(SourceConflictError, match="renamed to 'network'"):
            catalog.resync(repo.url, name="netops")

    def test_a_rename_back_is_allowed(self, repo: GitRepo, catalog: Catalog) -> None:
        """A source may take back the name it was renamed from; refs follow again."""
        _synced(repo, catalog)
        catalog.rename_source("netops", "network")
        catalog.rename_source("network", "netops")
        assert [s["name"] for s in catalog.sources()] == ["netops"]
        assert catalog.job(OLD_REF)["ref"] == OLD_REF
        assert catalog.job(NEW_REF)["ref"] == OLD_REF
        _verified(catalog)

    def test_a_bad_new_name_is_refused(self, repo: GitRepo, catalog: Catalog) -> None:
        """A new name holding ':' could not start a job ref: refused before anything is saved."""
        _synced(repo, catalog)
        with pytest.raises(SourceConflictError, match="may not hold ':'"):
            catalog.rename_source("netops", "a:b")
        with pytest.raises(JobNotFoundError):
            catalog.job("a:b:jobs.backup.Backup")
