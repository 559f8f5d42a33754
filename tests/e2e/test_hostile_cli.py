"""Hostile inputs at the command level (issue 8, item 5): one ``error:`` line, exit 1, nothing lost.

File-level hostile inputs are in tests/integration/test_hostile.py (and the library side of these).
Covered in tests/integration/test_remotes.py, not repeated here: HTTP 401 (TestHttpCredentials, wrong
secret), HTTP 404 and HTTP 500 and a server that hangs (TestHttpFailures), a wrong SSH host key
(TestSsh.test_host_key_mismatch), and following tags / pinned commits (TestTagsAndPinnedCommits).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from jobsync import Catalog
from jobsync.domain.source import source_id
from jobsync.records import JobRecord
from tests.helpers import Cli, GitRepo, assert_one_line_error
from tests.postgres import PostgresServer

#: Capabilities that let root write a file whatever its mode; without them root obeys ``chmod`` like anyone.
_ROOT_OVERRIDES = "-dac_override,-dac_read_search,-fowner,-linux_immutable"


JOBS = """\
from nautobot.extras.jobs import Job


class Backup(Job):
    class Meta:
        description = "Back up"
        time_limit = 20


class Restore(Job):
    pass
"""


def many_jobs(count: int) -> str:
    """A module with ``count`` job classes: a sync whose save is several megabytes."""
    classes = "".join(f"class Bulk{n:05d}(Job):\n    pass\n\n\n" for n in range(count))
    return f"from nautobot.extras.jobs import Job\n\n\n{classes}"


def run_cli(
    cli: Cli, *args: str, prefix: tuple[str, ...] = (), preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``jobsync`` as Cli.run runs it, optionally under a wrapper command or with process limits."""
    env = {k: v for k, v in os.environ.items() if k != "JOBSYNC_DEBUG"}
    return subprocess.run(
        [*prefix, sys.executable, "-m", "jobsync", "--config", str(cli.config), "--actor", "alice", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        preexec_fn=preexec,
    )


class Synced:
    """A CLI whose store already holds netops (Backup, Restore) at ``commit``; what it held is kept.

    Set-up and checks go through the library on the same store, so each test starts only the
    ``jobsync`` processes it is about.
    """

    def __init__(self, cli: Cli, repo: GitRepo) -> None:
        self.cli = cli
        self.repo = repo
        repo.write("jobs/ops.py", JOBS)
        self.commit = repo.commit("jobs")
        with self.catalog() as catalog:
            catalog.resync(repo.url, name="netops")
        self.jobs = self.all_jobs()
        assert sorted(self.jobs) == ["netops:jobs.ops.Backup", "netops:jobs.ops.Restore"]

    @property
    def store(self) -> Path:
        return self.cli.state / "jobsync.db"

    def catalog(self) -> Catalog:
        """The store the CLI uses (its config names only the state folder)."""
        return Catalog.open(state_dir=self.cli.state, actor="setup")

    def all_jobs(self) -> dict[str, JobRecord]:
        with self.catalog() as catalog:
            return {job["ref"]: job for job in catalog.jobs(installed=None)}

    def assert_nothing_lost(self) -> None:
        """The jobs are exactly as first synced, netops has not moved, and a verified replay agrees."""
        with self.catalog() as catalog:
            assert {job["ref"]: job for job in catalog.jobs(source="netops", installed=None)} == self.jobs
            assert catalog.source("netops")["last_commit"] == self.commit
            assert catalog.replay(verify=True).ok


@pytest.fixture
def synced(tmp_path: Path, repo: GitRepo) -> Synced:
    return Synced(Cli(tmp_path), repo)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the store file --------------------------------------------------------------------------------


def read_only_prefix() -> tuple[str, ...]:
    """How to run jobsync so that a 0444 store really is read-only: as root, drop the override capabilities.

    chmod alone does not stop root (CAP_DAC_OVERRIDE); setpriv removes it from the bounding set, so the
    process is still uid 0 (it can read the root-owned interpreter and state folder) but obeys file modes.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a file read-only for this process")
    return (setpriv, f"--bounding-set={_ROOT_OVERRIDES}")


def read_only_failures(synced: Synced) -> list[subprocess.CompletedProcess[str]]:
    """Make the store file 0444, then try a resync (with a new commit to save) and an enable."""
    synced.repo.write("jobs/more.py", many_jobs(3))
    synced.repo.commit("more jobs")
    synced.store.chmod(0o444)
    prefix = read_only_prefix()
    probe = run_cli(synced.cli, "jobs", "list", prefix=prefix)
    assert probe.returncode == 0, probe.stderr  # reading a read-only store still works
    assert "netops:jobs.ops.Backup" in probe.stdout
    return [
        run_cli(synced.cli, "resync", "netops", prefix=prefix),
        run_cli(synced.cli, "jobs", "enable", "Backup", prefix=prefix),
    ]


def full_disk_failure(synced: Synced) -> subprocess.CompletedProcess[str]:
    """Resync a 3,000-job commit with files capped (RLIMIT_FSIZE) at 64 KiB over the store's current size.

    SIGXFSZ is ignored so a write past the cap fails with EFBIG, as a write to a full disk fails.
    """
    synced.repo.write("jobs/bulk.py", many_jobs(3000))
    synced.repo.commit("3000 jobs")
    largest = max(path.stat().st_size for path in synced.cli.state.iterdir() if path.is_file())
    limit = largest + 64 * 1024

    def cap_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return run_cli(synced.cli, "resync", "netops", preexec=cap_file_size)


class TestStoreFile:
    def test_read_only_store_refuses_writes_in_one_line(self, synced: Synced) -> None:
        """A read-only store file still serves reads; writes fail with one ``error:`` line and change nothing."""
        before = _digest(synced.store)
        for done in read_only_failures(synced):
            assert_one_line_error(done, 1, "readonly database")
        assert _digest(synced.store) == before
        synced.store.chmod(0o644)
        synced.assert_nothing_lost()

    def test_store_file_that_is_not_a_database(self, synced: Synced) -> None:
        """Random bytes in jobsync.db give one ``error:`` line for every command, and the file is left alone."""
        garbage = os.urandom(64 * 1024)
        synced.store.write_bytes(garbage)
        for args in (("jobs", "list"), ("resync", "netops"), ("jobs", "enable", "Backup")):
            assert_one_line_error(synced.cli.run(*args), 1, "file is not a database")
        assert synced.store.read_bytes() == garbage

    def test_full_disk_saves_nothing_partial(self, synced: Synced) -> None:
        """A write that fails mid-sync (file size cap) gives one ``error:`` line and saves no job event."""
        done = full_disk_failure(synced)
        assert done.returncode == 1, done.stdout + done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and "Traceback" not in done.stderr
        assert any(word in line.lower() for word in ("disk", "full", "too large")), line
        synced.assert_nothing_lost()
        with synced.catalog() as catalog:
            latest = catalog.results()[0]
        assert latest["task"] == "sync" and latest["status"] in ("failed", "errored")

    @pytest.mark.parametrize("case", ["read-only", "full-disk"])
    def test_store_write_failures_are_store_errors(self, synced: Synced, case: str) -> None:
        """A store that cannot be written is reported as a store problem, not as an unexpected error."""
        failures = read_only_failures(synced) if case == "read-only" else [full_disk_failure(synced)]
        for done in failures:
            assert done.returncode == 1
            assert "unexpected" not in done.stderr, done.stderr


# -- git refs and remotes, as commands ---------------------------------------------------------------


def _empty_repository(synced: Synced, tmp_path: Path) -> tuple[str, ...]:
    return ("resync", GitRepo(tmp_path / "empty").url, "--name", "empty")


def _missing_branch(synced: Synced, tmp_path: Path) -> tuple[str, ...]:
    return ("resync", synced.repo.url, "--name", "nobranch", "--branch", "nope")


def _deleted_branch(synced: Synced, tmp_path: Path) -> tuple[str, ...]:
    synced.repo.git("branch", "feature")
    with synced.catalog() as catalog:
        catalog.resync(synced.repo.url, name="feat", branch="feature")
    synced.repo.git("branch", "-D", "feature")
    return ("resync", "feat")


def _unreachable(synced: Synced, tmp_path: Path) -> tuple[str, ...]:
    return ("resync", "http://127.0.0.1:1/x.git", "--name", "unreachable")


def _dns_failure(synced: Synced, tmp_path: Path) -> tuple[str, ...]:
    return ("resync", "http://nonexistent.invalid/x.git", "--name", "nodns")


class TestGitCommands:
    @pytest.mark.parametrize(
        ("make", "text"),
        [
            (_empty_repository, "has no commits"),
            (_missing_branch, "branch 'nope' not found"),
            (_deleted_branch, "branch 'feature' not found"),
            (_unreachable, "127.0.0.1:1"),
            (_dns_failure, "nonexistent.invalid"),
        ],
        ids=["empty-repository", "missing-branch", "deleted-branch", "unreachable-host", "dns-failure"],
    )
    def test_sync_that_cannot_run_is_one_error_line(
        self,
        synced: Synced,
        tmp_path: Path,
        make: Callable[[Synced, Path], tuple[str, ...]],
        text: str,
    ) -> None:
        """A resync that cannot fetch says why in one ``error:`` line, exits 1, and loses nothing."""
        args = make(synced, tmp_path)
        before = synced.all_jobs()
        assert_one_line_error(synced.cli.run(*args), 1, text)
        assert synced.all_jobs() == before
        synced.assert_nothing_lost()


# -- config and overrides --------------------------------------------------------------------------


class TestConfig:
    @pytest.mark.parametrize(
        ("extra", "text"),
        [
            ('colour = "red"\n', "colour: unknown key"),
            ('[[sources]]\nname = "x"\nurl = "/nowhere"\ncolour = "red"\n', "sources[0].colour: unknown key"),
        ],
        ids=["top-level", "in-a-source"],
    )
    def test_unknown_key_is_refused_before_anything_runs(self, synced: Synced, extra: str, text: str) -> None:
        """A config with an unknown key is refused naming the key's path; a resync under it changes nothing."""
        synced.repo.write("jobs/more.py", many_jobs(2))
        synced.repo.commit("a commit the refused resync must not sync")
        good = synced.cli.config.read_text(encoding="utf-8")
        synced.cli.config.write_text(good + extra, encoding="utf-8")
        for args in (("resync", "netops"), ("jobs", "list")):
            assert_one_line_error(synced.cli.run(*args), 1, text)
        synced.cli.config.write_text(good, encoding="utf-8")
        synced.assert_nothing_lost()


#: Override values of the wrong type or out of range, and what the refusal says.
BAD_OVERRIDES = [
    ("time_limit", "soon", "takes a number of seconds"),
    ("hidden", "maybe", "takes true or false"),
    ("soft_time_limit", "-1", ">= 0"),
    ("time_limit", "1e400", "maximum"),
    ("task_queues", "[1]", "list of strings"),
    ("name", "", "must not be empty"),
    ("grouping", "g" * 256, "at most 255"),
]


class TestOverrides:
    def test_override_value_of_the_wrong_type(self, synced: Synced) -> None:
        """Each override value of the wrong type is one ``error:`` line, exit 1, and appends no event."""
        with synced.catalog() as catalog:
            history = catalog.history("Backup")
        for field, value, text in BAD_OVERRIDES:
            done = synced.cli.run("jobs", "override", "Backup", field, "--", value)
            assert_one_line_error(done, 1, text)
        with synced.catalog() as catalog:
            assert catalog.history("Backup") == history
        synced.assert_nothing_lost()

    def test_override_time_limit_over_the_maximum(self, synced: Synced) -> None:
        """A time limit override over the 2147483647-second maximum is refused, as it is in source."""
        done = synced.cli.run("jobs", "override", "Backup", "time_limit", "99999999999999999999999")
        assert_one_line_error(done, 1, "2147483647")
        synced.assert_nothing_lost()


def config_check(config: Path) -> subprocess.CompletedProcess[str]:
    """``jobsync config check FILE`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "jobsync", "config", "check", str(config)], capture_output=True, text=True
    )


class TestSmallerHostileInputs:
    """Issue 12, item 13: inputs that used to end in "unexpected X", a hang, or a silent fallback."""

    def test_the_last_day_there_is(self, tmp_path: Path) -> None:
        """``--since 9999-12-31`` is a moment like any other, not an overflow."""
        done = Cli(tmp_path).run("audit", "--since", "9999-12-31")
        assert done.returncode == 0 and "unexpected" not in done.stderr, done.stderr

    def test_a_time_out_of_range_is_one_line(self, tmp_path: Path) -> None:
        """A relative time past the first year there is is a bad option value: one line, exit 2."""
        done = Cli(tmp_path).run("audit", "--since", "999999999 days ago")
        assert_one_line_error(done, 2, "is out of range")

    def test_args_nested_a_thousand_deep_are_refused(self, synced: Synced) -> None:
        """JSON nested 1,000 deep is refused with a reason, not a RecursionError: a bad option value, exit 2."""
        synced.cli.ok("jobs", "enable", "netops:jobs.ops.Restore")
        deep = "[" * 1000 + "]" * 1000
        done = synced.cli.run("results", "record", "netops:jobs.ops.Restore", "--args", deep)
        assert_one_line_error(done, 2, "nested")

    def test_an_empty_state_dir_is_refused(self, tmp_path: Path) -> None:
        """``state_dir = ""`` is an error, not a quiet fallback to /var/lib/jobsync."""
        config = tmp_path / "config.toml"
        config.write_text('state_dir = ""\n', encoding="utf-8")
        done = config_check(config)
        assert_one_line_error(done, 1, "state_dir: must not be empty")

    def test_an_absurd_timeout_is_refused(self, tmp_path: Path) -> None:
        """``timeout = 1e300`` is refused at config time instead of breaking every fetch."""
        config = tmp_path / "config.toml"
        config.write_text(
            f'state_dir = "{tmp_path}"\n[[sources]]\nname = "a"\nurl = "https://example.com/a.git"\n'
            "timeout = 1e300\n",
            encoding="utf-8",
        )
        done = config_check(config)
        assert_one_line_error(done, 1, "timeout: must be at most")

    def test_a_fifo_config_does_not_hang(self, tmp_path: Path) -> None:
        """A config path that is a FIFO is refused at once instead of waiting for a writer."""
        fifo = tmp_path / "config.toml"
        os.mkfifo(fifo)
        done = subprocess.run(
            [sys.executable, "-m", "jobsync", "--config", str(fifo), "jobs", "list"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert_one_line_error(done, 1, "not a regular file")

    def test_the_state_dir_and_store_are_private(self, synced: Synced) -> None:
        """Outside systemd too, the state folder is 0700 and the store files 0600 when jobsync makes them."""
        assert (synced.cli.state.stat().st_mode & 0o777) == 0o700
        for name in ("jobsync.db", "summaries.db"):
            assert ((synced.cli.state / name).stat().st_mode & 0o777) == 0o600, name


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, theirs, ...), from /proc."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        children = _children(pending.pop()) - found
        found |= children
        pending.extend(children)
    return found


class TestCrashLeftovers:
    @pytest.fixture
    def slow_repo(self, repo: GitRepo) -> GitRepo:
        """300 large modules: a cold sync parses them in worker processes for a few seconds."""
        body = "".join(f"def f{n}(a, b):\n    return [a * b for _ in range({n})]\n\n" for n in range(1500))
        for m in range(300):
            repo.write(
                f"jobs/m{m:03d}.py",
                f"from nautobot.apps.jobs import Job\n\nclass J{m}(Job):\n    pass\n\n{body}",
            )
        repo.commit()
        return repo

    def kill_mid_parse(self, cli: Cli, repo: GitRepo) -> set[int]:
        """Start ``resync``, SIGKILL it once its parse workers run; the workers' pids."""
        command = [sys.executable, "-m", "jobsync", "--config", str(cli.config), "resync", repo.url]
        sync = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2 and sync.poll() is None and time.monotonic() < deadline:
            workers = _children(sync.pid)
            time.sleep(0.02)
        assert len(workers) >= 2, "the parse never ran in workers"
        sync.kill()
        sync.wait()
        return workers

    def test_a_sync_killed_mid_parse_leaves_no_workers(self, tmp_path: Path, slow_repo: GitRepo) -> None:
        """SIGKILL of a resync while its parse workers run: the workers leave too, within seconds."""
        workers = self.kill_mid_parse(Cli(tmp_path), slow_repo)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        assert not left, f"parse workers {left} outlived the killed sync"

    def test_workers_of_a_fork_server_leave_with_the_killed_sync(
        self, tmp_path: Path, slow_repo: GitRepo, postgres_server: PostgresServer
    ) -> None:
        """On PostgreSQL (its pool has threads) the parse runs through a fork server, whose workers
        are not the sync's children: killed mid-parse, none of the sync's descendants stays behind."""
        store = postgres_server.url(postgres_server.create_database())
        command = [sys.executable, "-m", "jobsync", "--config", str(Cli(tmp_path).config), "--store", store]
        sync = subprocess.Popen([*command, "resync", slow_repo.url], stderr=subprocess.DEVNULL)
        descendants: set[int] = set()
        deadline = time.monotonic() + 60
        while len(descendants) < 4 and sync.poll() is None and time.monotonic() < deadline:
            descendants = _descendants(sync.pid)  # the resource tracker, the fork server, its workers
            time.sleep(0.02)
        assert len(descendants) >= 4, "the parse never ran in a fork server's workers"
        sync.kill()
        sync.wait()
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in descendants) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in descendants if Path(f"/proc/{pid}").exists()]
        assert not left, f"processes {left} outlived the killed sync"

    def test_the_next_sync_ends_the_killed_ones_result(self, tmp_path: Path, slow_repo: GitRepo) -> None:
        """The killed sync's result does not stay running forever: the next sync ends it, interrupted."""
        cli = Cli(tmp_path)
        self.kill_mid_parse(cli, slow_repo)
        [killed] = cli.json("results", "list", "--json")
        assert killed["status"] == "running"
        cli.ok("resync", slow_repo.url)
        results = {r["id"]: r for r in cli.json("results", "list", "--json")}
        assert results[killed["id"]]["status"] == "errored"
        assert "interrupted" in results[killed["id"]]["data"]["error"]


