"""Chaos: SIGKILL jobsync at random moments of its work, then prove that nothing was left broken.

Each round picks a phase at random (``--seed``) and runs the real CLI, every process in its own
process group, on a generated Git repository of ``--modules`` modules (bench/resync.py's
generator, 5 jobs a module to start with):

* **resync** -- a commit changing 1 to ``--modules`` modules (log-uniform; each module then holds
  4 to 6 jobs, so the source's job count moves), then ``jobsync resync bench``; a quarter of the
  rounds are *cold*: the mirror and ``summaries.db`` are deleted first, so the sync fetches and
  parses everything.
* **daemon** -- the same kind of commit, then ``jobsync --config CFG daemon`` polling the
  repository every second.
* **override** -- a loop of ``jobs override JOB description ...`` / ``jobs clear JOB description``.
* **worker** -- a loop of ``results record`` / ``start`` / ``log`` (x3) / ``finish`` of one job.

The running process gets SIGKILL -- only the process, as the OOM killer would send it, not its
group. Loops are killed at a random moment; a sync kill is aimed (``TARGETS``): anywhere in how
long an uninterrupted run of that kind took (measured at set-up, then from the runs that finished
before their kill), or shortly after the sync is seen reaching its fetch, parse, parse pool or
projection (``when_sync_reaches``), so kills land in every step. A resync that finishes before its kill is
not counted as a kill (its checks still run): rounds go on until ``--kills`` kills landed.

After each kill, in order:

1. **atomic** -- read the projection lag straight from the store (to say where the kill landed),
   then ``sources show`` and ``jobs list``: the source's last commit and its installed job count
   are the pair before the round's commit or the pair after it, never a mix or a count in between.
2. **replay** -- ``jobsync replay --verify --json`` exits 0, ``ok``, with no differences.
3. **resync** -- the next ``jobsync resync bench`` exits 0 at the repository's HEAD, and the source
   then holds HEAD's job count.
4. **running** -- after that sync no sync result is ``running`` (a killed sync's result is finished
   ``errored`` "interrupted" by the next one). A job result the killed *worker* left running is
   the worker's to finish, not jobsync's (jobsync never runs jobs and cannot know the worker is
   gone), so it is allowed -- any other running job result is not -- and is then finished
   ``errored`` here, as a worker's supervisor would.
5. **orphans** -- within ``GRACE`` seconds of the kill no live process is left in the killed
   process's group (parse-pool workers and the fork server must exit with their parent).
6. **locks** -- no ``*.lock`` file is left inside the mirror after the next sync (one left by the
   kill is listed in the round's record; the mirror's own ``<id>.git.lock`` beside it is an
   ``flock`` file that the kernel releases when its holder dies, so it is not stale).

A round is clean when every check passes. ``--store both`` runs the rounds on SQLite and then on a
throwaway PostgreSQL server (tests/postgres.py). Prints ``N kills, M clean`` per store; exits 1 if
any round is unclean.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

import jobsync
from jobsync.parsing import PARALLEL_THRESHOLD

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres
from common import emit, work_folder
from daemon import _stat_fields, jobsync_command
from resync import GIT_ENV, git, make_repo, module_path, module_source

from tests.postgres import PostgresServer

SOURCE = "bench"
_PG_TABLES = (
    "SELECT substring(table_name from '_(events|tracking)$'), table_name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_name ~ '_(events|tracking)$'"
)
#: The job the override and worker loops use: module 0 always keeps at least 4 jobs.
JOB = f"{SOURCE}:{module_path(0)[:-3].replace('/', '.')}.M0000Job0"
FIRST_JOBS = 5
JOBS_RANGE = (4, 6)  # jobs a changed module holds: never more than a third uninstalled at once
COLD_SHARE = 0.25
START_UP_SHARE = 0.2  # sync kills drawn from the start rather than from the end of start-up
PHASES = ("resync", "daemon", "override", "worker")
#: Seconds a killed process's group has to empty: parse workers look for their parent every 0.5 s.
GRACE = 5.0
#: Seconds between looks at a running operation (its process, the log, the mirror).
POLL = 0.005
#: Events a sync's own save holds at least (job events, source, result, log entries); smaller
#: saves before it only record or finish sync results.
BIG_SAVE = 5
#: Where sync kills are aimed, and how often.
TARGETS = {"anywhere": 0.25, "fetch": 0.15, "parse": 0.25, "pool": 0.15, "projection": 0.2}
#: Seconds any check command may take before the round counts it as stuck.
PATIENCE = 300.0


# -- the repository -------------------------------------------------------------------------------------


class ChaosRepo:
    """bench/resync.py's repository, whose commits change how many jobs modules hold; counts known."""

    def __init__(self, root: Path, modules: int) -> None:
        self.root, self.modules = root, modules
        make_repo(root, modules, FIRST_JOBS)
        self.jobs = [FIRST_JOBS] * modules
        self.rev = 0
        self.count = {self.head(): sum(self.jobs)}  # installed jobs expected at each commit

    @property
    def url(self) -> str:
        return self.root.resolve().as_uri()

    def head(self) -> str:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=self.root,
            env=GIT_ENV,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def change(self, rng: random.Random) -> tuple[str, int]:
        """Commit new job counts (and descriptions) in 1 to ``modules`` modules; (commit, modules changed)."""
        self.rev += 1
        changed = sorted(rng.sample(range(self.modules), max(1, int(self.modules ** rng.random()))))
        before = sum(self.jobs)
        for m in changed:
            self.jobs[m] = rng.choice(
                [n for n in range(JOBS_RANGE[0], JOBS_RANGE[1] + 1) if n != self.jobs[m]]
            )
        if sum(self.jobs) == before:  # the count must move, or "before or after" cannot be told apart
            m = changed[0]
            self.jobs[m] += 1 if self.jobs[m] < JOBS_RANGE[1] else -1
        for m in changed:
            (self.root / module_path(m)).write_text(module_source(m, self.jobs[m], self.rev))
        git("commit", "-q", "-am", f"chaos revision {self.rev}", cwd=self.root)
        commit = self.head()
        self.count[commit] = sum(self.jobs)
        return commit, len(changed)


