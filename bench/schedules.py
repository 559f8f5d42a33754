"""Benchmark the daemon's schedule tick: ``Catalog.fire_due_schedules`` with many schedules, none due.

The daemon calls it about once a second, so its cost when nothing is due is what every tick pays.
Set-up: a local folder with one job (no sensitive variables), ``--schedules`` (1,000) daily
schedules of it on a fresh SQLite store (or ``--store URL``). Measured: ``--ticks`` (200) calls with
nothing due (median and 95th percentile), then one tick that fires every schedule at once.
Target (issue 15): a tick with nothing due <= 20 ms. A wrong count exits 1; a missed target is only
reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobsync import Catalog

JOB = "from nautobot.apps.jobs import Job\n\n\nclass Backup(Job):\n    class Meta:\n        has_sensitive_variables = False\n"
REF = "lab:ops.Backup"
TARGET_MS = 20.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--store", help="a store URL (default: a fresh SQLite file)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lab"
        folder.mkdir()
        (folder / "ops.py").write_text(JOB, encoding="utf-8")
        with Catalog.open(store=args.store, state_dir=Path(tmp) / "state", actor="bench") as catalog:
            catalog.resync(str(folder), name="lab")
            catalog.enable(REF)
            start = datetime.now(UTC) + timedelta(days=1)
            started = time.perf_counter()
            for i in range(args.schedules):
                catalog.add_schedule(REF, f"s{i:05d}", at=start, every="daily")
            setup = time.perf_counter() - started
            idle: list[float] = []
            for _ in range(args.ticks):
                began = time.perf_counter()
                if catalog.fire_due_schedules():
                    print("error: a schedule fired before it was due", file=sys.stderr)
                    return 1
                idle.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            fired = catalog.fire_due_schedules(start)
            all_due = time.perf_counter() - began
            if len(fired) != args.schedules:
                print(f"error: {len(fired)} fired of {args.schedules} due", file=sys.stderr)
                return 1
    report = {
        "schedules": args.schedules,
        "setup_s": round(setup, 2),
        "idle_tick_median_ms": round(statistics.median(idle), 2),
        "idle_tick_p95_ms": round(statistics.quantiles(idle, n=20)[-1], 2),
        "all_due_tick_s": round(all_due, 2),
        "fired_per_s": round(args.schedules / all_due),
        "target_idle_ms": TARGET_MS,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<22} {value}")
        verdict = "met" if report["idle_tick_median_ms"] <= TARGET_MS else "MISSED"
        print(f"target (idle tick <= {TARGET_MS:g} ms): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
