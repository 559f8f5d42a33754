"""``jobsync daemon`` as systemd runs it: a real subprocess, a real notify socket, real git and folders."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobsync import Catalog
from jobsync.adapters.locks import work_locks
from jobsync.adapters.store import default_store_url
from tests.helpers import GitRepo, bench_make_repo

ROOT = Path(__file__).resolve().parents[2]
#: How long a test waits for something that normally takes well under a second.
PATIENCE = 20.0


def job_module(*classes: str) -> str:
    """A Nautobot job module defining one job per class name."""
    body = "".join(f"\n\nclass {name}(Job):\n    pass\n" for name in classes)
    return f"from nautobot.apps.jobs import Job\n{body}"


def git_source(tmp_path: Path, name: str, *classes: str) -> GitRepo:
    """A repository with one committed job module holding ``classes``."""
    repo = GitRepo(tmp_path / name)
    repo.write("jobs/ops.py", job_module(*classes))
    repo.commit("jobs")
    return repo


def write_config(path: Path, state: Path, sources: list[dict[str, Any]]) -> None:
    """A config file with JSON logs, a private state folder and ``sources`` as ``[[sources]]`` tables."""
    lines = [f"state_dir = {json.dumps(str(state))}", 'log_format = "json"', 'log_level = "debug"']
    for source in sources:
        lines.append("\n[[sources]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in source.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def job_refs(state: Path, source: str | None = None) -> set[str]:
    """The installed jobs the catalog holds, read as any other program would."""
    with Catalog.open(state_dir=state, actor="tester") as catalog:
        return {job["ref"] for job in catalog.jobs(source=source)}


def event_count(state: Path) -> int:
    with Catalog.open(state_dir=state, actor="tester") as catalog:
        return catalog.event_count()


def wait_until(condition: Callable[[], bool], timeout: float = PATIENCE, what: str = "condition") -> float:
    """Poll ``condition`` until it holds; return the seconds it took, or fail the test."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - start


