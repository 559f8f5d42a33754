"""The auditor's view: what each event changed, for one job's history or across the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from jobsync.domain.fields import OVERRIDABLE_FIELDS
from jobsync.domain.job import Job
from jobsync.domain.source import Source
from jobsync.records import HistoryEntry

if TYPE_CHECKING:
    from jobsync.app import JobCatalogApp

#: Record keys that change with every event and say nothing about what changed, and the source
#: values, which a change reports field by field (``description (in source)`` under an override).
_UNTRACKED = frozenset({"last_updated", "created", "source_values"})
#: Events are stamped before they are saved, so the log's order and the clock can disagree a little
#: between processes: an audit window starts its scan this much earlier, then filters exactly.
_CLOCK_SLACK = timedelta(minutes=5)
_SCAN_BATCH = 2000


def _tracked(job: Job) -> dict[str, Any]:
    record = {k: v for k, v in job.as_record().items() if k not in _UNTRACKED}
    record["deleted"] = job.deleted
    record["uninstall_reason"] = job.uninstall_reason
    return record


@dataclass
class JobTimeline:
    """Folds one job's events in order and says, for each, which fields it changed (old -> new)."""

    job: Job | None = None
    _before: dict[str, Any] = field(default_factory=dict)
    _source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def starting_from(cls, job: Job | None) -> JobTimeline:
        """A timeline that continues from ``job`` as it was before the next event."""
        if job is None:
            return cls()
        return cls(job, _tracked(job), dict(job.source_values))

    def apply(self, event: Job.Event) -> HistoryEntry:
        """Apply ``event`` and describe it as a history entry."""
        job = cast("Job", event.mutate(self.job))
        after = _tracked(job)
        if self._before:
            changes = {k: [self._before.get(k), v] for k, v in after.items() if self._before.get(k) != v}
        else:
            changes = {"name": [None, after["name"]], "commit": [None, after["commit"]]}
        if isinstance(event, Job.JobChanged | Job.JobReinstalled):
            # An overridden field's effective value did not move: say what moved underneath.
            changes.update(
                {
                    f"{name} (in source)": [self._source.get(name), job.source_values[name]]
                    for name in job.overrides
                    if self._source.get(name) != job.source_values[name]
                }
            )
        self.job, self._before, self._source = job, after, dict(job.source_values)
        return HistoryEntry(
            time=event.timestamp,
            actor=event.actor,
            event=type(event).__name__,
            ref=job.ref,
            version=event.originator_version,
            changes=changes,
        )


def state_changes(before: Job, after: Job) -> dict[str, list[Any]]:
    """The fields that differ between two states of a job (old -> new), as its history names them.

    Where a field is overridden at either end, a source value that moved shows as
    ``<field> (in source)``, since the effective value alone would hide it.
    """
    old, new = _tracked(before), _tracked(after)
    changes = {key: [old.get(key), value] for key, value in new.items() if old.get(key) != value}
    pinned = before.overrides.keys() | after.overrides.keys()
    changes.update(
        {
            f"{name} (in source)": [before.source_values[name], after.source_values[name]]
            for name in OVERRIDABLE_FIELDS
            if name in pinned and before.source_values[name] != after.source_values[name]
        }
    )
    return changes


def in_window(entry_time: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or entry_time >= since) and (until is None or entry_time <= until)


def job_history(
    app: JobCatalogApp, ident: UUID, since: datetime | None = None, until: datetime | None = None
) -> list[HistoryEntry]:
    """Every event of one job in the window, oldest first (folded from the first event)."""
    timeline = JobTimeline()
    entries: list[HistoryEntry] = []
    for event in app.job_events(ident):
        entry = timeline.apply(event)
        if in_window(event.timestamp, since, until):
            entries.append(entry)
    return entries


def catalog_audit(
    app: JobCatalogApp,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    source: str | None = None,
) -> list[HistoryEntry]:
    """Every job and source event in the window across the catalog, in log order.

    Only jobs touched in the window are loaded (at the version just before, from a snapshot when
    there is one), so an audit of last week does not replay years of history.
    """
    timelines: dict[UUID, JobTimeline] = {}
    source_names: dict[UUID, str] = {}
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
            entry = _source_entry(event, entry_source)
        else:
            continue
        if (actor is None or entry["actor"] == actor) and (source is None or entry_source == source):
            entries.append(entry)
    return entries


def _source_entry(event: Source.Event, name: str) -> HistoryEntry:
    """A source event as an audit entry; its own fields are what it set."""
    skip = {"timestamp", "actor", "name"}
    fields = {k: v for k, v in event.__dict__.items() if not k.startswith("originator") and k not in skip}
    return HistoryEntry(
        time=event.timestamp,
        actor=event.actor,
        event=type(event).__name__,
        ref=name,
        version=event.originator_version,
        changes={k: [None, v] for k, v in fields.items()},
    )


def _events_from(app: JobCatalogApp, since: datetime | None) -> Iterator[Aggregate.Event]:
    """Job and source events of the log, starting near ``since`` (found by bisecting positions)."""
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
    for owner in (Job, Source):
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
