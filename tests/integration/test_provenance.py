"""Who, when and why: each sync-caused event names the commit behind it, its author and subject (docs/design.md §5).

Real repositories, commits by different authors made with the git CLI, synced through ``Catalog``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jobsync import Catalog
from jobsync.adapters import git as git_adapter
from jobsync.domain.job import Job
from jobsync.domain.source import Source
from jobsync.records import HistoryEntry
from tests.helpers import GitRepo, job_module
from tests.integration.test_evolution import stored

EVE = "Eve Writer <eve@example.org>"
BOB = "Bob Builder <bob@example.org>"
CAROL = "Carol Merger <carol@example.org>"


@contextmanager
def synced_catalog(repo: GitRepo, state_dir: Path) -> Iterator[Catalog]:
    """A catalog that synced ``netops``: one job ``A`` in ``jobs/a.py``, described "plain"."""
    repo.write("jobs/a.py", job_module("A"))
    repo.commit("start")
    with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
        catalog.resync(repo.url, name="netops")
        yield catalog


def last(entries: list[HistoryEntry], event: str) -> HistoryEntry:
    return [entry for entry in entries if entry["event"] == event][-1]


class TestEachEventNamesItsCommit:
    def test_discovered_changed_uninstalled_and_reinstalled_jobs_carry_the_commit_behind_them(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """Each kind of sync event names the commit that changed the job's file, its author, time and subject."""
        repo.write("jobs/backup.py", job_module("Backup"))
        first = repo.commit("Add backup job", author=EVE)
        with Catalog.open(state_dir=state_dir, actor="daemon@vm") as catalog:
            catalog.resync(repo.url, name="netops")
            repo.write("jobs/backup.py", job_module("Backup", description="Purge after 90 days"))
            second = repo.commit("Purge after 90 days\n\nThe body is not the subject.", author=BOB)
            catalog.resync("netops")
            repo.remove("jobs/backup.py")
            third = repo.commit("Drop the backup job", author=CAROL)
            catalog.resync("netops")
            repo.write("jobs/backup.py", job_module("Backup"))
            fourth = repo.commit("Bring it back", author=EVE)
            catalog.resync("netops")
            history = catalog.history("netops:jobs.backup.Backup")

        seen = [(e["event"], e["commit"], e["author"], e["subject"], e["actor"]) for e in history]
        assert seen == [
            ("JobDiscovered", first, EVE, "Add backup job", "daemon@vm"),
            ("JobChanged", second, BOB, "Purge after 90 days", "daemon@vm"),
            ("JobUninstalled", third, CAROL, "Drop the backup job", "daemon@vm"),
            ("JobReinstalled", fourth, EVE, "Bring it back", "daemon@vm"),
        ]
        committed = history[1]["committed"]
        assert committed is not None and committed.tzinfo is not None

    def test_a_sync_records_its_commits_author_committer_time_and_subject(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """SourceSynced says who wrote and who committed the synced commit; the audit shows it."""
        repo.write("jobs/backup.py", job_module("Backup"))
        head = repo.commit("Release 1.2", author=EVE, committer=BOB)
        with Catalog.open(state_dir=state_dir, actor="daemon@vm") as catalog:
            catalog.resync(repo.url, name="netops")
            source = catalog._app.get_source("netops")
            entry = last(catalog.audit(source="netops"), "SourceSynced")
        assert source is not None and source.last_origin is not None
        assert (source.last_origin.author, source.last_origin.committer) == (EVE, BOB)
        assert (entry["commit"], entry["author"], entry["subject"]) == (head, EVE, "Release 1.2")

    def test_one_sync_of_several_commits_credits_each_job_to_the_commit_that_last_changed_its_file(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """Three commits by three people, one sync: each job names its own file's latest commit."""
        repo.write("jobs/a.py", job_module("A"))
        repo.write("jobs/b.py", job_module("B"))
        repo.write("jobs/c.py", job_module("C"))
        repo.commit("start", author=CAROL)
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(repo.url, name="netops")
            repo.write("jobs/a.py", job_module("A", description="by Eve"))
            by_eve = repo.commit("Eve edits A", author=EVE)
            repo.write("jobs/b.py", job_module("B", description="by Bob"))
            by_bob = repo.commit("Bob edits B", author=BOB)
            repo.write("jobs/a.py", job_module("A", description="by Bob too"))
            repo.write("README.md", "docs\n")
            by_bob_again = repo.commit("Bob edits A", author=BOB)
            repo.write("README.md", "more docs\n")
            head = repo.commit("Carol writes docs", author=CAROL)
            summary = catalog.resync("netops")
            a = last(catalog.history("netops:jobs.a.A"), "JobChanged")
            b = last(catalog.history("netops:jobs.b.B"), "JobChanged")
            c = catalog.history("netops:jobs.c.C")
        assert summary.commit == head
        assert (a["commit"], a["author"], a["subject"]) == (by_bob_again, BOB, "Bob edits A")
        assert (b["commit"], b["author"], b["subject"]) == (by_bob, BOB, "Bob edits B")
        assert by_eve not in (a["commit"], b["commit"])
        assert [e["event"] for e in c] == ["JobDiscovered"]  # untouched: no event at all

    def test_a_merge_credits_the_branch_commit_that_made_the_change(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """As ``git log -- FILE`` does: a merge that only brings a branch's change is not its author."""
        with synced_catalog(repo, state_dir) as catalog:
            repo.git("checkout", "-q", "-b", "feature")
            repo.write("jobs/a.py", job_module("A", description="from the branch"))
            on_branch = repo.commit("Describe A", author=BOB)
            repo.git("checkout", "-q", "main")
            repo.write("README.md", "main moved on\n")
            repo.commit("Docs on main", author=EVE)
            repo.git("-c", "user.name=Carol Merger", "-c", "user.email=carol@example.org", "merge", "-q",
                     "--no-ff", "-m", "Merge feature", "feature")  # fmt: skip
            catalog.resync("netops")
            changed = last(catalog.history("netops:jobs.a.A"), "JobChanged")
        assert (changed["commit"], changed["author"]) == (on_branch, BOB)

    def test_a_job_changed_through_another_file_is_credited_to_the_synced_commit(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """A job whose own file did not change (its base class's did) names the commit that was synced."""
        repo.write("jobs/base.py", "from nautobot.apps.jobs import Job\n\n\nclass Base(Job):\n    pass\n")
        repo.write(
            "jobs/child.py",
            "from jobs.base import Base\n\n\nclass Child(Base):\n    class Meta:\n        description = 'c'\n",
        )
        repo.commit("start")
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(repo.url, name="netops")
            repo.write(
                "jobs/base.py",
                "from nautobot.apps.jobs import Job\n\n\nclass Base(Job):\n    time_limit = 600\n",
            )
            head = repo.commit("Longer limit for every job", author=EVE)
            catalog.resync("netops")
            changed = last(catalog.history("netops:jobs.child.Child"), "JobChanged")
        assert changed["changes"]["time_limit"] == [0, 600]
        assert (changed["commit"], changed["author"]) == (head, EVE)

    def test_a_walk_bounded_by_its_limit_credits_the_rest_to_the_synced_commit(
        self, repo: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Beyond WALK_LIMIT commits the walk stops: a job whose file changed earlier names the synced commit."""
        with synced_catalog(repo, state_dir) as catalog:
            repo.write("jobs/a.py", job_module("A", description="old change"))
            repo.commit("Old change", author=BOB)
            for n in range(3):
                repo.write("README.md", f"{n}\n")
                head = repo.commit(f"docs {n}", author=EVE)
            monkeypatch.setattr(git_adapter, "WALK_LIMIT", 2)
            catalog.resync("netops")
            changed = last(catalog.history("netops:jobs.a.A"), "JobChanged")
        assert (changed["commit"], changed["author"], changed["subject"]) == (head, EVE, "docs 2")


class TestFoldersHaveNoAuthor:
    def test_a_folder_sync_has_commit_but_no_author(self, tmp_path: Path, state_dir: Path) -> None:
        """A local folder has no commits: history names its content digest, and author/subject are null."""
        folder = tmp_path / "jobs"
        folder.mkdir()
        (folder / "backup.py").write_text(job_module("Backup"), encoding="utf-8")
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(str(folder), name="local")
            [entry] = catalog.history("local:backup.Backup")
        assert entry["commit"]
        assert (entry["author"], entry["committed"], entry["subject"]) == (None, None, None)


class TestAuditByAuthor:
    def test_author_filter_matches_any_part_of_name_or_email_in_any_case(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """``--author`` matches ``Name <email>`` by substring, case-insensitively; operator events never match."""
        repo.write("jobs/a.py", job_module("A"))
        repo.commit("start", author=BOB)
        with Catalog.open(state_dir=state_dir, actor="ops") as catalog:
            catalog.resync(repo.url, name="netops")
            repo.write("jobs/a.py", job_module("A", description="Eve's"))
            repo.commit("Eve's change", author=EVE)
            catalog.resync("netops")
            catalog.enable("netops:jobs.a.A")
            by_name = catalog.audit(author="eve writer")
            by_email = catalog.audit(author="EXAMPLE.ORG")
            nobody = catalog.audit(author="mallory")
        assert [(e["event"], e["subject"]) for e in by_name] == [
            ("SourceSynced", "Eve's change"),
            ("JobChanged", "Eve's change"),
        ]
        assert {e["event"] for e in by_email} == {"SourceSynced", "JobDiscovered", "JobChanged"}
        assert nobody == []


class TestOldEventsStillRead:
    def test_events_saved_before_provenance_read_with_none(self, repo: GitRepo, state_dir: Path) -> None:
        """Job and source events of the shape an older version saved load, replay and list without provenance."""
        repo.write("jobs/a.py", job_module("A"))
        repo.commit("start", author=EVE)
        catalog = Catalog.open(state_dir=state_dir, actor="ops")
        catalog.resync(repo.url, name="netops")
        app = catalog._app
        job = app.get_job(catalog.resolve("netops:jobs.a.A"))
        job.sync_facts({**job.facts(), "line": 99}, "c2", actor="old-release")
        job.uninstall("c3", actor="old-release", reason="gone")
        job.sync_facts(job.facts(), "c4", actor="old-release")
        source = app.get_source("netops")
        assert source is not None
        source.record_sync("c4", "main", {}, "old-release", "host", "3.11")
        events = [*job.collect_events(), *source.collect_events()]
        old_versions: dict[type, int] = {
            Job.JobChanged: 1,
            Job.JobUninstalled: 2,
            Job.JobReinstalled: 2,
            Source.SourceSynced: 2,
        }
        old_shapes = []
        for event in events:
            version = old_versions[type(event)]
            edit: dict[str, object] = {"class_version": version} if version > 1 else {}
            drop = ("origin",) if version > 1 else ("origin", "class_version")
            old_shapes.append(stored(catalog, event, edit, drop=drop))
        assert all("origin" not in json.loads(s.state) for s in old_shapes)
        app.recorder.insert_events(old_shapes)
        catalog.close()

        with Catalog.open(state_dir=state_dir) as reopened:
            history = reopened.history("netops:jobs.a.A")
            audit = reopened.audit(actor="old-release")
            assert reopened.replay(verify=True).ok
        assert [e["event"] for e in history[1:]] == ["JobChanged", "JobUninstalled", "JobReinstalled"]
        assert [(e["commit"], e["author"]) for e in history[1:]] == [("c2", None), ("c3", None), ("c4", None)]
        assert history[0]["author"] == EVE  # the event saved with provenance keeps it
        assert last(audit, "SourceSynced")["author"] is None


class TestCommitsHistoryShowsArePoints:
    def test_the_commit_history_names_is_a_point_even_when_no_sync_stopped_at_it(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """``jobs show --at`` / ``jobs diff`` take the commit history credits, not only synced ones."""
        with synced_catalog(repo, state_dir) as catalog:
            repo.write("jobs/a.py", job_module("A", description="Eve's words"))
            by_eve = repo.commit("Eve edits A", author=EVE)
            repo.write("README.md", "docs\n")
            repo.commit("docs", author=BOB)  # the sync stops here, not at Eve's commit
            catalog.resync("netops")
            credited = last(catalog.history("netops:jobs.a.A"), "JobChanged")["commit"]
            then = catalog.job("netops:jobs.a.A", at=by_eve[:7])
            diff = catalog.diff("netops:jobs.a.A", "v1", by_eve[:9])
        assert credited == by_eve
        assert then["description"] == "Eve's words"
        assert diff["changes"]["description"] == ["plain", "Eve's words"]
