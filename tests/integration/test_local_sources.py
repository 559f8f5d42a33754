"""Sources that are not git repositories: a plain folder (``local``) and an installed Python distribution (``app``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobsync import Catalog
from jobsync.domain.errors import SourceReadError
from jobsync.spec import SourceSpec
from jobsync.sync import open_reader

CHECKS = """\
from nautobot.apps.jobs import Job


class Ping(Job):
    class Meta:
        description = "{description}"


class Trace(Job):
    pass
"""


def job_module(*classes: str) -> str:
    body = "".join(f"\n\nclass {name}(Job):\n    pass\n" for name in classes)
    return f"from nautobot.apps.jobs import Job\n{body}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A plain folder (no git) holding one module of two jobs."""
    root = tmp_path / "lab"
    root.mkdir()
    (root / "checks.py").write_text(CHECKS.format(description="Ping hosts"), encoding="utf-8")
    return root


def refs(catalog: Catalog, installed: bool | None = True) -> set[str]:
    return {job["ref"] for job in catalog.jobs(source="lab", installed=installed)}


class TestLocalFolder:
    def test_plain_folder_becomes_a_local_source(self, catalog: Catalog, folder: Path) -> None:
        """Syncing a folder path that is not a repository makes a ``local`` source and adds its jobs."""
        summary = catalog.resync(str(folder))
        assert sorted(summary.added) == ["lab:checks.Ping", "lab:checks.Trace"]
        assert summary.commit.startswith("tree:")
        (source,) = catalog.sources()
        assert (source["name"], source["kind"], source["url"]) == ("lab", "local", str(folder))
        assert catalog.job("lab:checks.Ping")["description"] == "Ping hosts"

    def test_editing_a_file_changes_the_job(self, catalog: Catalog, folder: Path) -> None:
        """A changed file is read again and its job's fields follow."""
        catalog.resync(str(folder))
        (folder / "checks.py").write_text(CHECKS.format(description="Ping every host"), encoding="utf-8")
        summary = catalog.resync("lab")
        assert summary.changed == ["lab:checks.Ping"]
        assert catalog.job("lab:checks.Ping")["description"] == "Ping every host"

    def test_deleting_a_file_uninstalls_its_jobs(self, catalog: Catalog, folder: Path) -> None:
        """A removed file's jobs are uninstalled, not forgotten."""
        (folder / "extra.py").write_text(job_module("Audit"), encoding="utf-8")
        catalog.resync(str(folder))
        (folder / "extra.py").unlink()
        summary = catalog.resync("lab")
        assert summary.uninstalled == ["lab:extra.Audit"]
        assert refs(catalog) == {"lab:checks.Ping", "lab:checks.Trace"}
        assert refs(catalog, installed=False) == {"lab:extra.Audit"}

    def test_unchanged_folder_is_up_to_date(self, catalog: Catalog, folder: Path) -> None:
        """A second sync of an untouched folder changes nothing and says so."""
        first = catalog.resync(str(folder))
        again = catalog.resync("lab")
        assert again.up_to_date
        assert again.commit == first.commit
        assert (again.added, again.changed, again.uninstalled) == ([], [], [])

    def test_symlinks_leaving_the_folder_are_not_followed(
        self, catalog: Catalog, folder: Path, tmp_path: Path
    ) -> None:
        """A link to a file or a folder outside the root is not read, even when it holds jobs."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "secret.py").write_text(job_module("Leak"), encoding="utf-8")
        (folder / "linked.py").symlink_to(outside / "secret.py")
        (folder / "linked_dir").symlink_to(outside, target_is_directory=True)
        summary = catalog.resync(str(folder))
        assert sorted(summary.added) == ["lab:checks.Ping", "lab:checks.Trace"]
        assert not any("Leak" in ref for ref in refs(catalog, installed=None))

    def test_hidden_folders_and_tests_are_skipped(self, catalog: Catalog, folder: Path) -> None:
        """Files under hidden folders or a ``tests/`` folder are not candidates; the rest are."""
        for relpath in (".hidden/h.py", "tests/test_x.py", "pkg/tests/test_y.py", ".h.py", "pkg/ops.py"):
            (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
            (folder / relpath).write_text(job_module("Found"), encoding="utf-8")
        catalog.resync(str(folder))
        assert refs(catalog) == {"lab:checks.Ping", "lab:checks.Trace", "lab:pkg.ops.Found"}

    def test_missing_folder_is_a_one_line_error(self, catalog: Catalog, folder: Path) -> None:
        """A configured folder that does not exist fails the sync with a one-line SourceReadError."""
        spec = SourceSpec(name="lab", url=str(folder / "gone"), kind="local")
        with pytest.raises(SourceReadError, match="does not exist") as caught:
            catalog.resync_spec(spec)
        assert caught.value.reason == "NotFound"
        assert "\n" not in str(caught.value)

    def test_rewrite_in_the_same_timestamp_tick_is_noticed(self, catalog: Catalog, folder: Path) -> None:
        """A same-size rewrite that keeps the file's timestamp (one clock tick) is still read by a kept reader."""
        spec = SourceSpec(name="lab", url=str(folder), kind="local")
        reader = open_reader(spec, catalog.state_dir)
        target = folder / "checks.py"
        catalog.poll(spec, reader)
        stat = target.stat()
        target.write_text(CHECKS.format(description="Ping HOSTS"), encoding="utf-8")  # same size
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as if written in the same tick
        summary = catalog.poll(spec, reader)
        assert summary.changed == ["lab:checks.Ping"]


