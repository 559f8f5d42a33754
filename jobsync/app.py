"""The eventsourcing Application of jobsync: its methods are the catalog's use cases."""

from __future__ import annotations

import platform
import random
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    JSONTranscoder,
    PersistenceError,
    Recording,
    StoredEvent,
    Transcoding,
)

from jobsync.domain.discovery import (
    ERROR,
    NOTE,
    PROBLEM_KINDS,
    WARNING,
    ClassExplanation,
    Discovery,
    ModuleEntry,
    ModuleSummary,
    Problem,
    Registration,
    affected_modules,
    explain_module,
    is_candidate,
    module_entry,
    module_name_for,
    resolve_jobs,
    skip_reason,
    skipped_file,
    summarize_oversized,
)
from jobsync.domain.errors import (
    ConflictError,
    FieldError,
    FileNotInSourceError,
    JobSyncError,
    MassUninstallError,
    ProjectionError,
    ReadModelBehindWarning,
    SourceConflictError,
    SourceNotFoundError,
    SourceReadError,
    SourceRemovedError,
    SourceSuspendedError,
)
from jobsync.domain.fields import validate_field_value
from jobsync.domain.job import Job, job_id
from jobsync.domain.planning import SyncPlan, check_uninstalls, plan_sync
from jobsync.domain.provenance import CommitInfo, Provenance
from jobsync.domain.result import (
    MAX_MESSAGE,
    PLAIN_RUN,
    RUNNING,
    JobResult,
    LogEntry,
    ResultError,
    RunOptions,
    stale_reason,
)
from jobsync.domain.schedule import ScheduledJob
from jobsync.domain.source import Source, source_id
from jobsync.domain.text import unstorable
from jobsync.domain.topics import register_moved_topics
from jobsync.parsing import summarize_files
from jobsync.ports import (
    CatalogReadModel,
    Change,
    KeepRegistration,
    ProcessTable,
    RunningRun,
    SingletonBusyError,
    Snapshot,
    SourceReader,
    SummaryStore,
)
from jobsync.projector import BATCH_SIZE, catch_up, view_changes
from jobsync.schedule_times import Recurrence
from jobsync.spec import SourceSpec
from jobsync.timeline import JobTimeline, state_changes

register_moved_topics()

#: An aggregate is snapshotted every this many events.
SNAPSHOT_INTERVAL = 200
#: How often a use case reloads and re-applies after another writer got there first.
MAX_ATTEMPTS = 5
#: Workers logging into one result race all the time, and each append is small: retried until it
#: lands (the waits alone add up to about a minute), so a worker relaying output never fails on it.
MAX_LOG_ATTEMPTS = 1000
#: The longest wait between two attempts.
MAX_BACKOFF_SECONDS = 0.05
#: A claim looks at this many of the oldest claimable runs at a time.
CLAIM_WINDOW = 16
#: After a lost race a claimer picks at random among the window for this long (seconds): the
#: workers of a busy queue spread over the oldest runs instead of all fighting for the first one.
CLAIM_SPREAD_SECONDS = 5.0
#: A claim that lost this many races in a row gives up (ConflictError): the store is overloaded.
MAX_CLAIM_TRIES = 200
#: File contents a sync holds at once: files are read and parsed in batches of at most this many bytes.
READ_BUDGET = 64 * 1024 * 1024

#: The Python that parses a source decides which syntax is an error (PEP 701 f-strings need 3.12).
PYTHON_VERSION = platform.python_version()

A = TypeVar("A", bound=Aggregate)


#: The level a problem of each kind is logged at in the sync's result.
_LOG_LEVELS = {ERROR: "error", WARNING: "warning", NOTE: "info"}


@dataclass(frozen=True)
class PlannedJob:
    """A job a dry run would change: its event, and each field it would move (``{field: [old, new]}``)."""

    ref: str
    event: str
    changes: dict[str, list[Any]]


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
    #: A dry run's plan (None when the sync was real), and why the real sync would be refused.
    plan: list[PlannedJob] | None = None
    refused: str | None = None

    def counts(self) -> dict[str, int]:
        """How many jobs each way, and how many problems of each kind (``problems``: all of them)."""
        kinds = Counter(p.kind for p in self.problems)
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "uninstalled": len(self.uninstalled),
            "reinstalled": len(self.reinstalled),
            "problems": len(self.problems),
            **{f"{kind}s": kinds[kind] for kind in PROBLEM_KINDS},
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "commit": self.commit,
            "up_to_date": self.up_to_date,
            "added": self.added,
            "changed": self.changed,
            "uninstalled": self.uninstalled,
            "reinstalled": self.reinstalled,
            "problems": [
                {"file": p.file, "line": p.line, "kind": p.kind, "reason": p.reason} for p in self.problems
            ],
            "result": str(self.result) if self.result else None,
            **(
                {
                    "dry_run": True,
                    "plan": [{"ref": j.ref, "event": j.event, "changes": j.changes} for j in self.plan],
                    "refused": self.refused,
                }
                if self.plan is not None
                else {}
            ),
        }

    def log_entries(self) -> list[LogEntry]:
        """What the sync did, as log entries of its result (as Nautobot logs a Git sync)."""
        entries = [
            LogEntry(f"{what} {ref}", "info", "sync", ref)
            for what, refs in (
                ("added", self.added),
                ("changed", self.changed),
                ("reinstalled", self.reinstalled),
            )
            for ref in refs
        ]
        entries += [LogEntry(f"uninstalled {ref}", "warning", "sync", ref) for ref in self.uninstalled]
        entries += [
            LogEntry(
                f"{p.file}:{p.line}: {p.reason}"[:MAX_MESSAGE],
                _LOG_LEVELS[p.kind],
                "problems",
                f"{p.file}:{p.line}"[:200],
            )
            for p in self.problems
        ]
        if self.up_to_date:
            entries.append(LogEntry(f"already up to date at {self.commit}", "success", "sync"))
        else:
            counts = ", ".join(f"{n} {what}" for what, n in self.counts().items() if what != "problems")
            entries.append(LogEntry(f"synced {self.commit}: {counts}", "success", "sync"))
        return entries


