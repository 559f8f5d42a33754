"""``Catalog.explain`` through a real git repository and a real folder: the file as the last sync read it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import jobsync.app
from jobsync import Catalog, FileNotInSourceError, SourceNotFoundError, SourceReadError
from jobsync.domain.discovery import ModuleSummary
from jobsync.parsing import summarize_files
from jobsync.records import ClassExplanationRecord
from jobsync.spec import SourceSpec
from tests.helpers import GitRepo

PACKAGE = """\
from nautobot.apps.jobs import register_jobs

from .ops import Backup, Restore

register_jobs(Backup, Restore)
"""

OPS = """\
from nautobot.apps.jobs import Job

TIMEOUT = 60 * 5


class Base(Job):
    description = "Shared"

    class Meta:
        abstract = True


class Backup(Base):
    class Meta:
        soft_time_limit = TIMEOUT


class Restore(Job):
    pass


class Forgotten(Job):
    pass
"""


def write_source(repo: GitRepo, modules: int = 0) -> str:
    repo.write("jobs/__init__.py", PACKAGE)
    repo.write("jobs/ops.py", OPS)
    for number in range(modules):
        repo.write(
            f"jobs/extra{number}.py",
            f"from nautobot.apps.jobs import Job\n\nclass Extra{number}(Job):\n    pass\n",
        )
    return repo.commit("jobs")


def by_class(records: Sequence[ClassExplanationRecord]) -> dict[str | None, ClassExplanationRecord]:
    return {record["class"]: record for record in records}


class TestExplainGit:
    def test_every_job_of_the_catalog_and_only_those_is_explained_as_a_job(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """For each class of the file, ``job`` is true exactly for the jobs the sync put in the catalog."""
        write_source(repo)
        catalog.resync(repo.url, name="netops")
        records = catalog.explain("netops", "jobs/ops.py")
        assert [r["class"] for r in records] == ["Base", "Backup", "Restore", "Forgotten"]
        explained = {f"netops:jobs.ops.{r['class']}" for r in records if r["job"]}
        assert explained == {job["ref"] for job in catalog.jobs("netops")}
        backup = next(r for r in records if r["class"] == "Backup")
        assert backup["metadata"]["soft_time_limit"] == {
            "value": 300,
            "origin": "Meta",
            "file": "jobs/ops.py",
            "line": 15,
        }
        assert backup["metadata"]["description"]["origin"] == "inherited from class Base (class attribute)"
        assert (
            catalog.job("netops:jobs.ops.Backup")["description"] == backup["metadata"]["description"]["value"]
        )

    def test_the_file_is_read_at_the_last_synced_commit(self, repo: GitRepo, catalog: Catalog) -> None:
        """A commit not synced yet does not show: explain answers for what the catalog holds."""
        write_source(repo)
        catalog.resync(repo.url, name="netops")
        repo.write("jobs/ops.py", OPS.replace("class Forgotten(Job)", "class Renamed(Job)"))
        repo.write("jobs/new.py", "")
        repo.commit("not synced")
        assert "Forgotten" in by_class(catalog.explain("netops", "jobs/ops.py"))
        with pytest.raises(FileNotInSourceError, match=r"jobs/new\.py"):
            catalog.explain("netops", "jobs/new.py")

    def test_one_file_of_a_synced_source_parses_nothing(
        self, repo: GitRepo, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With the stored summaries at the synced commit, explaining one file parses no file at all."""
        write_source(repo, modules=30)
        catalog.resync(repo.url, name="netops")
        parsed: list[str] = []

        def counting(items: Sequence[tuple[str, bytes]]) -> list[ModuleSummary]:
            parsed.extend(path for path, _ in items)
            return summarize_files(items)

        monkeypatch.setattr(jobsync.app, "summarize_files", counting)
        records = catalog.explain("netops", "jobs/extra7.py")
        assert [(r["class"], r["job"]) for r in records] == [("Extra7", False)]
        assert parsed == []

    def test_a_skipped_path_is_an_answer_and_a_missing_one_an_error(
        self, repo: GitRepo, catalog: Catalog
    ) -> None:
        """A file a default rule skips says why; a path the source lacks, or an unknown source, is an error."""
        write_source(repo)
        repo.write("jobs/tests/test_ops.py", "")
        repo.commit("tests")
        catalog.resync(repo.url, name="netops")
        [skipped] = catalog.explain("netops", "jobs/tests/test_ops.py")
        assert skipped["class"] is None and not skipped["job"]
        assert "under tests/" in skipped["reason"]
        with pytest.raises(FileNotInSourceError, match=r"no file 'jobs/none\.py'"):
            catalog.explain("netops", "jobs/none.py")
        with pytest.raises(FileNotInSourceError):
            catalog.explain("netops", "jobs/tests/none.py")
        with pytest.raises(SourceNotFoundError):
            catalog.explain("nosuch", "jobs/ops.py")

    def test_a_git_source_never_synced_says_to_sync_it(
        self, repo: GitRepo, state_dir: Path, store_url: str
    ) -> None:
        """A configured git source with no synced commit has nothing to explain yet: one clear error."""
        write_source(repo)
        spec = SourceSpec(name="netops", url=repo.url)
        with (
            Catalog.open(store=store_url, state_dir=state_dir, sources=[spec]) as catalog,
            pytest.raises(SourceReadError, match="has not been synced yet"),
        ):
            catalog.explain("netops", "jobs/ops.py")


class TestExplainFolder:
    def test_a_folder_is_explained_as_it_is_now_with_its_globs(
        self, tmp_path: Path, state_dir: Path, store_url: str
    ) -> None:
        """A local folder needs no sync: its current content, its exclude glob skipping a file."""
        folder = tmp_path / "folder"
        (folder / "jobs").mkdir(parents=True)
        (folder / "jobs" / "ops.py").write_text(OPS.replace("register_jobs", "x"), encoding="utf-8")
        (folder / "jobs" / "old.py").write_text("", encoding="utf-8")
        spec = SourceSpec(name="local", url=str(folder), kind="local", exclude=("jobs/old*",))
        with Catalog.open(store=store_url, state_dir=state_dir, sources=[spec]) as catalog:
            found = by_class(catalog.explain("local", str(folder / "jobs" / "ops.py")))
            assert {name for name, record in found.items() if record["job"]} == {
                "Backup",
                "Restore",
                "Forgotten",
            }
            [old] = catalog.explain("local", "jobs/old.py")
            assert "exclude glob jobs/old*" in old["reason"]
            with pytest.raises(FileNotInSourceError):
                catalog.explain("local", "jobs/gone.py")
