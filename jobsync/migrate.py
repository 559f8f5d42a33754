"""Copy a whole event log into an empty store (SQLite to PostgreSQL), resumably, then prove the copy is the same."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent

from jobsync.adapters.copy_marker import (
    CopyMarker,
    read_marker,
    remove_marker,
    start_over_hint,
    stored_event_count,
    write_marker,
)
from jobsync.adapters.store import redact_password, store_settings
from jobsync.adapters.summaries import MemorySummaryStore
from jobsync.app import SNAPSHOT_INTERVAL, JobCatalogApp
from jobsync.catalog import open_app
from jobsync.domain.errors import StoreError
from jobsync.projections import CatalogViews, JobQuery
from jobsync.projector import replay

#: Events copied per transaction.
COPY_BATCH = 2000
#: Events read per query when walking a log without copying it.
_READ_BATCH = 10_000


@dataclass(frozen=True)
class CopyReport:
    """What a copy moved and what it checked; ``resumed_after`` events were copied by an earlier run."""

    events: int
    snapshots: int
    seconds: float
    jobs: int
    resumed_after: int = 0


def copy_store(
    source_url: str,
    target_url: str,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = COPY_BATCH,
) -> CopyReport:
    """Copy every event, in log order, with its aggregate id, version and timestamp, into an empty store.

    The target must hold no events, or a partial copy of the same log that an earlier run left
    (it resumes after the last copied event). The target is marked incomplete before the first
    event and unmarked only after the copy is verified: the event counts must match, the target's
    read models are rebuilt from the copied log and verified, and both catalogs must list the
    same jobs; any mismatch raises StoreError. Long aggregates get fresh snapshots in the target.
    ``progress`` is called after each batch of ``batch_size`` events with (copied, total).
    """
    started = time.perf_counter()
    source, _ = _open(source_url)
    try:
        target, scratch = _open(target_url, resuming_copy=True)
        try:
            total = stored_event_count(source.recorder)
            marker = read_marker(target.recorder)
            resumed_after = stored_event_count(target.recorder)
            if marker is None and resumed_after:
                raise StoreError(
                    f"target store {redact_password(target_url)} is not empty; copy only into a new store"
                )
            if marker is not None:
                position, versions = _resume_point(source, target, resumed_after, marker, target_url)
            else:
                position, versions = 0, {}
            write_marker(target.recorder, CopyMarker(redact_password(source_url), total))
            copied = _copy_events(
                source, target, position, resumed_after, versions, batch_size, total, progress
            )
            snapshots = _snapshot_long_aggregates(target, versions)
            _check(source, target, scratch(), copied)
            jobs = len(_views(target).list_jobs(JobQuery(installed=None)))
            remove_marker(target.recorder)
        finally:
            target.close()
    finally:
        source.close()
    return CopyReport(copied, snapshots, time.perf_counter() - started, jobs, resumed_after)


_Opened = tuple[JobCatalogApp, Callable[[], CatalogViews]]


def _open(url: str, resuming_copy: bool = False) -> _Opened:
    try:
        return open_app(url, MemorySummaryStore(), resuming_copy=resuming_copy)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot open store {redact_password(url)}: {exc}") from None


def _views(app: JobCatalogApp) -> CatalogViews:
    views: CatalogViews = app.views  # type: ignore[assignment]  # open_app gives it the SQL views
    return views


def _resume_point(
    source: JobCatalogApp, target: JobCatalogApp, copied: int, marker: CopyMarker, target_url: str
) -> tuple[int, dict[UUID, int]]:
    """Where in the source a partial copy of ``copied`` events ends, and the versions it reached.

    Events are copied in log order, so the target must hold exactly the source's first ``copied``
    events: its first and last events are compared with the source's, byte for byte.
    """
    versions: dict[UUID, int] = {}
    if not copied:
        return 0, versions
    position, walked = 0, 0
    first: Notification | None = None
    last: Notification | None = None
    while walked < copied:
        batch = source.recorder.select_notifications(
            start=position, limit=min(_READ_BATCH, copied - walked), inclusive_of_start=False
        )
        if not batch:
            break
        first = first or batch[0]
        for n in batch:
            versions[UUID(str(n.originator_id))] = n.originator_version
        position, walked = batch[-1].id, walked + len(batch)
        last = batch[-1]
    copied_first = target.recorder.select_notifications(start=0, limit=1, inclusive_of_start=False)
    copied_last = target.recorder.select_notifications(
        start=target.recorder.max_notification_id() or 0, limit=1
    )
    if walked < copied or not _same(first, copied_first) or not _same(last, copied_last):
        shown = redact_password(target_url)
        raise StoreError(
            f"store {shown} holds an incomplete copy of another log than this source's, from "
            f"{marker.source}; run 'jobsync store migrate {marker.source} {shown}' to resume it, "
            f"or {start_over_hint(store_settings(target_url))} to start over"
        )
    return position, versions


def _same(event: Notification | None, copied: Sequence[Notification]) -> bool:
    """The same stored event: aggregate, version, type and state (its timestamp included)."""
    return (
        event is not None
        and len(copied) == 1
        and (event.originator_id, event.originator_version, event.topic, event.state)
        == (copied[0].originator_id, copied[0].originator_version, copied[0].topic, copied[0].state)
    )


def _copy_events(
    source: JobCatalogApp,
    target: JobCatalogApp,
    position: int,
    copied: int,
    versions: dict[UUID, int],
    batch_size: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> int:
    """Copy the source's events after ``position``, one transaction per batch; the target's count after."""
    while True:
        batch = source.recorder.select_notifications(
            start=position, limit=batch_size, inclusive_of_start=False
        )
        if not batch:
            return copied
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
            progress(copied, max(total, copied))


def _snapshot_long_aggregates(target: JobCatalogApp, versions: dict[UUID, int]) -> int:
    """Snapshots are derived: take one for each aggregate long enough to have had one."""
    long = [ident for ident, version in versions.items() if version >= SNAPSHOT_INTERVAL]
    for ident in long:
        with suppress(IntegrityError):  # taken already, by a run that was killed before its end
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