# -- the CLI and the store ----------------------------------------------------------------------------


@dataclass
class Jobsync:
    """``jobsync --config CFG --store URL`` on one state folder; commands return parsed output."""

    state: Path
    store: str

    def __post_init__(self) -> None:
        self.config = self.state / "config.toml"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("JOBSYNC_", "WATCHDOG_", "NOTIFY_"))
        }

    def write_config(self, url: str) -> None:
        lines = [f"state_dir = {json.dumps(str(self.state))}", f"store = {json.dumps(self.store)}"]
        lines += ['log_format = "json"', "", "[[sources]]", f'name = "{SOURCE}"', f"url = {json.dumps(url)}"]
        lines += ['branch = "main"', 'interval = "1s"']
        self.state.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n")

    def command(self, *args: str) -> list[str]:
        return [*jobsync_command(), "--config", str(self.config), "--actor", "chaos", *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                self.command(*args), capture_output=True, text=True, env=self.env, timeout=PATIENCE
            )
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, -1, "", f"stuck: no exit within {PATIENCE:g} s")

    def json(self, *args: str) -> Any:
        """The JSON a read command prints; CheckError with its stderr when it fails."""
        done = self.run(*args, "--json")
        if done.returncode != 0:
            raise CheckError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        return json.loads(done.stdout)

    def installed(self) -> int:
        return len(self.json("jobs", "list", "--source", SOURCE))

    def mirrors(self) -> list[Path]:
        return sorted((self.state / "mirrors").glob("*.git"))

    def forget_caches(self) -> None:
        """Delete what the state folder derives (mirror, parse summaries): the next sync is cold."""
        shutil.rmtree(self.state / "mirrors", ignore_errors=True)
        for leftover in self.state.glob("summaries.db*"):
            leftover.unlink()

    def fetched(self, commit: str) -> bool:
        """The mirror's branch is at ``commit`` (read from its ref file: cheap enough to poll)."""
        for mirror in self.mirrors():
            with suppress(OSError):
                if (mirror / "refs" / "heads" / "main").read_text().strip() == commit:
                    return True
        return False


