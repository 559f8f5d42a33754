"""A catch-up killed mid-way resumes from its tracking position: nothing lost, nothing applied twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from jobsync import Catalog, LogEntry
from jobsync.domain.fields import OVERRIDABLE_DEFAULTS
from jobsync.domain.job import Job
from jobsync.domain.result import JobResult

JOBS = 2_000
LOG_ENTRIES = 6_000  # with 2,000 discoveries and 2,000 overrides: 10,000 events

CATCH_UP = """
import sys
import jobsync.projections as projections
from jobsync import Catalog
projections.BATCH_SIZE = 20  # small batches, so the kill lands between two of them
with Catalog.open(state_dir=sys.argv[1]) as catalog:
    catalog._app.catch_up()
"""


def unprojected_events(state_dir: Path) -> int:
    """Save 10,000 events without updating the read models; return the log's last position."""
    with Catalog.open(state_dir=state_dir, actor="writer") as catalog:
        app = catalog._app
        jobs = []
        for n in range(JOBS):
            facts = {
                "values": {**OVERRIDABLE_DEFAULTS, "name": f"Job {n}", "grouping": "g"},
                "file": "f.py",
                "line": n,
            }
            job = Job(
                source="s",
                module_name=f"jobs.m{n % 50}",
                job_class_name=f"J{n}",
                facts=facts,
                commit="c",
                actor="w",
            )
            job.override("description", f"pinned {n}", actor="w")
            jobs.append(job)
        result = JobResult.record(
            job_id=None, job_ref="s", job_name="Sync s", task="sync", args={}, actor="w"
        )
        for n in range(LOG_ENTRIES):
            result.log(LogEntry(f"entry {n}"), actor="w")
        app.save(*jobs, result)  # a plain save: the read models are left behind on purpose
        return app.recorder.max_notification_id() or 0


def tracked_position(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        row = connection.execute(
            "SELECT notification_id FROM tracking WHERE application_name = 'jobsync'"
        ).fetchone()
    return int(row[0]) if row else 0


class TestCrashDuringCatchUp:
    def test_sigkill_mid_catch_up_then_resume_equals_replay(self, state_dir: Path) -> None:
        """SIGKILL while applying 10,000 events: after restart the views equal a fresh replay, rows once each."""
        last = unprojected_events(state_dir)
        db = state_dir / "jobsync.db"
        start = tracked_position(db)
        assert last - start >= 10_000
        worker = subprocess.Popen([sys.executable, "-c", CATCH_UP, str(state_dir)])
        deadline = time.monotonic() + 60
        while tracked_position(db) < start + 2_000 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.005)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = tracked_position(db)
        assert start < killed_at < last, "the kill should land in the middle of the catch-up"

        with Catalog.open(state_dir=state_dir) as catalog:
            catalog._app.catch_up()
            assert tracked_position(db) == last
            report = catalog.replay(verify=True)
            assert report.ok, report.differences
            with sqlite3.connect(db) as connection:
                logs = connection.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT version) FROM log_entries"
                ).fetchone()
                jobs = connection.execute("SELECT COUNT(*) FROM jobs_view WHERE source = 's'").fetchone()[0]
            assert logs == (LOG_ENTRIES, LOG_ENTRIES)
            assert jobs == JOBS
            assert catalog.job("s:jobs.m7.J7")["description"] == "pinned 7"