class NotifySocket:
    """The datagram socket systemd would own; a thread collects every message the daemon sends."""

    def __init__(self, folder: Path) -> None:
        # A Unix socket path must fit in 108 bytes; a deep tmp_path falls back to a short folder.
        self._spare = None if len(str(folder)) < 90 else tempfile.mkdtemp(prefix="jobsync-notify-")
        self.path = str(Path(self._spare or folder) / "notify.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []  # (monotonic arrival time, datagram)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))

    def received(self, after: int = 0) -> list[str]:
        with self._lock:
            return [text for _, text in self.messages[after:]]

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def wait_for(self, wanted: str | re.Pattern[str], after: int = 0, timeout: float = PATIENCE) -> int:
        """Wait for a datagram at index ``after`` or later holding the line ``wanted`` (or matching it); its index."""
        found: list[int] = []

        def matches(text: str) -> bool:
            if isinstance(wanted, str):
                return wanted in text.split("\n")
            return wanted.fullmatch(text) is not None

        def arrived() -> bool:
            found[:] = [i for i, text in enumerate(self.received()) if i >= after and matches(text)]
            return bool(found)

        wait_until(arrived, timeout, f"{wanted!r} on the notify socket (got {self.received(after)})")
        return found[0]

    def arrivals(self, text: str, after: int = 0) -> list[float]:
        """When each datagram equal to ``text`` arrived (monotonic seconds)."""
        with self._lock:
            return [at for at, got in self.messages[after:] if got == text]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._sock.close()
        if self._spare:
            shutil.rmtree(self._spare, ignore_errors=True)


class DaemonProcess:
    """``python -m jobsync daemon`` (or ``command``, e.g. ``serve``) in a subprocess; a thread parses
    its JSON log lines from stdout and stderr."""

    def __init__(
        self,
        config: Path,
        notify: NotifySocket,
        watchdog_usec: int | None = None,
        command: tuple[str, ...] = ("daemon",),
    ) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in ("JOBSYNC_CONFIG", "JOBSYNC_DEBUG", "WATCHDOG_PID", "WATCHDOG_USEC", "STATE_DIRECTORY")
        }
        env["NOTIFY_SOCKET"] = notify.path
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jobsync", "--config", str(config), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # a traceback shows up among the log lines, as "(not JSON)"
            env=env,
            cwd=ROOT,
        )
        self.logs: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"event": "(not JSON)", "text": raw.decode(errors="replace")}
            with self._lock:
                self.logs.append(line)

    def lines(self, event: str | None = None, after: int = 0, **fields: Any) -> list[dict[str, Any]]:
        """Log lines from index ``after`` whose event starts with ``event`` and which hold ``fields``."""
        with self._lock:
            lines = list(self.logs[after:])
        return [
            line
            for line in lines
            if (event is None or str(line.get("event", "")).startswith(event))
            and all(line.get(key) == value for key, value in fields.items())
        ]

    def count(self) -> int:
        with self._lock:
            return len(self.logs)

    def wait_log(
        self, event: str, after: int = 0, n: int = 1, timeout: float = PATIENCE, **fields: Any
    ) -> list[dict[str, Any]]:
        """Wait until ``n`` matching log lines arrived after index ``after``; return them."""
        wait_until(
            lambda: len(self.lines(event, after, **fields)) >= n or self.process.poll() is not None,
            timeout,
            f"{n} x {event!r} {fields} in the daemon's log",
        )
        found = self.lines(event, after, **fields)
        assert len(found) >= n, f"daemon exited ({self.process.returncode}): {self.diagnostics()}"
        return found

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = PATIENCE) -> int:
        return self.process.wait(timeout=timeout)

    def diagnostics(self) -> str:
        return f"last log lines: {self.lines()[-20:]}"

    def kill(self) -> None:
        """Stop the daemon politely (so it closes its store), and by force if it will not go."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)


class Harness:
    """A config file, a state folder, a notify socket and the daemons started on them."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.config = tmp_path / "config.toml"
        self.state = tmp_path / "state"
        self.notify = NotifySocket(tmp_path)
        self.daemons: list[DaemonProcess] = []

    def configure(self, *sources: dict[str, Any]) -> None:
        write_config(self.config, self.state, list(sources))

    def start(self, watchdog_usec: int | None = None) -> DaemonProcess:
        daemon = DaemonProcess(self.config, self.notify, watchdog_usec)
        self.daemons.append(daemon)
        return daemon

    def start_ready(self, watchdog_usec: int | None = None) -> DaemonProcess:
        """Start a daemon and wait for its first ``READY=1``."""
        daemon = self.start(watchdog_usec)
        try:
            self.notify.wait_for("READY=1")
        except BaseException:
            print(daemon.diagnostics())
            raise
        return daemon

    def close(self) -> None:
        try:
            for daemon in self.daemons:
                daemon.kill()
        finally:
            self.notify.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """Daemons on a private state folder; every one still running is killed when the test ends."""
    made = Harness(tmp_path)
    try:
        yield made
    finally:
        made.close()


def git_spec(name: str, repo: GitRepo, interval: str = "1s") -> dict[str, Any]:
    return {"name": name, "kind": "git", "url": repo.url, "interval": interval}


