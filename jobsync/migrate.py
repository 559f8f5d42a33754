"""Copy a whole event log into an empty store (SQLite to PostgreSQL), then prove the copy is the same."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from jobsync.adapters.store import redact_password
from jobsync.adapters.summaries import MemorySummaryStore
from jobsync.app import SNAPSHOT_INTERVAL, JobCatalogApp
from jobsync.catalog import open_app
from jobsync.domain.errors import StoreError
from jobsync.projections import CatalogViews, JobQuery
from jobsync.projector import replay

#: Events copied per transaction.
COPY_BATCH = 2000


@dataclass(frozen=True)
class CopyReport:
    """What a copy moved and what it checked."""

    events: int
    snapshots: int
    seconds: float
    jobs: int


def copy_store(source_url: str, target_url: str, progress: Callable[[int], None] | None = None) -> CopyReport:
    """Copy every event, in log order, with its aggregate id, version and timestamp, into an empty store.

    The target must hold no events. Afterwards the event counts must match, the target's read
    models are rebuilt from the copied log and verified, and both catalogs must list the same jobs;
    any mismatch raises StoreError. Long aggregates get fresh snapshots in the target.
    """
    started = time.perf_counter()
    source, _ = _open(source_url)
    try:
        target, scratch = _open(target_url)
        try:
            if target.recorder.max_notification_id():
                raise StoreError(
                    f"target store {redact_password(target_url)} is not empty; copy only into a new store"
                )
            copied, versions = _copy_events(source, target, progress)
            snapshots = _snapshot_long_aggregates(target, versions)
            _check(source, target, scratch(), copied)
            jobs = len(_views(target).list_jobs(JobQuery(installed=None)))
        finally:
            target.close()
    finally:
        source.close()
    return CopyReport(copied, snapshots, time.perf_counter() - started, jobs)


_Opened = tuple[JobCatalogApp, Callable[[], CatalogViews]]


def _open(url: str) -> _Opened:
    try:
        return open_app(url, MemorySummaryStore())
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open store {redact_password(url)}: {exc}") from None


def _views(app: JobCatalogApp) -> CatalogViews:
    views: CatalogViews = app.views  # type: ignore[assignment]  # open_app gives it the SQL views
    return views


def _copy_events(
    source: JobCatalogApp, target: JobCatalogApp, progress: Callable[[int], None] | None
) -> tuple[int, dict[UUID, int]]:
    position, copied = 0, 0
    versions: dict[UUID, int] = {}
    while True:
        batch = source.recorder.select_notifications(
            start=position, limit=COPY_BATCH, inclusive_of_start=False
        )
        if not batch:
            return copied, versions
        stored = [
            StoredEvent(
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=n.state,
            )
            for n in batch
        ]
        target.recorder.insert_events(stored)  # one transaction per batch, in the source's order
        for n in batch:
            versions[UUID(str(n.originator_id))] = n.originator_version
        position = batch[-1].id
        copied += len(batch)
        if progress is not None:
            progress(len(batch))


def _snapshot_long_aggregates(target: JobCatalogApp, versions: dict[UUID, int]) -> int:
    """Snapshots are derived: take one for each aggregate long enough to have had one."""
    long = [ident for ident, version in versions.items() if version >= SNAPSHOT_INTERVAL]
    for ident in long:
        target.take_snapshot(ident)
    return len(long)


def _check(source: JobCatalogApp, target: JobCatalogApp, scratch: CatalogViews, copied: int) -> None:
    source_count = _count(source)
    target_count = _count(target)
    if not source_count == copied == target_count:
        raise StoreError(
            f"copy incomplete: {source_count} events in the source, {target_count} in the target"
        )
    target.catch_up()
    source.catch_up()
    report = replay(target, _views(target), scratch, verify=True)
    if not report.ok:
        raise StoreError(f"the copied store's read models differ from its log: {report.differences[0]}")
    everything = JobQuery(installed=None, sort="ref")
    if _views(source).list_jobs(everything) != _views(target).list_jobs(everything):
        raise StoreError("the copied catalog differs from the source catalog")


def _count(app: JobCatalogApp) -> int:
    count, position = 0, 0
    while True:
        batch = app.recorder.select_notifications(start=position, limit=10_000, inclusive_of_start=False)
        if not batch:
            return count
        count += len(batch)
        position = batch[-1].id
