"""Benchmark ``jobsync daemon`` as systemd runs it: resident memory, idle CPU, local-folder latency.

Sources: ``--repos`` generated Git repositories of ``--modules`` x ``--jobs-per-module`` jobs each
(defaults: 20 x 100 x 10 = 20,000 jobs, each repository's modules distinct) and ``--local-folders``
folders of ``--local-modules`` x ``--local-jobs`` jobs (2 x 4 x 10). The daemon is
``jobsync --config CFG daemon``, a subprocess with ``NOTIFY_SOCKET`` on a Unix datagram socket
this script binds (``READY=1`` marks the end of the first pass) and ``WATCHDOG_USEC`` as
``WatchdogSec=`` would set it; a polling round is one ``sync finished`` JSON log line per git source.

* **memory** -- a cold daemon with every git ``interval`` at ``--fast-interval`` (1 s, the least a
  config accepts, so 100 rounds take ~2 minutes rather than ~17 at 10 s): VmRSS of the daemon
  (plus any child processes) at ``READY=1`` and after each of ``--rounds`` (100) rounds with
  nothing new. The daemon is then stopped with SIGTERM.
* **CPU** -- the daemon restarted on the same state with ``interval = --interval`` (10 s):
  utime + stime (+ reaped children) from /proc/PID/stat over ``--cpu-rounds`` (6) idle rounds,
  per round and as % of one core over that wall time (watchdog pings and folder watchers included);
  with the memory phase's CPU per 1 s round, it splits into the syncs and the loop between them.
* **latency** -- still in that daemon: ``--writes`` (20) new job files, one at a time, alternately in
  the local folders; from just before each write until its job is an installed row of the read
  model ``jobs_view`` (SQLite polled every 10 ms from this process, read-only).
Then SIGTERM: the daemon should say ``STOPPING=1`` and exit 0.

Targets: RSS <= 150 MB after the first pass and after the rounds, growth between the two <= 2 MB
(allocator noise), idle CPU <= 2 % of one core at 10 s, latency median <= 1 s. Wrong job counts, a
daemon that dies, never gets ready or exits non-zero exit 1; a missed target is only reported.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, work_folder
from resync import check, git, module_path, module_source

MB = 1_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Slack on "no growth": RSS moves by a few hundred kB as the allocator reuses pages.
GROWTH_TOLERANCE_MB = 2.0
#: Local-folder module numbers start here, so their class names never meet the repositories'.
LOCAL_BASE = 100_000
POLL = 0.01  # seconds between reads of jobs_view while waiting for a written job
LATENCY_TIMEOUT = 15.0
STOP_TIMEOUT = 30.0  # the unit's TimeoutStopSec


# -- sources and config -----------------------------------------------------------------------------


def make_source_repo(root: Path, index: int, modules: int, jobs: int) -> str:
    """A repository like bench/resync.py's, its modules numbered after the previous repositories'."""
    root.mkdir(parents=True)
    for m in range(index * modules, (index + 1) * modules):
        path = root / module_path(m)
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True)
            (path.parent / "__init__.py").write_text("")
        path.write_text(module_source(m, jobs))
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "generate benchmark jobs", cwd=root)
    return root.resolve().as_uri()


def make_local_folder(root: Path, index: int, modules: int, jobs: int) -> Path:
    root.mkdir(parents=True)
    for m in range(modules):
        n = LOCAL_BASE + index * modules + m
        (root / f"mod{n}.py").write_text(module_source(n, jobs))
    return root.resolve()


def probe_source(i: int) -> str:
    """The job file of the ``i``-th latency write: one job, class ``Probe{i:03d}Job``."""
    return (
        f'"""Latency probe {i}."""\n\nfrom nautobot.apps.jobs import Job\n\n\n'
        f'class Probe{i:03d}Job(Job):\n    """Probe {i}."""\n\n'
        f'    class Meta:\n        name = "Latency probe {i}"\n\n'
        "    def run(self):\n        self.logger.info('done')\n"
    )


def write_config(
    path: Path, state: Path, repos: dict[str, str], folders: dict[str, Path], interval: str
) -> None:
    store = f"sqlite:///{state / 'jobsync.db'}"
    lines = [
        'log_format = "json"',
        'log_level = "debug"',
        f"state_dir = {json.dumps(str(state))}",
        f"store = {json.dumps(store)}",
    ]
    for name, url in repos.items():
        lines += ["", "[[sources]]", f'name = "{name}"', 'kind = "git"', f"url = {json.dumps(url)}"]
        lines += ['branch = "main"', f"interval = {json.dumps(interval)}"]
    for name, folder in folders.items():
        lines += [
            "",
            "[[sources]]",
            f'name = "{name}"',
            'kind = "local"',
            f"path = {json.dumps(str(folder))}",
        ]
    path.write_text("\n".join(lines) + "\n")


def installed_jobs(db: Path) -> int:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        (count,) = conn.execute("SELECT count(*) FROM jobs_view WHERE installed = 1").fetchone()
    return int(count)


# -- /proc ----------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: index 0 is field 3 (state), so field n is n - 3."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid: int) -> dict[str, float]:
    """VmRSS of the daemon and of its descendants, in MB; ``peak`` is the daemon's VmHWM."""
    kids = descendants(pid)
    own = _status_kb(pid, "VmRSS") * 1024 / MB
    children = sum(_status_kb(kid, "VmRSS") for kid in kids) * 1024 / MB
    peak = _status_kb(pid, "VmHWM") * 1024 / MB
    return {
        "daemon": own,
        "children": children,
        "total": own + children,
        "processes": 1 + len(kids),
        "peak": peak,
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process and of its children it has waited for."""
    fields = _stat_fields(pid)
    return sum(int(fields[n - 3]) for n in (14, 15, 16, 17)) / CLK_TCK


# -- the daemon -----------------------------------------------------------------------------------------


def jobsync_command() -> list[str]:
    exe = Path(sys.executable).with_name("jobsync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "jobsync"]


class Daemon:
    """``jobsync daemon`` as a subprocess; threads follow its JSON log and its sd_notify messages."""

    def __init__(self, config: Path, logs: Path, notify_path: Path, watchdog_sec: float) -> None:
        self.cond = threading.Condition()
        self.synced: Counter[str] = Counter()  # sync finished lines per source
        self.local_seconds: list[float] = []  # "seconds" of each local sync
        self.problems: list[str] = []  # log lines at warning or worse, and lines that are not JSON
        self.notified: list[tuple[float, str]] = []  # (perf_counter, field) of every sd_notify field
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(notify_path))
        self.sock.settimeout(0.2)
        self._closing = False
        env = {k: v for k, v in os.environ.items() if k not in ("JOBSYNC_CONFIG", "WATCHDOG_PID")}
        env |= {"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": str(int(watchdog_sec * 1_000_000))}
        self.stderr = logs.with_suffix(".stderr")
        self.started = time.perf_counter()
        with self.stderr.open("w") as err:
            self.proc = subprocess.Popen(
                [*jobsync_command(), "--config", str(config), "daemon"],
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                text=True,
            )
        self.pid = self.proc.pid
        self._threads = [
            threading.Thread(target=self._follow_log, args=(logs,), daemon=True),
            threading.Thread(target=self._follow_notify, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _follow_log(self, copy: Path) -> None:
        assert self.proc.stdout is not None
        with copy.open("w") as out:
            for line in self.proc.stdout:
                out.write(line)
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {"event": line.strip(), "level": "not json"}
                with self.cond:
                    if record.get("event") == "sync finished":
                        self.synced[record["source"]] += 1
                        if record.get("kind") == "local":
                            self.local_seconds.append(float(record["seconds"]))
                    if record.get("level") not in ("debug", "info"):
                        self.problems.append(line.strip())
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()  # the process ended: wake any waiter

    def _follow_notify(self) -> None:
        while not self._closing:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.perf_counter()
            with self.cond:
                self.notified += [(now, field) for field in data.decode(errors="replace").splitlines()]
                self.cond.notify_all()

    def count(self, field: str) -> int:
        with self.cond:
            return sum(1 for _, f in self.notified if f == field)

    def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Block until ``done()`` (called under the lock); exit 1 if the daemon dies or time runs out."""
        with self.cond:
            ok = self.cond.wait_for(lambda: done() or self.proc.poll() is not None, timeout)
            if ok and done():
                return
        self.fail(f"{what}: " + ("timed out" if not ok else f"the daemon exited {self.proc.returncode}"))

    def wait_ready(self, timeout: float) -> float:
        """Seconds from start to the first ``READY=1``."""
        self.wait(lambda: any(f == "READY=1" for _, f in self.notified), timeout, "waiting for READY=1")
        with self.cond:
            return next(t for t, f in self.notified if f == "READY=1") - self.started

    def rounds(self, sources: Iterable[str], since: Counter[str]) -> int:
        """Rounds every one of ``sources`` completed since ``since`` (call under the lock, or racy)."""
        return min(self.synced[s] - since[s] for s in sources)

    def snapshot(self) -> Counter[str]:
        with self.cond:
            return Counter(self.synced)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and the seconds it took."""
        start = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"the daemon did not exit within {STOP_TIMEOUT:g} s of SIGTERM")
        return code, time.perf_counter() - start

    def fail(self, why: str) -> None:
        tail = self.stderr.read_text()[-2000:].strip() if self.stderr.exists() else ""
        self.close()
        sys.exit(f"bench: {why}" + (f"\n{tail}" if tail else ""))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._closing = True
        for thread in self._threads:
            thread.join(timeout=5)
        self.sock.close()


# -- the phases -----------------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def reached(daemon: Daemon, sources: list[str], since: Counter[str], rounds: int) -> bool:
    return daemon.rounds(sources, since) >= rounds


def memory_phase(daemon: Daemon, git_sources: list[str], rounds: int, timeout: float) -> dict[str, Any]:
    first_pass = daemon.wait_ready(timeout)
    ready = memory(daemon.pid)
    since = daemon.snapshot()
    trend = [ready["total"]]
    marks: dict[int, float] = {}  # round -> perf_counter, for the CPU figure of this phase
    cpu: dict[int, float] = {}
    for k in range(1, rounds + 1):
        daemon.wait(partial(reached, daemon, git_sources, since, k), 60, f"waiting for round {k}")
        trend.append(memory(daemon.pid)["total"])
        if k in (1, rounds):
            marks[k], cpu[k] = time.perf_counter(), cpu_seconds(daemon.pid)
    after = memory(daemon.pid)
    syncs = sum(daemon.snapshot()[s] - since[s] for s in git_sources)
    return {
        "first_pass_seconds": first_pass,
        "ready": ready,
        "after": after,
        "growth": after["total"] - ready["total"],
        "growth_from_round_1": after["total"] - trend[1],
        "trend": trend,
        "rounds": rounds,
        "rounds_logged": syncs / len(git_sources),
        "seconds": marks[rounds] - marks[1] if rounds > 1 else 0.0,
        "cpu_per_round": (cpu[rounds] - cpu[1]) / (rounds - 1) if rounds > 1 else 0.0,
    }


def cpu_phase(daemon: Daemon, git_sources: list[str], rounds: int, interval: float) -> dict[str, Any]:
    """CPU over ``rounds`` idle rounds, from the end of the first round after READY."""
    since = daemon.snapshot()
    wait = interval * 1.5 + 30
    daemon.wait(lambda: daemon.rounds(git_sources, since) >= 1, wait, "waiting for the first idle round")
    start, cpu0, base = time.perf_counter(), cpu_seconds(daemon.pid), daemon.snapshot()
    daemon.wait(lambda: daemon.rounds(git_sources, base) >= rounds, wait * rounds, "waiting for idle rounds")
    wall, cpu = time.perf_counter() - start, cpu_seconds(daemon.pid) - cpu0
    logged = sum(daemon.snapshot()[s] - base[s] for s in git_sources) / len(git_sources)
    return {
        "rounds": logged,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "cpu_per_round": cpu / logged,
        "core_percent": 100 * cpu / wall,
    }


def latency_phase(daemon: Daemon, db: Path, folders: dict[str, Path], writes: int) -> dict[str, Any]:
    names = list(folders)
    seconds: list[float] = []
    local_before = len(daemon.local_seconds)
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        for i in range(writes):
            source = names[i % len(names)]
            query = "SELECT 1 FROM jobs_view WHERE source = ? AND job_class_name = ? AND installed = 1"
            params = (source, f"Probe{i:03d}Job")
            start = time.perf_counter()
            (folders[source] / f"probe{i:03d}.py").write_text(probe_source(i))
            while conn.execute(query, params).fetchone() is None:
                if time.perf_counter() - start > LATENCY_TIMEOUT:
                    daemon.fail(f"write {i} to {source} not in jobs_view after {LATENCY_TIMEOUT:g} s")
                time.sleep(POLL)
            seconds.append(time.perf_counter() - start)
            time.sleep(0.3)  # past the watcher's debounce, so each write is its own batch
    with daemon.cond:
        local_syncs = daemon.local_seconds[local_before:]
    return {
        "writes": writes,
        "median": statistics.median(seconds),
        "max": max(seconds),
        "min": min(seconds),
        "seconds": seconds,
        "local_syncs": len(local_syncs),
        "local_sync_median": statistics.median(local_syncs) if local_syncs else None,
    }


def split_cpu(mem: dict[str, Any], cpu: dict[str, Any]) -> dict[str, float] | None:
    """Estimate, from the two intervals, the CPU of a round's syncs and of the loop between them.

    Per round, CPU = syncs + idle x round seconds; two round lengths give both unknowns. ``None``
    when the memory phase had too few rounds or the two intervals are too close to tell apart.
    """
    if mem["rounds"] < 2 or not cpu["rounds"]:
        return None
    fast, slow = mem["seconds"] / (mem["rounds"] - 1), cpu["wall_seconds"] / cpu["rounds"]
    if slow - fast < 1:
        return None
    idle = (cpu["cpu_per_round"] - mem["cpu_per_round"]) / (slow - fast)
    return {"syncs_per_round": mem["cpu_per_round"] - idle * fast, "idle_per_second": idle}


def stop(daemon: Daemon) -> dict[str, Any]:
    code, seconds = daemon.stop()
    time.sleep(0.3)  # let the notify thread take STOPPING=1 off the socket
    stopping = daemon.count("STOPPING=1")
    daemon.close()
    check(code == 0, f"the daemon exited {code} on SIGTERM (stderr: {daemon.stderr})")
    return {"exit_code": code, "seconds": seconds, "stopping_sent": stopping > 0}


# -- the run --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path, sockets: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    progress(f"generating {args.repos} repositories and {args.local_folders} folders")
    repos = {
        f"repo{r:02d}": make_source_repo(
            work / "repos" / f"repo{r:02d}", r, args.modules, args.jobs_per_module
        )
        for r in range(args.repos)
    }
    folders = {
        f"local{f}": make_local_folder(work / "local" / f"local{f}", f, args.local_modules, args.local_jobs)
        for f in range(args.local_folders)
    }
    generated = time.perf_counter() - t0
    state = work / "state"
    db = state / "jobsync.db"
    fast, slow = work / "config-fast.toml", work / "config.toml"
    write_config(fast, state, repos, folders, args.fast_interval)
    write_config(slow, state, repos, folders, args.interval)
    interval = float(args.interval.rstrip("s"))
    git_sources = list(repos)
    expected = args.repos * args.modules * args.jobs_per_module
    expected += args.local_folders * args.local_modules * args.local_jobs

    progress(f"cold daemon, interval {args.fast_interval}: first pass, then {args.rounds} idle rounds")
    daemon = Daemon(fast, work / "daemon-memory.log", sockets / "memory.sock", args.watchdog_sec)
    try:
        mem = memory_phase(daemon, git_sources, args.rounds, args.ready_timeout)
        check(installed_jobs(db) == expected, f"{installed_jobs(db)} jobs installed, not {expected}")
        mem["problems"] = daemon.problems[:20]
        mem["watchdog_pings"] = daemon.count("WATCHDOG=1")
        mem["stop"] = stop(daemon)
    finally:
        daemon.close()

    progress(
        f"daemon restarted, interval {args.interval}: {args.cpu_rounds} idle rounds, {args.writes} writes"
    )
    daemon = Daemon(slow, work / "daemon-cpu.log", sockets / "cpu.sock", args.watchdog_sec)
    try:
        restart = daemon.wait_ready(args.ready_timeout)
        restart_rss = memory(daemon.pid)
        cpu = cpu_phase(daemon, git_sources, args.cpu_rounds, interval)
        lat = latency_phase(daemon, db, folders, args.writes)
        lat["rss_after"] = memory(daemon.pid)
        check(
            installed_jobs(db) == expected + args.writes,
            f"{installed_jobs(db)} jobs, not {expected + args.writes}",
        )
        problems = daemon.problems[:20]
        watchdog = daemon.count("WATCHDOG=1")
        stopped = stop(daemon)
    finally:
        daemon.close()

    result: dict[str, Any] = {
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "jobs": expected,
        "cpus": os.cpu_count(),
        "generate_seconds": generated,
        "memory": mem,
        "restart": {
            "ready_seconds": restart,
            "rss": restart_rss,
            "problems": problems,
            "watchdog_pings": watchdog,
            "stop": stopped,
        },
        "cpu": cpu,
        "latency": lat,
    }
    result["cpu_split"] = split_cpu(mem, cpu)
    scores = {
        "rss_ready": mem["ready"]["total"],
        "rss_after": mem["after"]["total"],
        "growth": mem["growth"],
        "cpu": cpu["core_percent"],
        "latency": lat["median"],
    }
    result["scores"] = scores
    result["targets_met"] = {key: scores[key] <= TARGETS[key][1] for key in TARGETS}
    result["total_seconds"] = time.perf_counter() - t0
    return result


TARGETS = {  # name: (what, limit)
    "rss_ready": ("MB", 150.0),
    "rss_after": ("MB", 150.0),
    "growth": ("MB", GROWTH_TOLERANCE_MB),
    "cpu": ("% of a core", 2.0),
    "latency": ("s median", 1.0),
}


def print_table(r: dict[str, Any], args: argparse.Namespace) -> None:
    mem, cpu, lat, restart = r["memory"], r["cpu"], r["latency"], r["restart"]
    print(
        f"{args.repos} git sources x {args.modules} modules x {args.jobs_per_module} jobs + "
        f"{args.local_folders} local folders x {args.local_modules * args.local_jobs} jobs = {r['jobs']} jobs; "
        f"{r['cpus']} CPUs"
    )
    print(
        f"memory: interval {args.fast_interval}, {args.rounds} idle rounds; CPU and latency: restarted, "
        f"interval {args.interval}; total {r['total_seconds']:.0f} s (generating {r['generate_seconds']:.1f} s)\n"
    )

    def verdict(key: str) -> str:
        what, limit = TARGETS[key]
        return f"<= {limit:g} {what}: {'ok' if r['targets_met'][key] else 'MISSED'}"

    def row(name: str, value: str, target: str = "") -> None:
        print(f"{name:<42}{value:>12}  {target}".rstrip())

    row("first pass (start to READY=1)", f"{mem['first_pass_seconds']:.2f} s")
    row("RSS at READY (daemon + children)", f"{mem['ready']['total']:.1f} MB", verdict("rss_ready"))
    row("  peak RSS of the first pass (VmHWM)", f"{mem['ready']['peak']:.1f} MB")
    row("  processes (daemon + children)", f"{mem['ready']['processes']}")
    for k in sorted({1, 10, args.rounds // 2, args.rounds}):
        if 0 < k <= args.rounds:
            row(
                f"RSS after idle round {k}",
                f"{mem['trend'][k]:.1f} MB",
                verdict("rss_after") if k == args.rounds else "",
            )
    row(f"growth, READY to round {args.rounds}", f"{mem['growth']:+.2f} MB", verdict("growth"))
    row(f"growth, round 1 to round {args.rounds}", f"{mem['growth_from_round_1']:+.2f} MB")
    row(
        f"CPU per round at {args.fast_interval} (rounds 1-{args.rounds})",
        f"{mem['cpu_per_round'] * 1000:.1f} ms",
    )
    row("restart to READY=1 (nothing new)", f"{restart['ready_seconds']:.2f} s")
    row("RSS at READY after restart", f"{restart['rss']['total']:.1f} MB")
    row(f"CPU per idle round at {args.interval}", f"{cpu['cpu_per_round'] * 1000:.1f} ms")
    row(
        f"CPU, {cpu['rounds']:.1f} rounds over {cpu['wall_seconds']:.0f} s",
        f"{cpu['core_percent']:.3f} %",
        verdict("cpu"),
    )
    if r["cpu_split"] is not None:
        split = r["cpu_split"]
        row("  est.: the syncs of one round", f"{split['syncs_per_round'] * 1000:.1f} ms")
        row("  est.: the loop between syncs", f"{split['idle_per_second'] * 1000:.1f} ms/s")
    row(f"write to jobs_view, median of {lat['writes']}", f"{lat['median']:.3f} s", verdict("latency"))
    row("  max / min", f"{lat['max']:.3f} / {lat['min']:.3f}")
    if lat["local_sync_median"] is not None:
        row(f"  of which the sync (median of {lat['local_syncs']})", f"{lat['local_sync_median']:.3f} s")
    row("RSS after the writes", f"{lat['rss_after']['total']:.1f} MB")
    for name, stopped in (("memory", mem["stop"]), ("restarted", restart["stop"])):
        said = "STOPPING=1, " if stopped["stopping_sent"] else "no STOPPING=1, "
        row(
            f"SIGTERM to exit ({name} daemon)",
            f"{stopped['seconds']:.2f} s",
            f"{said}exit {stopped['exit_code']}",
        )
    for name, problems in (("memory", mem["problems"]), ("restarted", restart["problems"])):
        for line in problems:
            print(f"! {name} daemon logged: {line[:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=20, help="git sources")
    parser.add_argument("--modules", type=int, default=100, help="modules per repository")
    parser.add_argument("--jobs-per-module", type=int, default=10)
    parser.add_argument("--local-folders", type=int, default=2)
    parser.add_argument("--local-modules", type=int, default=4, help="modules per local folder")
    parser.add_argument("--local-jobs", type=int, default=10, help="jobs per local module")
    parser.add_argument("--interval", default="10s", help="git interval of the CPU and latency phases")
    parser.add_argument("--fast-interval", default="1s", help="git interval of the memory phase")
    parser.add_argument("--rounds", type=int, default=100, help="idle rounds of the memory phase")
    parser.add_argument("--cpu-rounds", type=int, default=6, help="idle rounds the CPU is measured over")
    parser.add_argument("--writes", type=int, default=20, help="local job files written for latency")
    parser.add_argument("--watchdog-sec", type=float, default=60, help="as WatchdogSec= in the unit")
    parser.add_argument("--ready-timeout", type=float, default=900, help="seconds to wait for READY=1")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    args = parser.parse_args()
    if min(args.repos, args.modules, args.jobs_per_module, args.local_folders, args.local_modules) < 1:
        parser.error("every count must be at least 1")
    if min(args.local_jobs, args.rounds, args.cpu_rounds, args.writes) < 1:
        parser.error("every count must be at least 1")
    for option in ("interval", "fast_interval"):
        value = getattr(args, option).rstrip("s")
        if not value.replace(".", "", 1).isdigit() or float(value) < 1:
            parser.error(f"--{option.replace('_', '-')}: seconds like '10s', at least 1")
    with (
        work_folder(parser, args.workdir) as work,
        tempfile.TemporaryDirectory(prefix="jsb-") as sockets,  # short: a socket path is <= 107 bytes
    ):
        result = run(args, work, Path(sockets))
    emit(result, args, print_table)


if __name__ == "__main__":
    main()