@dataclass
class _SourceFiles:
    """A source's summaries at a snapshot, and which modules this sync must decide again.

    ``scope`` None: all of them. ``summaries`` reads the stored ones lazily; ``parsed`` are new
    (every file, when ``based_on`` -- the stored commit they were diffed from -- is None); ``changed`` are the candidate files that changed, ``touched``
    every path that did (links and other files too), ``links`` the symbolic links to report;
    ``registration`` (with what it looked at in the changed modules) and ``earlier_problems`` are
    what the previous sync left in the store.
    """

    entries: dict[str, ModuleEntry]
    summaries: Mapping[str, ModuleSummary]
    parsed: list[tuple[ModuleEntry, ModuleSummary]]
    based_on: str | None
    removed: list[str]
    changed: frozenset[str]
    changed_modules: frozenset[str]
    touched: frozenset[str]
    links: list[str]
    scope: frozenset[str] | None
    registration: Registration | None
    earlier_problems: tuple[Problem, ...]

    def registration_to_store(self, discovery: Discovery) -> Registration | KeepRegistration | None:
        """What the store keeps of the registration: the new one, or the one it has when reused."""
        reused = self.registration is not None and discovery.registration is self.registration
        return KeepRegistration() if reused else discovery.registration

    def reexamined(self, decided: frozenset[str] | None) -> frozenset[str]:
        """The files whose problems this sync reports afresh: the changed ones and those of ``decided``."""
        return self.touched | {
            p for p, e in self.entries.items() if decided is None or e.module_name in decided
        }


class _History:
    """The provenance one sync asks of its snapshot: walked once for the paths asked, again only
    when a re-plan asks about more of them."""

    def __init__(self, snapshot: Snapshot, since: str | None) -> None:
        self.snapshot = snapshot
        self.since = since
        self._asked: set[str] = set()
        self._answer: Provenance | None = None

    def provenance(self, paths: Iterable[str]) -> Provenance:
        wanted = set(paths)
        if self._answer is None or not wanted <= self._asked:
            self._asked |= wanted
            self._answer = self.snapshot.provenance(self.since, sorted(self._asked))
        return self._answer


@dataclass
class _PlannedChange:
    """A job a sync changes: what the plan asked of it, what came of it, and its unsaved events."""

    job: Job
    asked: tuple[Any, ...]
    outcome: str
    events: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.events = list(self.job.pending_events)

    def restored(self) -> _PlannedChange:
        """The same change, its events pending again after a save that lost a race collected them."""
        if not self.job.pending_events:
            self.job.pending_events.extend(self.events)
        return self


