"""Benchmark jobsync's resync against a floor, through the library and through the CLI.

What is measured, on a generated Git repository of ``--modules`` modules with ``--jobs-per-module``
Nautobot-style job classes each (defaults: 2,000 x 5 = 10,000 jobs, ~50 modules per folder):

* **floor** -- the least work any syncing tool must do for that repository: ``git clone --bare`` over
  ``file://``, read every blob of HEAD from the object store with dulwich (as jobsync does),
  ``ast.parse`` every ``.py`` file (discovery must never import the code), and insert one row per
  job into a fresh SQLite file in one transaction. Nothing cheaper could still fetch, read, parse and
  persist; it is a fair baseline, and sequential (jobsync may parse in worker processes).
* **jobsync cold** -- ``Catalog.open`` on a fresh state dir plus ``resync(url)``: every job added.
* **jobsync no-op** -- ``resync`` again with nothing new (median of ``--noop-runs``): up to date.
* **jobsync incremental** -- ``resync`` after one commit editing the Meta ``description`` of the
  first job in ``--changed`` modules (one job per file, so exactly ``--changed`` jobs change).

The three are run through the library and again through ``jobsync resync`` as a subprocess, since
process start-up is part of what users wait for. Wrong counts exit 1; missed targets do not.
Targets (issue 11): cold through the library / floor <= 0.75; incremental / cold <= 0.02 through
the library and <= 0.08 through the CLI; no-op through the CLI <= 0.15 s.
"""

from __future__ import annotations

import argparse
import ast
import compileall
import contextlib
import cProfile
import gc
import json
import os
import pstats
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from dulwich.object_store import iter_tree_contents
from dulwich.objects import Commit
from dulwich.repo import Repo

import jobsync
from jobsync import Catalog
from jobsync.cli import GC_THRESHOLDS

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from common import emit, work_folder

