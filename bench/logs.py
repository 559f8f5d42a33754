"""Benchmark jobsync's result logs: appending and reading log entries, against raw SQLite inserts.

What is measured, in one run (defaults in brackets):

* **raw** -- the baseline: ``--entries`` [100,000] rows with the columns of jobsync's ``log_entries``
  view (result_id, version, time, level, message, grouping, object, url), inserted into a fresh
  SQLite file with the same table, the same statement and the same connection settings as
  eventsourcing's (WAL, explicit ``BEGIN``), one transaction per ``--batch`` [1,000] rows. jobsync
  writes every entry twice (the ``LogEmitted`` event and its view row), hence a target of a quarter.
* **batched** -- ``Catalog.log_many`` of the same entries to ONE result, ``--batch`` at a time.
* **single** -- ``Catalog.log`` one entry at a time, ``--single`` [2,000] times (for information).
* **results** -- ``--results`` [10,000] runs of record_result + start_result + log_many of
  ``--per-result`` [10] entries + finish_result: what many short jobs cost.
* **read** -- ``Catalog.logs`` of the big result in this process, and ``jobsync logs ID --json``
  as a subprocess (skipped, and said so, while the CLI has no ``logs`` command).

Entries read must equal entries written, or the run exits 1; missed targets are only reported.
Targets: batched / raw >= 0.25 (entries/s over rows/s), library read <= 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from jobsync import Catalog
from jobsync.domain.result import LogEntry

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
from common import emit, work_folder

T = TypeVar("T")
JOB_REF = "bench:jobs.x.MyJob"
COLUMNS = ("result_id", "version", "time", "level", "message", "grouping", "object", "url")
LEVELS = ("info", "info", "debug", "success", "warning")
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    **{f"GIT_{who}_NAME": "bench" for who in ("AUTHOR", "COMMITTER")},
    **{f"GIT_{who}_EMAIL": "bench@example.invalid" for who in ("AUTHOR", "COMMITTER")},
}
JOB_MODULE = '''"""One job to hang the benchmark's results on."""

from nautobot.apps.jobs import Job


class MyJob(Job):
    """Logs a lot."""

    class Meta:
        name = "Bench logger"

    def run(self):
        self.logger.info("done")
