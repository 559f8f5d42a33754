"""Benchmark jobsync at audit scale: a 100,000-job catalog, a 10,000-event job, a 1,000,000-event replay.

What is measured, in one run (defaults in brackets):

* **list** -- a catalog of ``--sources`` x ``--jobs-per-source`` [10 x 10,000 = 100,000] jobs, built
  without git: ``Job`` aggregates made directly and saved with ``save_and_project``, one transaction
  per source (as a cold sync saves). Then ``jobsync jobs list --all --json`` as a subprocess and
  ``Catalog.jobs(installed=None)`` in this process (median of ``--repeat`` [3]), against the raw
  floor: ``SELECT record FROM jobs_view`` + ``json.loads`` of every row with sqlite3. jobsync also
  filters out deleted jobs and sorts (by source, grouping, name); the same query done raw is shown
  for information, and so is a raw process that prints the stored records as they are (the least a
  CLI could do). Every listing must return every job, or the run exits 1.
* **at** -- one job of the catalog given ``--history`` [10,000] more events (override the
  description, override it again, clear it; saved with ``save_and_project`` every ``--save-every``
  [10] events, so snapshots are taken every 200 events), then ``Catalog.job(ref, at=T)`` for
  ``--moments`` [20] moments T spread over that history: each must equal the record the job had at
  T (kept in memory while building), or the run exits 1.
* **replay** -- the log is filled up to ``--events`` [1,000,000] events with a realistic mix (the
  table prints it, read back from the store): the discoveries and the long history above, a second commit per source (half the jobs
  changed, 1 % uninstalled), operator edits (enable + override on every installed job, one in ten
  also re-grouped and its description cleared) and job runs (record, start, ``--log-per-result``
  [20] log entries, finish) for the rest. Then ``Catalog.replay(verify=True)`` (rebuilds into scratch
  tables and compares with the views kept incrementally: a difference exits 1) and
  ``Catalog.replay()`` (rebuilds and swaps in), against eventsourcing's own read of the log:
  ``recorder.select_notifications`` paged over every event (``BATCH_SIZE`` at a time, as catch-up
  pages), and the same plus ``mapper.to_domain_event`` of each.
* **lag** -- a git repository of ``--modules`` x ``--jobs-per-module`` [2,000 x 5 = 10,000] jobs
  (bench/resync.py's ``make_repo``) synced cold by this process into a fresh store, while a second
  process polls the same SQLite file. It notes when the source's ``SourceSynced`` event (saved in
  the same transaction as the 10,000 ``JobDiscovered``) is first visible, and when ``jobs_view``
  first holds all 10,000 rows; the lag is the difference. Done twice: a passive sqlite3 reader
  polling every ``--poll`` [0.01 s], and a reader calling ``Catalog.jobs()`` every ``--catalog-poll``
  [0.05 s] (which catches up itself, as ``jobsync jobs list`` does). Resolution is one poll.
  Both processes time with ``time.monotonic`` (CLOCK_MONOTONIC: one clock for the whole machine).

The load average at the start and end is printed: other work on the machine skews every time, so
the replays also report this process's CPU seconds. ``--profile N`` cProfiles an extra
``replay(verify=True)`` and an extra ``Catalog.jobs`` after the measurements (stderr).

Wrong counts or records exit 1; missed targets are only reported. Targets: jobs list and
Catalog.jobs <= 1 s and <= 3 x raw; job at T <= 50 ms each; replay >= 20,000 events/s; lag <= 1 s.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import json
import os
import pstats
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from jobsync import Catalog
from jobsync.app import JobCatalogApp
from jobsync.domain.fields import OVERRIDABLE_DEFAULTS
from jobsync.domain.job import Job
from jobsync.domain.result import JobResult, LogEntry
from jobsync.domain.source import Source, source_id
from jobsync.projector import BATCH_SIZE
from jobsync.records import to_json

sys.path.insert(0, str(Path(__file__).parent))
import resync
from common import emit, work_folder

T = TypeVar("T")
U = TypeVar("U")
ACTOR = "bench"
LEVELS = ("info", "info", "debug", "success", "warning")
#: A discovery is saved in one transaction per source; operator edits and runs in smaller ones.
EDIT_BATCH = 1000
RESULT_EVENTS_PER_SAVE = 5000
#: Job runs are spread over this many rounds between the operator edits, so the log interleaves them.
ROUNDS = 100


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """Seconds ``fn()`` took, and what it returned."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"bench: wrong result: {what}")


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@contextlib.contextmanager
def profiled(top: int, title: str) -> Iterator[None]:
    """cProfile the block and print the top ``top`` by cumulative time to stderr (nothing if 0)."""
    if not top:
        yield
        return
    profiler = cProfile.Profile()
    with profiler:
        yield
    print(f"# cProfile of {title}, top {top} by cumtime", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(top)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Building holds ~100,000 long-lived aggregates: collecting while it runs only slows it down."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# -- building the catalog ----------------------------------------------------------------------


def commit_of(source: int, rev: int) -> str:
    return hashlib.sha1(f"source {source} revision {rev}".encode(), usedforsecurity=False).hexdigest()


def source_name(s: int) -> str:
    return f"audit{s:02d}"


def job_facts(s: int, n: int, rev: int = 0) -> dict[str, Any]:
    """Facts as discovery hands them over: every overridable value, the file and line of the class."""
    return {
        "values": {
            **OVERRIDABLE_DEFAULTS,
            "name": f"Audit s{s:02d} j{n:05d}",
            "grouping": f"Group {n % 40:02d}",
            "description": f"Job {n} of source {s}, revision {rev}",
            "soft_time_limit": 240,
            "time_limit": 300,
            "has_sensitive_variables": False,
        },
        "file": f"jobs/pkg{n // 250:03d}/mod{n // 5:05d}.py",
        "line": 10 + (n % 5) * 14 + rev,
    }


def make_job(s: int, n: int) -> Job:
    return Job(
        source=source_name(s),
        module_name=f"jobs.pkg{n // 250:03d}.mod{n // 5:05d}",
        job_class_name=f"AuditJob{n:05d}",
        facts=job_facts(s, n),
        commit=commit_of(s, 0),
        actor="sync",
    )


def is_changed(n: int) -> bool:
    """The second commit of each source changes every other job..."""
    return n % 2 == 0


def is_uninstalled(n: int) -> bool:
    """...and removes one in a hundred (never a changed one)."""
    return n % 100 == 99


def is_regrouped(n: int) -> bool:
    """One installed job in ten is also re-grouped by an operator, its description override cleared."""
    return n % 10 == 3


@dataclass(frozen=True)
class Plan:
    """How many events of each kind the log will hold; job runs fill it up to ``--events``."""

    sources: int
    jobs_per_source: int
    history: int
    events: int
    log_per_result: int

    @property
    def jobs(self) -> int:
        return self.sources * self.jobs_per_source

    def job_events(self) -> int:
        """Events of jobs and sources: discoveries, the long history, the second commit, operator edits."""
        per_source = range(self.jobs_per_source)
        second_commit = sum(is_changed(n) or is_uninstalled(n) for n in per_source)
        edits = sum(4 if is_regrouped(n) else 2 for n in per_source if not is_uninstalled(n))
        sources = 3  # registered, synced, synced again
        return self.jobs + self.history + self.sources * (sources + second_commit + edits)

    def run_events(self) -> int:
        """Events of job runs: whatever is left up to ``events``."""
        return self.events - self.job_events()


@dataclass(frozen=True)
class Moment:
    """A moment of the long job's history and the record it had then."""

    at: datetime
    version: int
    record: dict[str, Any]


@dataclass
class Built:
    history_ref: str
    moments: list[Moment]
    seconds: dict[str, float] = field(default_factory=dict)


def save_in_batches(app: JobCatalogApp, aggregates: Sequence[Any], size: int) -> None:
    for start in range(0, len(aggregates), size):
        app.save_and_project(*aggregates[start : start + size])


def discover(app: JobCatalogApp, plan: Plan) -> list[list[Job]]:
    """Every job of every source, one transaction per source with its Source (as a cold sync)."""
    catalog = []
    for s in range(plan.sources):
        jobs = [make_job(s, n) for n in range(plan.jobs_per_source)]
        source = Source(
            name=source_name(s),
            kind="git",
            url=f"https://git.example/{source_name(s)}.git",
            branch="main",
            actor="sync",
        )
        source.record_sync(
            commit_of(s, 0), "main", {"added": len(jobs)}, actor="sync", host="bench", python="3"
        )
        app.save_and_project(source, *jobs)
        catalog.append(jobs)
    return catalog


def long_history(app: JobCatalogApp, job: Job, events: int, save_every: int, moments: int) -> list[Moment]:
    """``events`` edits of one job, saved every ``save_every``; the record at ``moments`` points."""
    saves = -(-events // save_every)
    picks = {round(i * (saves - 1) / max(1, moments - 1)) for i in range(moments)}
    kept: list[Moment] = []
    done = 0
    for save in range(saves):
        for i in range(done, min(events, done + save_every)):
            if i % 3 == 2:
                job.clear_override("description", actor="auditor")
            else:
                job.override("description", f"pinned at edit {i}", actor="auditor")
        done = min(events, done + save_every)
        app.save_and_project(job)
        if save in picks:
            record = {**job.as_record(), "deleted": job.deleted}
            kept.append(Moment(datetime.now(UTC), job.version, record))
    return kept


def second_commit(app: JobCatalogApp, catalog: list[list[Job]]) -> None:
    """Per source, one transaction: half the jobs changed in source, 1 % gone, the source synced."""
    for s, jobs in enumerate(catalog):
        source: Source = app.repository.get(source_id(source_name(s)))
        touched: list[Job] = []
        for n, job in enumerate(jobs):
            if is_changed(n):
                check(
                    job.sync_facts(job_facts(s, n, rev=1), commit_of(s, 1), actor="sync") == "changed", "sync"
                )
                touched.append(job)
            elif is_uninstalled(n):
                job.uninstall(
                    commit_of(s, 1), actor="sync", reason=f"{job.module_name} is no longer in the source"
                )
                touched.append(job)
        counts = {
            "changed": sum(map(is_changed, range(len(jobs)))),
            "uninstalled": sum(map(is_uninstalled, range(len(jobs)))),
        }
        source.record_sync(commit_of(s, 1), "main", counts, actor="sync", host="bench", python="3")
        app.save_and_project(source, *touched)


def job_run(job: Job, entries: int, number: int) -> JobResult:
    """One run of ``job``: recorded, started, ``entries`` log lines, finished (fewer events if short)."""
    result = JobResult.record(
        job_id=job.id, job_ref=job.ref, job_name=job.name, task="job", args={"run": number}, actor="executor"
    )
    result.start(actor="executor")
    for i in range(entries):
        result.log(
            LogEntry(
                message=f"dev{i:05d}: checked {i % 48 + 1} interfaces, config in sync",
                level=LEVELS[i % len(LEVELS)],
                object=f"dev{i:05d}",
                url=f"/dcim/devices/{i}/",
            ),
            actor="executor",
        )
    result.finish("completed", {"devices": entries}, actor="executor")
    return result


def run_events(job: Job, count: int, per_result: int, number: int) -> JobResult:
    """A run of exactly ``count`` events (at most ``per_result``): a short tail stays pending or running."""
    if count >= 3:
        return job_run(job, min(count, per_result + 3) - 3, number)
    result = JobResult.record(
        job_id=job.id, job_ref=job.ref, job_name=job.name, task="job", args={"run": number}, actor="executor"
    )
    if count == 2:
        result.start(actor="executor")
    return result


def operations(app: JobCatalogApp, catalog: list[list[Job]], budget: int, per_result: int) -> int:
    """Operator edits of every installed job, with ``budget`` events of job runs between them.

    ``per_result`` is the log entries of a run; the last run of each round may be shorter.
    """
    installed = [(n, job) for jobs in catalog for n, job in enumerate(jobs) if not is_uninstalled(n)]
    step = -(-len(installed) // ROUNDS)
    runs = 0
    for r in range(ROUNDS):
        group = installed[r * step : (r + 1) * step]
        for n, job in group:
            job.enable(actor="operator")
            job.override("description", f"Owned by team {n % 7}", actor="operator")
            if is_regrouped(n):
                job.override("grouping", f"Team {n % 7}", actor="operator")
                job.clear_override("description", actor="operator")
        save_in_batches(app, [job for _, job in group], EDIT_BATCH)
        quota = budget // (ROUNDS - r)  # what is left, spread over the rounds left
        budget -= quota
        pending: list[JobResult] = []
        pending_events = 0
        while quota:
            _, job = installed[runs % len(installed)]
            result = run_events(job, quota, per_result, runs)
            runs += 1
            pending.append(result)
            pending_events += len(result.pending_events)
            quota -= len(result.pending_events)
            if pending_events >= RESULT_EVENTS_PER_SAVE:
                app.save_and_project(*pending)
                pending, pending_events = [], 0
        if pending:
            app.save_and_project(*pending)
    return runs


def build(catalog: Catalog, plan: Plan, args: argparse.Namespace) -> Built:
    """Fill the store as ``plan`` says; returns the long job's ref, its moments and the build times."""
    app = catalog._app
    seconds: dict[str, float] = {}
    with gc_paused():
        start = time.perf_counter()
        jobs = discover(app, plan)
        seconds["discover"], start = time.perf_counter() - start, time.perf_counter()
        moments = long_history(app, jobs[0][0], plan.history, args.save_every, args.moments)
        seconds["history"], start = time.perf_counter() - start, time.perf_counter()
        second_commit(app, jobs)
        seconds["second commit"], start = time.perf_counter() - start, time.perf_counter()
        operations(app, jobs, plan.run_events(), args.log_per_result)
        seconds["edits and runs"] = time.perf_counter() - start
    return Built(jobs[0][0].ref, moments, seconds)


def log_mix(db: Path) -> dict[str, int]:
    """How many events of each type the log holds, most first (read back, not planned)."""
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT topic, count(*) FROM stored_events GROUP BY topic ORDER BY 2 DESC")
        return {topic.rsplit(":", 1)[-1]: count for topic, count in rows}
    finally:
        connection.close()


# -- 1. jobs list ------------------------------------------------------------------------------


def jobsync_command(config: Path) -> list[str]:
    exe = Path(sys.executable).with_name("jobsync")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "jobsync"]
    return [*command, "--config", str(config)]


#: The least a ``jobs list --json`` process could do: start Python, select the stored records in
#: jobsync's order and print them as one JSON array without decoding them.
RAW_CLI = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT record FROM jobs_view WHERE deleted = 0 ORDER BY source, grouping, name")
sys.stdout.write("[" + ",\\n".join(record for (record,) in rows) + "]\\n")
"""


def raw_records(db: Path, sql: str) -> list[Any]:
    connection = sqlite3.connect(db)
    try:
        return [json.loads(record) for (record,) in connection.execute(sql)]
    finally:
        connection.close()


def median_of(repeat: int, fn: Callable[[], T], keep: Callable[[T], U]) -> tuple[float, U]:
    """The median seconds of ``repeat`` calls, and ``keep`` of what the last returned.

    Only ``keep``'s summary outlives a call: 100,000 records left alive would make the collector
    of the next call traverse them too, and slow it down by half.
    """
    laps = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        laps.append(time.perf_counter() - start)
        kept = keep(result)
        del result
    return statistics.median(laps), kept


def ids(records: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    return frozenset(str(r["id"]) for r in records)


def measure_list(catalog: Catalog, db: Path, config: Path, jobs: int, repeat: int) -> dict[str, Any]:
    raw_s, raw = median_of(repeat, lambda: raw_records(db, "SELECT record FROM jobs_view"), ids)
    check(len(raw) == jobs, f"jobs_view holds {len(raw)} rows, not {jobs}")
    sorted_sql = "SELECT record FROM jobs_view WHERE deleted = 0 ORDER BY source, grouping, name"
    raw_sorted_s, _ = median_of(repeat, lambda: raw_records(db, sorted_sql), len)
    lib_s, (listed, lib_ids) = median_of(
        repeat, lambda: catalog.jobs(installed=None), lambda records: (len(records), ids(records))
    )
    check(listed == jobs, f"Catalog.jobs(installed=None) returned {listed} jobs, not {jobs}")
    check(lib_ids == raw, "Catalog.jobs returned other jobs than jobs_view holds")
    command = [*jobsync_command(config), "jobs", "list", "--all", "--json"]

    def cli() -> str:
        done = subprocess.run(command, capture_output=True, text=True)
        check(
            done.returncode == 0, f"jobsync jobs list exited {done.returncode}: {done.stderr.strip()[-500:]}"
        )
        return done.stdout

    def printed(stdout: str) -> tuple[int, int, frozenset[str]]:
        records = json.loads(stdout)
        return len(records), len(stdout.encode()), ids(records)

    cli_s, (count, size, cli_ids) = median_of(repeat, cli, printed)
    check(count == jobs, f"jobsync jobs list --all --json printed {count} jobs, not {jobs}")
    check(cli_ids == raw, "jobsync jobs list printed other jobs than jobs_view holds")

    def raw_cli() -> str:
        done = subprocess.run([sys.executable, "-c", RAW_CLI, str(db)], capture_output=True, text=True)
        check(done.returncode == 0, f"the raw listing process failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    raw_cli_s, (count, _, raw_cli_ids) = median_of(repeat, raw_cli, printed)
    check(count == jobs and raw_cli_ids == raw, f"the raw listing process printed {count} jobs, not {jobs}")
    return {
        "jobs": jobs,
        "raw": raw_s,
        "raw_sorted": raw_sorted_s,
        "library": lib_s,
        "cli": cli_s,
        "cli_output_bytes": size,
        "raw_cli": raw_cli_s,
    }


# -- 2. a job at a moment ----------------------------------------------------------------------


def measure_at(catalog: Catalog, built: Built) -> dict[str, Any]:
    laps = []
    for moment in built.moments:
        start = time.perf_counter()
        record = catalog.job(built.history_ref, at=moment.at)
        laps.append(time.perf_counter() - start)
        check(
            to_json(record) == moment.record,
            f"{built.history_ref} at {moment.at.isoformat()} (version {moment.version}) is not what it was then",
        )
    now_s, _ = timed(lambda: catalog.job(built.history_ref))
    return {
        "moments": len(laps),
        "versions": [m.version for m in built.moments],
        "median": statistics.median(laps),
        "max": max(laps),
        "seconds": laps,
        "now": now_s,
    }


# -- 3. replay ---------------------------------------------------------------------------------


def read_log(app: JobCatalogApp, decode: bool) -> int:
    """Every notification, paged as catch-up pages them; decoded into domain events if ``decode``."""
    position, count = 0, 0
    while True:
        notifications = app.recorder.select_notifications(
            position, limit=BATCH_SIZE, inclusive_of_start=False
        )
        if not notifications:
            return count
        if decode:
            for notification in notifications:
                app.mapper.to_domain_event(notification)
        position = notifications[-1].id
        count += len(notifications)


def measure_replay(catalog: Catalog, events: int, jobs: int) -> dict[str, Any]:
    app = catalog._app
    out: dict[str, Any] = {"events": events}
    for name, decode in (("raw_read", False), ("raw_decode", True)):
        start = time.perf_counter()
        count = read_log(app, decode)
        seconds = time.perf_counter() - start
        check(count == events, f"the log holds {count} notifications, not {events}")
        out[name] = {"seconds": seconds, "rate": rate(count, seconds)}
    for name, verify in (("verify", True), ("rebuild", False)):
        started, cpu = time.perf_counter(), time.process_time()
        last_batch = [started]

        def progress(_: int) -> None:
            last_batch[0] = time.perf_counter()  # noqa: B023 - read right after this iteration's replay

        report = catalog.replay(verify=verify, progress=progress)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        check(report.ok, f"replay(verify={verify}) found differences: {list(report.differences)[:5]}")
        check(
            report.events == events, f"replay(verify={verify}) applied {report.events} events, not {events}"
        )
        out[name] = {
            "seconds": seconds,
            "rate": rate(events, seconds),
            "cpu": cpu,
            "catch_up": last_batch[0] - started,
            "compare_and_swap": seconds - (last_batch[0] - started),
        }
    listed = len(catalog.jobs(installed=None))
    check(listed == jobs, f"after the replay Catalog.jobs lists {listed} jobs, not {jobs}")
    return out


# -- 4. projection lag -------------------------------------------------------------------------


def observe(spec: str) -> None:
    """The second process: report when SourceSynced, then every job row, is first visible."""
    params = json.loads(spec)
    db = sqlite3.connect(params["db"], isolation_level=None)
    synced_sql = "SELECT 1 FROM stored_events WHERE originator_id = ? AND topic LIKE '%SourceSynced' LIMIT 1"
    source = source_id(params["source"]).hex
    catalog = (
        Catalog.open(state_dir=params["state_dir"], actor="observer")
        if params["reader"] == "catalog"
        else None
    )

    def rows() -> int:
        if catalog is not None:
            return len(catalog.jobs(source=params["source"], installed=None))
        (count,) = db.execute(
            "SELECT count(*) FROM jobs_view WHERE source = ?", (params["source"],)
        ).fetchone()
        return int(count)

    synced_at: float | None = None
    rows_at: float | None = None
    polls, gaps, reads = 0, [0.0], [0.0]
    print("ready", flush=True)
    deadline = time.monotonic() + params["timeout"]
    previous: float | None = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if previous is not None:
            gaps.append(now - previous)
        previous = now
        polls += 1
        if synced_at is None and db.execute(synced_sql, (source,)).fetchone() is not None:
            synced_at = time.monotonic()
        read_start = time.monotonic()
        count = rows()
        read_end = time.monotonic()
        reads.append(read_end - read_start)
        if count >= params["expected"]:
            rows_at = read_end
            break
        time.sleep(params["poll"])
    print(
        json.dumps(
            {
                "synced_at": synced_at,
                "rows_at": rows_at,
                "polls": polls,
                "max_gap": max(gaps),
                "max_read": max(reads),
            }
        ),
        flush=True,
    )
    if catalog is not None:
        catalog.close()
    db.close()


def measure_lag(
    url: str, state: Path, reader: str, poll: float, expected: int, timeout: float
) -> dict[str, Any]:
    state.mkdir()
    with Catalog.open(state_dir=state, actor=ACTOR) as catalog:
        spec = {
            "db": str(state / "jobsync.db"),
            "state_dir": str(state),
            "source": "lag",
            "reader": reader,
            "poll": poll,
            "expected": expected,
            "timeout": timeout,
        }
        observer = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--observe", json.dumps(spec)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert observer.stdout is not None
        check(observer.stdout.readline().strip() == "ready", "the observer did not start")
        started = time.monotonic()
        summary = catalog.resync(url, name="lag")
        returned = time.monotonic()
        seen = json.loads(observer.stdout.readline() or "{}")
        observer.wait()
        check(
            len(summary.added) == expected, f"the lag resync added {len(summary.added)} jobs, not {expected}"
        )
        listed = len(catalog.jobs(source="lag", installed=None))
        check(listed == expected, f"after the lag resync Catalog.jobs lists {listed} jobs, not {expected}")
    check(seen.get("synced_at") is not None, f"the observer never saw SourceSynced: {seen}")
    check(seen.get("rows_at") is not None, f"the observer never saw {expected} rows in jobs_view: {seen}")
    return {
        "reader": reader,
        "poll": poll,
        "resync": returned - started,
        "synced_visible": seen["synced_at"] - started,
        "rows_visible": seen["rows_at"] - started,
        "lag": seen["rows_at"] - seen["synced_at"],
        "rows_after_return": seen["rows_at"] - returned,
        "polls": seen["polls"],
        "max_poll_gap": seen["max_gap"],
        "max_read": seen["max_read"],
    }


# -- the run -----------------------------------------------------------------------------------


TARGETS: dict[str, tuple[str, float, Callable[[float], bool]]] = {  # what, limit, met?
    "list_library": ("seconds <=", 1.0, lambda s: s <= 1.0),
    "list_library_ratio": ("/ raw <=", 3.0, lambda s: s <= 3.0),
    "list_cli": ("seconds <=", 1.0, lambda s: s <= 1.0),
    "list_cli_ratio": ("/ raw <=", 3.0, lambda s: s <= 3.0),
    "at_max": ("max seconds <=", 0.05, lambda s: s <= 0.05),
    "replay_verify": ("events/s >=", 20_000, lambda s: s >= 20_000),
    "replay_rebuild": ("events/s >=", 20_000, lambda s: s >= 20_000),
    "lag_sqlite": ("seconds <=", 1.0, lambda s: s <= 1.0),
    "lag_catalog": ("seconds <=", 1.0, lambda s: s <= 1.0),
}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    load = {"start": os.getloadavg()[0]}
    plan = Plan(args.sources, args.jobs_per_source, args.history, args.events, args.log_per_result)
    state = work / "state"
    state.mkdir()
    config = work / "config.toml"
    config.write_text(f"state_dir = {json.dumps(str(state))}\n")
    with Catalog.open(state_dir=state, actor=ACTOR) as catalog:
        build_s, built = timed(lambda: build(catalog, plan, args))
        gc.collect()  # the built aggregates are garbage now: don't let them weigh on what is measured
        events = catalog.event_count()
        check(events == args.events, f"the log holds {events} events, not {args.events}")
        listing = measure_list(catalog, state / "jobsync.db", config, plan.jobs, args.repeat)
        at = measure_at(catalog, built)
        replayed = measure_replay(catalog, events, plan.jobs)
        with profiled(args.profile, "Catalog.replay(verify=True) (an extra run)"):
            catalog.replay(verify=True)
        with profiled(args.profile, "Catalog.jobs(installed=None) (an extra run)"):
            catalog.jobs(installed=None)
    db_bytes = sum(p.stat().st_size for p in state.glob("jobsync.db*"))
    mix = log_mix(state / "jobsync.db")

    expected = args.modules * args.jobs_per_module
    repo_s, _ = timed(lambda: resync.make_repo(work / "repo", args.modules, args.jobs_per_module))
    url = (work / "repo").resolve().as_uri()
    lag = {
        reader: measure_lag(url, work / f"lag-{reader}", reader, poll, expected, args.lag_timeout)
        for reader, poll in (("sqlite", args.poll), ("catalog", args.catalog_poll))
    }
    scores = {
        "list_library": listing["library"],
        "list_library_ratio": listing["library"] / listing["raw"],
        "list_cli": listing["cli"],
        "list_cli_ratio": listing["cli"] / listing["raw"],
        "at_max": at["max"],
        "replay_verify": replayed["verify"]["rate"],
        "replay_rebuild": replayed["rebuild"]["rate"],
        "lag_sqlite": lag["sqlite"]["lag"],
        "lag_catalog": lag["catalog"]["lag"],
    }
    return {
        "params": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "observe"},
        "mix": mix,
        "build": {**built.seconds, "total": build_s, "make_repo": repo_s, "store_bytes": db_bytes},
        "list": listing,
        "at": at,
        "replay": replayed,
        "lag": lag,
        "scores": scores,
        "targets_met": {key: TARGETS[key][2](value) for key, value in scores.items()},
        "total_seconds": time.perf_counter() - started,
        "load_average": {**load, "end": os.getloadavg()[0]},  # other work on the machine skews the times
    }


def print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    jobs = args.sources * args.jobs_per_source
    load = result["load_average"]
    print(
        f"{args.sources} sources x {args.jobs_per_source} jobs; one job with {args.history} more events; "
        f"{args.events:,} events in all; lag on {args.modules} x {args.jobs_per_module} jobs; "
        f"{os.cpu_count()} CPUs, load average {load['start']:.1f} at the start, {load['end']:.1f} at the end"
    )
    print("\nlog mix (read back from the store):")
    for kind, count in result["mix"].items():
        print(f"  {count:>9,}  {kind}")
    b = result["build"]
    parts = ", ".join(
        f"{k} {v:.1f} s" for k, v in b.items() if k not in ("total", "store_bytes", "make_repo")
    )
    print(f"built in {b['total']:.1f} s ({parts}); store {b['store_bytes'] / 1e6:,.0f} MB")
    print(f"\n{'measure':<42}{'count':>10}{'seconds':>10}{'per second':>12}  {'score':>9}  target")

    def row(name: str, count: int | None, seconds: float, key: str | None = None) -> None:
        per_second = f"{rate(count, seconds):12,.0f}" if count else " " * 12
        line = f"{name:<42}{count or '':>10}{seconds:10.3f}{per_second}"
        if key is not None:
            what, limit, _ = TARGETS[key]
            score = result["scores"][key]
            ok = "ok" if result["targets_met"][key] else "MISSED"
            line += f"  {score:9,.0f}" if score >= 1000 else f"  {score:9.3f}"
            line += f"  {what} {limit:,g}: {ok}"
        print(line)

    li = result["list"]
    row("raw SELECT record + json.loads", jobs, li["raw"])
    row("  same WHERE and ORDER BY as jobsync", jobs, li["raw_sorted"])
    row("Catalog.jobs(installed=None)", jobs, li["library"], "list_library")
    row("  its ratio to raw", None, li["library"], "list_library_ratio")
    row("jobsync jobs list --all --json", jobs, li["cli"], "list_cli")
    row("  its ratio to raw", None, li["cli"], "list_cli_ratio")
    row("  raw in a process, records printed as-is", jobs, li["raw_cli"])
    at = result["at"]
    row(f"Catalog.job(ref, at=T), median of {at['moments']}", 1, at["median"])
    row("  the slowest", 1, at["max"], "at_max")
    row("Catalog.job(ref) now", 1, at["now"])
    rp = result["replay"]
    events = rp["events"]
    row("raw select_notifications", events, rp["raw_read"]["seconds"])
    row("  + mapper.to_domain_event", events, rp["raw_decode"]["seconds"])
    for name, key in (("verify", "replay_verify"), ("rebuild", "replay_rebuild")):
        label = "Catalog.replay(verify=True)" if name == "verify" else "Catalog.replay()"
        row(label, events, rp[name]["seconds"], key)
        row("  catch-up of the scratch tables", events, rp[name]["catch_up"])
        row("  then compare" + (" and swap" if name == "rebuild" else ""), None, rp[name]["compare_and_swap"])
        row("  CPU seconds of this process", None, rp[name]["cpu"])
    for reader in ("sqlite", "catalog"):
        lag = result["lag"][reader]
        label = "sqlite3 count" if reader == "sqlite" else "Catalog.jobs()"
        row(
            f"lag, {label} every {lag['poll']:g} s",
            args.modules * args.jobs_per_module,
            lag["lag"],
            f"lag_{reader}",
        )
        print(
            f"  resync {lag['resync']:.3f} s; SourceSynced seen at {lag['synced_visible']:.3f} s, all rows at "
            f"{lag['rows_visible']:.3f} s ({lag['rows_after_return']:+.3f} s after resync returned); "
            f"{lag['polls']} polls, longest gap {lag['max_poll_gap']:.3f} s, longest read {lag['max_read']:.3f} s"
        )
    print(f"\ntotal {result['total_seconds']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--jobs-per-source", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=10_000, help="events of the one long job")
    parser.add_argument("--save-every", type=int, default=10, help="history events per save_and_project")
    parser.add_argument("--moments", type=int, default=20, help="moments T for Catalog.job(ref, at=T)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log for the replay")
    parser.add_argument("--log-per-result", type=int, default=20, help="log entries of each job run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each listing (the median counts)")
    parser.add_argument("--modules", type=int, default=2000, help="modules of the lag repository")
    parser.add_argument("--jobs-per-module", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between sqlite3 polls")
    parser.add_argument("--catalog-poll", type=float, default=0.05, help="seconds between Catalog.jobs polls")
    parser.add_argument("--lag-timeout", type=float, default=300, help="seconds the observer waits at most")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir, removed)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="cProfile an extra replay and listing, top N (stderr)",
    )
    parser.add_argument("--observe", help=argparse.SUPPRESS)  # the lag observer's own process
    args = parser.parse_args()
    if args.observe:
        observe(args.observe)
        return
    counts = (args.sources, args.jobs_per_source, args.history, args.save_every, args.moments, args.repeat)
    if min(counts) < 1 or args.log_per_result < 0 or args.jobs_per_source < 100:
        parser.error("counts must be at least 1 (--jobs-per-source at least 100)")
    plan = Plan(args.sources, args.jobs_per_source, args.history, args.events, args.log_per_result)
    if plan.run_events() < 0:
        least = plan.job_events()
        parser.error(f"--events must be at least {least:,} for these jobs and history")
    with work_folder(parser, args.workdir) as work:
        result = run(args, work)
    emit(result, args, print_table)


if __name__ == "__main__":
    main()