class TestSystemdProtocol:
    def test_ready_after_first_pass_with_jobs_in_catalog(self, harness: Harness, tmp_path: Path) -> None:
        """READY=1 comes only after the first pass, so the catalog already holds every source's jobs."""
        repo = git_source(tmp_path, "netops", "Backup", "Restore")
        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "checks.py").write_text(job_module("Ping"), encoding="utf-8")
        harness.configure(
            git_spec("netops", repo, "5m"), {"name": "lab", "kind": "local", "path": str(folder)}
        )
        daemon = harness.start_ready()
        assert job_refs(harness.state) == {
            "netops:jobs.ops.Backup",
            "netops:jobs.ops.Restore",
            "lab:checks.Ping",
        }
        assert len(daemon.wait_log("sync finished", n=2)) == 2  # the log reader may trail READY=1
        assert daemon.lines("daemon ready")
        harness.notify.wait_for(re.compile(r"STATUS=2 sources: 2 ok, 0 failing; last sync \d\d:\d\d:\d\d\n"))

    def test_status_summarises_sources(self, harness: Harness, tmp_path: Path) -> None:
        """STATUS= says how many sources are ok or failing (and why) and when the last sync was."""
        repo = git_source(tmp_path, "netops", "Backup")
        missing = {"name": "gone", "kind": "git", "url": f"file://{tmp_path}/missing", "interval": "5m"}
        harness.configure(git_spec("netops", repo, "5m"), missing)
        harness.start_ready()
        harness.notify.wait_for(
            re.compile(r"STATUS=2 sources: 1 ok, 1 failing \(gone: NotFound\); last sync \d\d:\d\d:\d\d\n")
        )

    def test_watchdog_pings_at_half_the_timeout(self, harness: Harness, tmp_path: Path) -> None:
        """With WATCHDOG_USEC=400000 the loop sends WATCHDOG=1 about every 0.2 s."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "5m"))
        harness.start_ready(watchdog_usec=400_000)
        start = harness.notify.count()
        wait_until(
            lambda: sum(t == "WATCHDOG=1\n" for t in harness.notify.received(start)) >= 6,
            what="six watchdog pings",
        )
        times = harness.notify.arrivals("WATCHDOG=1\n", start)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert 0.15 <= statistics.median(gaps) <= 0.3, gaps  # half of 0.4 s, give or take scheduling
        assert min(gaps) > 0.1, gaps  # paced, not a busy loop

    def test_no_watchdog_without_watchdog_usec(self, harness: Harness, tmp_path: Path) -> None:
        """Without WATCHDOG_USEC the daemon sends no WATCHDOG=1 at all."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "1s"))
        daemon = harness.start_ready()
        daemon.wait_log("sync finished", n=3, source="netops")
        assert "WATCHDOG=1\n" not in harness.notify.received()

    def test_sighup_sends_reloading_with_monotonic_time_then_ready(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """SIGHUP: RELOADING=1 and MONOTONIC_USEC in one datagram, then READY=1 again."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "5m"))
        daemon = harness.start_ready()
        start = harness.notify.count()
        before = time.monotonic_ns() // 1000
        daemon.signal(signal.SIGHUP)
        reloading = harness.notify.wait_for("RELOADING=1", start)
        after = time.monotonic_ns() // 1000
        ready = harness.notify.wait_for("READY=1", reloading)
        fields = dict(line.split("=", 1) for line in harness.notify.received()[reloading].splitlines())
        assert set(fields) == {"RELOADING", "MONOTONIC_USEC"}
        assert before <= int(fields["MONOTONIC_USEC"]) <= after  # CLOCK_MONOTONIC, as systemd expects
        assert ready > reloading
        daemon.wait_log("configuration reloaded")

    def test_sigterm_sends_stopping_and_exits_zero(self, harness: Harness, tmp_path: Path) -> None:
        """SIGTERM: STOPPING=1, a last log line, and exit code 0."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "1s"))
        daemon = harness.start_ready()
        start = harness.notify.count()
        daemon.signal(signal.SIGTERM)
        assert daemon.wait() == 0, daemon.diagnostics()
        harness.notify.wait_for("STOPPING=1", start)
        assert daemon.lines("daemon stopped")


class TestSyncing:
    def test_pushed_commit_appears_within_interval_plus_two_seconds(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """A commit to a source polled every second is in the catalog less than 3 s later."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "1s"))
        harness.start_ready()
        repo.write("jobs/more.py", job_module("Audit"))
        repo.commit("more")
        took = wait_until(
            lambda: "netops:jobs.more.Audit" in job_refs(harness.state), what="the new job in the catalog"
        )
        assert took <= 1.0 + 2.0

    def test_file_written_into_local_folder_appears_within_two_seconds(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """A job file saved into a watched folder is in the catalog less than 2 s later."""
        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "first.py").write_text(job_module("Ping"), encoding="utf-8")
        harness.configure({"name": "lab", "kind": "local", "path": str(folder)})
        harness.start_ready()
        (folder / "second.py").write_text(job_module("Trace"), encoding="utf-8")
        took = wait_until(lambda: "lab:second.Trace" in job_refs(harness.state), what="the new local job")
        assert took <= 2.0
        (folder / "first.py").unlink()
        took = wait_until(lambda: "lab:first.Ping" not in job_refs(harness.state), what="the job uninstalled")
        assert took <= 2.0

    def test_recreated_local_folder_is_watched_again(self, harness: Harness, tmp_path: Path) -> None:
        """A watched folder removed and made again is watched again once a retry finds it."""
        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "first.py").write_text(job_module("Ping"), encoding="utf-8")
        harness.configure({"name": "lab", "kind": "local", "path": str(folder)})
        daemon = harness.start_ready()
        shutil.rmtree(folder)
        daemon.wait_log("sync failed", source="lab")
        folder.mkdir()
        (folder / "second.py").write_text(job_module("Trace"), encoding="utf-8")
        wait_until(lambda: "lab:second.Trace" in job_refs(harness.state), what="the retry finding the folder")
        (folder / "third.py").write_text(job_module("Probe"), encoding="utf-8")
        wait_until(
            lambda: "lab:third.Probe" in job_refs(harness.state), 2.0, "the watcher noticing a new file"
        )

    def test_vanished_remote_backs_off_while_others_keep_syncing(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """A source whose repository disappears retries ever later; another source keeps syncing meanwhile."""
        doomed = git_source(tmp_path, "doomed", "Backup")
        healthy = git_source(tmp_path, "healthy", "Backup")
        harness.configure(git_spec("doomed", doomed, "1s"), git_spec("healthy", healthy, "1s"))
        daemon = harness.start_ready()
        shutil.rmtree(doomed.path)
        failures = daemon.wait_log("sync failed", n=3, source="doomed")
        delays = [line["retry_in"] for line in failures]
        assert delays == sorted(delays) and delays[0] < delays[1] < delays[2], delays
        assert all(line["reason"] == "NotFound" for line in failures)
        healthy.write("jobs/more.py", job_module("Audit"))
        healthy.commit("more")
        took = wait_until(
            lambda: "healthy:jobs.more.Audit" in job_refs(harness.state), what="the healthy source's new job"
        )
        assert took <= 1.0 + 2.0
        assert job_refs(harness.state, "doomed") == {
            "doomed:jobs.ops.Backup"
        }  # a failed fetch uninstalls nothing

    def test_polling_an_unchanged_source_appends_nothing(self, harness: Harness, tmp_path: Path) -> None:
        """Several idle polling rounds of a git and a local source leave the event log as it was."""
        repo = git_source(tmp_path, "netops", "Backup")
        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "checks.py").write_text(job_module("Ping"), encoding="utf-8")
        harness.configure(
            git_spec("netops", repo, "1s"), {"name": "lab", "kind": "local", "path": str(folder)}
        )
        daemon = harness.start_ready()
        before = event_count(harness.state)
        start = daemon.count()
        polls = daemon.wait_log("sync finished", start, n=3, source="netops")
        assert all(line["up_to_date"] for line in polls)
        assert event_count(harness.state) == before
        assert before > 0

    def test_a_mass_uninstall_is_refused_with_a_warning_and_retried(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """An emptied repository costs no job: the daemon warns each interval, keeps running, and syncs once fixed."""
        classes = [f"Job{i}" for i in range(6)]
        repo = git_source(tmp_path, "netops", *classes)
        harness.configure(git_spec("netops", repo, "1s"))
        daemon = harness.start_ready()
        assert len(job_refs(harness.state, "netops")) == 6
        repo.remove("jobs/ops.py")
        repo.commit("wrong branch pushed")
        start = daemon.count()
        refused = daemon.wait_log("sync refused", start, n=2, source="netops")
        assert all(line["level"] == "warning" for line in refused)
        assert "6 of 6" in refused[0]["error"] and "--allow-mass-uninstall" in refused[0]["error"]
        assert refused[0]["retry_in"] <= 1.5  # the next interval, not a backoff
        assert daemon.process.poll() is None
        assert len(job_refs(harness.state, "netops")) == 6
        repo.write("jobs/ops.py", job_module(*classes, "Extra"))
        repo.commit("fixed")
        wait_until(
            lambda: "netops:jobs.ops.Extra" in job_refs(harness.state, "netops"),
            what="the fixed commit's sync",
        )
        assert len(job_refs(harness.state, "netops")) == 7


class TestSchedules:
    def test_the_daemon_fires_a_due_schedule_once(self, harness: Harness, tmp_path: Path) -> None:
        """A schedule due in seconds is recorded by the daemon as one pending result, as daemon@HOST."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "5m"))
        daemon = harness.start_ready()
        ref = "netops:jobs.ops.Backup"
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.enable(ref)
            catalog.override(ref, "has_sensitive_variables", False)
            schedule = catalog.add_schedule(ref, "soon", at=datetime.now(UTC) + timedelta(seconds=3))
        [fired] = daemon.wait_log("schedules fired")
        time.sleep(1.5)  # more ticks: none of them fires it again
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            results = [r for r in catalog.results() if r["scheduled_job"] == str(schedule["id"])]
            assert [str(r["id"]) for r in results] == fired["results"]
            assert (
                results[0]["status"] == "pending" and results[0]["actor"] == f"daemon@{socket.gethostname()}"
            )
            assert catalog.schedule("soon")["total_run_count"] == 1
        assert len(daemon.lines("schedules fired")) == 1


class TestDividedWork:
    def test_a_source_another_process_syncs_is_skipped_without_failing(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """While another process holds a source the daemon skips it each round (a debug line, no failure), then syncs it."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "1s"))
        harness.state.mkdir(mode=0o700)
        with closing(work_locks(default_store_url(harness.state))) as other:
            with other.holding("source:netops") as held:
                assert held
                daemon = harness.start_ready()
                skipped = daemon.wait_log("sync skipped", n=2, source="netops")
                assert {line["level"] for line in skipped} == {"debug"}
                assert not daemon.lines("sync finished") and not daemon.lines("sync failed")
                harness.notify.wait_for(re.compile(r"STATUS=1 sources: 1 ok, 0 failing; last sync never\n"))
                assert job_refs(harness.state) == set()
            daemon.wait_log("sync finished", source="netops")
        assert job_refs(harness.state) == {"netops:jobs.ops.Backup"}


class TestReaper:
    def test_a_run_whose_worker_went_quiet_is_ended_errored_and_a_beating_one_is_not(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """With heartbeat_timeout 1 s the daemon ends a silent claimed run as errored, logging why,
        while a run whose worker keeps beating stays running."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, interval="1h"))
        harness.config.write_text(
            'heartbeat_timeout = "1s"\n' + harness.config.read_text(encoding="utf-8"), encoding="utf-8"
        )
        daemon = harness.start_ready()
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.enable("netops:jobs.ops.Backup")
            quiet = catalog.record_result("netops:jobs.ops.Backup")
            beating = catalog.record_result("netops:jobs.ops.Backup")
            assert catalog.claim("default", "w-quiet") is not None
            assert catalog.claim("default", "w-beating") is not None
            deadline = time.monotonic() + 3.5
            while time.monotonic() < deadline:
                catalog.heartbeat(beating)
                time.sleep(0.3)
            daemon.wait_log("stale run ended as errored", result=str(quiet))
            assert catalog.result(quiet)["status"] == "errored"
            assert [e["level"] for e in catalog.logs(quiet)] == ["error"]
            assert catalog.result(beating)["status"] == "running"
            assert catalog.results(status="errored")[0]["id"] == quiet


class TestReload:
    def test_sighup_adds_and_removes_sources(self, harness: Harness, tmp_path: Path) -> None:
        """After SIGHUP the added source is synced, apps re-read, and one dropped from the config is
        still synced as a remembered source, with a warning saying how to stop that (docs/design.md §6)."""
        kept = git_source(tmp_path, "kept", "Backup")
        dropped = git_source(tmp_path, "dropped", "Backup")
        added = git_source(tmp_path, "added", "Audit")
        app = {"name": "clickapp", "kind": "app", "distribution": "click"}
        harness.configure(git_spec("kept", kept), git_spec("dropped", dropped), app)
        daemon = harness.start_ready()
        harness.configure(git_spec("kept", kept), git_spec("added", added), app)
        start = daemon.count()
        daemon.signal(signal.SIGHUP)
        (reloaded,) = daemon.wait_log("configuration reloaded", start)
        assert (reloaded["added"], reloaded["removed"], reloaded["changed"]) == (["added"], [], ["dropped"])
        (left,) = daemon.lines("source left the config file", start)
        assert (left["source"], left["level"]) == ("dropped", "warning")
        assert "jobsync sources remove dropped" in left["note"]
        wait_until(lambda: "added:jobs.ops.Audit" in job_refs(harness.state), what="the added source's job")
        daemon.wait_log("sync finished", start, source="clickapp")  # an upgraded app is noticed on reload
        daemon.wait_log("sync finished", daemon.count(), n=2, source="kept")

    def test_sighup_with_broken_config_keeps_running_old_sources(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """A config that does not parse is refused on SIGHUP; the old sources keep syncing and READY=1 follows."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo))
        daemon = harness.start_ready()
        harness.config.write_text(harness.config.read_text() + "\nthis is not toml\n", encoding="utf-8")
        start, sent = daemon.count(), harness.notify.count()
        daemon.signal(signal.SIGHUP)
        (refused,) = daemon.wait_log("reload refused", start)
        assert "not valid TOML" in refused["error"]
        harness.notify.wait_for("READY=1", harness.notify.wait_for("RELOADING=1", sent))
        repo.write("jobs/more.py", job_module("Audit"))
        repo.commit("more")
        wait_until(lambda: "netops:jobs.more.Audit" in job_refs(harness.state), what="the old source synced")
        assert daemon.process.poll() is None
        assert daemon.lines("configuration reloaded") == []


BIG_MODULES, BIG_JOBS_PER_MODULE = 400, 10
BIG_JOBS = BIG_MODULES * BIG_JOBS_PER_MODULE


@pytest.fixture(scope="module")
def big_repo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A repository of 4,000 jobs: its first sync takes long enough to be interrupted."""
    root = bench_make_repo()(tmp_path_factory.mktemp("big") / "repo", BIG_MODULES, BIG_JOBS_PER_MODULE)
    return "file://" + str(root)


class TestShutdown:
    def test_sigterm_during_a_large_sync_saves_all_or_nothing(
        self, harness: Harness, big_repo_url: str
    ) -> None:
        """SIGTERM during the first sync: exit 0, the log holds all of it or none, and a restart completes it."""
        harness.configure({"name": "big", "kind": "git", "url": big_repo_url, "interval": "5m"})
        daemon = harness.start()
        daemon.wait_log("daemon starting")  # signal handlers are installed; the first sync begins
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0, daemon.diagnostics()
        harness.notify.wait_for("STOPPING=1")
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert len(catalog.jobs(source="big", installed=None)) in (0, BIG_JOBS)
            assert catalog.replay(verify=True).ok
        sent = harness.notify.count()
        harness.start()
        harness.notify.wait_for("READY=1", sent, timeout=120)
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert len(catalog.jobs(source="big")) == BIG_JOBS
            assert catalog.replay(verify=True).ok

    def test_sigterm_before_ready_sends_no_ready(self, harness: Harness, big_repo_url: str) -> None:
        """A daemon told to stop during its first pass never announces READY=1 after STOPPING=1."""
        harness.configure({"name": "big", "kind": "git", "url": big_repo_url, "interval": "5m"})
        daemon = harness.start()
        daemon.wait_log("daemon starting")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0, daemon.diagnostics()
        stopping = harness.notify.wait_for("STOPPING=1")
        assert "READY=1\n" not in harness.notify.received(stopping)


class TestLogsForOps:
    def test_at_info_a_quiet_poll_says_nothing_and_each_problem_has_a_line(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """``log_level = "info"``: no line per no-op poll; each problem of a sync on its own line, by kind."""
        repo = git_source(tmp_path, "netops", "Backup")
        repo.write("jobs/broken.py", "def oops(:\n")
        repo.commit("a broken file")
        harness.configure(git_spec("netops", repo, "1s"))
        text = harness.config.read_text(encoding="utf-8").replace('log_level = "debug"', 'log_level = "info"')
        harness.config.write_text(text, encoding="utf-8")
        daemon = harness.start_ready()
        problems = daemon.lines("sync problem", source="netops")
        assert [(p["file"], p["kind"], p["level"]) for p in problems] == [
            ("jobs/broken.py", "error", "error")
        ]
        assert problems[0]["line"] == 1
        time.sleep(3)  # about three polls of an unchanged source
        assert len(daemon.lines("sync finished")) == 1  # the first sync; the polls were debug
        assert {line["level"] for line in daemon.lines()} <= {"info", "warning", "error"}


class TestSourceLifeCycle:
    def test_a_suspended_source_is_known_but_not_synced_until_resumed(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """The daemon names a suspended source at start-up, skips it while suspended, and syncs it once resumed."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "1s"))
        daemon = harness.start_ready()
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert catalog.suspend_source("netops")
        seen = daemon.count()
        daemon.wait_log("sync skipped", seen, source="netops", reason="suspended")
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")
        time.sleep(2.5)  # two intervals of the source
        assert job_refs(harness.state) == {"netops:jobs.ops.Backup"}
        assert daemon.lines("sync finished", seen, source="netops") == []
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert catalog.resume_source("netops")
        wait_until(lambda: "netops:jobs.more.More" in job_refs(harness.state), what="the resumed sync")

    def test_the_daemon_syncs_remembered_sources_and_names_them_at_start(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """A source first synced with `resync URL --name N` is synced by the daemon too; `daemon starting` lists it."""
        configured = git_source(tmp_path, "netops", "Backup")
        remembered = git_source(tmp_path, "lab", "Ping")
        paused = git_source(tmp_path, "paused", "Idle")
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.resync(remembered.url, name="lab")
            catalog.resync(paused.url, name="paused")
            catalog.suspend_source("paused")
        remembered.write("jobs/more.py", job_module("Trace"))
        remembered.commit("more")
        harness.configure(git_spec("netops", configured, "5m"))
        daemon = harness.start_ready()
        (starting,) = daemon.lines("daemon starting")
        assert starting["sources"] == ["lab", "netops", "paused"]
        assert (starting["count"], starting["suspended"]) == (3, ["paused"])
        assert job_refs(harness.state) == {
            "netops:jobs.ops.Backup",
            "lab:jobs.ops.Ping",
            "lab:jobs.more.Trace",
            "paused:jobs.ops.Idle",
        }
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert catalog.replay(verify=True).ok

    def test_a_removed_configured_source_comes_back_at_start(self, harness: Harness, tmp_path: Path) -> None:
        """A source the config still names, removed by an operator, is added back (and said so) at the next start."""
        repo = git_source(tmp_path, "netops", "Backup")
        harness.configure(git_spec("netops", repo, "5m"))
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.resync(repo.url, name="netops")
            catalog.remove_source("netops", uninstall_jobs=True)
            assert catalog.sources() == []
        daemon = harness.start_ready()
        (note,) = daemon.lines("configured source")
        assert "removed source 'netops': it is added back" in note["note"]
        assert job_refs(harness.state) == {"netops:jobs.ops.Backup"}
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            assert catalog.source("netops")["status"] == "ok"

    def test_a_push_for_a_suspended_source_is_ignored(self, harness: Harness, tmp_path: Path) -> None:
        """A signed push for a suspended source is answered 200 "suspended" and syncs nothing."""
        from tests.e2e.test_daemon_http import configure, hook, listening, netops

        repo = netops(tmp_path)
        configure(harness, repo)
        daemon = harness.start_ready()
        url = listening(daemon)
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.suspend_source("netops")
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")
        answer = hook(url, "delivery-suspended")
        assert answer.status_code == 200, answer.text
        assert answer.json()["ignored"] == "suspended"
        time.sleep(1.0)  # longer than a webhook's sync takes to start
        assert job_refs(harness.state) == {"netops:jobs.ops.Backup"}

    def test_a_running_daemon_follows_a_rename_and_a_new_remembered_source(
        self, harness: Harness, tmp_path: Path
    ) -> None:
        """Without a reload, a running daemon drops a renamed source's old name, syncs the new one, and a new remembered source."""
        repo = git_source(tmp_path, "netops", "Backup")
        lab = git_source(tmp_path, "lab", "Ping")
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.resync(repo.url, name="netops")
        harness.configure()
        daemon = harness.start_ready()
        assert daemon.lines("daemon starting")[0]["sources"] == ["netops"]
        start = daemon.count()
        with Catalog.open(state_dir=harness.state, actor="tester") as catalog:
            catalog.rename_source("netops", "network")
            catalog.resync(lab.url, name="lab")
        repo.write("jobs/more.py", job_module("More"))
        repo.commit("more")

        def changes(key: str) -> list[str]:
            return sorted(name for line in daemon.lines("sources changed", start) for name in line[key])

        wait_until(lambda: changes("added") == ["lab", "network"], what="the new names followed")
        assert changes("removed") == ["netops"]
        wait_until(
            lambda: "network:jobs.more.More" in job_refs(harness.state), what="the renamed source synced"
        )
        assert daemon.lines("sync failed", start) == []
