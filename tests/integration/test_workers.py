"""Workers claim pending runs atomically, and the reaper ends the runs whose worker went quiet (docs/design.md §3 rule 12).

On both real stores: eight processes claiming one hundred runs at once each get distinct runs and
together get all of them; claims go oldest first, by queue, one run of a singleton job at a time.
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from jobsync import Catalog, ResultError
from jobsync.domain.result import JobResult
from jobsync.ports import SingletonBusyError
from tests.helpers import GitRepo

JOBS = """\
from nautobot.apps.jobs import Job


class Backup(Job):
    class Meta:
        has_sensitive_variables = False


class Fast(Job):
    class Meta:
        has_sensitive_variables = False
        task_queues = ["fast", "bulk"]


class Solo(Job):
    class Meta:
        has_sensitive_variables = False
        is_singleton = True
"""
BACKUP = "netops:jobs.ops.Backup"
FAST = "netops:jobs.ops.Fast"
SOLO = "netops:jobs.ops.Solo"
CLAIMERS = 8
RUNS = 100


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    catalog.resync(repo.url, name="netops")
    for ref in (BACKUP, FAST, SOLO):
        catalog.enable(ref)
    return catalog


def _claim_all(store: str, state_dir: Path, worker: str, barrier: Any, claims: Any) -> None:
    """Claim until nothing is left; report the ids claimed and how many claims failed."""
    with Catalog.open(store=store, state_dir=state_dir, actor=worker) as catalog:
        barrier.wait()
        taken: list[str] = []
        errors: list[str] = []
        while True:
            try:
                record = catalog.claim("default", worker)
            except Exception as exc:  # any error is a failure the test reports
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if record is None:
                break
            taken.append(str(record["id"]))
        claims.put((worker, taken, errors))


class TestClaims:
    def test_concurrent_claimers_take_each_run_exactly_once(
        self, synced: Catalog, store_url: str, state_dir: Path
    ) -> None:
        """Eight processes claiming a hundred runs at once: no run twice, none lost, each with its claimer."""
        recorded = {str(synced.record_result(BACKUP, {"n": n})) for n in range(RUNS)}
        fork = multiprocessing.get_context("fork")
        barrier, claims = fork.Barrier(CLAIMERS), fork.Queue()
        workers = [
            fork.Process(target=_claim_all, args=(store_url, state_dir, f"w{n}", barrier, claims))
            for n in range(CLAIMERS)
        ]
        for worker in workers:
            worker.start()
        reports = [claims.get(timeout=240) for _ in workers]
        for worker in workers:
            worker.join(60)
        assert [errors for _, _, errors in reports] == [[]] * CLAIMERS
        taken = [rid for _, ids, _ in reports for rid in ids]
        assert len(taken) == len(set(taken)) == RUNS
        assert set(taken) == recorded
        by_worker = {rid: worker for worker, ids, _ in reports for rid in ids}
        running = synced.results(status="running")
        assert {str(r["id"]): r["worker"] for r in running} == by_worker
        assert synced.results(status="pending") == []
        assert synced.replay(verify=True).ok

    def test_oldest_pending_run_is_claimed_first(self, synced: Catalog) -> None:
        """Runs are claimed in the order they were recorded."""
        first, second, third = (synced.record_result(BACKUP, {"n": n}) for n in range(3))
        claimed = [synced.claim("default", "w1") for _ in range(3)]
        assert [r["id"] if r else None for r in claimed] == [first, second, third]
        assert synced.claim("default", "w1") is None

    def test_claimed_run_is_running_with_its_worker_and_args(self, synced: Catalog) -> None:
        """A claimed run is running, names its worker, and hands over the stored args."""
        rid = synced.record_result(BACKUP, {"device": "rtr1"})
        record = synced.claim("default", "worker-7")
        assert record is not None
        assert (record["id"], record["status"], record["worker"]) == (rid, "running", "worker-7")
        assert record["args"] == {"device": "rtr1"}
        assert record["started"] is not None
        assert synced.result(rid)["worker"] == "worker-7"

    def test_a_worker_claims_only_runs_of_its_queue(self, synced: Catalog) -> None:
        """A job's task queues decide who may claim its runs; a job with none serves ``default``."""
        fast = synced.record_result(FAST)
        bulk_only = synced.record_result(FAST, queue="bulk")
        backup = synced.record_result(BACKUP)
        assert synced.claim("slow", "w") is None
        fast_claim = synced.claim("fast", "w")
        assert fast_claim is not None and fast_claim["id"] == fast
        assert synced.claim("fast", "w") is None  # the second was recorded for "bulk" only
        bulk_claim = synced.claim("bulk", "w")
        assert bulk_claim is not None and bulk_claim["id"] == bulk_only
        default_claim = synced.claim("default", "w")
        assert default_claim is not None and default_claim["id"] == backup

    def test_started_and_finished_runs_are_not_claimed(self, synced: Catalog) -> None:
        """Only pending runs are offered: one started by its recorder is not."""
        rid = synced.record_result(BACKUP)
        synced.start_result(rid)
        assert synced.claim("default", "w") is None

    def test_singleton_job_waits_while_another_of_its_runs_runs(self, synced: Catalog) -> None:
        """A singleton job's second run is not claimed until the first ends; a later job's run is."""
        first = synced.record_result(SOLO)
        second = synced.record_result(SOLO)
        other = synced.record_result(BACKUP)
        claimed = synced.claim("default", "w1")
        assert claimed is not None and claimed["id"] == first
        claimed = synced.claim("default", "w2")
        assert claimed is not None and claimed["id"] == other
        assert synced.claim("default", "w3") is None
        synced.finish_result(first, "completed")
        claimed = synced.claim("default", "w3")
        assert claimed is not None and claimed["id"] == second

    def test_ignore_singleton_runs_beside_another_run(self, synced: Catalog) -> None:
        """A run recorded with ``ignore_singleton`` is claimed even while its singleton job runs."""
        first = synced.record_result(SOLO)
        beside = synced.record_result(SOLO, ignore_singleton=True)
        assert synced.claim("default", "w1") is not None
        claimed = synced.claim("default", "w2")
        assert claimed is not None and claimed["id"] == beside
        assert {r["id"] for r in synced.results(status="running")} == {first, beside}

    def test_an_exclusive_claim_racing_another_run_of_its_job_is_rolled_back(self, synced: Catalog) -> None:
        """Two claims of one singleton job's runs that both passed the view's check: the second save fails."""
        first = synced.record_result(SOLO)
        second = synced.record_result(SOLO)
        app = synced._app
        racing: list[JobResult] = [app.repository.get(first), app.repository.get(second)]
        for result in racing:  # both loaded and claimed before either is saved, as two workers would
            result.claim("w", exclusive=True, actor="w")
        app.save_and_project(racing[0])
        with pytest.raises(SingletonBusyError):
            app.save_and_project(racing[1])
        assert synced.result(second)["status"] == "pending"
        assert synced.claim("default", "w2") is None