class LogPositions:
    """The log's last notification id and the read models' position, read without catching up.

    One connection for the life of the object, so a running sync can be watched every few ms.
    """

    def __init__(self, store: str) -> None:
        self.store = store
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Any] | None = None
        self._queries: list[str | sql.Composed] = []

    def read(self) -> tuple[int, int] | None:
        """(last notification id, read models' position), or None when the store cannot say."""
        try:
            if self.store.startswith("sqlite"):
                if self._sqlite is None:
                    path = self.store.removeprefix("sqlite:///")
                    self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
                last, position = (self._sqlite.execute(q).fetchone()[0] for q in _SQLITE_POSITIONS)
            else:
                if self._pg is None:
                    self._pg = psycopg.connect(self.store, autocommit=True)
                    names = dict(self._pg.execute(_PG_TABLES).fetchall())  # tables named for the application
                    self._queries = [
                        sql.SQL("SELECT max(notification_id) FROM {}").format(sql.Identifier(names[kind]))
                        for kind in ("events", "tracking")
                    ]
                last, position = (self._pg.execute(q).fetchone()[0] for q in self._queries)  # type: ignore[index]
        except (sqlite3.Error, psycopg.Error, KeyError):
            self.close()
            return None
        return int(last or 0), int(position or 0)

    def lag(self) -> int | None:
        """Events in the log not yet in the read models (None: unknown)."""
        read = self.read()
        return None if read is None else read[0] - read[1]

    def close(self) -> None:
        for connection in (self._sqlite, self._pg):
            if connection is not None:
                connection.close()
        self._sqlite = self._pg = None


_SQLITE_POSITIONS = ("SELECT max(rowid) FROM stored_events", "SELECT max(notification_id) FROM tracking")


class CheckError(Exception):
    """A check failed; the message says which and why."""


@contextmanager
def stores(which: str, work: Path) -> Iterator[Iterator[tuple[str, str]]]:
    """(name, URL) of each store to run on; a PostgreSQL server lives as long as the context."""
    server = PostgresServer.start() if which in ("postgres", "both") else None
    try:

        def urls() -> Iterator[tuple[str, str]]:
            if which in ("sqlite", "both"):
                yield "sqlite", f"sqlite:///{work / 'sqlite' / 'state' / 'jobsync.db'}"
            if server is not None:
                yield "postgres", server.url(server.create_database())

        yield urls()
    finally:
        if server is not None:
            server.stop()


# -- one kill -----------------------------------------------------------------------------------------


@dataclass
class Kill:
    """What was running when the SIGKILL came, and what ran before it."""

    command: list[str]
    pid: int
    landed: bool  # the process was alive when it was killed
    seconds: float  # how long that process had run
    orphans: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # commands of a loop that failed before the kill
    pool: bool = False  # it had child processes (a parse pool) when it was killed


Step = Callable[[subprocess.CompletedProcess[str] | None], list[str] | None]
#: (seconds since the first command started, pid of the running one) -> is it time for the kill?
Trigger = Callable[[float, int], bool]


def run_and_kill(cli: Jobsync, step: Step, trigger: Trigger, logs: Path) -> Kill:
    """Run ``step``'s commands one after another, each in its own process group; SIGKILL when ``trigger``.

    ``step`` gets the previous command's outcome and returns the next command (None: done).
    Output goes to files, never pipes: a surviving orphan must not hold this script up.
    """
    begun = time.monotonic()
    previous: subprocess.CompletedProcess[str] | None = None
    failures: list[str] = []
    out, err = logs.with_suffix(".out"), logs.with_suffix(".err")
    last: list[str] = []
    while (command := step(previous)) is not None:
        last = command
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = subprocess.Popen(
                command, stdout=stdout, stderr=stderr, env=cli.env, start_new_session=True
            )
        started = time.monotonic()
        while (code := proc.poll()) is None:
            if trigger(time.monotonic() - begun, proc.pid):
                pool = _has_children(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)
                at = time.monotonic() - begun
                proc.wait()
                return Kill(command, proc.pid, True, at, orphans(proc.pid), failures, pool)
            time.sleep(POLL)
        previous = subprocess.CompletedProcess(command, code, out.read_text(), err.read_text())
        if code != 0:
            failures.append(f"{' '.join(command[-4:])} exited {code}: {previous.stderr.strip()[-300:]}")
    return Kill(last, proc.pid, False, time.monotonic() - started, orphans(proc.pid), failures)


def after(delay: float) -> Trigger:
    return lambda elapsed, pid: elapsed >= delay