T = TypeVar("T")
MODULES_PER_FOLDER = 50
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    **{f"GIT_{who}_NAME": "bench" for who in ("AUTHOR", "COMMITTER")},
    **{f"GIT_{who}_EMAIL": "bench@example.invalid" for who in ("AUTHOR", "COMMITTER")},
}


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn()`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def module_path(m: int) -> str:
    return f"jobs/pkg{m // MODULES_PER_FOLDER:03d}/mod{m:04d}.py"


def module_source(m: int, jobs: int, rev: int = 0) -> str:
    """Nautobot 2 imports, Nautobot 1 discovery (no register_jobs): every Job subclass is a job."""
    out = [f'"""Generated jobs of module {m}."""\n', "from nautobot.apps.jobs import Job\n"]
    for j in range(jobs):
        out.append(
            f"\nclass M{m:04d}Job{j}(Job):\n"
            f'    """Job {j} of module {m}."""\n\n'
            "    class Meta:\n"
            f'        name = "Bench m{m:04d} j{j}"\n'
            f'        description = "Job {j} of module {m}, revision {rev if j == 0 else 0}"\n'
            "        soft_time_limit = 240\n        time_limit = 300\n        has_sensitive_variables = False\n\n"
            "    def run(self):\n        self.logger.info('done')\n"
        )
    return "".join(out)


def make_repo(root: Path, modules: int, jobs: int, register: bool = False) -> Path:
    """The generated repository; with ``register``, ``jobs/__init__.py`` registers every job (Nautobot 2)."""
    (root / "jobs").mkdir(parents=True)
    init = '"""Generated benchmark jobs."""\n'
    if register:
        names = [(m, f"M{m:04d}Job{j}") for m in range(modules) for j in range(jobs)]
        init += "from nautobot.apps.jobs import register_jobs\n"
        init += "".join(f"from .{module_path(m)[5:-3].replace('/', '.')} import {n}\n" for m, n in names)
        init += "\nregister_jobs(\n" + "".join(f"    {n},\n" for _, n in names) + ")\n"
    (root / "jobs" / "__init__.py").write_text(init)
    for m in range(modules):
        path = root / module_path(m)
        if not path.parent.is_dir():
            path.parent.mkdir()
            (path.parent / "__init__.py").write_text("")
        path.write_text(module_source(m, jobs))
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "generate benchmark jobs", cwd=root)
    return root


def change_modules(root: Path, modules: int, jobs: int, changed: int, rev: int) -> None:
    """Edit job 0's description in ``changed`` modules spread over the repository, and commit."""
    for i in range(changed):
        m = i * modules // changed
        (root / module_path(m)).write_text(module_source(m, jobs, rev))
    git("commit", "-q", "-am", f"revision {rev}", cwd=root)


class Laps(dict[str, float]):
    """Seconds of each named part since the previous one; ``total`` is their sum."""

    def __init__(self) -> None:
        super().__init__()
        self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self[name], self.last = now - self.last, now


def measure_floor(url: str, work: Path) -> tuple[dict[str, float], int]:
    """Clone, read every blob, parse every .py, insert one row per job; returns times and job count."""
    lap = Laps()
    git("clone", "-q", "--bare", url, str(work / "floor.git"))
    lap("clone")
    with Repo(str(work / "floor.git")) as repo:
        store = repo.object_store
        commit = store[repo.head()]
        assert isinstance(commit, Commit)
        blobs = {
            e.path.decode(): store[e.sha].as_raw_string() for e in iter_tree_contents(store, commit.tree)
        }
    lap("read")
    found: list[tuple[str, str]] = []  # one tree at a time: holding them all would let the GC dominate
    for path, data in blobs.items():
        if path.endswith(".py"):
            found += [(path, n.name) for n in ast.parse(data, path).body if isinstance(n, ast.ClassDef)]
    lap("parse")
    db = sqlite3.connect(work / "floor.db")
    db.execute(
        "CREATE TABLE job (ref TEXT PRIMARY KEY, module TEXT, class TEXT, source TEXT, commit_id TEXT)"
    )
    with db:
        rows = [(f"{path}:{cls}", path, cls, "bench", commit.id.decode()) for path, cls in found]
        db.executemany("INSERT INTO job VALUES (?, ?, ?, ?, ?)", rows)
    db.close()
    lap("insert")
    return {**lap, "total": sum(lap.values())}, len(found)


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"bench: wrong result: {what}")


class Outcome(NamedTuple):
    commit: str
    added: int
    changed: int
    other: int  # uninstalled + reinstalled + problems
    up_to_date: bool


class LibrarySync:
    """``Catalog.resync`` in this process; the first call opens the catalog (part of the cold time)."""

    def __init__(self, url: str, state: Path, profile: int) -> None:
        self.url, self.state, self.profile = url, state, profile
        self.catalog: Catalog | None = None

    def __call__(self) -> Outcome:
        profiler = cProfile.Profile() if self.profile and self.catalog is None else None
        with profiler or contextlib.nullcontext():
            self.catalog = self.catalog or Catalog.open(state_dir=self.state, actor="bench")
            s = self.catalog.resync(self.url, name="bench")
        if profiler:
            print(f"# cProfile of the library cold resync, top {self.profile} by cumtime", file=sys.stderr)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(self.profile)
        other = len(s.uninstalled) + len(s.reinstalled) + len(s.problems)
        return Outcome(s.commit, len(s.added), len(s.changed), other, s.up_to_date)

    def close(self) -> None:
        if self.catalog is not None:
            self.catalog.close()


def cli_sync(url: str, state: Path) -> Callable[[], Outcome]:
    """``jobsync resync --json`` as a subprocess, with its own state dir given by a config file.

    jobsync's modules are byte-compiled first, as ``pip install`` leaves them: with
    ``PYTHONDONTWRITEBYTECODE`` set (as in some sandboxes) every call would otherwise compile them
    again, a cost no installed user pays.
    """
    compileall.compile_dir(Path(jobsync.__file__).parent, quiet=1)
    state.mkdir()
    (state / "config.toml").write_text(f"state_dir = {json.dumps(str(state))}\n")
    exe = Path(sys.executable).with_name("jobsync")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "jobsync"]
    command += ["--config", str(state / "config.toml"), "--store", f"sqlite:///{state / 'jobsync.db'}"]
    command += ["--actor", "bench", "resync", url, "--name", "bench", "--json"]

    def sync() -> Outcome:
        done = subprocess.run(command, capture_output=True, text=True)
        check(done.returncode == 0, f"jobsync resync exited {done.returncode}: {done.stderr.strip()}")
        d = json.loads(done.stdout)
        other = len(d["uninstalled"]) + len(d["reinstalled"]) + len(d["problems"])
        quiet = not (d["added"] or d["changed"] or other)  # the JSON may not say up_to_date itself
        return Outcome(d["commit"], len(d["added"]), len(d["changed"]), other, d.get("up_to_date", quiet))

    return sync


def measure(
    sync: Callable[[], Outcome], bump: Callable[[], None], args: argparse.Namespace
) -> dict[str, float]:
    """Cold, median no-op and incremental times of ``sync``; ``bump`` commits the change (not timed)."""
    expected = args.modules * args.jobs_per_module
    t_cold, cold = timed(sync)
    check(cold.added == expected and not cold.other, f"cold sync: {cold}, expected {expected} added")
    noops = []
    for _ in range(args.noop_runs):
        t, noop = timed(sync)
        check(
            noop.up_to_date
            and noop.commit == cold.commit
            and (noop.added, noop.changed, noop.other) == (0, 0, 0),
            f"no-op sync: {noop}",
        )
        noops.append(t)
    bump()
    t_inc, inc = timed(sync)
    counts = (inc.added, inc.changed, inc.other)
    check(
        inc.commit != cold.commit and counts == (0, args.changed, 0),
        f"incremental: {inc}, not {args.changed} changed",
    )
    return {"cold": t_cold, "noop": statistics.median(noops), "incremental": t_inc}


TARGETS = {  # kind: name: (what the number is, limit)
    "library": {
        "cold": ("cold / floor", 0.75),
        "noop": ("no-op seconds", 0.2),
        "incremental": ("incremental / cold", 0.02),
    },
    "cli": {
        "cold": ("cold / floor", 0.75),
        "noop": ("no-op seconds", 0.15),
        "incremental": ("incremental / cold", 0.08),
    },
}


def report(floor: dict[str, float], runs: dict[str, dict[str, float]]) -> dict[str, Any]:
    scores = {
        kind: {
            "cold": t["cold"] / floor["total"],
            "noop": t["noop"],
            "incremental": t["incremental"] / t["cold"],
        }
        for kind, t in runs.items()
    }
    met = {kind: {k: v <= TARGETS[kind][k][1] for k, v in score.items()} for kind, score in scores.items()}
    return {"floor": floor, **runs, "scores": scores, "targets_met": met}


def print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{args.modules} modules x {args.jobs_per_module} jobs; {args.changed} modules edited, one job each;"
    )
    print(f"no-op is the median of {args.noop_runs}; {os.cpu_count()} CPUs")
    print("(library cold ran under cProfile: inflated)\n" if args.profile else "")
    print(f"{'measure':<28}{'seconds':>9}  {'score':>7}  target")
    for part, seconds in result["floor"].items():
        print(f"{'floor ' + part:<28}{seconds:9.3f}")
    for kind in ("library", "cli"):
        for key, (what, limit) in TARGETS[kind].items():
            score, ok = result["scores"][kind][key], result["targets_met"][kind][key]
            verdict = f"{what} <= {limit}: {'ok' if ok else 'MISSED'}"
            print(f"{f'jobsync {kind} {key}':<28}{result[kind][key]:9.3f}  {score:7.3f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--jobs-per-module", type=int, default=5)
    parser.add_argument(
        "--changed", type=int, default=10, help="modules edited (one job each) for incremental"
    )
    parser.add_argument("--noop-runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument(
        "--register",
        action="store_true",
        help="jobs/__init__.py registers every job with register_jobs (Nautobot 2) instead of Nautobot 1 rules",
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep Python's GC thresholds for the library runs (default: the CLI's jobsync.cli.GC_THRESHOLDS)",
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the library cold sync, top N"
    )
    args = parser.parse_args()
    if not 0 < args.changed <= args.modules or args.jobs_per_module < 1:
        parser.error("need 0 < --changed <= --modules and --jobs-per-module >= 1")
    if not args.default_gc:
        gc.set_threshold(*GC_THRESHOLDS)  # the policy the CLI and daemon run with
    with work_folder(parser, args.workdir) as work:
        repo = make_repo(work / "repo", args.modules, args.jobs_per_module, args.register)
        url = (work / "repo").resolve().as_uri()
        floor, found = measure_floor(url, work)
        check(found == args.modules * args.jobs_per_module, f"floor found {found} job classes")

        def bump(rev: int) -> None:
            change_modules(repo, args.modules, args.jobs_per_module, args.changed, rev)

        with contextlib.closing(LibrarySync(url, work / "state-lib", args.profile)) as library:
            lib = measure(library, lambda: bump(1), args)
        cli = measure(cli_sync(url, work / "state-cli"), lambda: bump(2), args)
    result = {"params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    result |= report(floor, {"library": lib, "cli": cli})
    emit(result, args, print_table)


if __name__ == "__main__":
    main()