class JobCatalogApp(Application[UUID]):
    """The event-sourced catalog: sources, jobs and results, rebuilt from the log.

    ``read_model`` makes the read models on the application's own database (the store adapter
    picks the SQL dialect); ``summaries`` keeps per-file discovery summaries between syncs.
    """

    name = "jobsync"
    #: Long-lived aggregates (a run with 100,000 log entries, a job edited for years) load from a
    #: snapshot plus fewer than SNAPSHOT_INTERVAL events, instead of replaying every event.
    #: Snapshots are taken from the saved aggregate in memory (see save_and_project); the library's
    #: own interval snapshots reload the aggregate from the database first, which costs more.
    is_snapshotting_enabled = True

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        read_model: Callable[[InfrastructureFactory[Any]], CatalogReadModel],
        summaries: SummaryStore,
        processes: ProcessTable,
    ) -> None:
        super().__init__(env)
        self.views = read_model(self.factory)
        self.summaries = summaries
        self.processes = processes
        self._claims_contended_until = 0.0

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(_CommitInfoAsDict())

    # -- the sync use case -------------------------------------------------------------------------

    def resync_source(
        self,
        spec: SourceSpec,
        reader: SourceReader,
        actor: str,
        allow_mass_uninstall: bool = False,
        force: bool = False,
    ) -> SyncSummary:
        """Sync one source now, recorded as a result of the built-in sync task even when nothing moved.

        ``allow_mass_uninstall`` lets this one sync uninstall more than the source's limit allows;
        ``force`` syncs a suspended source once (it stays suspended).
        """
        source = self._source_for(spec, actor)  # a name taken by another location is refused before anything
        if source.suspended and not force:
            raise SourceSuspendedError(spec.name)
        self._finish_interrupted_syncs(spec.name, actor)
        result_id = self._start_sync_result(spec.name, actor)
        with self._recording_failure(spec.name, result_id, actor):
            snapshot = reader.snapshot(spec.branch)
            return self._sync(spec, source, snapshot, result_id, actor, allow_mass_uninstall)

    def poll_source(
        self, spec: SourceSpec, reader: SourceReader, actor: str, readd: bool = False
    ) -> SyncSummary:
        """The daemon's periodic sync: a healthy source that has not moved records nothing at all.

        A suspended source is not read (SourceSuspendedError), nor a removed one (SourceRemovedError)
        unless ``readd`` (the config, applied at a start or reload, still names it): the daemon skips them.
        """
        known = self.get_source(spec.name)
        if known is not None and known.removed and not readd:
            raise SourceRemovedError(spec.name)
        source = self._source_for(spec, actor)
        if source.suspended:
            raise SourceSuspendedError(spec.name)
        try:
            snapshot = reader.snapshot(spec.branch)
        except Exception:
            with self._recording_failure(spec.name, self._start_sync_result(spec.name, actor), actor):
                raise
        self._finish_interrupted_syncs(spec.name, actor)
        moved = source.pending_events  # relocated by the config: that is news to save
        if source.last_commit == snapshot.commit and source.failure is None and not moved:
            return SyncSummary(source=spec.name, commit=snapshot.commit, up_to_date=True)
        result_id = self._start_sync_result(spec.name, actor)
        with self._recording_failure(spec.name, result_id, actor):
            return self._sync(spec, source, snapshot, result_id, actor)

    def _sync(
        self,
        spec: SourceSpec,
        source: Source,
        snapshot: Snapshot,
        result_id: UUID,
        actor: str,
        allow_mass_uninstall: bool = False,
    ) -> SyncSummary:
        """From a fetched snapshot to saved events: the one path every sync takes (docs/design.md §5).

        Parse only the files that changed, decide only the modules they can affect, plan only
        those modules' jobs, then save the source, the jobs and the finished result atomically;
        if another writer saved first, re-plan (bounded), never overwrite. A plan that uninstalls
        more of the source than its limit allows is refused before anything is applied.
        """
        if source.last_commit == snapshot.commit:
            summary = SyncSummary(source=spec.name, commit=snapshot.commit, up_to_date=True, result=result_id)
            if source.failure is not None:  # reachable again: say so, even though nothing moved
                self._record_sync(source, snapshot, summary, actor, snapshot.provenance(None, ()))
            self.save_and_project(source, self._finished_sync_result(result_id, summary, actor))
            return summary
        planned_from = source.last_commit
        files, discovery, found = self._discover(spec, snapshot, planned_from)
        unsaved: dict[UUID, _PlannedChange] = {}
        history = _History(snapshot, planned_from)
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                source = self._source_for(spec, actor)
                if source.last_commit != planned_from:
                    # Another process saved a sync of this source first: its commit may well be newer
                    # than ours, so ours must not be put on top. Its next fetch decides.
                    summary = SyncSummary(source=spec.name, commit=source.last_commit or snapshot.commit)
                    summary.up_to_date, summary.result = True, result_id
                    self.save_and_project(self._finished_sync_result(result_id, summary, actor))
                    return summary
            self.catch_up()
            planned_at = self.views.position()
            summary, changes, refusal = self._plan(spec, source, discovery, found, actor, unsaved, history)
            if refusal is not None and not allow_mass_uninstall:
                raise refusal
            summary.result = result_id
            self._record_sync(source, snapshot, summary, actor, history.provenance(()))
            jobs = [change.job for change in changes]
            try:
                self.save_and_project(source, *jobs, self._finished_sync_result(result_id, summary, actor))
            except IntegrityError:
                # Lost a race (an operator's edit, a name taken): only the jobs changed since the
                # plan are loaded again; the others keep the changes just made, to be saved as they are.
                moved = self._changed_since(planned_at)
                unsaved = {
                    change.job.id: change.restored() for change in changes if change.job.id not in moved
                }
                continue
            self.summaries.save(
                spec.name,
                spec.filters,
                snapshot.commit,
                files.parsed,
                files.removed,
                summary.problems,
                files.registration_to_store(discovery),
                based_on=files.based_on,
            )
            return summary
        raise ConflictError(f"source {spec.name!r} kept changing under this sync; try again")

    def _discover(
        self, spec: SourceSpec, snapshot: Snapshot, synced: str | None
    ) -> tuple[_SourceFiles, Discovery, list[Problem]]:
        """The jobs of ``snapshot``, decided again only where files changed since ``synced``, and the problems."""
        files = self._summaries_at(spec, snapshot, synced)
        discovery = resolve_jobs(
            files.summaries,
            entries=files.entries,
            scope=files.scope,
            changed=files.changed_modules,
            registration=files.registration,
        )
        return files, discovery, _merged_problems(discovery, files, spec)

    def preview_source(
        self, spec: SourceSpec, reader: SourceReader, actor: str, allow_mass_uninstall: bool = False
    ) -> SyncSummary:
        """What a sync would do now (``resync --dry-run``): fetched, discovered and planned as a sync
        is, but nothing saved: no event, no result, no read-model row, no summary.

        The summary's ``plan`` says what each job event would change; ``refused`` why the sync would
        be refused (a mass uninstall), rather than raising: the plan is what the caller asked to see.
        """
        source = self._source_for(spec, actor)
        snapshot = reader.snapshot(spec.branch)
        if source.last_commit == snapshot.commit:
            return SyncSummary(source=spec.name, commit=snapshot.commit, up_to_date=True, plan=[])
        _, discovery, found = self._discover(spec, snapshot, source.last_commit)
        self.catch_up_quietly()
        history = _History(snapshot, source.last_commit)
        summary, changes, refusal = self._plan(spec, source, discovery, found, actor, {}, history)
        summary.plan = [self._previewed(change.job) for change in changes]
        summary.refused = str(refusal) if refusal is not None and not allow_mass_uninstall else None
        return summary

    def _plan(
        self,
        spec: SourceSpec,
        source: Source,
        discovery: Discovery,
        found: list[Problem],
        actor: str,
        unsaved: Mapping[UUID, _PlannedChange],
        history: _History,
    ) -> tuple[SyncSummary, list[_PlannedChange], MassUninstallError | None]:
        """Compare discovery with the catalog and make the job events, unsaved: what a sync saves and
        a dry run shows. Also says why the source's uninstall limit would refuse it (None: it would not)."""
        rows = self.views.source_rows(spec.name, discovery.scope)
        plan = plan_sync(spec.name, discovery, rows, self.views.name_holders)
        refusal = None
        try:
            check_uninstalls(
                spec.name, len(plan.uninstalled), self.views.installed_count(spec.name), spec.max_uninstall
            )
        except MassUninstallError as exc:
            refusal = exc
        summary, changes = self._apply_plan(source, plan, history.snapshot.commit, actor, unsaved, history)
        summary.problems = sorted([*found, *plan.problems], key=_problem_order)
        return summary, changes, refusal

    def _previewed(self, job: Job) -> PlannedJob:
        """One job's unsaved events, applied to the job in memory: what they would change, field by field."""
        event = type(job.pending_events[-1]).__name__
        if job.version == len(job.pending_events):  # new: there is no saved state to compare with
            return PlannedJob(
                ref=job.ref,
                event=event,
                changes=JobTimeline().apply(cast("Job.Event", job.pending_events[0]))["changes"],
            )
        return PlannedJob(ref=job.ref, event=event, changes=state_changes(self.get_job(job.id), job))

    # -- explaining one file ----------------------------------------------------------------------

    def explain_file(self, spec: SourceSpec, snapshot: Snapshot, path: str) -> list[ClassExplanation]:
        """Why each class of ``path`` is or is not a job at ``snapshot``, decided as a sync decides it.

        The stored summaries are reused (only files that differ from them are parsed) and nothing is
        saved: explaining is a read. A file the source's rules skip gets that answer, not a resolution.
        """
        skipped = skip_reason(path, spec.include, spec.exclude)
        if skipped is not None:
            if path not in {entry.path for entry in snapshot.files()}:
                raise FileNotInSourceError(spec.name, path, _at(spec, snapshot))
            return [skipped_file(skipped)]
        files = self._summaries_at(spec, snapshot, None)
        if path not in files.entries:
            raise FileNotInSourceError(spec.name, path, _at(spec, snapshot))
        return explain_module(
            path,
            files.summaries,
            files.entries,
            registration=files.registration,
            changed=files.changed_modules,
        )

    def _record_sync(
        self, source: Source, snapshot: Snapshot, summary: SyncSummary, actor: str, provenance: Provenance
    ) -> None:
        host, _ = self.processes.current()
        source.record_sync(
            snapshot.commit, snapshot.branch, summary.counts(), actor, host, PYTHON_VERSION, provenance.head
        )

    def _source_for(self, spec: SourceSpec, actor: str) -> Source:
        """The source as saved (a configured one moved to the config's location), or a new one."""
        for what, text in (("name", spec.name), ("location", spec.location), ("branch", spec.branch or "")):
            problem = unstorable(text)
            if problem is not None:
                raise SourceConflictError(f"the source {what} holds {problem}, which cannot be stored")
        source = self.get_source(spec.name)
        if source is None:
            return Source(name=spec.name, kind=spec.kind, url=spec.location, branch=spec.branch, actor=actor)
        if source.removed:  # synced again by name: it comes back afresh (a name a rename retired cannot)
            source.register_again(spec.kind, spec.location, spec.branch, actor=actor)
            return source
        if spec.configured and spec.location != source.url:
            source.relocate(spec.location, spec.branch, actor=actor)
        source.check_same_location(spec.location)
        return source

    def _summaries_at(self, spec: SourceSpec, snapshot: Snapshot, synced: str | None) -> _SourceFiles:
        """Bring the stored summaries to ``snapshot``, parsing only changed files; say what to decide again.

        Only when the catalog and the summaries stand at the same commit can the changes between
        them and the snapshot narrow what is decided; otherwise everything is.
        """
        index = self.summaries.index(spec.name, spec.filters)
        known = {path: entry.sha for path, entry in index.entries.items()} if index is not None else {}
        changes = snapshot.changes_since(index.commit, known) if index is not None else None
        base = index if changes is not None else None  # what this sync builds on; None: read it all
        if changes is None:
            listed = [Change(f.path, f.sha, size=f.size) for f in snapshot.files()]
            links = snapshot.links()
        else:
            listed, links = changes, [c.path for c in changes if c.link]
        wanted = [c for c in listed if is_candidate(c.path, spec.include, spec.exclude)]
        # A file whose size the reader knows is over the limit is summarised from its size, unread.
        oversized = {c.path: summarize_oversized(c.path, c.size) for c in wanted if c.size is not None}
        to_parse = [c for c in wanted if c.sha is not None and oversized.get(c.path) is None]
        parsed = [
            (module_entry(summary, c.sha), summary)
            for batch in _read_batches(to_parse)
            for c, summary in zip(batch, _summarize_batch(snapshot, batch), strict=True)
            if c.sha is not None
        ]
        parsed += [
            (module_entry(summary, c.sha), summary)
            for c in wanted
            if c.sha is not None and (summary := oversized.get(c.path)) is not None
        ]
        entries = dict(base.entries) if base is not None else {}
        old = {c.path: entries.pop(c.path) for c in wanted if c.path in entries}
        entries.update((entry.path, entry) for entry, _ in parsed)
        changed_paths = frozenset(c.path for c in wanted)
        changed_modules = frozenset(module_name_for(path) for path in changed_paths)
        scope = None
        if base is not None and synced == base.commit:
            scope = affected_modules(entries, old, changed_paths)
        registration = None
        if base is not None and base.registration is not None:
            # What it looked at is read for the changed modules only: elsewhere nothing moved.
            facts = self.summaries.registration_facts(spec.name, changed_modules)
            registration = None if facts is None else replace(base.registration, looked_at=facts)
        return _SourceFiles(
            entries=entries,
            summaries=_StoredSummaries(
                {entry.path: summary for entry, summary in parsed},
                entries,
                spec.name,
                self.summaries,
                snapshot,
            ),
            parsed=parsed,
            based_on=base.commit if base is not None else None,
            removed=[c.path for c in wanted if c.sha is None],
            changed=changed_paths,
            changed_modules=changed_modules,
            touched=frozenset(c.path for c in listed),
            links=links,
            scope=scope,
            registration=registration,
            earlier_problems=base.problems if base is not None else (),
        )

    def _apply_plan(
        self,
        source: Source,
        plan: SyncPlan,
        commit: str,
        actor: str,
        unsaved: Mapping[UUID, _PlannedChange],
        history: _History,
    ) -> tuple[SyncSummary, list[_PlannedChange]]:
        """The plan as job events, not yet saved; each job decides what a change means for it.

        ``unsaved`` holds the jobs of an attempt that lost a race and have not changed since: when
        the new plan asks the same of one, its changes are reused instead of loading it again.
        Each event carries the commit that last changed its job's file (``history``, one walk for all).
        """
        summary = SyncSummary(source=source.name, commit=commit)
        changes: list[_PlannedChange] = []
        leaving: list[tuple[str, Job | _PlannedChange]] = []
        for ident, reason in plan.uninstalled:
            change = unsaved.get(ident)
            reused = change is not None and change.asked == ("uninstall", reason)
            leaving.append((reason, change if change is not None and reused else self.get_job(ident)))
        provenance = history.provenance(
            {str(new.facts["file"]) for new in plan.new}
            | {str(facts["file"]) for _, facts in plan.refreshed}
            | {job.file for _, job in leaving if isinstance(job, Job)}
        )
        for new in plan.new:
            job = Job(
                source=source.name,
                module_name=new.module_name,
                job_class_name=new.job_class_name,
                facts=new.facts,
                commit=commit,
                actor=actor,
                origin=provenance.of(str(new.facts["file"])),
            )
            summary.added.append(job.ref)
            changes.append(_PlannedChange(job, ("new",), "added"))
        for ident, facts in plan.refreshed:
            change = unsaved.get(ident)
            if change is None or change.asked != ("refresh", facts):
                job = self.get_job(ident)
                outcome = job.sync_facts(facts, commit, actor=actor, origin=provenance.of(str(facts["file"])))
                change = _PlannedChange(job, ("refresh", facts), outcome) if outcome is not None else None
            if change is not None:
                (summary.reinstalled if change.outcome == "reinstalled" else summary.changed).append(
                    change.job.ref
                )
                changes.append(change)
        for reason, leaver in leaving:
            if isinstance(leaver, Job):
                origin = provenance.of(leaver.file)
                change = (
                    _PlannedChange(leaver, ("uninstall", reason), "uninstalled")
                    if leaver.uninstall(commit, actor=actor, reason=reason, origin=origin)
                    else None
                )
            else:
                change = leaver
            if change is not None:
                summary.uninstalled.append(change.job.ref)
                changes.append(change)
        for refs in (summary.added, summary.changed, summary.reinstalled, summary.uninstalled):
            refs.sort()
        return summary, changes

    def _changed_since(self, position: int) -> set[UUID]:
        """The aggregates with events after ``position`` in the log."""
        moved: set[UUID] = set()
        while True:
            notifications = self.recorder.select_notifications(
                start=position, limit=BATCH_SIZE, inclusive_of_start=False
            )
            if not notifications:
                return moved
            moved.update(UUID(str(n.originator_id)) for n in notifications)
            position = notifications[-1].id

    @contextmanager
    def _recording_failure(self, name: str, result_id: UUID, actor: str) -> Iterator[None]:
        """A sync that fails finishes its result with the reason; a known source remembers why."""
        try:
            yield
        except JobSyncError as exc:
            self._end_failed_sync(result_id, "failed", str(exc), actor)
            reason = (
                exc.reason if isinstance(exc, SourceReadError) else type(exc).__name__.removesuffix("Error")
            )
            # A refused mass uninstall is no fault of the source: only its result says so.
            source = None if isinstance(exc, MassUninstallError) else self.get_source(name)
            if source is not None and source.record_failure(reason, str(exc), actor=actor):
                with suppress(Exception):  # another writer, or the store itself failing, must not hide exc
                    self.save_and_project(source)
            raise
        except Exception as exc:
            self._end_failed_sync(result_id, "errored", f"{type(exc).__name__}: {exc}", actor)
            raise

    def _finish_interrupted_syncs(self, source_name: str, actor: str) -> None:
        """A sync result still running whose process has ended was interrupted: say so, as errored."""
        self.catch_up()
        for ident, args in self.views.running_syncs(source_name):
            runner = args if isinstance(args, dict) else {}
            host, pid = runner.get("host"), runner.get("pid")
            if isinstance(host, str) and isinstance(pid, int) and self.processes.gone(host, pid):
                self._end_failed_sync(
                    ident, "errored", f"interrupted: process {pid} on {host} ended mid-sync", actor
                )

    def _start_sync_result(self, source_name: str, actor: str) -> UUID:
        """Record a sync of ``source_name`` as running, before fetching, so it is visible at once.

        Its args say which process runs it, so a sync of a process that dies is found and ended.
        """
        host, pid = self.processes.current()
        result = JobResult.record(
            job_id=None,
            job_ref=source_name,
            job_name=f"Sync {source_name}",
            task="sync",
            args={"host": host, "pid": pid},
            actor=actor,
        )
        result.start(actor=actor)
        self.save_and_project(result)
        return result.id

    def _finished_sync_result(self, ident: UUID, summary: SyncSummary, actor: str) -> JobResult:
        """The sync's result with what it did logged and its status completed; saved by the caller."""
        result: JobResult = self.repository.get(ident)
        for entry in summary.log_entries():
            result.log(entry, actor=actor)
        result.finish("completed", summary.as_dict(), actor=actor)
        return result

    def _end_failed_sync(self, ident: UUID, status: str, reason: str, actor: str) -> None:
        """Finish a sync result that saved nothing; a failure here must not hide the original error."""
        entry = LogEntry(reason[:MAX_MESSAGE], "failure" if status == "failed" else "error", "sync")
        with suppress(Exception):  # the store itself may be what failed
            result: JobResult = self.repository.get(ident)
            result.log(entry, actor=actor)
            result.finish(status, {"error": reason}, actor=actor)
            self.save_and_project(result)

    # -- the source life-cycle (operator use cases) ----------------------------------------------

    def suspend_source(self, name: str, actor: str) -> bool:
        """Stop syncing a source (daemon, webhooks, plain resync); False when it already was suspended."""
        return self._change_source(name, lambda source: source.suspend(actor=actor))

    def resume_source(self, name: str, actor: str) -> bool:
        """Let a suspended source sync again; False when it was not suspended."""
        return self._change_source(name, lambda source: source.resume(actor=actor))

    def remove_source(self, name: str, actor: str, uninstall_jobs: bool = False) -> list[str]:
        """Remove a source without installed jobs; with ``uninstall_jobs`` uninstall them first, in
        the same save (the events a sync makes when jobs vanish). Returns the refs uninstalled."""
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            source = self._present_source(name)
            self.catch_up()
            leaving = [row.id for row in self.views.source_rows(name) if row.installed and not row.deleted]
            jobs = [self.get_job(ident) for ident in leaving] if uninstall_jobs else []
            commit = source.last_commit or ""
            uninstalled = [
                job for job in jobs if job.uninstall(commit, actor=actor, reason="its source was removed")
            ]
            source.remove(len(leaving) - len(uninstalled), actor=actor)
            try:
                self.save_and_project(source, *uninstalled)
            except IntegrityError:
                continue
            return sorted(job.ref for job in uninstalled)
        raise ConflictError(
            f"source {name!r} kept changing while it was removed ({MAX_ATTEMPTS} tries); try again"
        )

    def rename_source(self, old: str, new: str, actor: str) -> list[str]:
        """Give a source a new name; its jobs follow in the same save (their ids, so their old refs,
        stay). Returns the new refs of its jobs.

        Refused when ``new`` is taken: by a source, by jobs of a removed source, or as a name an
        earlier rename retired -- unless that rename led to this very source (a rename back).
        """
        problem = unstorable(new)
        if problem is not None:
            raise SourceConflictError(f"the new source name holds {problem}, which cannot be stored")
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            source = self._present_source(old)
            successor = self._successor_for(new, source, actor)
            self.catch_up()
            jobs = [self.get_job(row.id) for row in self.views.source_rows(old)]
            source.rename(new, actor=actor)
            successor.inherit(source, actor=actor)
            moved = [job for job in jobs if job.follow_source_rename(new, actor=actor)]
            try:
                self.save_and_project(source, successor, *moved)
            except IntegrityError:
                continue
            return sorted(job.ref for job in moved if not job.deleted)
        raise ConflictError(
            f"source {old!r} kept changing while it was renamed ({MAX_ATTEMPTS} tries); try again"
        )

    def _successor_for(self, new: str, renamed: Source, actor: str) -> Source:
        """The Source aggregate that will carry ``old``'s new name ``new``: a new one, or a removed one."""
        old = renamed.name
        taken = SourceConflictError(f"source name {new!r} is taken; choose another")
        existing = self.get_source(new)
        if existing is not None and not existing.removed:
            raise taken
        self.catch_up()
        if self.views.source_rows(new):  # a removed source's jobs keep their refs: two jobs may not share one
            raise taken
        if existing is None:
            return Source(name=new, kind=renamed.kind, url=renamed.url, branch=renamed.branch, actor=actor)
        hop: Source | None = existing
        seen = {new}
        while hop is not None and hop.renamed_to is not None and hop.renamed_to not in seen:
            seen.add(hop.renamed_to)
            if hop.renamed_to == old:  # a rename back: its old refs already name this source's jobs
                return existing
            hop = self.get_source(hop.renamed_to)
        if existing.renamed_to is not None:
            raise SourceConflictError(
                f"source name {new!r} was renamed to {existing.renamed_to!r} and its old job refs still "
                "name that source's jobs; choose another name"
            )
        return existing

    def _present_source(self, name: str) -> Source:
        """A source that is not removed, or SourceNotFoundError."""
        source = self.get_source(name)
        if source is None or source.removed:
            raise SourceNotFoundError(name, known=None)
        return source

    def _change_source(self, name: str, change: Callable[[Source], bool]) -> bool:
        """Load, change, save a source; on a version conflict reload and re-apply (bounded)."""
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            source = self._present_source(name)
            if not change(source):
                return False
            try:
                self.save_and_project(source)
            except IntegrityError:
                continue
            return True
        raise ConflictError(f"source {name!r} kept changing meanwhile ({MAX_ATTEMPTS} tries); try again")

    # -- operator use cases ------------------------------------------------------------------------

    def override_field(self, ident: UUID, field_name: str, value: object, actor: str) -> bool:
        """Pin a job's field to a validated value (a name must be free); False when it already was."""

        checked = validate_field_value(field_name, value)  # before the name is looked up in the views

        def change(job: Job) -> bool:
            if field_name == "name" and isinstance(checked, str):
                self._check_name_free(job, checked)
            return job.override(field_name, checked, actor=actor)

        return self._change(ident, Job, change)

    def clear_override(self, ident: UUID, field_name: str, actor: str) -> bool:
        """Let a job's field follow its current source value again; False when it was not overridden."""
        return self._change(ident, Job, lambda job: job.clear_override(field_name, actor=actor))

    def enable_job(self, ident: UUID, actor: str) -> bool:
        """Allow a job to run; False when it already could."""
        return self._change(ident, Job, lambda job: job.enable(actor=actor))

    def disable_job(self, ident: UUID, actor: str) -> bool:
        """Stop a job from running; False when it already was stopped."""
        return self._change(ident, Job, lambda job: job.disable(actor=actor))

    def delete_job(self, ident: UUID, actor: str, schedules: Sequence[UUID] = ()) -> bool:
        """Delete an uninstalled job (its history and results stay); its ``schedules`` stay, disabled,
        in the same save (docs/design.md §3 rule 11)."""
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            job = self.get_job(ident)
            job.delete(actor=actor)
            found = [self.get_schedule(schedule) for schedule in schedules]
            stopped = [schedule for schedule in found if not schedule.deleted and schedule.disable(actor)]
            try:
                self.save_and_project(job, *stopped)
            except IntegrityError:
                continue
            return True
        raise ConflictError(f"{job.ref} kept changing while it was deleted ({MAX_ATTEMPTS} tries); try again")

    def record_result(
        self, job_ident: UUID, args: Any, actor: str, options: RunOptions = PLAIN_RUN
    ) -> JobResult:
        """Queue a run of a job that may run; its ref and name are kept as text for audit."""
        result = self.get_job(job_ident).record_run(args=args, actor=actor, options=options)
        self.save_and_project(result)
        return result

    # -- schedules ---------------------------------------------------------------------------------

    def add_schedule(
        self,
        job_ident: UUID,
        *,
        name: str,
        args: Any,
        queue: str | None,
        recurrence: Recurrence,
        now: datetime,
        actor: str,
    ) -> UUID:
        """Schedule runs of a job that may be scheduled; the first due time is at or after ``now``."""
        schedule = ScheduledJob.create(
            name=name,
            job=self.get_job(job_ident),
            args=args,
            queue=queue,
            interval=recurrence.interval,
            crontab=recurrence.crontab,
            start_time=recurrence.start,
            time_zone=recurrence.time_zone,
            next_run=recurrence.first_due(now),
            actor=actor,
        )
        self.save_and_project(schedule)
        return schedule.id

    def change_schedule(self, ident: UUID, change: Callable[[ScheduledJob], bool]) -> bool:
        """Approve, enable, disable or delete a schedule; False when nothing changed."""
        return self._change(ident, ScheduledJob, change)

    def get_schedule(self, ident: UUID) -> ScheduledJob:
        schedule: ScheduledJob = self.repository.get(ident)
        return schedule

    def schedule_job(self, schedule: ScheduledJob) -> Job | None:
        """The schedule's job, None when it is gone from the log (never, unless the log was cut)."""
        try:
            return self.get_job(schedule.job_id)
        except AggregateNotFoundError:
            return None

    def fire_schedule(self, ident: UUID, now: datetime, actor: str) -> UUID | None:
        """Record the run of a due schedule and its ScheduleFired event in one save; the result's id.

        The result id is ``uuid5(schedule id, due time)``: a second process firing the same due
        time saves the same ids, loses on the versions (IntegrityError), reloads and finds the
        schedule moved on. None when nothing is due (or the schedule is blocked, or another
        process fired it first). Due times missed meanwhile fire once: the next run is after now.
        """
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            schedule = self.get_schedule(ident)
            due = schedule.next_run
            job = self.schedule_job(schedule)
            if due is None or due > now or job is None or schedule.blocked(job) is not None:
                return None
            recurrence = Recurrence(
                schedule.interval, schedule.start_time, schedule.time_zone, schedule.crontab
            )
            result = job.record_run(
                schedule.args,
                actor=actor,
                options=RunOptions(
                    scheduled_job=str(schedule.id),
                    queue=schedule.queue,
                    result_id=uuid5(schedule.id, due.isoformat()),
                ),
            )
            schedule.fire(job, now, recurrence.after(max(due, now)), result.id, actor=actor)
            try:
                self.save_and_project(schedule, result)
            except IntegrityError:
                continue
            return result.id
        raise ConflictError(f"schedule {ident} kept changing while it was fired ({MAX_ATTEMPTS} tries)")

    def start_result(self, ident: UUID, actor: str) -> None:
        """pending -> running."""

        def start(result: JobResult) -> bool:
            result.start(actor=actor)
            return True

        self._change(ident, JobResult, start)

    def finish_result(self, ident: UUID, status: str, data: Any, actor: str) -> None:
        """End a run with a terminal status and its JSON output."""

        def finish(result: JobResult) -> bool:
            result.finish(status, data, actor=actor)
            return True

        self._change(ident, JobResult, finish)

    def claim_result(self, queue: str, worker: str, actor: str) -> JobResult | None:
        """Take the oldest pending run of ``queue`` for ``worker`` (now running); None when there is none.

        Atomic across processes and hosts: the versioned save of a run another claimer took first
        fails, and this one moves on. The candidates come from the results view, which each claim
        updates in its own transaction, so a taken run is not offered again.
        """
        skip: set[str] = set()
        blocked: set[str] = set()
        for _ in range(MAX_CLAIM_TRIES):
            candidates = self.views.claimable(queue, CLAIM_WINDOW, skip, blocked)
            if not candidates:
                return None
            # Oldest first; while racing other claimers a random one of the window, or they would
            # all fight over the same oldest run again and again.
            contended = time.monotonic() < self._claims_contended_until
            candidate = random.choice(candidates) if contended else candidates[0]
            if candidate.exclusive and candidate.busy and candidate.job_id is not None:
                blocked.add(candidate.job_id)  # a singleton job already running (docs/design.md §3 rule 12)
                continue
            result: JobResult = self.repository.get(candidate.id)
            try:
                result.claim(worker, candidate.exclusive, actor=actor)
                self.save_and_project(result)
            except SingletonBusyError:
                blocked.add(str(candidate.job_id))
            except (IntegrityError, ResultError):  # another claimer (or a start) got there first
                skip.add(str(candidate.id))
                self._claims_contended_until = time.monotonic() + CLAIM_SPREAD_SECONDS
            else:
                return result
        raise ConflictError(f"no claim on queue {queue!r} held after {MAX_CLAIM_TRIES} tries; try again")

    def heartbeat_result(self, ident: UUID, actor: str) -> None:
        """A running result's worker is alive."""

        def beat(result: JobResult) -> bool:
            result.heartbeat(actor=actor)
            return True

        self._change(ident, JobResult, beat, attempts=MAX_LOG_ATTEMPTS)

    def reap_stale_runs(self, timeout: float, now: datetime, actor: str) -> list[tuple[UUID, str]]:
        """End as errored each running job run that went quiet or ran past its time limit (rule 12).

        Each is re-checked on the run as saved: a heartbeat or log entry that came meanwhile keeps
        it alive, and a run another daemon reaped first is left alone (its versioned save won).
        """
        reaped = []
        for run in self.views.running_runs():
            if stale_reason(run.started, run.last_seen, run.time_limit, now, timeout) is None:
                continue
            why: list[str] = []

            def reap(result: JobResult, run: RunningRun = run, why: list[str] = why) -> bool:
                if result.status != RUNNING:
                    return False
                reason = stale_reason(run.started, result.modified_on, run.time_limit, now, timeout)
                if reason is None:
                    return False
                result.log(LogEntry(reason, "error", "jobsync"), actor=actor)
                result.finish("errored", {"error": reason}, actor=actor)
                why[:] = [reason]
                return True

            with suppress(ConflictError):  # it kept changing: alive, or reaped by another; next round
                if self._change(run.id, JobResult, reap):
                    reaped.append((run.id, why[0]))
        return reaped

    def append_logs(self, ident: UUID, entries: Sequence[LogEntry], actor: str) -> None:
        """Append log entries in one transaction (all or none: one bad entry refuses the batch)."""

        def append(result: JobResult) -> bool:
            for entry in entries:
                result.log(entry, actor=actor)
            return True

        self._change(ident, JobResult, append, attempts=MAX_LOG_ATTEMPTS)

    def _change(
        self, ident: UUID, kind: type[A], change: Callable[[A], bool], attempts: int = MAX_ATTEMPTS
    ) -> bool:
        """Load, change, save; on a version conflict reload and re-apply (bounded), never overwrite.

        Between attempts a short random wait (growing, capped) lets racing writers take turns.
        """
        for attempt in range(attempts):
            if attempt:
                time.sleep(random.uniform(0, min(MAX_BACKOFF_SECONDS, 0.002 * 2**attempt)))
            aggregate: Aggregate = self.repository.get(ident)
            if not isinstance(aggregate, kind):
                raise JobSyncError(f"{ident} is not a {kind.__name__}")
            if not change(aggregate):
                return False
            try:
                self.save_and_project(aggregate)
            except IntegrityError:
                continue
            return True
        what = aggregate.ref if isinstance(aggregate, Job) else f"result {ident}"
        raise ConflictError(f"{what} kept changing while this change was made ({attempts} tries); try again")

    def _check_name_free(self, job: Job, name: str) -> None:
        self.catch_up()
        holder = self.views.name_holders([name]).get(name)
        if holder is not None and holder != job.ref:
            raise FieldError(f"name {name!r} is already used by {holder}")

    # -- reading and saving ------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Bring the read models up to the end of the log (read-your-writes for local commands)."""
        return catch_up(self, self.views)

    def save_and_project(self, *aggregates: Aggregate) -> None:
        """Save the aggregates and update the read models in one transaction: saved means projected.

        The rows come straight from the saved aggregates. When the views were behind (events
        appended by an older version, or a store without that transaction), the save still stands
        and the usual catch-up follows; if even that fails, the save is not reported as failed --
        the next read catches up, and a warning says why it could not.
        """
        events = [event for aggregate in aggregates for event in aggregate.pending_events]
        projected = False

        def project(cursor: Any, ids: Sequence[int]) -> None:
            nonlocal projected
            projected = self.views.apply_within(cursor, view_changes(aggregates, events), ids[0] - 1, ids[-1])

        recordings = self.save(*aggregates, project=project)
        if not recordings:
            return
        try:
            self._snapshot_if_due(aggregates, recordings)
        except PersistenceError as exc:  # only a shortcut for loading: the save itself stands
            warnings.warn(f"no snapshot taken: {exc}", ReadModelBehindWarning, stacklevel=2)
        if not projected:
            self.catch_up_quietly()

    def catch_up_quietly(self) -> None:
        """Catch up, saying with a warning (not an exception) when the read models cannot follow."""
        try:
            self.catch_up()
        except ProjectionError as exc:
            warnings.warn(str(exc), ReadModelBehindWarning, stacklevel=3)

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

    def _snapshot_time(self, stored: StoredEvent) -> datetime:
        """When the snapshotted aggregate last changed (not when the snapshot was taken)."""
        snapshot = self.mapper.to_domain_event(stored)
        return cast("datetime", snapshot.state["_modified_on"])  # type: ignore[attr-defined]

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