ESCAPES = """\
name = "ops\\u202eevil"
from nautobot.apps.jobs import Job


class Screen(Job):
    class Meta:
        name = "clear\\x1b[2Jscreen"
        description = "title\\x1b]0;pwned\\x07 and a\\nforged line"
"""


class TestTerminalSafety:
    """Issue 12, item 6: catalog text reaches a terminal escaped; operators cannot type controls."""

    @pytest.fixture
    def cli(self, tmp_path: Path, repo: GitRepo) -> Cli:
        cli = Cli(tmp_path)
        repo.write("jobs/screen.py", ESCAPES)
        repo.commit()
        cli.ok("resync", repo.url, "--name", "netops")
        return cli

    @pytest.mark.parametrize(
        "command",
        [
            ("jobs", "list"),
            ("jobs", "show", "netops:jobs.screen.Screen"),
            ("jobs", "history", "netops:jobs.screen.Screen"),
            ("audit",),
        ],
    )
    def test_plain_output_escapes_controls(self, cli: Cli, command: tuple[str, ...]) -> None:
        """ESC, BEL, newlines and bidi overrides inside catalog text are printed as escapes."""
        out = cli.ok(*command)
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        assert "\\x1b" in out or "\\u202e" in out

    def test_source_values_beside_overrides_are_escaped(self, cli: Cli) -> None:
        """The source value ``jobs show`` prints beside an override is escaped like every catalog text."""
        for field in ("grouping", "name", "description"):
            cli.ok("jobs", "override", "netops:jobs.screen.Screen", field, "Pinned")
        out = cli.ok("jobs", "show", "netops:jobs.screen.Screen")
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
        lines = out.splitlines()
        assert f'{"grouping":<24} Pinned  (overridden; source: "ops\\u202eevil")' in lines
        assert f'{"name":<24} Pinned  (overridden; source: "clear\\x1b[2Jscreen")' in lines
        description = "title\\x1b]0;pwned\\x07 and a\\nforged line"
        assert f'{"description":<24} Pinned  (overridden; source: "{description}")' in lines

    def test_json_keeps_the_true_text(self, cli: Cli) -> None:
        """JSON output is for programs: the real characters, JSON-escaped."""
        record = cli.json("jobs", "show", "netops:jobs.screen.Screen", "--json")
        assert record["name"] == "clear\x1b[2Jscreen" and record["grouping"] == "ops\u202eevil"

    def test_a_log_message_with_escapes_is_shown_escaped(self, cli: Cli) -> None:
        """A worker's log line cannot repaint the terminal of whoever reads the logs."""
        cli.ok("jobs", "enable", "netops:jobs.screen.Screen")
        run = cli.ok("results", "record", "netops:jobs.screen.Screen").strip()
        cli.ok("results", "log", run, "line\x1b[1Aup\rover")
        out = cli.ok("logs", run)
        assert "\x1b" not in out and "\r" not in out and "line\\x1b[1Aup\\rover" in out

    @pytest.mark.parametrize("value", ["\x1b[2J", "a\nb", "evil\u202e"])
    def test_an_operator_cannot_type_controls_into_a_name(self, cli: Cli, value: str) -> None:
        """``jobs override JOB name $'\\x1b[2J'`` is refused in one line (escaped)."""
        done = cli.run("jobs", "override", "netops:jobs.screen.Screen", "name", value)
        assert_one_line_error(done, 1, "may not hold the control character")
        assert "\x1b" not in done.stderr