def when_sync_reaches(
    target: str, cli: Jobsync, positions: LogPositions, commit: str, delay: float, limit: float
) -> Trigger:
    """Kill ``delay`` s after the sync of ``commit`` is seen reaching ``target`` (by ``limit`` at the latest).

    ``fetch``: the log grew (a resync records its running result before fetching); ``parse``: the
    mirror holds the commit; ``pool``: the process has children (the parse pool: its workers, or a
    fork server and a resource tracker); ``projection``: after the fetch, a save of several events
    is in the log but not yet in the read models. Only aimed: where it landed is judged afterwards.
    """
    first = positions.read()
    seen: float | None = None
    at_fetch: int | None = None

    def trigger(elapsed: float, pid: int) -> bool:
        nonlocal seen, at_fetch
        if seen is None:
            now = positions.read()
            if target == "pool":
                reached = _has_children(pid)
            elif target == "fetch":
                reached = now is not None and first is not None and now[0] > first[0]
            elif at_fetch is None:
                if cli.fetched(commit):
                    at_fetch = now[0] if now else 0
                reached = target == "parse" and at_fetch is not None
            else:
                reached = now is not None and now[0] - at_fetch >= BIG_SAVE and now[0] > now[1]
            seen = elapsed if reached else None
        return elapsed >= limit or (seen is not None and elapsed >= seen + delay)

    return trigger