class _StoredSummaries(Mapping[str, ModuleSummary]):
    """Summaries by path: the ones just parsed, else read from the store when resolution asks.

    A stored summary of another content than the snapshot's (another process moved the store on
    meanwhile) is not used: the file is read from the snapshot and parsed again.
    """

    def __init__(
        self,
        parsed: dict[str, ModuleSummary],
        entries: Mapping[str, ModuleEntry],
        source: str,
        store: SummaryStore,
        snapshot: Snapshot,
    ) -> None:
        self._known = parsed
        self._entries = entries
        self._source = source
        self._store = store
        self._snapshot = snapshot

    def __getitem__(self, path: str) -> ModuleSummary:
        summary = self._known.get(path)
        if summary is None:
            sha = self._entries[path].sha
            summary = self._store.load(self._source, {path: sha}).get(path)
            if summary is None:
                [data] = self._snapshot.read_many([sha])
                [summary] = summarize_files([(path, data)])
            self._known[path] = summary
        return summary

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _read_batches(changes: Sequence[Change], budget: int = READ_BUDGET) -> Iterator[list[Change]]:
    """Consecutive runs of ``changes`` whose sizes add up to at most ``budget`` (one file at least).

    A size the reader does not give counts as nothing: such a reader (a folder) holds what it
    scanned already.
    """
    batch: list[Change] = []
    held = 0
    for change in changes:
        size = change.size or 0
        if batch and held + size > budget:
            yield batch
            batch, held = [], 0
        batch.append(change)
        held += size
    if batch:
        yield batch