class TestHeartbeat:
    def test_heartbeat_is_refused_for_a_run_that_is_not_running(self, synced: Catalog) -> None:
        """Only a running result takes a heartbeat: not a pending one, not a finished one."""
        rid = synced.record_result(BACKUP)
        with pytest.raises(ResultError, match="pending"):
            synced.heartbeat(rid)
        synced.claim("default", "w")
        synced.heartbeat(rid)
        synced.finish_result(rid, "completed")
        with pytest.raises(ResultError, match="completed"):
            synced.heartbeat(rid)


class TestReaper:
    def test_a_quiet_run_is_ended_errored_with_the_reason_logged(self, synced: Catalog) -> None:
        """A running run silent for longer than the timeout is finished errored, saying why."""
        rid = synced.record_result(BACKUP)
        synced.claim("default", "w")
        assert synced.reap_stale_runs(1.0) == []
        time.sleep(1.3)
        reaped = synced.reap_stale_runs(1.0, actor="daemon@test")
        assert [ident for ident, _ in reaped] == [rid]
        record = synced.result(rid)
        assert record["status"] == "errored"
        assert "heartbeat" in record["data"]["error"]
        [entry] = synced.logs(rid)
        assert entry["level"] == "error" and "heartbeat_timeout" in entry["message"]
        assert synced.reap_stale_runs(1.0) == []  # done once

    def test_heartbeats_and_log_entries_keep_a_run_alive(self, synced: Catalog) -> None:
        """A run whose worker keeps beating (or logging) is not reaped, however long it runs."""
        beating = synced.record_result(BACKUP)
        logging = synced.record_result(BACKUP)
        synced.claim("default", "w1")
        synced.claim("default", "w2")
        for _ in range(3):
            time.sleep(0.5)
            synced.heartbeat(beating)
            synced.log(logging, "still at it")
            assert synced.reap_stale_runs(1.0) == []
        assert {r["status"] for r in (synced.result(beating), synced.result(logging))} == {"running"}

    def test_pending_and_sync_runs_are_left_alone(self, synced: Catalog) -> None:
        """Only running job runs are reaped: a pending run may wait for a worker as long as it takes."""
        pending = synced.record_result(BACKUP)
        time.sleep(1.2)
        assert synced.reap_stale_runs(1.0) == []
        assert synced.result(pending)["status"] == "pending"
        assert all(r["status"] != "errored" for r in synced.results())


def test_result_ids_are_uuids(synced: Catalog) -> None:
    """The library hands back result ids as UUIDs, as record_result does."""
    synced.record_result(BACKUP)
    record = synced.claim("default", "w")
    assert record is not None and isinstance(record["id"], UUID)
