"""``jobsync store migrate`` killed mid-copy: the partial target is refused until a re-run resumes it.

Real processes, real stores: an SQLite source file, copied into an SQLite file or into a database
of the PostgreSQL server this test session starts, by a ``jobsync store migrate`` subprocess that
is SIGKILLed once its progress lines show it has copied some batches.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jobsync import Catalog, IncompleteCopyError, LogEntry, StoreError
from jobsync.adapters.copy_marker import CopyMarker, write_marker
from jobsync.adapters.store import redact_password
from jobsync.migrate import copy_store
from tests.concurrency import PATIENCE, ROOT, child_env, kill_group
from tests.e2e.test_cli import JOBS
from tests.helpers import Cli, GitRepo, assert_one_line_error

#: Events in the source: with one event per batch, a copy is far from done when it is killed.
LOG_LINES = 3000
#: Events the killed copy must have reported copied before the kill.
KILL_AFTER = 100


def build_source(url: str, state: Path, repo: GitRepo, lines: int = LOG_LINES) -> int:
    """A catalog of two jobs and one run holding ``lines`` log entries; its event count."""
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    with Catalog.open(store=url, state_dir=state, actor="builder") as catalog:
        catalog.resync(repo.url, name="netops")
        catalog.enable("netops:jobs.ops.Backup")
        run = catalog.record_result("netops:jobs.ops.Backup", args={"n": 1})
        catalog.start_result(run)
        catalog.log_many(run, [LogEntry(f"line {i}") for i in range(lines)])
        catalog.finish_result(run, "completed", {"lines": lines})
        return catalog.event_count()


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    """``jobsync store migrate ARGS`` to its end."""
    return subprocess.run(
        [sys.executable, "-m", "jobsync", "store", "migrate", *args],
        capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=PATIENCE,
    )  # fmt: skip


def kill_migrate_midway(source: str, target: str) -> None:
    """Start a copy of one event per batch and SIGKILL it once it reports ``KILL_AFTER`` events copied."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jobsync", "store", "migrate", "--batch-size", "1", source, target],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=child_env(),
        start_new_session=True,
    )  # fmt: skip
    assert process.stderr is not None
    seen = []
    try:
        for line in process.stderr:
            seen.append(line.decode())
            words = line.split()
            if words[:1] == [b"copied"] and int(words[1]) >= KILL_AFTER:
                kill_group(process, signal.SIGKILL)
                break
        else:
            pytest.fail(f"the copy ended before it could be killed: {''.join(seen[-3:])}")
    finally:
        kill_group(process, signal.SIGKILL)
        process.wait(timeout=PATIENCE)
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def source(tmp_path: Path, repo: GitRepo) -> tuple[str, int]:
    """An SQLite store to copy: (its URL, its event count)."""
    url = f"sqlite:///{tmp_path / 'source.db'}"
    return url, build_source(url, tmp_path / "source-state", repo)


class TestKilledMigration:
    """A SIGKILLed ``store migrate`` leaves a target that says so, and a re-run finishes the copy."""

    def test_partial_target_is_refused_in_one_line(
        self, cli: Cli, source: tuple[str, int], store_url: str
    ) -> None:
        """Every command on a partial copy fails with one line naming the copy's progress and the way out."""
        url, total = source
        kill_migrate_midway(url, store_url)
        done = cli.run("--store", store_url, "jobs", "list")
        assert_one_line_error(done, 1, "holds an incomplete copy from")
        assert f" of {total} events" in done.stderr
        target = redact_password(store_url)
        assert f"run 'jobsync store migrate {url} {target}' again to resume" in done.stderr
        secret = urlsplit(store_url).password
        assert secret is None or secret not in done.stderr
        assert_one_line_error(cli.run("--store", store_url, "replay", "--verify"), 1, "incomplete copy")
        with pytest.raises(StoreError, match="incomplete copy"):
            Catalog.open(store=store_url, state_dir=cli.state)

    def test_rerun_resumes_to_a_verified_copy(
        self, cli: Cli, source: tuple[str, int], store_url: str
    ) -> None:
        """Re-running the same migration resumes where the killed one stopped and ends with the whole log."""
        url, total = source
        kill_migrate_midway(url, store_url)
        done = migrate(url, store_url)
        assert done.returncode == 0, done.stderr
        assert "resuming an interrupted copy after event" in done.stdout
        assert f"copied {total} events" in done.stdout
        assert cli.ok("--store", store_url, "replay", "--verify").startswith(
            f"verified read models from {total}"
        )
        with (
            Catalog.open(store=url, state_dir=cli.state) as original,
            Catalog.open(store=store_url, state_dir=cli.state) as copy,
        ):
            assert copy.event_count() >= total  # PostgreSQL's positions may skip a killed batch's ids
            assert copy.jobs(installed=None) == original.jobs(installed=None)
            assert copy.results() == original.results()
            [run] = copy.results(job="netops:jobs.ops.Backup")
            assert copy.logs(run["id"]) == original.logs(run["id"]) and len(copy.logs(run["id"])) == LOG_LINES

    def test_partial_copy_of_another_log_is_refused(
        self, cli: Cli, tmp_path: Path, source: tuple[str, int], store_url: str
    ) -> None:
        """A partial copy is resumed only from the log it started from; another source is refused, nothing added."""
        url, _ = source
        kill_migrate_midway(url, store_url)
        refused = cli.run("--store", store_url, "jobs", "list")
        other = f"sqlite:///{tmp_path / 'other.db'}"
        build_source(other, tmp_path / "other-state", GitRepo(tmp_path / "other-repo"), lines=10)
        done = migrate(other, store_url)
        assert_one_line_error(done, 1, "holds an incomplete copy of another log")
        assert cli.run("--store", store_url, "jobs", "list").stderr == refused.stderr  # nothing added

    def test_partial_copy_is_refused_as_a_source(
        self, tmp_path: Path, source: tuple[str, int], store_url: str
    ) -> None:
        """A partial copy cannot itself be copied on: it is not a whole log."""
        url, _ = source
        kill_migrate_midway(url, store_url)
        done = migrate(store_url, f"sqlite:///{tmp_path / 'onward.db'}")
        assert_one_line_error(done, 1, "holds an incomplete copy from")


class TestInterruptedVerification:
    """A copy stopped after its last batch (while snapshotting or verifying) still carries its marker."""

    def test_rerun_finishes_a_copy_whose_events_were_all_copied(
        self, tmp_path: Path, source: tuple[str, int], store_url: str
    ) -> None:
        """The re-run copies nothing more, tolerates the snapshots already taken, verifies and unmarks."""
        url, total = source
        first = copy_store(url, store_url)
        assert first.snapshots >= 1  # the run's 3,000 log entries make a long aggregate
        with Catalog.open(store=store_url, state_dir=tmp_path / "check") as copy:
            assert copy.replay(verify=True).ok
            copy_app = copy._app
            write_marker(copy_app.recorder, CopyMarker(url, total))  # as if killed before unmarking
        with pytest.raises(IncompleteCopyError, match=rf"\({total} of {total} events\)"):
            Catalog.open(store=store_url, state_dir=tmp_path / "check")
        again = copy_store(url, store_url)
        assert (again.events, again.resumed_after, again.snapshots) == (total, total, first.snapshots)
        with Catalog.open(store=store_url, state_dir=tmp_path / "check") as copy:
            assert copy.event_count() >= total and copy.replay(verify=True).ok