def _summarize_batch(snapshot: Snapshot, batch: Sequence[Change]) -> list[ModuleSummary]:
    """Read and parse one batch; its contents are let go before the next batch is read."""
    contents = snapshot.read_many([c.sha for c in batch if c.sha is not None])
    return summarize_files([(c.path, data) for c, data in zip(batch, contents, strict=True)])


def _merged_problems(discovery: Discovery, files: _SourceFiles, spec: SourceSpec) -> list[Problem]:
    """This sync's problems for the files it re-examined, and the earlier ones for all the others."""
    reexamined = files.reexamined(discovery.scope)
    kept = [p for p in files.earlier_problems if discovery.scope is not None and p.file not in reexamined]
    fresh = [p for p in discovery.problems if discovery.scope is None or p.file in reexamined]
    return sorted({*kept, *fresh, *_link_problems(files.links, spec)}, key=_problem_order)


def _link_problems(links: Iterable[str], spec: SourceSpec) -> list[Problem]:
    """Say which symbolic links were not followed, where one could have held job files."""
    return [
        Problem(
            path,
            0,
            "symbolic link: not followed (only regular files are read, so nothing outside the source is)",
            NOTE,
        )
        for path in links
        if is_candidate(path, spec.include, spec.exclude)
        or is_candidate(f"{path}/__init__.py", spec.include, spec.exclude)
    ]


def _at(spec: SourceSpec, snapshot: Snapshot) -> str:
    """`` at commit 0a1b2c…`` for a git source; a folder's content digest means nothing to a person."""
    return f" at commit {snapshot.commit[:12]}" if spec.kind == "git" else ""


def _problem_order(problem: Problem) -> tuple[str, int, str, str]:
    return (problem.file, problem.line, problem.reason, problem.kind)


__all__ = ["JobCatalogApp", "SyncSummary", "job_id"]


class _CommitInfoAsDict(Transcoding):
    """How events keep a commit's provenance: plain JSON, the time as ISO-8601 with its offset."""

    type = CommitInfo
    name = "commit_info"

    def encode(self, obj: CommitInfo) -> dict[str, str]:
        return {
            "commit": obj.commit,
            "author": obj.author,
            "committer": obj.committer,
            "committed": obj.committed.isoformat(),
            "subject": obj.subject,
        }

    def decode(self, data: dict[str, str]) -> CommitInfo:
        return CommitInfo(
            commit=data["commit"],
            author=data["author"],
            committer=data["committer"],
            committed=datetime.fromisoformat(data["committed"]),
            subject=data["subject"],
        )
