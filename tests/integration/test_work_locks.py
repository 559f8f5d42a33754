"""One process at a time per source (docs/design.md §7): the work locks on a real PostgreSQL and on SQLite's lock files.

Every test taking ``store_url`` runs on both stores: PostgreSQL advisory locks on a server this
session started, and the lock files beside an SQLite database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from structlog.testing import capture_logs

from jobsync import Catalog, SourceBusyError
from jobsync.adapters.locks import lock_key, work_locks
from jobsync.adapters.notify import Notifier
from jobsync.daemon import RETRY_BASE, Daemon, SourceState
from jobsync.ports import WorkLocks
from jobsync.spec import SourceSpec
from tests.concurrency import ROOT, child_env
from tests.helpers import GitRepo
from tests.postgres import PostgresServer

JOB = "from nautobot.apps.jobs import Job\n\n\nclass Backup(Job):\n    pass\n"


@pytest.fixture
def locks(store_url: str) -> Iterator[tuple[WorkLocks, WorkLocks]]:
    """Two holders on the same store, as two processes would have: two connections, or two open files."""
    first, second = work_locks(store_url), work_locks(store_url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def release_later(locks: WorkLocks, work: str, after: float) -> tuple[threading.Thread, threading.Event]:
    """Hold ``work`` in a thread and let it go ``after`` seconds; the event is set once it is held."""
    held = threading.Event()

    def hold() -> None:
        with locks.holding(work) as got:
            assert got
            held.set()
            time.sleep(after)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    return thread, held


class TestHolding:
    def test_a_second_holder_is_refused_while_the_first_holds(
        self, locks: tuple[WorkLocks, WorkLocks]
    ) -> None:
        """While one holder has a source, another's try fails at once; after it lets go, the try succeeds."""
        first, second = locks
        with first.holding("source:netops") as held:
            assert held
            started = time.monotonic()
            with second.holding("source:netops") as refused:
                assert not refused
            assert time.monotonic() - started < 1.0  # no waiting
        with second.holding("source:netops") as held_now:
            assert held_now

    def test_other_sources_are_not_blocked(self, locks: tuple[WorkLocks, WorkLocks]) -> None:
        """Holding one source leaves every other source free."""
        first, second = locks
        with first.holding("source:netops") as one, second.holding("source:lab") as other:
            assert one and other

    def test_one_holder_cannot_take_a_source_twice(self, locks: tuple[WorkLocks, WorkLocks]) -> None:
        """Within one process a source is held once: a nested try fails (PostgreSQL's own locks would nest)."""
        first, _ = locks
        with first.holding("source:netops") as outer:
            assert outer
            with first.holding("source:netops") as inner:
                assert not inner
        with first.holding("source:netops") as again:
            assert again

    def test_a_waiting_holder_gets_the_lock_once_it_is_let_go(
        self, locks: tuple[WorkLocks, WorkLocks]
    ) -> None:
        """A holder willing to wait gets the source as soon as the other lets go, not at its deadline."""
        first, second = locks
        thread, _ = release_later(first, "source:netops", after=0.5)
        started = time.monotonic()
        with second.holding("source:netops", wait=30.0) as held:
            waited = time.monotonic() - started
            assert held
        thread.join()
        assert 0.2 < waited < 15.0, waited

    def test_a_waiting_holder_gives_up_at_its_deadline(self, locks: tuple[WorkLocks, WorkLocks]) -> None:
        """A holder that waited its whole ``wait`` without getting the source is refused."""
        first, second = locks
        with first.holding("source:netops") as held:
            assert held
            started = time.monotonic()
            with second.holding("source:netops", wait=0.4) as refused:
                assert not refused
            assert 0.35 < time.monotonic() - started < 10.0

    def test_the_lock_of_a_killed_holder_is_released(self, store_url: str, tmp_path: Path) -> None:
        """A process killed while it holds a source (SIGKILL: no clean-up at all) does not keep it."""
        script = (
            "import sys, time\n"
            "from jobsync.adapters.locks import work_locks\n"
            "with work_locks(sys.argv[1]).holding('source:netops') as held:\n"
            "    print('held' if held else 'refused', flush=True)\n"
            "    time.sleep(120)\n"
        )
        holder = subprocess.Popen(
            [sys.executable, "-c", script, store_url],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=child_env(),
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            with closing(work_locks(store_url)) as mine:
                with mine.holding("source:netops") as refused:
                    assert not refused
                holder.kill()
                holder.wait(timeout=10)
                with mine.holding("source:netops", wait=20.0) as held:
                    assert held
        finally:
            holder.kill()
            holder.wait(timeout=10)


class TestPostgresKeys:
    def test_keys_are_stable_signed_64_bit_numbers(self) -> None:
        """A key fits PostgreSQL's bigint, is the same in every process, and differs by work and by store."""
        keys = {lock_key(namespace, f"source:{i}") for namespace in ("public", "other") for i in range(1000)}
        assert len(keys) == 2000
        assert all(-(2**63) <= key < 2**63 for key in keys)
        assert any(key < 0 for key in keys)  # the whole signed range is used, not only half of it
        assert lock_key("public", "source:netops") == lock_key("public", "source:netops")

    def test_a_lost_connection_lets_go_and_the_next_hold_reconnects(
        self, postgres_server: PostgresServer
    ) -> None:
        """When the holder's connection dies (its server process ended) the source is free, and a holder
        whose idle connection was dropped opens a new one at its next hold instead of failing."""
        url = postgres_server.url(postgres_server.create_database())

        def end_sessions(where: str) -> None:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f"SELECT pg_terminate_backend(pid) FROM {where} AND pid <> pg_backend_pid()")

        with closing(work_locks(url)) as first, closing(work_locks(url)) as second:
            with first.holding("source:netops") as held:
                assert held
                end_sessions("pg_locks WHERE locktype = 'advisory' AND granted")
                with second.holding("source:netops", wait=20.0) as taken:
                    assert taken
            with first.holding("source:lab") as fresh:
                assert fresh
            end_sessions("pg_stat_activity WHERE datname = current_database()")  # first's, idle now
            with first.holding("source:lab") as again:
                assert again

    def test_catalogs_in_other_schemas_do_not_share_locks(self, postgres_server: PostgresServer) -> None:
        """Two catalogs in one database but different schemas are different stores: each holds its own source."""
        url = postgres_server.url(postgres_server.create_database())
        with (
            closing(work_locks(f"{url}?schema=blue")) as blue,
            closing(work_locks(f"{url}?schema=green")) as green,
            blue.holding("source:netops") as one,
            green.holding("source:netops") as other,
        ):
            assert one and other