class TestLargeFiles:
    def test_a_huge_local_file_is_skipped_unread(self, tmp_path: Path) -> None:
        """A 1.5 GB (sparse) file in a local folder is skipped by its size: the sync runs in under 1 GiB."""
        folder = tmp_path / "lab"
        (folder / "jobs").mkdir(parents=True)
        (folder / "jobs" / "ok.py").write_text(JOBS, encoding="utf-8")
        with (folder / "jobs" / "huge.py").open("wb") as huge:
            huge.truncate(1_500_000_000)  # sparse: no disk used, but reading it would need 1.5 GB
        cli = Cli(tmp_path)

        def limit_memory() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

        done = run_cli(cli, "resync", str(folder), "--name", "lab", "--json", preexec=limit_memory)
        assert done.returncode == 0, done.stderr[-500:]
        summary = json.loads(done.stdout)
        assert summary["added"] == ["lab:jobs.ok.Backup", "lab:jobs.ok.Restore"]
        [problem] = summary["problems"]
        assert problem["file"] == "jobs/huge.py" and "over the" in problem["reason"]

    @pytest.mark.parametrize("storage", ["loose", "packed"])
    def test_huge_blobs_in_a_git_source_are_skipped_uninflated(self, tmp_path: Path, storage: str) -> None:
        """Three 64 MB blobs, loose or packed, are skipped by their header sizes in 160 MiB of address space."""
        repo = GitRepo(tmp_path / "lab")
        repo.write("jobs/ok.py", JOBS)
        for n in range(3):  # spaces compress to almost nothing: the repository stays small
            repo.write(f"jobs/big{n}.py", b"# %d\n" % n + b" " * 64_000_000)
        # Files over bigFileThreshold go straight into a pack (deltas are covered in test_git.py).
        threshold = "1m" if storage == "packed" else "1g"
        repo.git("-c", f"core.bigFileThreshold={threshold}", "-c", "core.looseCompression=1", "add", "-A")
        repo.commit("huge files")
        assert ("packs: 0" in repo.git("count-objects", "-v")) == (storage == "loose")
        self._assert_skipped_in(tmp_path, repo, 160, [f"jobs/big{n}.py" for n in range(3)])

    def test_a_blob_over_dulwichs_loose_limit_is_skipped_not_corrupt(self, tmp_path: Path) -> None:
        """A 600 MB loose blob (dulwich refuses to inflate loose objects over 512 MiB) is skipped, not corrupt."""
        repo = GitRepo(tmp_path / "lab")
        repo.write("jobs/ok.py", JOBS)
        repo.commit("a job")
        # Written as git writes a loose object, but with plain SHA-1 and fast zlib: git add takes 3x longer.
        size = 600_000_000
        header = b"blob %d\0" % size
        digest, packer = hashlib.sha1(header), zlib.compressobj(1)
        chunks = [packer.compress(header)]
        zeros = bytes(1 << 20)
        for start in range(0, size, len(zeros)):
            piece = zeros[: size - start]
            digest.update(piece)
            chunks.append(packer.compress(piece))
        sha = digest.hexdigest()
        loose = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
        loose.parent.mkdir(exist_ok=True)
        loose.write_bytes(b"".join([*chunks, packer.flush()]))
        assert repo.git("cat-file", "-s", sha) == str(size)
        repo.git("update-index", "--add", "--cacheinfo", f"100644,{sha},jobs/huge.py")
        repo.git("commit", "-q", "-m", "a huge file")
        self._assert_skipped_in(tmp_path, repo, 160, ["jobs/huge.py"])

    @staticmethod
    def _assert_skipped_in(tmp_path: Path, repo: GitRepo, mebibytes: int, huge: list[str]) -> None:
        """Sync ``repo`` with the address space capped, from a mirror the git CLI made (fetching is not measured)."""
        cli = Cli(tmp_path)
        mirror = cli.state / "mirrors" / f"{source_id('lab')}.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(mirror)], check=True)

        def limit_memory() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (mebibytes << 20, mebibytes << 20))

        done = run_cli(cli, "resync", repo.url, "--name", "lab", "--json", preexec=limit_memory)
        assert done.returncode == 0, done.stderr[-500:]
        summary = json.loads(done.stdout)
        assert summary["added"] == ["lab:jobs.ok.Backup", "lab:jobs.ok.Restore"]
        assert [p["file"] for p in summary["problems"]] == huge
        assert all("over the 1048576-byte limit; skipped" in p["reason"] for p in summary["problems"])
