"""Claims per second with concurrent worker processes, against raw ``UPDATE ... RETURNING`` claims.

``--runs`` (2,000) pending runs of one job are recorded; ``--workers`` (4) processes, released
together, each call ``Catalog.claim`` until none is left. Baseline, on the same database: the same
number of rows in a bare table, claimed by as many processes with one ``UPDATE ... RETURNING`` each
(SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: ``FOR UPDATE SKIP LOCKED``), which is the least a claim
can cost. Every run claimed exactly once, or the script exits 1; a missed target is only reported.

    .venv/bin/python bench/claims.py                          # both stores; ~1 min on 2 CPUs
    .venv/bin/python bench/claims.py --store sqlite --runs 500 # quick
    .venv/bin/python bench/claims.py --json
"""

from __future__ import annotations

import argparse
import multiprocessing
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from jobsync import Catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ is not a package
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres
from common import emit, work_folder

from tests.postgres import PostgresServer

JOB = "bench:jobs.ops.Work"
JOB_SOURCE = (
    "from nautobot.apps.jobs import Job\n\n\n"
    "class Work(Job):\n    class Meta:\n        has_sensitive_variables = False\n"
)
#: Issue 15's targets on a 2-CPU machine, claims per second with 4 workers.
TARGETS = {"sqlite": 200.0, "postgres": 500.0}
RAW_DDL = "CREATE TABLE raw_claims (id INTEGER PRIMARY KEY, status TEXT NOT NULL, worker TEXT, created REAL)"
RAW_CLAIM_SQLITE = (
    "UPDATE raw_claims SET status = 'running', worker = ? WHERE id = (SELECT id FROM raw_claims "
    "WHERE status = 'pending' ORDER BY created, id LIMIT 1) RETURNING id"
)
RAW_CLAIM_POSTGRES = (
    "UPDATE raw_claims SET status = 'running', worker = %s WHERE id = (SELECT id FROM raw_claims "
    "WHERE status = 'pending' ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
)


def _catalog_worker(store: str, state: Path, name: str, barrier: Any, out: Any) -> None:
    with Catalog.open(store=store, state_dir=state, actor=name) as catalog:
        barrier.wait()
        taken = []
        while (record := catalog.claim("default", name)) is not None:
            taken.append(str(record["id"]))
        out.put((name, taken, time.perf_counter()))


def _raw_worker(store: str, name: str, barrier: Any, out: Any) -> None:
    taken: list[str] = []
    if store.startswith("sqlite"):
        db = sqlite3.connect(store.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        barrier.wait()
        while True:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(RAW_CLAIM_SQLITE, (name,)).fetchone()
            db.execute("COMMIT")
            if row is None:
                break
            taken.append(str(row[0]))
        db.close()
    else:
        with psycopg.connect(store, autocommit=True) as pg:
            barrier.wait()
            while (found := pg.execute(RAW_CLAIM_POSTGRES, (name,)).fetchone()) is not None:
                taken.append(str(found[0]))
    out.put((name, taken, time.perf_counter()))


def _race(
    workers: int, target: Callable[..., None], args: Callable[[str], tuple[Any, ...]]
) -> tuple[float, list[str]]:
    """Start ``workers`` processes, release them together; (seconds until the last ended, ids claimed)."""
    fork = multiprocessing.get_context("fork")
    barrier, out = fork.Barrier(workers + 1), fork.Queue()
    processes = [fork.Process(target=target, args=(*args(f"w{n}"), barrier, out)) for n in range(workers)]
    for process in processes:
        process.start()
    barrier.wait()
    start = time.perf_counter()
    reports = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(60)
    return max(end for _, _, end in reports) - start, [rid for _, ids, _ in reports for rid in ids]


def measure(kind: str, store: str, state: Path, args: argparse.Namespace) -> dict[str, Any]:
    with Catalog.open(store=store, state_dir=state, actor="bench") as catalog:
        folder = state.parent / "source"
        (folder / "jobs").mkdir(parents=True, exist_ok=True)
        (folder / "jobs" / "__init__.py").write_text("")
        (folder / "jobs" / "ops.py").write_text(JOB_SOURCE)
        catalog.resync(str(folder), name="bench")
        catalog.enable(JOB)
        started = time.perf_counter()
        recorded = {str(catalog.record_result(JOB, {"n": n})) for n in range(args.runs)}
        record_seconds = time.perf_counter() - started
    seconds, taken = _race(args.workers, _catalog_worker, lambda name: (store, state, name))
    ok = len(taken) == len(set(taken)) == args.runs and set(taken) == recorded

    raw_url = store
    if kind == "sqlite":
        with sqlite3.connect(raw_url.removeprefix("sqlite:///")) as db:
            db.execute(RAW_DDL)
            db.executemany(
                "INSERT INTO raw_claims VALUES (?, 'pending', NULL, ?)", [(n, n) for n in range(args.runs)]
            )
    else:
        with psycopg.connect(raw_url, autocommit=True) as db:
            db.execute(RAW_DDL)
            db.execute("CREATE INDEX raw_claims_pending ON raw_claims (status, created)")
            with db.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO raw_claims VALUES (%s, 'pending', NULL, %s)",
                    [(n, n) for n in range(args.runs)],
                )
    raw_seconds, raw_taken = _race(args.workers, _raw_worker, lambda name: (raw_url, name))
    ok = ok and len(raw_taken) == len(set(raw_taken)) == args.runs
    rate, raw_rate = args.runs / seconds, args.runs / raw_seconds
    return {
        "store": kind,
        "runs": args.runs,
        "workers": args.workers,
        "record_per_second": round(args.runs / record_seconds, 1),
        "claims_per_second": round(rate, 1),
        "raw_claims_per_second": round(raw_rate, 1),
        "ratio": round(rate / raw_rate, 3),
        "target": TARGETS[kind],
        "met": rate >= TARGETS[kind],
        "each_claimed_once": ok,
    }


def _print_table(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"claims: {args.runs} pending runs, {args.workers} worker processes")
    print(f"{'store':<10} {'claims/s':>10} {'raw/s':>10} {'ratio':>7} {'target':>8}  once")
    for row in result["stores"]:
        mark = "ok" if row["met"] else "MISSED"
        print(
            f"{row['store']:<10} {row['claims_per_second']:>10.1f} {row['raw_claims_per_second']:>10.1f} "
            f"{row['ratio']:>7.3f} {row['target']:>6.0f}/s {mark:>6}  {row['each_claimed_once']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with work_folder(parser, args.workdir) as work:
        if args.store in ("sqlite", "both"):
            state = work / "sqlite" / "state"
            state.mkdir(parents=True)
            rows.append(measure("sqlite", f"sqlite:///{state / 'jobsync.db'}", state, args))
        if args.store in ("postgres", "both"):
            server = PostgresServer.start()
            try:
                state = work / "postgres" / "state"
                state.mkdir(parents=True)
                rows.append(measure("postgres", server.url(server.create_database()), state, args))
            finally:
                server.stop()
    result = {"stores": rows}
    emit(result, args, _print_table)
    return 0 if all(row["each_claimed_once"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