def _has_children(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/task/{pid}/children").read_text().strip())
    except OSError:
        return False


def group_members(pgid: int) -> list[str]:
    """Live (not zombie) processes of process group ``pgid``: ``PID command line`` each."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
            if int(fields[2]) == pgid and fields[0] != "Z":
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {cmdline.strip()[:200]}")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def orphans(pgid: int) -> list[str]:
    """What is still alive in the group after ``GRACE`` seconds; then it is killed, so rounds stay apart."""
    end = time.monotonic() + GRACE
    while (left := group_members(pgid)) and time.monotonic() < end:
        time.sleep(0.1)
    if left:
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return left


# -- the phases -----------------------------------------------------------------------------------------


def once(command: list[str]) -> Step:
    return lambda previous: command if previous is None else None


def override_loop(cli: Jobsync, rnd: int) -> Step:
    """``jobs override`` then ``jobs clear`` of the job's description, again and again."""
    count = iter(range(10**9))

    def step(previous: subprocess.CompletedProcess[str] | None) -> list[str]:
        n = next(count)
        if n % 2:
            return cli.command("jobs", "clear", JOB, "description")
        return cli.command("jobs", "override", JOB, "description", f"chaos round {rnd}, edit {n}")

    return step


def worker_loop(cli: Jobsync, started: set[str]) -> Step:
    """A worker's life through the CLI: record, start, three log entries, finish; again and again.

    ``started`` collects the ids this worker started, so the checks can tell its running result
    (the worker's to finish) from one jobsync left running.
    """
    plan = ["record", "start", "log", "log", "log", "finish"]
    steps = iter(range(10**9))
    ident = ""

    def step(previous: subprocess.CompletedProcess[str] | None) -> list[str]:
        nonlocal ident
        if previous is not None and previous.args[-4:-2] == ["record", JOB] and previous.returncode == 0:
            ident = previous.stdout.strip()
        n = next(steps)
        what = plan[n % len(plan)]
        if what == "record":
            return cli.command("results", "record", JOB, "--args", json.dumps({"n": n}))
        if what == "start":
            started.add(ident)
        if what == "log":
            return cli.command("results", "log", ident, f"step {n}", "--level", "info")
        if what == "finish":
            return cli.command("results", "finish", ident, "--status", "completed", "--data", "{}")
        return cli.command("results", what, ident)

    return step


@dataclass
class Round:
    """One kill and its checks, as the report shows it."""

    number: int
    phase: str
    kind: str  # cold / incremental for syncs, else the loop
    aim: str  # where the kill was aimed (TARGETS)
    modules_changed: int
    delay: float  # seconds from the start to the kill (to the end, when the run finished first)
    landed: bool
    where: str
    seconds: float
    failures: list[str]
    locks_after_kill: list[str]


@dataclass
class Estimates:
    """Seconds an uninterrupted run of each kind took (the last few), to spread the kills over it."""

    runs: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.runs.setdefault(kind, []).append(seconds)
        del self.runs[kind][:-5]

    def of(self, kind: str) -> float:
        return statistics.median(self.runs.get(kind) or [1.0])


def play_round(
    number: int,
    cli: Jobsync,
    repo: ChaosRepo,
    rng: random.Random,
    estimates: Estimates,
    positions: LogPositions,
    phases: list[str],
    aims: list[str],
    logs: Path,
) -> Round:
    """Pick a phase, start it, aim a SIGKILL at it, then run every check on what it left."""
    phase = rng.choice(phases)
    before = repo.head()
    after_commit, changed, kind = before, 0, phase
    worker_started: set[str] = set()
    if phase in ("resync", "daemon"):
        kind = "cold" if rng.random() < COLD_SHARE else "incremental"
        if kind == "cold":
            cli.forget_caches()
        after_commit, changed = repo.change(rng)
        command = cli.command("resync", SOURCE, "--json") if phase == "resync" else cli.command("daemon")
        step = once(command)
        aim = rng.choices(aims, weights=[TARGETS[a] for a in aims])[0]
        if aim == "fetch" and phase == "daemon":  # the daemon records its result after fetching
            aim = "anywhere"
        if aim == "pool" and kind != "cold" and changed < PARALLEL_THRESHOLD:  # parsed in-process
            aim = "parse"
        # Mostly after start-up (which a small repository's sync is mostly made of), some during it.
        end = (1.1 if phase == "resync" else 1.5) * estimates.of(kind)
        begin = 0.0 if rng.random() < START_UP_SHARE else min(estimates.of("start-up"), end / 2)
        delay = {
            "anywhere": rng.uniform(begin, end),
            "fetch": rng.uniform(0.0, 0.1 * estimates.of(kind)),
            "parse": rng.uniform(0.0, 0.5 * estimates.of(kind)),
            "pool": rng.uniform(0.0, 0.2),
            "projection": 0.0,
        }[aim]
        trigger = (
            after(delay)
            if aim == "anywhere"
            else when_sync_reaches(aim, cli, positions, after_commit, delay, 3 * end + 2)
        )
    else:
        aim = "anywhere"
        trigger = after(rng.uniform(0.0, 2.5))
        step = override_loop(cli, number) if phase == "override" else worker_loop(cli, worker_started)
    start = time.monotonic()
    kill = run_and_kill(cli, step, trigger, logs / f"{number:04d}-{phase}")
    if phase == "resync" and not kill.landed and not kill.failures:
        estimates.add(kind, kill.seconds)
    failures = list(kill.failures)
    if phase == "daemon" and not kill.landed:
        failures.append(f"the daemon exited before its kill: see {logs}/{number:04d}-daemon.err")
    locks = [str(p.relative_to(cli.state)) for m in cli.mirrors() for p in m.rglob("*.lock")]
    where = "?"
    if phase in ("override", "worker") and "--actor" in kill.command:  # which command it killed
        at = kill.command.index("--actor") + 2
        where = " ".join(kill.command[at : at + 2])
    try:
        where = check_after_kill(cli, repo, phase, kill, before, after_commit, positions, where, failures)
    except CheckError as exc:  # a read needed by the later checks failed: the round is unclean
        failures.append(str(exc))
    failures += check_recovery(cli, repo, kill, worker_started)
    return Round(number, phase, kind, aim, changed, round(kill.seconds, 3), kill.landed, where,
                 round(time.monotonic() - start, 3), failures, locks)  # fmt: skip


def check_after_kill(
    cli: Jobsync,
    repo: ChaosRepo,
    phase: str,
    kill: Kill,
    before: str,
    after: str,
    positions: LogPositions,
    where: str,
    failures: list[str],
) -> str:
    """Checks 1, 2 and 5 on the state the kill left; returns where the kill landed."""
    lag = positions.lag()  # first: every CLI read below catches the read models up
    source = cli.json("sources", "show", SOURCE)
    count = cli.installed()
    pairs = {(before, repo.count[before]), (after, repo.count[after])}
    if (source["last_commit"], count) not in pairs:
        failures.append(
            f"atomic: last commit {source['last_commit'][:10]} with {count} installed jobs; expected one of "
            + ", ".join(f"{c[:10]} with {n}" for c, n in sorted(pairs))
        )
    if phase in ("resync", "daemon") and kill.landed:
        where = _where_sync_died(cli, kill, after, source["last_commit"], lag)
    verify = cli.run("replay", "--verify", "--json")
    if verify.returncode != 0:
        failures.append(f"replay --verify exited {verify.returncode}: {verify.stderr.strip()[-300:]}")
    else:
        report = json.loads(verify.stdout)
        if not report.get("ok") or report.get("differences"):
            failures.append(f"replay --verify: {json.dumps(report.get('differences'))[:500]}")
    if kill.orphans:
        failures.append(f"orphans: {len(kill.orphans)} process(es) of the killed group alive after "
                        f"{GRACE:g} s: " + "; ".join(kill.orphans))  # fmt: skip
    return where


def _where_sync_died(cli: Jobsync, kill: Kill, commit: str, last_commit: str, lag: int | None) -> str:
    """Which step of the sync the kill interrupted, judged from what it left behind."""
    if last_commit == commit:
        return "projection" if lag else "after save"
    if lag:
        return "projecting the sync's start"
    fetched = any(
        subprocess.run(["git", "--git-dir", str(m), "cat-file", "-e", f"{commit}^{{commit}}"],
                       capture_output=True, env=GIT_ENV).returncode == 0
        for m in cli.mirrors()
    )  # fmt: skip
    if fetched:
        return "parse pool" if kill.pool else "parse, plan or save"
    try:
        results = cli.json("results", "list", "--limit", "10")
    except CheckError:
        return "?"
    started = any(r["task"] == "sync" and (r.get("args") or {}).get("pid") == kill.pid for r in results)
    return "fetch" if started else "start-up"


def check_recovery(cli: Jobsync, repo: ChaosRepo, kill: Kill, worker_started: set[str]) -> list[str]:
    """Checks 3, 4 and 6: the next sync reaches HEAD's count, nothing stays running, no lock stays."""
    failures = []
    head = repo.head()
    done = cli.run("resync", SOURCE, "--json")
    if done.returncode != 0:
        failures.append(f"resync: exited {done.returncode}: {done.stderr.strip()[-300:]}")
    elif json.loads(done.stdout)["commit"] != head:
        failures.append(f"resync: reached {json.loads(done.stdout)['commit'][:10]}, not HEAD {head[:10]}")
    try:
        if (count := cli.installed()) != repo.count[head]:
            failures.append(f"resync: {count} installed jobs at HEAD, expected {repo.count[head]}")
        running = cli.json("results", "list", "--status", "running")
        syncs = [r["id"] for r in running if r["task"] == "sync"]
        if syncs:
            failures.append(f"running: sync result(s) {', '.join(syncs)} still running after the next sync")
        others = {r["id"] for r in running if r["task"] != "sync"}
        if others - worker_started:
            failures.append(f"running: job result(s) {', '.join(sorted(others - worker_started))} running, "
                            "not left by the killed worker")  # fmt: skip
        for ident in others & worker_started:  # the worker's supervisor ends its run
            cli.run(
                "results", "finish", ident, "--status", "errored", "--data", '{"reason": "worker killed"}'
            )
    except CheckError as exc:
        failures.append(str(exc))
    stale = [str(p.relative_to(cli.state)) for m in cli.mirrors() for p in m.rglob("*.lock")]
    if stale:
        failures.append(f"locks: left in the mirror after the next sync: {', '.join(stale)}")
    return failures


# -- a store's run --------------------------------------------------------------------------------------


def set_up(cli: Jobsync, repo: ChaosRepo, rng: random.Random, estimates: Estimates) -> dict[str, float]:
    """First sync (timed: the cold estimate), an incremental one, a start-up (timed); the loops' job enabled."""
    cli.write_config(repo.url)
    times = {}
    for kind in ("cold", "incremental"):
        if kind == "incremental":
            repo.change(rng)
        start = time.monotonic()
        done = cli.run("resync", repo.url, "--name", SOURCE, "--json")
        times[kind] = time.monotonic() - start
        if done.returncode != 0:
            sys.exit(f"bench: set-up {kind} resync exited {done.returncode}: {done.stderr.strip()}")
        estimates.add(kind, times[kind])
    if cli.installed() != repo.count[repo.head()]:
        sys.exit(f"bench: set-up: {cli.installed()} jobs installed, expected {repo.count[repo.head()]}")
    for _ in range(3):  # what any command costs before it does its work: imports, opening the store
        start = time.monotonic()
        cli.run("sources", "list")
        estimates.add("start-up", time.monotonic() - start)
    enabled = cli.run("jobs", "enable", JOB)
    if enabled.returncode != 0:
        sys.exit(f"bench: cannot enable {JOB}: {enabled.stderr.strip()}")
    return times


def run_store(name: str, url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(f"{args.seed}:{name}")
    folder = work / name
    cli = Jobsync(folder / "state", url)
    repo = ChaosRepo(folder / "repo", args.modules)
    estimates = Estimates()
    setup = set_up(cli, repo, rng, estimates)
    positions = LogPositions(url)
    (logs := folder / "rounds").mkdir()
    rounds: list[Round] = []
    start = time.monotonic()
    while sum(r.landed for r in rounds) < args.kills:
        played = play_round(
            len(rounds) + 1, cli, repo, rng, estimates, positions, args.phases, args.aims, logs
        )
        rounds.append(played)
        progress(name, played, args)
    positions.close()
    landed = [r for r in rounds if r.landed]
    return {
        "store": name,
        "kills": len(landed),
        "clean": sum(not r.failures for r in landed),
        "missed": len(rounds) - len(landed),  # resyncs that finished before their kill
        "unclean": [asdict(r) for r in rounds if r.failures],
        "where": dict(Counter(f"{r.phase}: {r.where}" for r in landed)),
        "seconds_per_round": (time.monotonic() - start) / len(rounds),
        "setup_seconds": setup,
        "rounds": [asdict(r) for r in rounds],
        "state": str(folder),
    }


def progress(store: str, r: Round, args: argparse.Namespace) -> None:
    """One line a round (stderr with --json, so stdout stays one document)."""
    mark = "clean" if not r.failures else "UNCLEAN"
    what = f"{r.phase}/{r.kind}" + (f" ({r.modules_changed} modules)" if r.modules_changed else "")
    kill = f"kill at {r.delay:.2f} s in {r.where}" if r.landed else f"finished after {r.delay:.2f} s"
    aim = f"aimed at {r.aim}" if r.phase in ("resync", "daemon") else ""
    line = f"{store} {r.number:4d} {what:<34} {aim:<20} {kill:<46} {mark} ({r.seconds:.1f} s)"
    for failure in r.failures:
        line += f"\n      {failure}"
    print(line, file=sys.stderr if args.json else sys.stdout, flush=True)


def print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n{args.modules} modules, seed {args.seed!r}; grace {GRACE:g} s for orphans")
    for run in result["stores"]:
        print(f"\n{run['store']}: where the kills landed")
        for where, n in sorted(run["where"].items()):
            print(f"  {where:<40}{n:5d}")
        for r in run["unclean"]:
            print(f"  UNCLEAN round {r['number']} ({r['phase']}/{r['kind']}, kill at {r['delay']} s "
                  f"in {r['where']}): " + " | ".join(r["failures"]))  # fmt: skip
        print(f"  {run['seconds_per_round']:.2f} s per round; state kept in {run['state']}" if args.workdir else
              f"  {run['seconds_per_round']:.2f} s per round")  # fmt: skip
    for run in result["stores"]:
        print(f"{run['store']}: {run['kills']} kills, {run['clean']} clean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200, help="kills that must land, per store")
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", default="jobsync", help="the same seed plays the same rounds")
    parser.add_argument(
        "--phases",
        type=lambda text: text.split(","),
        default=list(PHASES),
        help=f"comma-separated phases to draw from (default: all of {','.join(PHASES)})",
    )
    parser.add_argument(
        "--aims",
        type=lambda text: text.split(","),
        default=list(TARGETS),
        help=f"comma-separated aims of sync kills (default: all of {','.join(TARGETS)})",
    )
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    args = parser.parse_args()
    if args.kills < 1 or args.modules < 1:
        parser.error("need --kills >= 1 and --modules >= 1")
    if not args.phases or set(args.phases) - set(PHASES):
        parser.error(f"--phases takes some of {','.join(PHASES)}")
    if not args.aims or set(args.aims) - set(TARGETS):
        parser.error(f"--aims takes some of {','.join(TARGETS)}")
    # As pip install leaves them (see resync.cli_sync): with PYTHONDONTWRITEBYTECODE every
    # process would compile jobsync again, which stretches start-up and bends the kill spread.
    compileall.compile_dir(Path(jobsync.__file__).parent, quiet=1)
    with work_folder(parser, args.workdir) as work, stores(args.store, work) as urls:
        runs = [run_store(name, url, work, args) for name, url in urls]
    result = {
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "stores": runs,
    }
    emit(result, args, print_table)
    if any(run["unclean"] for run in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