class TestCatalogSyncs:
    @pytest.fixture
    def spec(self, repo: GitRepo) -> SourceSpec:
        repo.write("jobs/ops.py", JOB)
        repo.commit("jobs")
        return SourceSpec(name="netops", url=repo.url)

    def test_a_poll_of_a_source_being_synced_is_refused_at_once_and_records_nothing(
        self, catalog: Catalog, spec: SourceSpec, store_url: str
    ) -> None:
        """The daemon's poll of a source another process holds raises SourceBusyError without waiting or writing."""
        with closing(work_locks(store_url)) as other, other.holding("source:netops") as held:
            assert held
            started = time.monotonic()
            with pytest.raises(SourceBusyError, match="another process is syncing source 'netops'"):
                catalog.poll(spec, catalog.reader_for(spec))
            assert time.monotonic() - started < 2.0
            assert catalog.event_count() == 0
        assert catalog.poll(spec, catalog.reader_for(spec)).added == ["netops:jobs.ops.Backup"]

    def test_a_resync_waits_for_the_sync_in_flight(
        self, catalog: Catalog, spec: SourceSpec, store_url: str
    ) -> None:
        """A person's resync waits while another process syncs the source, then does its own."""
        with closing(work_locks(store_url)) as other:
            thread, _ = release_later(other, "source:netops", after=0.5)
            summary = catalog.resync_spec(spec)
            thread.join()
        assert summary.added == ["netops:jobs.ops.Backup"]

    def test_a_resync_that_waited_too_long_says_so_in_one_line(
        self, catalog: Catalog, spec: SourceSpec, store_url: str
    ) -> None:
        """A resync that could not get the source within its wait fails with a clear message, and writes nothing."""
        with (
            closing(work_locks(store_url)) as other,
            other.holding("source:netops"),
            pytest.raises(SourceBusyError) as caught,
        ):
            catalog.resync_spec(spec, wait=0.3)
        assert str(caught.value) == (
            "another process is syncing source 'netops' (waited 0.3 s); try again when it has finished"
        )
        assert catalog.event_count() == 0


class TestDaemonRounds:
    def test_a_skipped_source_is_no_failure_and_is_tried_again_at_its_interval(
        self, catalog: Catalog, repo: GitRepo, store_url: str
    ) -> None:
        """A daemon's round that finds a source held logs a debug line, counts no failure and comes back
        at the source's interval -- within seconds when a watched folder changed -- then syncs it."""
        repo.write("jobs/ops.py", JOB)
        repo.commit("jobs")
        spec = SourceSpec(name="netops", url=repo.url, interval=300.0)
        now = 1000.0
        daemon = Daemon(_no_config, lambda config: catalog, Notifier(None), clock=lambda: now)
        daemon.catalog = catalog
        state = SourceState(spec)
        with closing(work_locks(store_url)) as other, other.holding("source:netops"), capture_logs() as logs:
            daemon._sync(state)
            assert 270.0 <= state.next_due - now <= 330.0
            state.dirty = True  # a folder watcher saw a change, perhaps after the holder's read
            daemon._sync(state)
            assert state.next_due - now <= RETRY_BASE * 1.1
        assert state.failures == 0 and state.last_reason is None
        assert [(line["event"], line["log_level"], line["source"]) for line in logs] == [
            ("sync skipped", "debug", "netops")
        ] * 2
        daemon._sync(state)
        assert state.last_ok is not None
        assert [job["ref"] for job in catalog.jobs()] == ["netops:jobs.ops.Backup"]


def _no_config() -> NoReturn:
    raise AssertionError("these rounds read no configuration")
