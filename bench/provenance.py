"""Benchmark provenance: one sync of ``--commits`` [10,000] new commits, with and without the walk that
names who last changed each job's file.

A repository of ``--modules`` [200] job modules (one job each) is synced once, then gets the new
commits (made with ``git fast-import``), and is synced again into two copies of the store: once as
jobsync does it, once with provenance switched off (the snapshot answers "no history"), which is
the baseline. Two shapes of history:

* **spread** -- each new commit changes one module's description, round robin: every job changes,
  and the walk ends as soon as each file was seen (the newest ``--modules`` commits).
* **stale** -- the first new commit changes every module, the others only a README: the walk
  finds nothing in the newest commits and stops at its bound (``WALK_LIMIT``), crediting the
  synced commit.

For reference, ``git log --name-only`` over the same range (git's own walk, in C) is timed too.
Target (issue 14): the sync with provenance takes at most 1.5 x the sync without it, and at most
2 s more. A missed target is reported, never an error; a wrong count of changed jobs exits 1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jobsync import Catalog
from jobsync.adapters import git as git_adapter
from jobsync.domain.provenance import Provenance

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from common import run_bench

MODULE = "from nautobot.apps.jobs import Job\n\n\nclass Job{n}(Job):\n    class Meta:\n        description = '{text}'\n"


def fast_import(repo: Path, commands: Iterator[str]) -> None:
    """Feed a fast-import stream to git in ``repo``."""
    process = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert process.stdin is not None
    for command in commands:
        process.stdin.write(command.encode())
    process.stdin.close()
    if process.wait() != 0:
        raise SystemExit("git fast-import failed")


def blob_command(path: str, text: str) -> str:
    data = text.encode()
    return f"M 100644 inline {path}\ndata {len(data)}\n{text}\n"


def commit_command(n: int, changes: list[tuple[str, str]], parent: bool) -> str:
    author = f"Author {n % 7} <a{n % 7}@example.org> {1_700_000_000 + n} +0000"
    message = f"change {n}"
    lines = [f"commit refs/heads/main\nauthor {author}\ncommitter {author}\ndata {len(message)}\n{message}\n"]
    if parent:
        lines.append("from refs/heads/main^0\n")
    lines += [blob_command(path, text) for path, text in changes]
    return "".join(lines) + "\n"


def make_history(repo: Path, modules: int, commits: int, shape: str) -> tuple[str, str]:
    """The first commit (all modules) and the head after ``commits`` more, in the given shape."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    fast_import(
        repo,
        iter(
            [
                commit_command(
                    0, [(f"jobs/m{i}.py", MODULE.format(n=i, text="v0")) for i in range(modules)], False
                )
            ]
        ),
    )
    first = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )

    def stream() -> Iterator[str]:
        for n in range(1, commits + 1):
            if shape == "spread":
                i = n % modules
                changes = [(f"jobs/m{i}.py", MODULE.format(n=i, text=f"v{n}"))]
            elif n == 1:
                changes = [(f"jobs/m{i}.py", MODULE.format(n=i, text="v1")) for i in range(modules)]
            else:
                changes = [("README.md", f"readme {n}")]
            yield commit_command(n, changes, parent=n == 1)

    fast_import(repo, stream())
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return first.stdout.strip(), head.stdout.strip()


def timed_sync(work: Path, repo: Path, first: str, name: str, with_provenance: bool) -> tuple[float, int]:
    """Sync ``first``, then time the sync of the head; the seconds and the count of changed jobs."""
    subprocess.run(["git", "-C", str(repo), "branch", "-f", "start", first], check=True)
    original = git_adapter.Mirror.provenance
    if not with_provenance:
        git_adapter.Mirror.provenance = lambda self, commit, since, paths: Provenance()  # type: ignore[method-assign]
    try:
        with Catalog.open(state_dir=work / name, actor="bench") as catalog:
            catalog.resync("file://" + str(repo), name="src", branch="start")
            started = time.perf_counter()
            summary = catalog.resync("src", branch="main")
            return time.perf_counter() - started, len(summary.changed)
    finally:
        git_adapter.Mirror.provenance = original  # type: ignore[method-assign]


def git_log_seconds(repo: Path, first: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["git", "-C", str(repo), "log", "--name-only", "--format=%H %an %s", f"{first}..main"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "modules": args.modules,
        "commits": args.commits,
        "walk_limit": git_adapter.WALK_LIMIT,
    }
    failed = False
    for shape in ("spread", "stale"):
        repo = work / f"repo-{shape}"
        first, _ = make_history(repo, args.modules, args.commits, shape)
        without, changed_without = timed_sync(work, repo, first, f"{shape}-without", with_provenance=False)
        with_, changed_with = timed_sync(work, repo, first, f"{shape}-with", with_provenance=True)
        failed |= changed_with != args.modules or changed_without != args.modules
        result[shape] = {
            "sync_without_s": round(without, 3),
            "sync_with_s": round(with_, 3),
            "ratio": round(with_ / without, 2),
            "extra_s": round(with_ - without, 3),
            "git_log_s": round(git_log_seconds(repo, first), 3),
            "changed": changed_with,
            "target_met": with_ <= 1.5 * without or with_ - without <= 2.0,
        }
    result["counts_ok"] = not failed
    return result


def print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{result['modules']} modules, {result['commits']} new commits, walk limit {result['walk_limit']}")
    print(f"{'shape':<8} {'without':>9} {'with':>9} {'ratio':>6} {'extra':>8} {'git log':>8}  target")
    for shape in ("spread", "stale"):
        r = result[shape]
        met = "met" if r["target_met"] else "MISSED"
        print(
            f"{shape:<8} {r['sync_without_s']:>8.3f}s {r['sync_with_s']:>8.3f}s {r['ratio']:>6.2f}"
            f" {r['extra_s']:>7.3f}s {r['git_log_s']:>7.3f}s  {met}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--modules", type=int, default=200)
    parser.add_argument("--commits", type=int, default=10_000)
    result = run_bench(parser, run, print_table)
    if not result["counts_ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
