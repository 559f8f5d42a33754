"""Keeping the read models from the log: catch-up after writes, and replay from the first event.

Both work through a narrow view of the application (its recorder, mapper and repository), so they
serve any read model that implements the port, in SQL or in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper, Notification

from jobsync.domain.errors import ProjectionError
from jobsync.domain.job import Job
from jobsync.domain.result import JobResult
from jobsync.domain.schedule import ScheduledJob
from jobsync.domain.source import Source
from jobsync.ports import CatalogReadModel, ViewChanges
from jobsync.projections import CatalogViews

#: How many notifications one catch-up transaction applies.
BATCH_SIZE = 5000


class EventLog(Protocol):
    """What projecting needs of the application: read the log, decode events, load aggregates."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...

    @property
    def repository(self) -> Repository[UUID]: ...


def view_changes(aggregates: Iterable[Any], events: Iterable[Any]) -> ViewChanges:
    """Jobs, sources and schedules are projected from their new state; results from their events."""
    events = list(events)
    return ViewChanges(
        jobs=[a for a in aggregates if isinstance(a, Job)],
        sources=[a for a in aggregates if isinstance(a, Source)],
        result_events=[e for e in events if isinstance(e, JobResult.Event)],
        deletions=[
            (str(e.originator_id), e.timestamp.isoformat()) for e in events if isinstance(e, Job.JobDeleted)
        ],
        schedules=[a for a in aggregates if isinstance(a, ScheduledJob)],
    )


def catch_up(
    app: EventLog,
    views: CatalogReadModel,
    stop: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Apply every notification after the views' position (up to ``stop``); return how many.

    The one code path for projecting events. Positions may have gaps, so it always asks for
    "greater than the last position". Events of one aggregate are folded onto its state just
    before the batch (loaded at that version, from a snapshot when there is one); result events
    become row changes directly.
    """
    applied = 0
    position = views.position()
    limit = BATCH_SIZE
    while stop is None or position < stop:
        notifications = app.recorder.select_notifications(
            start=position, limit=limit, stop=stop, inclusive_of_start=False
        )
        if not notifications:
            break
        try:
            _apply_batch(app, views, notifications, position)
        except Exception as exc:
            if isinstance(exc, IntegrityError) and views.position() != position:
                # Another process applied these first (its tracking row is ahead): carry on from there.
                position = views.position()
                continue
            if limit > 1:  # find which event it is: apply the rest one at a time
                limit = 1
                continue
            raise ProjectionError(
                f"the read models cannot apply event {notifications[0].id} "
                f"({notifications[0].topic.rpartition('.')[2]} of {notifications[0].originator_id}): "
                f"{type(exc).__name__}: {' '.join(str(exc).split())}; it is saved, and what is shown "
                f"stops before it"
            ) from exc
        position = notifications[-1].id
        applied += len(notifications)
        if progress is not None:
            progress(len(notifications))
    return applied


def _apply_batch(
    app: EventLog, views: CatalogReadModel, notifications: Sequence[Notification], start: int
) -> None:
    """Fold the batch's events onto the aggregates' states just before it, and write the rows."""
    states: dict[UUID, Any] = {}
    events: list[Aggregate.Event] = []
    for notification in notifications:
        domain_event = cast("Aggregate.Event", app.mapper.to_domain_event(notification))
        events.append(domain_event)
        if isinstance(domain_event, JobResult.Event):
            continue
        aggregate_id = domain_event.originator_id
        if aggregate_id not in states:
            before = domain_event.originator_version - 1
            states[aggregate_id] = (
                app.repository.get(aggregate_id, version=before, projector_func=_fold) if before else None
            )
        states[aggregate_id] = domain_event.mutate(states[aggregate_id])
    views.apply(view_changes(states.values(), events), start, notifications[-1].id)


def _fold(state: Any, events: Iterable[Any]) -> Any:
    """Apply events in order (eventsourcing's default projector also runs a slow runtime type check)."""
    for domain_event in events:
        state = domain_event.mutate(state)
    return state


@dataclass(frozen=True)
class ReplayReport:
    """What a replay did: how many events, up to which position, and any differences found."""

    events: int
    position: int
    seconds: float
    verified: bool
    differences: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences


def replay(
    app: EventLog,
    views: CatalogViews,
    scratch: CatalogViews,
    verify: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Rebuild every read model from the log into scratch tables, then compare or swap them in.

    Readers never see a half-built view: with ``verify`` the live tables are only compared,
    otherwise they are replaced in one transaction.
    """
    started = time.perf_counter()
    scratch.reset()
    catch_up(app, views)
    events = catch_up(app, scratch, stop=views.position(), progress=progress)
    differences: list[str] = []
    try:
        if verify:
            for _ in range(10):
                live_at, rebuilt_at, differences = views.differences(scratch)
                if live_at == rebuilt_at:
                    break
                events += catch_up(app, scratch, stop=live_at)  # the live views moved on meanwhile
        else:
            events += catch_up(app, scratch)
            live_at = scratch.position()
            views.take_over(scratch)  # one transaction: readers see the old views or the new
    finally:
        scratch.drop()
    return ReplayReport(
        events=events,
        position=live_at,
        seconds=time.perf_counter() - started,
        verified=verify,
        differences=tuple(differences),
    )
