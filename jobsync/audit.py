"""The auditor's view: what each event changed, for one job's history or across the catalog."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from jobsync.domain.job import Job
from jobsync.domain.schedule import ScheduledJob
from jobsync.domain.source import Source
from jobsync.records import HistoryEntry
from jobsync.timeline import JobTimeline, add_provenance

if TYPE_CHECKING:
    from jobsync.app import JobCatalogApp

#: Events are stamped before they are saved, so the log's order and the clock can disagree a little
#: between processes: an audit window starts its scan this much earlier, then filters exactly.
_CLOCK_SLACK = timedelta(minutes=5)
_SCAN_BATCH = 2000


def matches_author(entry: HistoryEntry, author: str) -> bool:
    """``--author``: a case-insensitive part of ``Name <email>``, as ``git log --author`` takes it."""
    return author.casefold() in (entry.get("author") or "").casefold()


def in_window(entry_time: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or entry_time >= since) and (until is None or entry_time <= until)


def job_history(
    app: JobCatalogApp,
    ident: UUID,
    since: datetime | None = None,
    until: datetime | None = None,
    schedules: Sequence[UUID] = (),
) -> list[HistoryEntry]:
    """Every event of one job in the window, oldest first (folded from the first event), with the
    events of its ``schedules`` among them."""
    timeline = JobTimeline()
    entries: list[HistoryEntry] = []
    for event in app.job_events(ident):
        entry = timeline.apply(event)
        if in_window(event.timestamp, since, until):
            entries.append(entry)
    for schedule in schedules:
        name = ""
        for schedule_event in cast("list[ScheduledJob.Event]", list(app.events.get(schedule))):
            if isinstance(schedule_event, ScheduledJob.ScheduleCreated):
                name = schedule_event.name
            if in_window(schedule_event.timestamp, since, until):
                entries.append(_event_entry(schedule_event, f"schedule {name}"))
    return sorted(entries, key=lambda entry: entry["time"]) if schedules else entries


def catalog_audit(
    app: JobCatalogApp,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    source: str | None = None,
    author: str | None = None,
) -> list[HistoryEntry]:
    """Every job and source event in the window across the catalog, in log order.

    Only jobs touched in the window are loaded (at the version just before, from a snapshot when
    there is one), so an audit of last week does not replay years of history.
    """
    timelines: dict[UUID, JobTimeline] = {}
    source_names: dict[UUID, str] = {}
    schedules: dict[UUID, tuple[str, str]] = {}  # id -> (name, its job's source)
    entries: list[HistoryEntry] = []
    for event in _events_from(app, since):
        if not in_window(event.timestamp, since, until):
            continue
        if isinstance(event, Job.Event):
            timeline = timelines.get(event.originator_id)
            if timeline is None:
                version = event.originator_version - 1
                before = app.repository.get(event.originator_id, version=version) if version else None
                timeline = timelines[event.originator_id] = JobTimeline.starting_from(before)
            entry = timeline.apply(event)
            entry_source = timeline.job.source if timeline.job else ""
        elif isinstance(event, Source.Event):
            if event.originator_id not in source_names:
                source_names[event.originator_id] = app.repository.get(event.originator_id).name
            entry_source = source_names[event.originator_id]
            entry = _event_entry(event, entry_source)
        elif isinstance(event, ScheduledJob.Event):
            if event.originator_id not in schedules:
                schedule: ScheduledJob = app.repository.get(event.originator_id)
                schedules[event.originator_id] = (schedule.name, schedule.job_ref.partition(":")[0])
            name, entry_source = schedules[event.originator_id]
            entry = _event_entry(event, f"schedule {name}")
        else:
            continue
        if (
            (actor is None or entry["actor"] == actor)
            and (source is None or entry_source == source)
            and (author is None or matches_author(entry, author))
        ):
            entries.append(entry)
    return entries


def _event_entry(event: Source.Event | ScheduledJob.Event, name: str) -> HistoryEntry:
    """A source or schedule event as an audit entry; its own fields are what it set."""
    skip = {"timestamp", "actor", "name", "origin"}
    fields = {k: v for k, v in event.__dict__.items() if not k.startswith("originator") and k not in skip}
    entry = HistoryEntry(
        time=event.timestamp,
        actor=event.actor,
        event=type(event).__name__,
        ref=name,
        version=event.originator_version,
        changes={k: [None, v] for k, v in fields.items()},
    )
    if isinstance(event, Source.SourceSynced):
        add_provenance(entry, event.commit, event.origin)
    return entry


def _events_from(app: JobCatalogApp, since: datetime | None) -> Iterator[Aggregate.Event]:
    """Job, source and schedule events of the log, starting near ``since`` (found by bisecting positions)."""
    topics = [get_topic(cls) for cls in _audited_classes()]
    position = _position_before(app, since - _CLOCK_SLACK) if since is not None else 0
    while True:
        batch = app.recorder.select_notifications(
            start=position, limit=_SCAN_BATCH, topics=topics, inclusive_of_start=False
        )
        if not batch:
            return
        for notification in batch:
            yield cast("Aggregate.Event", app.mapper.to_domain_event(notification))
        position = batch[-1].id


def _audited_classes() -> list[type[Any]]:
    classes: list[type[Any]] = []
    for owner in (Job, Source, ScheduledJob):
        for value in vars(owner).values():
            if isinstance(value, type) and issubclass(value, owner.Event) and value is not owner.Event:
                classes.append(value)
    return classes


def _position_before(app: JobCatalogApp, moment: datetime) -> int:
    """The last log position whose event is older than ``moment`` (0 if none), by bisection."""
    low, high = 0, app.recorder.max_notification_id() or 0
    while low < high:
        middle = (low + high + 1) // 2
        found = app.recorder.select_notifications(start=middle, limit=1)
        if not found or found[0].id > high:
            high = middle - 1
            continue
        notification = found[0]
        if cast("Aggregate.Event", app.mapper.to_domain_event(notification)).timestamp < moment:
            low = notification.id
        else:
            high = middle - 1
    return low