class TestAppSource:
    def test_installed_distribution_without_jobs(self, state_dir: Path, store_url: str) -> None:
        """An app source reads an installed distribution's files (click: no Nautobot jobs) without error."""
        spec = SourceSpec(name="clickapp", url="click", kind="app")
        with Catalog.open(store=store_url, state_dir=state_dir, actor="tester", sources=[spec]) as catalog:
            summary = catalog.resync("clickapp")
            assert summary.added == []
            assert summary.commit.startswith("tree:")
            assert catalog.jobs(source="clickapp", installed=None) == []
            (source,) = catalog.sources()
            assert (source["name"], source["kind"], source["url"]) == ("clickapp", "app", "click")
            assert catalog.resync("clickapp").up_to_date

    def test_unknown_distribution_is_a_one_line_error(self, state_dir: Path, store_url: str) -> None:
        """An app source naming no installed distribution fails with a one-line SourceReadError."""
        spec = SourceSpec(name="ghost", url="no-such-distribution-jobsync-test", kind="app")
        with Catalog.open(store=store_url, state_dir=state_dir, actor="tester", sources=[spec]) as catalog:
            with pytest.raises(SourceReadError, match="no installed distribution") as caught:
                catalog.resync("ghost")
            assert "\n" not in str(caught.value)
            assert caught.value.reason == "NotFound"

    def test_unknown_distribution_records_a_failed_sync(self, state_dir: Path, store_url: str) -> None:
        """A failed app sync is recorded as a failed sync result, as a failed git fetch is."""
        spec = SourceSpec(name="ghost", url="no-such-distribution-jobsync-test", kind="app")
        with Catalog.open(store=store_url, state_dir=state_dir, actor="tester", sources=[spec]) as catalog:
            with pytest.raises(SourceReadError):
                catalog.resync("ghost")
            assert [(r["job_name"], r["status"]) for r in catalog.results()] == [("Sync ghost", "failed")]


class TestLocalLinks:
    def test_links_leaving_the_folder_are_reported(self, catalog: Catalog, tmp_path: Path) -> None:
        """A local folder's link to a file or folder outside it is named in the sync's problems, not followed."""
        root = tmp_path / "lab"
        (root / "jobs").mkdir(parents=True)
        (root / "jobs" / "good.py").write_text(
            "from nautobot.apps.jobs import Job\n\nclass Good(Job):\n    pass\n", encoding="utf-8"
        )
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "evil.py").write_text(
            "from nautobot.apps.jobs import Job\n\nclass Evil(Job):\n    pass\n", encoding="utf-8"
        )
        (root / "jobs" / "evil.py").symlink_to(outside / "evil.py")
        (root / "jobs" / "ext").symlink_to(outside, target_is_directory=True)
        summary = catalog.resync(str(root))
        assert [job["job_class_name"] for job in catalog.jobs()] == ["Good"]
        linked = sorted(p.file for p in summary.problems if "symbolic link" in p.reason)
        assert linked == ["jobs/evil.py", "jobs/ext"]
