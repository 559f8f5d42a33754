"""The eventsourcing Application of jobsync: its methods are the catalog's use cases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from jobsync.domain.discovery import Discovery, Problem
from jobsync.domain.errors import ConflictError, FieldError, JobNotRunnableError
from jobsync.domain.fields import JobFacts
from jobsync.domain.job import Job, job_id
from jobsync.domain.result import MAX_MESSAGE, JobResult, LogEntry
from jobsync.domain.source import Source, source_id
from jobsync.domain.topics import register_moved_topics
from jobsync.projections import CatalogViews, JobRow, catch_up, facts_digest, view_changes, views_for

register_moved_topics()

#: An aggregate is snapshotted every this many events.
SNAPSHOT_INTERVAL = 200
#: How often a use case reloads and re-applies after another writer got there first.
MAX_ATTEMPTS = 5


@dataclass
class SyncSummary:
    """What one sync of one source did, as ``resync`` prints it."""

    source: str
    commit: str
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    uninstalled: list[str] = field(default_factory=list)
    reinstalled: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    up_to_date: bool = False
    result: UUID | None = None

    def counts(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "uninstalled": len(self.uninstalled),
            "reinstalled": len(self.reinstalled),
            "problems": len(self.problems),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "commit": self.commit,
            "added": self.added,
            "changed": self.changed,
            "uninstalled": self.uninstalled,
            "reinstalled": self.reinstalled,
            "problems": [{"file": p.file, "line": p.line, "reason": p.reason} for p in self.problems],
            "result": str(self.result) if self.result else None,
        }

    def log_entries(self) -> list[LogEntry]:
        """What the sync did, as log entries of its result (as Nautobot logs a Git sync)."""
        entries = [
            LogEntry(f"{what} {ref}", "info", "sync", ref)
            for what in ("added", "changed", "reinstalled")
            for ref in getattr(self, what)
        ]
        entries += [LogEntry(f"uninstalled {ref}", "warning", "sync", ref) for ref in self.uninstalled]
        entries += [
            LogEntry(
                f"{p.file}:{p.line}: {p.reason}"[:MAX_MESSAGE],
                "warning",
                "problems",
                f"{p.file}:{p.line}"[:200],
            )
            for p in self.problems
        ]
        if self.up_to_date:
            entries.append(LogEntry(f"already up to date at {self.commit}", "success", "sync"))
        else:
            counts = ", ".join(f"{n} {what}" for what, n in self.counts().items())
            entries.append(LogEntry(f"synced {self.commit}: {counts}", "success", "sync"))
        return entries


class JobCatalogApp(Application[UUID]):
    """The event-sourced catalog: sources and jobs, rebuilt from the log."""

    name = "jobsync"
    #: Long-lived aggregates (a run with 100,000 log entries, a job edited for years) load from a
    #: snapshot plus fewer than SNAPSHOT_INTERVAL events, instead of replaying every event.
    #: Snapshots are taken from the saved aggregate in memory (see save_and_project); the library's
    #: own interval snapshots reload the aggregate from the database first, which costs more.
    is_snapshotting_enabled = True

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self.views: CatalogViews = views_for(self.factory)

    # -- reading -----------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Bring the read models up to the end of the log (read-your-writes for local commands)."""
        return catch_up(self, self.views)

    def save_and_project(self, *aggregates: Job | Source | JobResult) -> None:
        """Save in one transaction, then update the read models.

        When nothing else was appended in between, the rows come straight from the saved
        aggregates instead of decoding the events again; otherwise the usual catch-up runs.
        """
        recordings = self.save(*aggregates)
        if not recordings:
            return
        self._snapshot_if_due(aggregates, recordings)
        first, last = recordings[0].notification.id, recordings[-1].notification.id
        if self.views.position() == first - 1:
            try:
                self.views.apply(
                    view_changes(aggregates, (r.domain_event for r in recordings)), first - 1, last
                )
            except IntegrityError:
                pass  # another process projected these first; the catch-up below finds nothing to do
            else:
                return
        self.catch_up()

    def _snapshot_time(self, stored: StoredEvent) -> datetime:
        """When the snapshotted aggregate last changed (not when the snapshot was taken)."""
        snapshot = self.mapper.to_domain_event(stored)
        return cast("datetime", snapshot.state["_modified_on"])  # type: ignore[attr-defined]

    def _snapshot_if_due(
        self, aggregates: Iterable[Aggregate], recordings: Sequence[Recording[UUID]]
    ) -> None:
        """Snapshot each saved aggregate whose version just crossed a multiple of SNAPSHOT_INTERVAL."""
        if self.snapshots is None:
            return
        saved: dict[UUID, int] = {}
        for recording in recordings:
            event_id = recording.domain_event.originator_id
            saved[event_id] = saved.get(event_id, 0) + 1
        due = [
            type(aggregate).Snapshot.take(aggregate)
            for aggregate in aggregates
            if aggregate.version // SNAPSHOT_INTERVAL
            > (aggregate.version - saved.get(aggregate.id, 0)) // SNAPSHOT_INTERVAL
        ]
        if due:
            self.snapshots.put(due)

    def get_source(self, name: str) -> Source | None:
        try:
            source: Source = self.repository.get(source_id(name))
        except AggregateNotFoundError:
            return None
        return source

    def get_job(self, ident: UUID) -> Job:
        job: Job = self.repository.get(ident)
        return job

    def job_events(self, ident: UUID) -> list[Job.Event]:
        """Every event of one job, oldest first."""
        return cast("list[Job.Event]", list(self.events.get(ident)))

    def job_at(self, ident: UUID, at: datetime) -> Job | None:
        """The job as it was at ``at``: its last snapshot from before then, plus the events up to then.

        Snapshots are taken every SNAPSHOT_INTERVAL events, so at most that many events are folded
        however long the job's history is. A snapshot's own ``_modified_on`` (its last event's time)
        decides, not the moment it was taken.
        """
        job: Job | None = None
        after_version: int | None = None
        until_version: int | None = None
        if self.snapshots is not None:
            # Bisect the stored snapshots (oldest first), decoding only the few it looks at.
            stored = list(self.snapshots.recorder.select_events(ident))
            low, high = 0, len(stored)
            while low < high:
                middle = (low + high) // 2
                if self._snapshot_time(stored[middle]) <= at:
                    low = middle + 1
                else:
                    high = middle
            if low:
                snapshot = self.mapper.to_domain_event(stored[low - 1])
                job = cast("Job", snapshot.mutate(None))  # type: ignore[attr-defined]
                after_version = snapshot.originator_version
            if low < len(stored):  # the next snapshot is already after ``at``: read no further
                until_version = stored[low].originator_version
        for domain_event in cast(
            "list[Job.Event]", self.events.get(ident, gt=after_version, lte=until_version)
        ):
            if domain_event.timestamp > at:
                break
            job = cast("Job", domain_event.mutate(job))
        return job

    # -- sync --------------------------------------------------------------------------------

    def register_source(self, name: str, kind: str, url: str, branch: str | None, actor: str) -> Source:
        """The source named ``name``: existing (its URL checked) or new, not yet saved."""
        existing = self.get_source(name)
        if existing is not None:
            existing.check_same_location(url)
            return existing
        return Source(name=name, kind=kind, url=url, branch=branch, actor=actor)

    def apply_discovery(
        self,
        source: Source,
        commit: str,
        branch: str,
        discovery: Discovery,
        actor: str,
        result_id: UUID | None = None,
    ) -> SyncSummary:
        """Turn what discovery found into events and save them with the source, in one transaction.

        Only jobs whose facts differ from the read model are loaded; if another writer saved
        first, everything is reloaded and re-planned, so nothing is duplicated or lost.
        """
        planned_from = source.last_commit
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                reloaded = self.get_source(source.name)
                source = reloaded or Source(
                    name=source.name, kind=source.kind, url=source.url, branch=source.branch, actor=actor
                )
                if source.last_commit != planned_from:
                    # Another process saved a sync of this source first: its commit may well be
                    # newer than ours, so ours must not be put on top. Its next fetch decides.
                    return SyncSummary(
                        source=source.name, commit=source.last_commit or commit, up_to_date=True
                    )
            self.catch_up()
            summary, touched = self._plan(source, commit, discovery, actor)
            source.record_sync(commit, branch, summary.counts(), actor=actor)
            results = []
            if result_id is not None:
                summary.result = result_id
                entries = summary.log_entries()
                results.append(
                    self.end_sync_result(result_id, entries, "completed", summary.as_dict(), actor)
                )
            try:
                self.save_and_project(source, *touched, *results)
            except IntegrityError:
                continue
            return summary
        raise ConflictError(f"source {source.name!r} kept changing under this sync; try again")

    def _plan(
        self, source: Source, commit: str, discovery: Discovery, actor: str
    ) -> tuple[SyncSummary, list[Job]]:
        summary = SyncSummary(source=source.name, commit=commit, problems=list(discovery.problems))
        rows = {row.key: row for row in self.views.source_rows(source.name)}
        found = {facts.key: facts for facts in discovery.jobs}
        names = self._assign_names(source.name, found, rows, summary.problems)
        touched: list[Job] = []
        for key in sorted(found):
            facts = found[key]
            data = facts.as_event_data()
            data["values"]["name"] = names[key]
            row = rows.get(key)
            if row is None:
                job = Job(
                    source=source.name,
                    module_name=facts.module_name,
                    job_class_name=facts.job_class_name,
                    facts=data,
                    commit=commit,
                    actor=actor,
                )
                summary.added.append(job.ref)
                touched.append(job)
                continue
            if row.installed and not row.deleted and row.digest == facts_digest(data):
                continue
            job = self.get_job(row.id)
            outcome = job.sync_facts(data, commit, actor=actor)
            if outcome == "changed":
                summary.changed.append(job.ref)
            elif outcome == "reinstalled":
                summary.reinstalled.append(job.ref)
            if outcome:
                touched.append(job)
        for key, row in sorted(rows.items()):
            if key in found or not row.installed or row.deleted:
                continue
            if key.rsplit(".", 1)[0] in discovery.unreadable_modules:
                continue
            job = self.get_job(row.id)
            module = key.rsplit(".", 1)[0]
            reason = (
                f"{module} no longer defines or registers {key.rsplit('.', 1)[1]}"
                if module in discovery.modules
                else f"{module} is no longer in the source"
            )
            if job.uninstall(commit, actor=actor, reason=reason):
                summary.uninstalled.append(job.ref)
                touched.append(job)
        return summary, touched

    def _assign_names(
        self,
        source: str,
        found: dict[str, JobFacts],
        rows: dict[str, JobRow],
        problems: list[Problem],
    ) -> dict[str, str]:
        """Give every found job a unique name, as Nautobot does: ``Name``, ``Name (2)``, ``Name (3)``…

        A job keeps the name it already has when that is still free, so names do not shuffle.
        """
        wanted = {key: str(facts.values["name"]) for key, facts in found.items()}
        own_refs = {f"{source}:{key}" for key in rows}
        holders: dict[str, str | None] = dict.fromkeys(
            set(wanted.values()) | {row.source_name for row in rows.values()}
        )
        holders.update(self.views.name_holders(holders))
        # Names this sync may not hand out: held by other jobs, or by this source's jobs it won't rename.
        taken = {name for name, ref in holders.items() if ref is not None and ref not in own_refs}
        for key, row in rows.items():
            if not row.deleted and (key not in found or row.name_override):
                taken.add(row.name)

        def is_free(name: str) -> bool:
            if name not in holders:
                holders[name] = self.views.name_holders([name]).get(name)
            holder = holders[name]
            return name not in taken and (holder is None or holder in own_refs)

        assigned: dict[str, str] = {}
        ordered = sorted(found, key=lambda k: (k not in rows, k))
        for key in ordered:
            base = wanted[key]
            existing = rows.get(key)
            current = existing.source_name if existing is not None else None
            if current is not None and _is_variant(current, base) and is_free(current):
                name = current
            else:
                name = next(n for n in _variants(base) if is_free(n))
            if name != base:
                facts = found[key]
                problems.append(
                    Problem(
                        facts.file, facts.line, f"job name {base!r} is already used; {key} is named {name!r}"
                    )
                )
            taken.add(name)
            assigned[key] = name
        return assigned

    # -- operator actions --------------------------------------------------------------------

    def change_job(self, ident: UUID, action: str, actor: str, *args: Any) -> bool:
        """Run one operator action on a job and save it, retrying if another writer got there first."""

        def change(job: Job) -> bool | None:
            if action == "override" and args[0] == "name":
                self._check_name_free(job, args[1])
            result: bool | None = getattr(job, action)(*args, actor=actor)
            return result

        return self._update(ident, change)

    def _update(self, ident: UUID, change: Callable[[Any], bool | None]) -> bool:
        """Load, change, save; on a version conflict reload and re-apply (bounded), never overwrite."""
        name = str(ident)
        for _ in range(MAX_ATTEMPTS):
            aggregate: Job | Source | JobResult = self.repository.get(ident)
            name = aggregate.ref if isinstance(aggregate, Job) else f"result {ident}"
            if change(aggregate) is False:
                return False
            try:
                self.save_and_project(aggregate)
            except IntegrityError:
                continue
            return True
        raise ConflictError(
            f"{name} kept changing while this change was made ({MAX_ATTEMPTS} tries); try again"
        )

    # -- results -----------------------------------------------------------------------------

    def record_result(self, job_ident: UUID, args: Any, actor: str, scheduled_job: str | None = None) -> UUID:
        """Queue a run of an installed, enabled job; its ref and name are kept as text for audit."""
        job = self.get_job(job_ident)
        if job.deleted or not job.installed:
            raise JobNotRunnableError(f"job {job.ref} is not installed; it cannot run")
        if not job.enabled:
            raise JobNotRunnableError(f"job {job.ref} is disabled; enable it first (jobsync jobs enable)")
        result = JobResult.record(
            job_id=job.id,
            job_ref=job.ref,
            job_name=job.name,
            task="job",
            args=args,
            actor=actor,
            scheduled_job=scheduled_job,
        )
        self.save_and_project(result)
        return result.id

    def start_sync_result(self, source_name: str, actor: str) -> UUID:
        """Record a sync of ``source_name`` as running, before fetching, so it is visible at once."""
        result = JobResult.record(
            job_id=None,
            job_ref=source_name,
            job_name=f"Sync {source_name}",
            task="sync",
            args={},
            actor=actor,
        )
        result.start(actor=actor)
        self.save_and_project(result)
        return result.id

    def change_result(self, ident: UUID, action: str, actor: str, *args: Any) -> None:
        """Start or finish a result (the aggregate refuses moves backwards)."""
        self._update(ident, lambda result: getattr(result, action)(*args, actor=actor))

    def log_entries(self, ident: UUID, entries: Sequence[LogEntry], actor: str) -> None:
        """Append log entries to a result in one transaction (all or none: one bad entry refuses the batch)."""

        def append(result: JobResult) -> None:
            for entry in entries:
                result.log(entry, actor=actor)

        self._update(ident, append)

    def end_sync_result(
        self, ident: UUID, entries: Sequence[LogEntry], status: str, data: Any, actor: str
    ) -> JobResult:
        """Log what a sync did and finish its result; the caller saves it with the sync's events."""
        result: JobResult = self.repository.get(ident)
        for entry in entries:
            result.log(entry, actor=actor)
        result.finish(status, data, actor=actor)
        return result

    def _check_name_free(self, job: Job, name: object) -> None:
        if not isinstance(name, str):
            return
        self.catch_up()
        holder = self.views.name_holders([name]).get(name)
        if holder is not None and holder != job.ref:
            raise FieldError(f"name {name!r} is already used by {holder}")


_SUFFIX = re.compile(r"^(?P<base>.*) \((?P<n>\d+)\)$")


def _is_variant(name: str, base: str) -> bool:
    match = _SUFFIX.match(name)
    return name == base or (match is not None and match["base"] == base)


def _variants(base: str) -> Iterable[str]:
    yield base
    n = 2
    while True:
        yield f"{base} ({n})"
        n += 1


__all__ = ["JobCatalogApp", "SyncSummary", "job_id"]
