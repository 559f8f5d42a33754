"""Contention resolved, not surfaced: workers logging into one result all land (issue 12, item 11)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any
from uuid import UUID

from jobsync import Catalog, LogEntry
from tests.helpers import GitRepo

REF = "netops:jobs.backup.Backup"
WRITERS = 4
ENTRIES = 60


def _log_lines(store: str, state_dir: Path, result: UUID, writer: int, barrier: Any, errors: Any) -> None:
    with Catalog.open(store=store, state_dir=state_dir, actor=f"worker-{writer}") as catalog:
        barrier.wait()
        failed = 0
        for n in range(ENTRIES):
            try:
                catalog.log_many(result, [LogEntry(f"writer {writer} line {n}")])
            except Exception:
                failed += 1
        errors.put(failed)


def test_workers_logging_into_one_result_never_fail(
    repo: GitRepo, catalog: Catalog, store_url: str, state_dir: Path
) -> None:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", "from nautobot.apps.jobs import Job\n\nclass Backup(Job):\n    pass\n")
    repo.commit("jobs")
    catalog.resync(repo.url, name="netops")
    catalog.enable(REF)
    result = catalog.record_result(REF, args={})
    fork = multiprocessing.get_context("fork")
    barrier, errors = fork.Barrier(WRITERS), fork.Queue()
    writers = [
        fork.Process(target=_log_lines, args=(store_url, state_dir, result, n, barrier, errors))
        for n in range(WRITERS)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(240)
    assert [errors.get(timeout=5) for _ in writers] == [0] * WRITERS
    messages = [entry["message"] for entry in catalog.logs(result)]
    assert len(messages) == len(set(messages)) == WRITERS * ENTRIES
    for writer_number in range(WRITERS):  # each writer's lines in the order it wrote them
        own = [m for m in messages if m.startswith(f"writer {writer_number} ")]
        assert own == [f"writer {writer_number} line {n}" for n in range(ENTRIES)]
    assert catalog.replay(verify=True).ok