'''


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn()`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"bench: wrong result: {what}")


def make_entries(count: int) -> list[LogEntry]:
    """Log lines like a device job writes: varied levels, an object, a URL, ~50-character messages."""
    return [
        LogEntry(
            message=f"dev{i:06d}: checked {i % 48 + 1} interfaces, config in sync",
            level=LEVELS[i % len(LEVELS)],
            grouping="main",
            object=f"dev{i:06d}",
            url=f"/dcim/devices/{i}/",
        )
        for i in range(count)
    ]


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def make_repo(root: Path) -> str:
    """A Git repository with one job module; returns its file:// URL."""
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "__init__.py").write_text("")
    (root / "jobs" / "x.py").write_text(JOB_MODULE)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one job"]):
        subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True)
    return root.resolve().as_uri()


def log_view_schema(state: Path) -> tuple[str, list[str]]:
    """jobsync's own log view, from a throwaway store: its table name, and its DDL with any indexes.

    The table is found by its columns, so the baseline follows a renamed or prefixed view.
    """
    Catalog.open(state_dir=state, actor="bench").close()
    db = sqlite3.connect(state / "jobsync.db")
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = [t for t in tables if {row[1] for row in db.execute(f'PRAGMA table_info("{t}")')} == set(COLUMNS)]
    check(len(found) == 1, f"jobsync's store has {len(found)} tables with the log columns, not 1")
    schema = db.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC", found
    ).fetchall()
    db.close()
    return found[0], [sql for (sql,) in schema]


def measure_raw(path: Path, view: tuple[str, list[str]], entries: Sequence[LogEntry], batch: int) -> float:
    """Insert one view row per entry, a transaction per batch, as eventsourcing's connections do."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    table, schema = view
    for statement in schema:
        db.execute(statement)
    insert = f'INSERT OR IGNORE INTO "{table}" ({", ".join(COLUMNS)}) VALUES ({",".join("?" * len(COLUMNS))})'
    result_id = str(uuid.uuid4())
    start = time.perf_counter()
    version = 0
    for chunk in batches(entries, batch):
        rows = []
        for e in chunk:
            version += 1
            when = datetime.now(UTC).isoformat()
            rows.append((result_id, version, when, e.level, e.message, e.grouping, e.object, e.url))
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    (count,) = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    db.close()
    check(count == len(entries), f"raw baseline inserted {count} rows, not {len(entries)}")
    return seconds


def append_batched(
    catalog: Catalog, result_id: uuid.UUID, entries: Sequence[LogEntry], batch: int, profile: int
) -> list[float]:
    """``log_many`` batch after batch; the seconds of each batch (cProfiled when ``profile``)."""
    profiler = cProfile.Profile() if profile else None
    laps = []
    with profiler or contextlib.nullcontext():
        for chunk in batches(entries, batch):
            start = time.perf_counter()
            catalog.log_many(result_id, chunk)
            laps.append(time.perf_counter() - start)
    if profiler:
        print(f"# cProfile of the batched append, top {profile} by cumtime", file=sys.stderr)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(profile)
    return laps


def append_single(catalog: Catalog, result_id: uuid.UUID, entries: Sequence[LogEntry]) -> float:
    start = time.perf_counter()
    for e in entries:
        catalog.log(result_id, e.message, e.level, e.grouping, e.object, e.url)
    return time.perf_counter() - start


def many_results(catalog: Catalog, results: int, entries: Sequence[LogEntry]) -> dict[str, float]:
    """``results`` whole runs; seconds spent in each of the four calls, and in all."""
    parts = dict.fromkeys(("record", "start", "log", "finish"), 0.0)
    for n in range(results):
        t0 = time.perf_counter()
        rid = catalog.record_result(JOB_REF, args={"n": n})
        t1 = time.perf_counter()
        catalog.start_result(rid)
        t2 = time.perf_counter()
        catalog.log_many(rid, entries)
        t3 = time.perf_counter()
        catalog.finish_result(rid, "completed", data={"n": n})
        t4 = time.perf_counter()
        for part, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[part] += seconds
    return {**parts, "total": sum(parts.values())}


def jobsync_command(config: Path) -> list[str]:
    exe = Path(sys.executable).with_name("jobsync")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "jobsync"]
    return [*command, "--config", str(config)]


def cli_has_logs(config: Path) -> bool:
    done = subprocess.run([*jobsync_command(config), "logs", "--help"], capture_output=True, text=True)
    return done.returncode == 0


def count_cli_entries(document: Any) -> int:
    """Entries in ``logs --json`` output: a list of entries, or an object holding one."""
    if isinstance(document, list):
        return len(document)
    if isinstance(document, dict):
        for key in ("entries", "logs", "log_entries"):
            if isinstance(document.get(key), list):
                return len(document[key])
    sys.exit(f"bench: cannot find the entries in jobsync logs --json output: {str(document)[:200]}")


def read_cli(config: Path, result_id: uuid.UUID) -> tuple[float, int]:
    """``jobsync logs ID --json`` as a subprocess: its seconds and how many entries it printed."""
    command = [*jobsync_command(config), "logs", str(result_id), "--json"]
    seconds, done = timed(lambda: subprocess.run(command, capture_output=True, text=True))
    check(done.returncode == 0, f"jobsync logs exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds, count_cli_entries(json.loads(done.stdout))


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    entries = make_entries(args.entries)
    raw = measure_raw(work / "raw.db", log_view_schema(work / "schema"), entries, args.batch)

    state = work / "state"
    state.mkdir()
    config = work / "config.toml"
    config.write_text(f"state_dir = {json.dumps(str(state))}\n")
    url = make_repo(work / "repo")
    with Catalog.open(state_dir=state, actor="bench") as catalog:
        sync = catalog.resync(url, name="bench")
        check(sync.added == [JOB_REF], f"resync added {sync.added}, not [{JOB_REF}]")
        catalog.enable(JOB_REF)

        big = catalog.record_result(JOB_REF)
        catalog.start_result(big)
        laps = append_batched(catalog, big, entries, args.batch, args.profile)

        small = catalog.record_result(JOB_REF)
        catalog.start_result(small)
        single = append_single(catalog, small, entries[: args.single])
        check(len(catalog.logs(small)) == args.single, "single-entry result lost entries")

        many = many_results(catalog, args.results, entries[: args.per_result])
        done = catalog.results(job=JOB_REF, status="completed")
        check(len(done) == args.results, f"{len(done)} completed results, not {args.results}")
        check(len(catalog.logs(done[0]["id"])) == args.per_result, "a short run lost entries")

        read_lib, read = timed(lambda: catalog.logs(big))
        check(len(read) == args.entries, f"Catalog.logs read {len(read)} entries, not {args.entries}")
        check(read[-1]["message"] == entries[-1].message, "the last entry read is not the last written")

    cli: dict[str, Any] = {"available": cli_has_logs(config)}
    if cli["available"]:
        cli["seconds"], cli["entries"] = read_cli(config, big)
        check(cli["entries"] == args.entries, f"jobsync logs printed {cli['entries']} entries")

    tenth = max(1, len(laps) // 10)
    sizes = [len(chunk) for chunk in batches(entries, args.batch)]
    batched: dict[str, Any] = {
        "entries": args.entries,
        "seconds": sum(laps),
        "rate": rate(args.entries, sum(laps)),
    }
    for name, part in (("first_tenth", slice(None, tenth)), ("last_tenth", slice(-tenth, None))):
        count, seconds = sum(sizes[part]), sum(laps[part])
        batched[name] = {"entries": count, "seconds": seconds, "rate": rate(count, seconds)}
    entries_many = args.results * args.per_result
    scores = {
        "batched": batched["rate"] / rate(args.entries, raw),
        "read_lib": read_lib,
    }
    return {
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "raw": {"seconds": raw, "rate": rate(args.entries, raw)},
        "batched": batched,
        "single": {"seconds": single, "rate": rate(args.single, single)},
        "results": {
            **many,
            "entries_rate": rate(entries_many, many["total"]),
            "results_rate": rate(args.results, many["total"]),
        },
        "read_lib": {"seconds": read_lib, "rate": rate(args.entries, read_lib)},
        "read_cli": cli,
        "scores": scores,
        "targets_met": {key: TARGETS[key][2](value) for key, value in scores.items()},
    }


TARGETS: dict[str, tuple[str, float, Callable[[float], bool]]] = {  # what, limit, met?
    "batched": ("batched / raw >=", 0.25, lambda score: score >= 0.25),
    "read_lib": ("seconds <=", 2.0, lambda score: score <= 2.0),
}


def print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"{args.entries} entries to one result in batches of {args.batch}; {args.single} single entries; "
        f"{args.results} results x {args.per_result} entries; {os.cpu_count()} CPUs"
    )
    if args.profile:
        print("(the batched append ran under cProfile: inflated)")
    print(f"\n{'measure':<34}{'count':>9}{'seconds':>10}{'per second':>12}  {'score':>7}  target")

    def row(name: str, count: int | str, seconds: float, per_second: float, target: str = "") -> None:
        print(f"{name:<34}{count:>9}{seconds:10.3f}{per_second:12,.0f}  {target}")

    def verdict(key: str) -> str:
        what, limit, _ = TARGETS[key]
        ok = result["targets_met"][key]
        return f"{result['scores'][key]:7.3f}  {what} {limit}: {'ok' if ok else 'MISSED'}"

    b, r = result["batched"], result["results"]
    row("raw sqlite rows", args.entries, result["raw"]["seconds"], result["raw"]["rate"])
    row("jobsync log_many entries", args.entries, b["seconds"], b["rate"], verdict("batched"))
    for tenth in ("first", "last"):
        part = b[f"{tenth}_tenth"]
        row(f"  {tenth} tenth of the batches", part["entries"], part["seconds"], part["rate"])
    row("jobsync log entries (unbatched)", args.single, result["single"]["seconds"], result["single"]["rate"])
    entries_many = args.results * args.per_result
    row("jobsync results: entries", entries_many, r["total"], r["entries_rate"])
    row("jobsync results: results", args.results, r["total"], r["results_rate"])
    for part in ("record", "start", "log", "finish"):
        row(f"  {part}", args.results, r[part], rate(args.results, r[part]))
    read = result["read_lib"]
    row("Catalog.logs of the big result", args.entries, read["seconds"], read["rate"], verdict("read_lib"))
    cli = result["read_cli"]
    if cli["available"]:
        row("jobsync logs ID --json", cli["entries"], cli["seconds"], rate(cli["entries"], cli["seconds"]))
    else:
        print(f"{'jobsync logs ID --json':<34}  skipped: this jobsync has no logs command")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="entries appended to one result")
    parser.add_argument("--batch", type=int, default=1000, help="entries per log_many / transaction")
    parser.add_argument("--single", type=int, default=2000, help="entries appended one Catalog.log each")
    parser.add_argument("--results", type=int, default=10_000, help="short runs recorded")
    parser.add_argument("--per-result", type=int, default=10, help="entries logged by each short run")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the batched append, top N (stderr)"
    )
    args = parser.parse_args()
    if min(args.entries, args.batch, args.single, args.results, args.per_result) < 1:
        parser.error("every count must be at least 1")
    if args.single > args.entries or args.per_result > args.entries:
        parser.error("--single and --per-result reuse the first entries: keep them <= --entries")
    with work_folder(parser, args.workdir) as work:
        result = run(args, work)
    emit(result, args, print_table)


if __name__ == "__main__":
    main()
