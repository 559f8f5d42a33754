"""The library facade: ``Catalog.open(...)`` wires the store, the mirrors and the use cases together."""

from __future__ import annotations

import functools
import inspect
import os
import posixpath
import re
import sqlite3
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import PersistenceError

from jobsync.adapters.copy_marker import incomplete_copy_error, read_marker, stored_event_count
from jobsync.adapters.locks import work_locks
from jobsync.adapters.processes import LocalProcesses
from jobsync.adapters.store import default_store_url, opening, read_models, redact_password, store_settings
from jobsync.adapters.summaries import SQLiteSummaryStore
from jobsync.app import JobCatalogApp, SyncSummary
from jobsync.defaults import default_actor, default_state_dir
from jobsync.domain.errors import (
    AmbiguousJobRefError,
    ArgsNotStoredWarning,
    JobNotFoundError,
    JobSyncError,
    ResultNotFoundError,
    SourceBusyError,
    SourceConflictError,
    SourceNotFoundError,
    SourceReadError,
    StoreError,
)
from jobsync.domain.fields import OVERRIDABLE_FIELDS, validate_field_value
from jobsync.domain.job import Job, job_id
from jobsync.domain.result import LOG_LEVELS, STATUSES, LogEntry, ResultError, RunOptions
from jobsync.domain.schedule import ScheduledJob, ScheduleError, ScheduleNotFoundError
from jobsync.domain.source import Source
from jobsync.domain.text import CONTROLS, escaped, unstorable
from jobsync.points import BadPointError, Point, job_at_point, job_diff, point_of
from jobsync.ports import SourceReader, SummaryStore, WorkLocks
from jobsync.projections import JOB_SORTS, CatalogViews, JobQuery
from jobsync.projector import ReplayReport, replay
from jobsync.records import (
    ClassExplanationRecord,
    HistoryEntry,
    JobDiff,
    JobRecord,
    LogRecord,
    ResultRecord,
    ScheduleRecord,
    SourceRecord,
    explanation_record,
    job_from_json,
    log_from_json,
    result_from_json,
    schedule_from_json,
    source_from_json,
)
from jobsync.schedule_times import Recurrence, check_crontab, zone_of
from jobsync.spec import SourceSpec, source_name_problem
from jobsync.sync import open_reader, synced_snapshot
from jobsync.times import moment_of
from jobsync.urls import redact_url

C = TypeVar("C")


@dataclass(frozen=True)
class FollowedSources:
    """The sources a daemon follows (sorted by name) and what it should say about the config's."""

    specs: list[SourceSpec]
    notes: list[str]


_REF = re.compile(r"^(?P<source>[^:]+):(?P<module>.+)\.(?P<cls>[^.]+)$")

#: How long a resync a person asked for waits while another process syncs the same source (seconds).
RESYNC_WAIT = 60.0


def _store_errors_are_store_errors(cls: type[C]) -> type[C]:
    """Every public method of the library raises only JobSyncError subclasses.

    A store's own failure -- a read-only file, a full disk, a lost server, a table dropped behind
    its back -- reaches a caller as one StoreError line, not as sqlite3's or psycopg's exceptions.
    It does not claim what was or was not saved: a write may have committed before a read failed.
    """
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(member):
            continue

        def translating(method: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(method)
            def call(*args: Any, **kwargs: Any) -> Any:
                try:
                    return method(*args, **kwargs)
                except (PersistenceError, sqlite3.Error) as exc:
                    raise StoreError(
                        f"the store refused the operation: {' '.join(str(exc).split())}"
                    ) from exc

            return call

        setattr(cls, name, translating(member))
    return cls


@_store_errors_are_store_errors
class Catalog:
    """The catalog of jobs and their history, for CLI commands and Python programs alike."""

    def __init__(
        self,
        app: JobCatalogApp,
        state_dir: Path,
        actor: str,
        scratch_views: Callable[[], CatalogViews],
        store_url: str,
        locks: WorkLocks,
    ) -> None:
        self._app = app
        self._locks = locks
        self._views: CatalogViews = app.views  # type: ignore[assignment]  # the SQL views Catalog.open gave it
        self._scratch_views = scratch_views
        self.state_dir = state_dir
        self.actor = actor
        self._configured: dict[str, SourceSpec] = {}
        self._store_url = store_url

    @classmethod
    def from_config(
        cls, path: str | Path | None = None, *, store: str | None = None, actor: str | None = None
    ) -> Catalog:
        """The catalog the CLI and the daemon open: the config file (``path``, else ``$JOBSYNC_CONFIG``,
        else /etc/jobsync/config.toml when it exists), its store, state folder and sources, and the
        same defaults. ``store`` (else ``$JOBSYNC_STORE``) wins over the file's, as ``--store`` does.
        """
        from jobsync.config import catalog_location, config_path, load_config

        config = load_config(config_path(str(path) if path is not None else None))
        url, state_dir, _ = catalog_location(config, store or os.environ.get("JOBSYNC_STORE"))
        return cls.open(store=url, state_dir=state_dir, actor=actor, sources=list(config.sources))

    @classmethod
    def open(
        cls,
        store: str | None = None,
        state_dir: str | Path | None = None,
        actor: str | None = None,
        sources: list[SourceSpec] | None = None,
    ) -> Catalog:
        """Open (creating if needed) the store and state folder; ``sources`` are the configured ones.

        With neither ``store`` nor ``state_dir``, the catalog is the one ``from_config()`` opens
        (``$JOBSYNC_CONFIG`` and the default rule), so a program finds the CLI's catalog.
        """
        if store is None and state_dir is None and sources is None:
            return cls.from_config(actor=actor)
        state = Path(state_dir) if state_dir is not None else default_state_dir()
        try:
            # Private: the store holds run arguments and operator names, the mirrors private code.
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot create state folder {state}: {exc.strerror}") from None
        url = store or default_store_url(state)
        summaries = SQLiteSummaryStore(state / "summaries.db")
        try:
            app, scratch = open_app(url, summaries)
        except BaseException:  # a refused store (an incomplete copy, a wrong password) leaves nothing open
            summaries.close()
            raise
        catalog = cls(
            app, state, _storable("actor name", actor or default_actor()), scratch, url, work_locks(url)
        )
        catalog._configured = {spec.name: spec for spec in sources or []}
        return catalog

    def close(self) -> None:
        self._app.close()
        self._app.summaries.close()
        self._locks.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- sources -----------------------------------------------------------------------------

    def resync(
        self,
        target: str,
        *,
        branch: str | None = None,
        name: str | None = None,
        actor: str | None = None,
        wait: float = RESYNC_WAIT,
        allow_mass_uninstall: bool = False,
        dry_run: bool = False,
        force: bool = False,
    ) -> SyncSummary:
        """Sync one source now: a configured or remembered name, or a URL / path (remembered as ``name``).

        A suspended source is refused (SourceSuspendedError) unless ``force``: then it syncs once
        and stays suspended.

        While another process syncs the same source this waits for it, up to ``wait`` seconds, then
        raises SourceBusyError. A sync that would uninstall more of the source than its limit allows
        (``max_uninstall``; by default more than half, when at least five) raises MassUninstallError
        and applies nothing, unless ``allow_mass_uninstall``. With ``dry_run`` nothing is saved: the
        summary's ``plan`` says what would change, and ``refused`` why the sync would be refused.
        """
        spec = self._spec_for(target, branch=branch, name=name)
        return self.resync_spec(
            spec,
            actor=actor,
            wait=wait,
            allow_mass_uninstall=allow_mass_uninstall,
            dry_run=dry_run,
            force=force,
        )

    def resync_spec(
        self,
        spec: SourceSpec,
        actor: str | None = None,
        wait: float = RESYNC_WAIT,
        allow_mass_uninstall: bool = False,
        dry_run: bool = False,
        force: bool = False,
    ) -> SyncSummary:
        """Sync the source ``spec`` describes, recorded as a sync result even when nothing moved."""
        self._check_source(spec)
        if dry_run:  # reads only: another process's sync of the source is not waited for
            reader = open_reader(spec, self.state_dir)
            return self._app.preview_source(spec, reader, self._who(actor), allow_mass_uninstall)
        with self._syncing(spec.name, wait):
            reader = open_reader(spec, self.state_dir)
            return self._app.resync_source(spec, reader, self._who(actor), allow_mass_uninstall, force)

    def _check_source(self, spec: SourceSpec) -> None:
        """A source's name and location enter every event of its sync: checked before anything is read.

        Only a new source's name must follow the naming rule; one the log already holds keeps its name.
        """
        for what, text in (("name", spec.name), ("location", spec.location), ("branch", spec.branch or "")):
            _storable(f"source {what}", text, SourceConflictError)
        problem = source_name_problem(spec.name)
        if problem is not None and self._app.get_source(spec.name) is None:
            raise SourceConflictError(f"source name {spec.name!r}: {problem}")

    def poll(self, spec: SourceSpec, reader: SourceReader, *, readd: bool = False) -> SyncSummary:
        """The daemon's periodic sync through its long-lived ``reader``: nothing recorded if nothing moved.

        A suspended or removed source is not synced (SourceSuspendedError, SourceRemovedError); with
        ``readd`` a removed one comes back (the config still declares it).

        A source another process is syncing is not waited for: SourceBusyError at once, as this
        round is that process's (docs/design.md §7).
        """
        with self._syncing(spec.name, wait=0.0):
            return self._app.poll_source(spec, reader, self.actor, readd=readd)

    @contextmanager
    def _syncing(self, name: str, wait: float) -> Iterator[None]:
        """Hold the source for one sync: one process at a time per source, on every host sharing the store.

        Within it the sync also ends the sync results of processes that died (once, by the holder).
        """
        with self._locks.holding(f"source:{name}", wait) as held:
            if not held:
                raise SourceBusyError(name, wait)
            yield

    def reader_for(self, spec: SourceSpec) -> SourceReader:
        """A reader of the source under this catalog's state dir (a folder reader keeps what it saw)."""
        return open_reader(spec, self.state_dir)

    def configure_sources(self, specs: Sequence[SourceSpec]) -> None:
        """Replace the configured sources (their names win over remembered ones)."""
        self._configured = {spec.name: spec for spec in specs}

    @property
    def store_label(self) -> str:
        """The store's location, safe to log."""
        return redact_password(self._store_url)

    def _spec_for(self, target: str, *, branch: str | None, name: str | None) -> SourceSpec:
        # Before a path or an id is made of it: neither can be of a NUL or a lone surrogate.
        _storable("source name or location", target, SourceConflictError)
        if target in self._configured and name is None:
            spec = self._configured[target]
            # A one-off --branch is this sync's choice, not the config's: it relocates nothing.
            return spec if branch is None else replace(spec, branch=branch, configured=False)
        remembered = None if _looks_like_location(target) else self._app.get_source(target)
        if remembered is not None and remembered.removed:
            if remembered.renamed_to is not None and name is None:
                raise SourceConflictError(
                    f"source {target!r} was renamed to {remembered.renamed_to!r}; sync it by that name"
                )
            remembered = None
        if remembered is None:
            if not (_looks_like_location(target) or Path(target).exists()):
                raise SourceNotFoundError(target)
            url = _normalise_location(target)
            kind = "local" if _is_plain_folder(url) else "git"
            return SourceSpec(name=name or _name_from_url(url), url=url, branch=branch, kind=kind)
        return SourceSpec(
            name=remembered.name,
            url=remembered.url,
            branch=branch if branch is not None else remembered.branch,
            kind=remembered.kind,
        )

    def sources(self) -> list[SourceRecord]:
        """Every source synced so far, with its last commit and counts."""
        self._app.catch_up_quietly()
        return [source_from_json(stored) for stored in self._views.list_sources()]

    def source_names(self) -> list[str]:
        """Every source name the catalog knows, configured or synced, sorted (a removed source's too,
        while jobs carry its name: they stay, and can still be listed by it)."""
        listed = {record["name"] for record in self.sources()}
        return sorted({*self._configured, *listed, *self._views.job_sources()})

    def source(self, name: str) -> SourceRecord:
        for record in self.sources():
            if record["name"] == name:
                return record
        raise SourceNotFoundError(name)

    def source_state(self, name: str) -> str | None:
        """``active``, ``suspended`` or ``removed`` (renamed away too), from the log; None: never synced."""
        source = self._app.get_source(name)
        if source is None:
            return None
        return "removed" if source.removed else "suspended" if source.suspended else "active"

    def is_configured(self, name: str) -> bool:
        """Whether the config file names this source (its word comes back at the daemon's next start)."""
        return name in self._configured

    def suspend_source(self, name: str, actor: str | None = None) -> bool:
        """Stop syncing a source: the daemon and webhooks skip it, ``resync`` refuses it unless forced.

        False when it already was suspended.
        """
        return self._app.suspend_source(self._synced_name(name), self._who(actor))

    def resume_source(self, name: str, actor: str | None = None) -> bool:
        """Let a suspended source sync again; False when it was not suspended."""
        return self._app.resume_source(self._synced_name(name), self._who(actor))

    def remove_source(
        self, name: str, *, uninstall_jobs: bool = False, actor: str | None = None
    ) -> list[str]:
        """Remove a source that has no installed jobs; with ``uninstall_jobs`` uninstall them first.

        Its jobs (uninstalled) and all history stay; the refs uninstalled are returned. A source the
        config file names comes back at the daemon's next start or reload (``is_configured``).
        """
        who = self._who(actor)
        with self._syncing(self._synced_name(name), RESYNC_WAIT):
            return self._app.remove_source(name, who, uninstall_jobs=uninstall_jobs)

    def rename_source(self, old: str, new: str, *, actor: str | None = None) -> list[str]:
        """Rename a source; its jobs' refs follow (``NEW:module.Class``), their old refs keep resolving.

        Refused when ``new`` is taken or was retired by another rename. Returns the jobs' new refs.
        """
        problem = source_name_problem(new)
        if problem is not None:
            raise SourceConflictError(f"source name {new!r}: {problem}")
        if new in self._configured and new != old:
            raise SourceConflictError(
                f"source name {new!r} is taken (the config file names it); choose another"
            )
        who = self._who(actor)
        with self._syncing(self._synced_name(old), RESYNC_WAIT), self._syncing(new, RESYNC_WAIT):
            return self._app.rename_source(old, new, who)

    def _synced_name(self, name: str) -> str:
        """``name`` when the log holds that source and it is not removed; else SourceNotFoundError."""
        _storable("source name", name, SourceConflictError)
        if self.source_state(name) in (None, "removed"):
            raise SourceNotFoundError(name, known=[r["name"] for r in self.sources()])
        return name

    def followed_sources(self, configured: Sequence[SourceSpec]) -> FollowedSources:
        """What the daemon follows: every configured source and every remembered one not removed.

        A configured source removed by an operator comes back (the config still declares it); one
        renamed by an operator is followed under its new name from the config's entry. ``notes``
        say so, for the daemon's log.
        """
        self._app.catch_up_quietly()
        specs: dict[str, SourceSpec] = {}
        notes: list[str] = []
        for spec in configured:
            source = self._app.get_source(spec.name)
            if source is not None and source.renamed_to is not None:
                current = self._renamed_to(source)
                if current is None or any(other.name == current for other in configured):
                    notes.append(
                        f"the config names source {spec.name!r}, renamed since; its entry is skipped"
                    )
                    continue
                notes.append(
                    f"the config names source {spec.name!r}, renamed to {current!r}: followed as {current!r} "
                    "(rename it in the config file)"
                )
                specs[current] = replace(spec, name=current)
                continue
            if source is not None and source.removed:
                notes.append(f"the config names removed source {spec.name!r}: it is added back")
            specs.setdefault(spec.name, spec)
        for record in self._views.list_sources():
            name = record["name"]
            if name not in specs:
                specs[name] = SourceSpec(
                    name=name, url=record["url"], branch=record["branch"], kind=record["kind"]
                )
        return FollowedSources(specs=[specs[name] for name in sorted(specs)], notes=notes)

    def _renamed_to(self, source: Source) -> str | None:
        """The name a chain of renames from ``source`` ends at; None if it ends at a removed source."""
        last = self._last_name(source)
        following = self._app.get_source(last)
        return None if following is None or following.removed else last

    def _last_name(self, source: Source) -> str:
        """The name a chain of renames from ``source`` ends at (the name its jobs carry now)."""
        seen = {source.name}
        while source.renamed_to is not None and source.renamed_to not in seen:
            seen.add(source.renamed_to)
            following = self._app.get_source(source.renamed_to)
            if following is None:
                return source.renamed_to
            source = following
        return source.name

    def explain(self, source: str, path: str) -> list[ClassExplanationRecord]:
        """Why each class of the file ``path`` is or is not a job, and where each job's values came from.

        A git source is read at its last synced commit (from its mirror: nothing is fetched), a
        folder or app as it is now. A file the source's rules skip gets one entry saying why; a
        path that is no file of the source raises FileNotInSourceError.
        """
        if source not in self._configured and self.source_state(source) in (None, "removed"):
            raise SourceNotFoundError(source)
        spec = self._spec_for(source, branch=None, name=None)
        relative = _relative_path(path, spec)
        synced = self._app.get_source(spec.name)
        commit = synced.last_commit if synced is not None else None
        snapshot = synced_snapshot(spec, self.state_dir, commit, also=relative)
        return [explanation_record(e) for e in self._app.explain_file(spec, snapshot, relative)]

    # -- jobs --------------------------------------------------------------------------------

    def jobs(
        self,
        source: str | None = None,
        installed: bool | None = True,
        *,
        grouping: str | None = None,
        enabled: bool | None = None,
        overridden: bool | None = None,
        search: str | None = None,
        sort: str = "source",
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Jobs as records (docs/design.md §6 keys), from the read model; ``None`` filters nothing.

        ``installed=None`` lists installed and uninstalled jobs; ``search`` matches name or
        description (case-insensitive); ``sort`` is one of source, name, ref, grouping, updated.
        """
        stored = self._views.list_jobs(
            self._job_query(source, installed, grouping, enabled, overridden, search, sort, limit)
        )
        return [job_from_json(record) for record in stored]

    def jobs_json(
        self,
        source: str | None = None,
        installed: bool | None = True,
        *,
        grouping: str | None = None,
        enabled: bool | None = None,
        overridden: bool | None = None,
        search: str | None = None,
        sort: str = "source",
        limit: int | None = None,
    ) -> str:
        """``jobs(...)`` as one JSON array, straight from the stored records (no decode and re-encode)."""
        texts = self.job_texts(
            source,
            installed,
            grouping=grouping,
            enabled=enabled,
            overridden=overridden,
            search=search,
            sort=sort,
            limit=limit,
        )
        return "[" + ",".join(texts) + "]"

    def job_texts(
        self,
        source: str | None = None,
        installed: bool | None = True,
        *,
        grouping: str | None = None,
        enabled: bool | None = None,
        overridden: bool | None = None,
        search: str | None = None,
        sort: str = "source",
        limit: int | None = None,
    ) -> list[str]:
        """``jobs(...)`` as each record's stored JSON text, in order: a caller can slice pages of them."""
        query = self._job_query(source, installed, grouping, enabled, overridden, search, sort, limit)
        return self._views.list_job_texts(query)

    def _job_query(
        self,
        source: str | None,
        installed: bool | None,
        grouping: str | None,
        enabled: bool | None,
        overridden: bool | None,
        search: str | None,
        sort: str,
        limit: int | None,
    ) -> JobQuery:
        if sort not in JOB_SORTS:
            raise JobSyncError(f"sort must be one of {', '.join(JOB_SORTS)}, not {sort!r}")
        for what, text in (("source", source), ("grouping", grouping), ("search", search)):
            problem = unstorable(text or "")
            if problem is not None:
                raise JobSyncError(f"{what} holds {problem}, which no job can hold")
        # What an operator types holds no control (a line break would also match across the name
        # and the description, which the search text joins with one).
        if search is not None and (found := CONTROLS.search(search)) is not None:
            raise JobSyncError(f"search may not hold the control character {escaped(found.group())}")
        self._app.catch_up_quietly()
        return JobQuery(source, grouping, installed, enabled, overridden, search, sort, limit)

    def job(self, ref: str | UUID, at: datetime | str | Point | None = None) -> JobRecord:
        """One job as a record, now or as it was at ``at`` (its overrides of that moment included).

        ``at`` is a datetime (naive means UTC), a Point, or text as the CLI's ``--at`` takes it: a
        time (``3 days ago``), a commit (7+ hex digits: as the sync of it left the job) or ``vN``.
        A point the job never had raises PointNotFoundError (a JobNotFoundError).
        """
        point = point_of(at, "at")
        ident = self.resolve(str(ref))
        job = self._app.get_job(ident) if point is None else job_at_point(self._app, ident, point).job
        return job_from_json({**job.as_record(), "deleted": job.deleted})

    def diff(
        self, ref: str | UUID, from_: datetime | str | Point, to: datetime | str | Point | None = None
    ) -> JobDiff:
        """How a job differs between two points (``to`` None: now), field by field, and the events between.

        Points are as ``job(ref, at=...)`` takes them; a date as ``from_`` text means its start.
        """
        start = point_of(from_, "from_", day_start=True)
        if start is None:
            raise BadPointError("from_ is required: a time, a commit or vN")
        return job_diff(self._app, self.resolve(str(ref)), start, point_of(to, "to"))

    def history(
        self, ref: str | UUID, since: datetime | str | None = None, until: datetime | str | None = None
    ) -> list[HistoryEntry]:
        """Every event of a job (in the window), oldest first: time, actor, event and changed fields."""
        from jobsync.audit import job_history  # only audit commands replay history: others skip its import

        ident = self.resolve(str(ref))
        self._app.catch_up_quietly()
        schedules = self._views.schedule_ids_of_job(str(ident), self._app.get_job(ident).ref)
        return job_history(self._app, ident, *_window(since, until), [UUID(s) for s in schedules])

    def audit(
        self,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        actor: str | None = None,
        source: str | None = None,
        author: str | None = None,
    ) -> list[HistoryEntry]:
        """Every change to jobs and sources in the window, across the catalog: the auditor's view.

        ``actor`` is matched exactly (who ran the sync or the command); ``author`` is any part of a
        synced commit's ``Name <email>``, in any case, as ``git log --author`` takes it.
        """
        from jobsync.audit import catalog_audit  # only audit commands replay history: others skip its import

        return catalog_audit(self._app, *_window(since, until), actor, source, author)

    def override(self, ref: str, field: str, value: object, actor: str | None = None) -> bool:
        """Pin ``field`` of a job to ``value`` (validated); False when it already was."""
        checked = validate_field_value(field, value)  # before the store is asked whether a name is free
        return self._app.override_field(self.resolve(ref), field, checked, self._who(actor))

    def clear_override(self, ref: str, field: str, actor: str | None = None) -> bool:
        """Let ``field`` follow the job's current source value again; False when it was not overridden."""
        return self._app.clear_override(self.resolve(ref), field, self._who(actor))

    def enable(self, ref: str, actor: str | None = None) -> bool:
        """Allow a job to run; False when it already could."""
        return self._app.enable_job(self.resolve(ref), self._who(actor))

    def disable(self, ref: str, actor: str | None = None) -> bool:
        """Stop a job from running; False when it already was stopped."""
        return self._app.disable_job(self.resolve(ref), self._who(actor))

    def delete_job(self, ref: str, actor: str | None = None) -> bool:
        """Delete an uninstalled job; its history stays readable, its schedules stay, disabled."""
        ident = self.resolve(ref)
        self._app.catch_up_quietly()
        schedules = self._views.schedule_ids_of_job(str(ident), self._app.get_job(ident).ref)
        return self._app.delete_job(ident, self._who(actor), [UUID(s) for s in schedules])

    # -- audit -------------------------------------------------------------------------------

    def replay(self, verify: bool = False, progress: Callable[[int], None] | None = None) -> ReplayReport:
        """Rebuild every read model from the log; with ``verify``, compare instead of replacing.

        ``progress`` is called with the number of events applied in each batch.
        """
        return replay(self._app, self._views, self._scratch_views(), verify=verify, progress=progress)

    def projected_position(self) -> int:
        """The last log position the read models hold (``event_count() - projected_position()`` is the lag)."""
        return self._views.position()

    def event_count(self) -> int:
        """How many events the log holds (its last position)."""
        return self._app.recorder.max_notification_id() or 0

    # -- results -----------------------------------------------------------------------------

    def record_result(
        self,
        job: str | UUID,
        args: Any = None,
        actor: str | None = None,
        scheduled_job: str | None = None,
        queue: str | None = None,
        ignore_singleton: bool = False,
    ) -> UUID:
        """Queue a run of an installed, enabled job; returns the result id.

        ``args`` is kept to re-queue, unless the job has sensitive variables (docs/design.md §3 rule 10):
        then nothing of them is stored, and args given anyway raise ArgsNotStoredWarning once
        (the caller hands them to its worker itself). ``queue`` narrows where a worker may claim
        the run (one of the job's task queues); ``ignore_singleton`` lets it run beside another.
        """
        _check_json("args", args)
        if scheduled_job is not None:
            _storable("scheduled job", scheduled_job, ResultError)
        if queue is not None:
            _storable("queue", queue, ResultError)
        options = RunOptions(scheduled_job, queue, ignore_singleton)
        result = self._app.record_result(
            self.resolve(job), {} if args is None else args, self._who(actor), options
        )
        if not result.args_stored and args not in (None, {}):
            warnings.warn(
                f"the args of this run of {result.job_ref} were not stored: the job has sensitive "
                "variables (has_sensitive_variables); hand them to its worker yourself",
                ArgsNotStoredWarning,
                stacklevel=3,  # past the error-translating wrapper, at the caller
            )
        return result.id

    def start_result(self, result: str | UUID, actor: str | None = None) -> None:
        """pending -> running."""
        self._app.start_result(self.resolve_result(result), self._who(actor))

    def finish_result(
        self, result: str | UUID, status: str, data: Any = None, actor: str | None = None
    ) -> None:
        """End a run as ``completed``, ``failed`` or ``errored`` with JSON ``data``."""
        _check_json("data", data)
        self._app.finish_result(self.resolve_result(result), status, data, self._who(actor))

    def log(
        self,
        result: str | UUID,
        message: str,
        level: str = "info",
        grouping: str = "main",
        object: str = "",
        url: str = "",
        actor: str | None = None,
    ) -> None:
        """Append one log entry to a running (or pending) result; readable at once."""
        self.log_many(result, [LogEntry(message, level, grouping, object, url)], actor=actor)

    def log_many(self, result: str | UUID, entries: Sequence[LogEntry], actor: str | None = None) -> None:
        """Append several log entries in one transaction: the fast way for an executor to log."""
        self._app.append_logs(self.resolve_result(result), entries, self._who(actor))

    def claim(self, queue: str, worker: str, actor: str | None = None) -> ResultRecord | None:
        """Take the oldest pending run of ``queue`` for ``worker`` (docs/design.md §3 rule 12); None when none waits.

        The run is ``running`` with ``worker`` on it, atomically: two workers, on any hosts, never
        get the same run. A singleton job's run waits while another of its runs is running, unless
        it was recorded with ``ignore_singleton``. The actor is the worker unless ``actor`` says.
        """
        worker = _storable("worker name", worker, ResultError)
        if not worker.strip():
            raise ResultError("a worker needs a name")
        queue = _storable("queue", queue, ResultError)
        claimed = self._app.claim_result(queue, worker, self._who(actor if actor is not None else worker))
        if claimed is None:
            return None
        [record] = self._views.list_results(result_id=str(claimed.id))  # projected by the claim's save
        return result_from_json(record)

    def heartbeat(self, result: str | UUID, actor: str | None = None) -> None:
        """Say a running result's worker is alive, so the daemon's reaper leaves the run alone."""
        self._app.heartbeat_result(self.resolve_result(result), self._who(actor))

    def reap_stale_runs(self, heartbeat_timeout: float, actor: str | None = None) -> list[tuple[UUID, str]]:
        """End as errored the running job runs whose worker went quiet for ``heartbeat_timeout``
        seconds, or that ran past their job's time limit plus a grace: (result id, reason) of each."""
        self._app.catch_up_quietly()
        return self._app.reap_stale_runs(heartbeat_timeout, datetime.now(UTC), self._who(actor))

    def results(
        self, job: str | UUID | None = None, status: str | None = None, limit: int | None = None
    ) -> list[ResultRecord]:
        """Results, newest first; ``job`` narrows to one job's runs."""
        if status is not None and status not in STATUSES:
            raise ResultError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        self._app.catch_up_quietly()
        if job is None:
            stored = self._views.list_results(status=status, limit=limit)
        else:
            found = self._app.get_job(self.resolve(str(job)))
            if found.deleted:  # its results were detached from it and keep its ref as text
                stored = self._views.list_results(detached_ref=found.ref, status=status, limit=limit)
            else:
                stored = self._views.list_results(job_id=str(found.id), status=status, limit=limit)
        return [result_from_json(record) for record in stored]

    def result(self, result: str | UUID) -> ResultRecord:
        """One result with its args (ready to queue again) and data."""
        ident = self.resolve_result(str(result))
        [record] = self._views.list_results(result_id=str(ident))
        return result_from_json(record)

    def logs(self, result: str | UUID, since: int = 0, level: str | None = None) -> list[LogRecord]:
        """Log entries after position ``since`` (each entry's ``seq``), at ``level`` or more severe."""
        ident = self.resolve_result(str(result))
        levels: tuple[str, ...] = ()
        if level is not None:
            if level not in LOG_LEVELS:
                raise ResultError(f"log level {level!r} is not one of {', '.join(LOG_LEVELS)}")
            levels = LOG_LEVELS[LOG_LEVELS.index(level) :]
        return [
            log_from_json(entry) for entry in self._views.log_entries(str(ident), since=since, levels=levels)
        ]

    # -- schedules ---------------------------------------------------------------------------

    def add_schedule(
        self,
        job: str | UUID,
        name: str,
        *,
        at: datetime | str | None = None,
        every: str | None = None,
        cron: str | None = None,
        args: Any = None,
        queue: str | None = None,
        tz: str | None = None,
        actor: str | None = None,
    ) -> ScheduleRecord:
        """Schedule runs of an installed, enabled job without sensitive variables (docs/design.md §3 rule 11).

        ``at`` alone: once, then. ``every`` (hourly, daily, weekly) or ``cron`` (a crontab read in
        ``tz``): from ``at`` (default now). ``tz`` is an IANA zone, default ``$TZ`` or UTC.
        """
        if every is not None and cron is not None:
            raise ScheduleError("give either every or cron, not both")
        if every is not None and every not in ("hourly", "daily", "weekly"):
            raise ScheduleError(f"every is hourly, daily or weekly, not {every!r}")
        if at is None and every is None and cron is None:
            raise ScheduleError("say when: at a time, every hourly|daily|weekly, or on a crontab")
        _storable("schedule name", name, ScheduleError)
        if queue is not None:
            _storable("queue", queue, ScheduleError)
        _check_json("args", args)
        zone = tz if tz is not None else default_zone_name()
        zone_of(zone)
        now = datetime.now(UTC)
        start = moment_of(at, "at", day="start") or now
        recurrence = Recurrence(
            every or ("custom" if cron is not None else "future"),
            start.astimezone(UTC),
            zone,
            check_crontab(cron) if cron is not None else "",
        )
        ident = self.resolve(job)
        self._app.catch_up_quietly()
        if self._views.find_schedules(name):
            raise ScheduleError(f"a schedule named {name!r} exists already")
        created = self._app.add_schedule(
            ident,
            name=name,
            args={} if args is None else args,
            queue=queue,
            recurrence=recurrence,
            now=now,
            actor=self._who(actor),
        )
        return self.schedule(str(created))

    def schedules(self, job: str | UUID | None = None) -> list[ScheduleRecord]:
        """Live schedules by name (of one job, with ``job``), each saying why it would not fire."""
        self._app.catch_up_quietly()
        job_id = str(self.resolve(job)) if job is not None else None
        jobs: dict[UUID, Job | None] = {}  # many schedules of one job load it once
        return [self._with_reason(record, jobs) for record in self._views.list_schedules(job_id)]

    def schedule(self, ref: str | UUID) -> ScheduleRecord:
        """One schedule by name or id, with ``blocked``: why it will not fire (None: it fires when due)."""
        ident = self.resolve_schedule(ref)
        [record] = [r for r in self._views.find_schedules(str(ident))]
        return self._with_reason(record)

    def approve_schedule(self, ref: str | UUID, actor: str | None = None) -> bool:
        """Approve a schedule (not its creator); False when it already was approved."""
        who = self._who(actor)
        return self._app.change_schedule(self.resolve_schedule(ref), lambda s: s.approve(who))

    def enable_schedule(self, ref: str | UUID, actor: str | None = None) -> bool:
        """Let a schedule fire; a due time missed while it was disabled fires once."""
        who = self._who(actor)
        return self._app.change_schedule(self.resolve_schedule(ref), lambda s: s.enable(who))

    def disable_schedule(self, ref: str | UUID, actor: str | None = None) -> bool:
        """Stop a schedule from firing; False when it already was stopped."""
        who = self._who(actor)
        return self._app.change_schedule(self.resolve_schedule(ref), lambda s: s.disable(who))

    def delete_schedule(self, ref: str | UUID, actor: str | None = None) -> bool:
        """Delete a schedule; its results and history stay."""
        who = self._who(actor)

        def delete(schedule: ScheduledJob) -> bool:
            schedule.delete(who)
            return True

        return self._app.change_schedule(self.resolve_schedule(ref), delete)

    def fire_due_schedules(self, now: datetime | None = None, actor: str | None = None) -> list[UUID]:
        """Record one pending result for each schedule due at ``now`` (default: now); their ids.

        Safe to run in several processes at once: each due time is recorded once (docs/design.md §3 rule 11).
        """
        moment = moment_of(now, "now", day="start") or datetime.now(UTC)
        who = self._who(actor)
        self._app.catch_up_quietly()
        fired = []
        for ident in self._views.due_schedules(moment):
            result = self._app.fire_schedule(UUID(ident), moment, who)
            if result is not None:
                fired.append(result)
        return fired

    def resolve_schedule(self, ref: str | UUID) -> UUID:
        """A live schedule's id from its name or id."""
        text = str(ref)
        if unstorable(text) is not None:
            raise ScheduleNotFoundError(text)
        self._app.catch_up_quietly()
        found = self._views.find_schedules(text)
        if not found:
            raise ScheduleNotFoundError(text)
        return UUID(found[0]["id"])

    def _with_reason(
        self, stored: dict[str, Any], jobs: dict[UUID, Job | None] | None = None
    ) -> ScheduleRecord:
        """The stored record and why the schedule will not fire now (its job's state decides too)."""
        schedule = self._app.get_schedule(UUID(stored["id"]))
        known = {} if jobs is None else jobs
        if schedule.job_id not in known:
            known[schedule.job_id] = self._app.schedule_job(schedule)
        return schedule_from_json({**stored, "blocked": schedule.blocked(known[schedule.job_id])})

    def resolve_result(self, ref: str | UUID) -> UUID:
        """A result's id from its full id or a unique prefix of it."""
        if isinstance(ref, UUID):
            ref = str(ref)
        self._app.catch_up_quietly()
        wanted = ref.strip().lower()
        matches = self._views.find_results(wanted) if re.fullmatch(r"[0-9a-f-]{1,36}", wanted) else []
        if wanted in matches:
            return UUID(wanted)
        if len(matches) != 1:
            if matches:
                raise ResultNotFoundError(f"{ref} (ambiguous: {len(matches)} results start with it)")
            raise ResultNotFoundError(ref)
        return UUID(matches[0])

    def resolve(self, ref: str | UUID) -> UUID:
        """A job's id from its ``SOURCE:MODULE.CLASS`` ref, its UUID, or its unique name."""
        if isinstance(ref, UUID):
            ref = str(ref)
        if unstorable(ref) is not None:
            raise JobNotFoundError(ref)  # no job can be named so, and no store can even be asked
        match = _REF.match(ref)
        # A job keeps the id of the ref it was found under: after its source was renamed that old
        # ref still finds it, but a job whose current ref this is wins (checked in the read model).
        named = job_id(match["source"], match["module"], match["cls"]) if match else None
        if named is not None and self._exists(named, current_ref=ref):
            return named
        self._app.catch_up_quietly()
        records = self._views.find_jobs(ref)
        live = [r for r in records if r["ref"] == ref or r["id"] == ref] or records
        if not live and named is not None and self._exists(named):
            return named
        if not live and match:  # the name of a source renamed since: its jobs now carry the last name
            renamed = self._app.get_source(match["source"])
            if renamed is not None and renamed.renamed_to is not None:
                current = f"{self._last_name(renamed)}:{match['module']}.{match['cls']}"
                live = [r for r in self._views.find_jobs(current) if r["ref"] == current]
        if not live:
            raise JobNotFoundError(ref)
        if len(live) > 1:
            raise AmbiguousJobRefError(ref, [r["ref"] for r in live])
        return UUID(live[0]["id"])

    def _who(self, actor: str | None) -> str:
        """Who acts: the caller's ``actor`` (checked) or the catalog's."""
        return self.actor if actor is None else _storable("actor name", actor)

    def _exists(self, ident: UUID, current_ref: str | None = None) -> bool:
        """Whether the job ``ident`` exists (and, given ``current_ref``, is named so now)."""
        try:
            job = self._app.get_job(ident)
        except AggregateNotFoundError:
            return False
        return current_ref is None or job.ref == current_ref


def open_app(
    url: str, summaries: SummaryStore, *, resuming_copy: bool = False
) -> tuple[JobCatalogApp, Callable[[], CatalogViews]]:
    """The application on the store at ``url``, with read models in its SQL, and replay's scratch maker.

    A store ``store migrate`` has not finished copying into is refused (IncompleteCopyError), unless
    ``resuming_copy``: only the copy itself may open it.
    """
    settings = store_settings(url)
    live, scratch = read_models(settings)
    try:
        with opening(url, settings):
            app = JobCatalogApp(
                env=settings, read_model=live, summaries=summaries, processes=LocalProcesses()
            )
        marker = None if resuming_copy else read_marker(app.recorder)
        if marker is not None:
            refusal = incomplete_copy_error(url, settings, marker, stored_event_count(app.recorder))
            app.close()
            raise refusal
    except StoreError:
        raise
    except (PersistenceError, OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open store {redact_password(url)}: {exc}") from None
    return app, lambda: scratch(app.factory)


def default_zone_name() -> str:
    """The zone a schedule's times are read in unless told: ``$TZ`` when it names an IANA zone, else UTC."""
    name = os.environ.get("TZ", "").removeprefix(":")
    try:
        zone_of(name)
    except ScheduleError:
        return "UTC"
    return name


def _storable(what: str, text: str, error: type[JobSyncError] = JobSyncError) -> str:
    """Text that enters an event (an actor, a source's name): one no store can keep is refused, unsaved."""
    problem = unstorable(text)
    if problem is not None:
        raise error(f"the {what} holds {problem}, which cannot be stored")
    return text


#: How deep args and data may nest: far beyond any real job's arguments, far below what breaks a parser.
MAX_JSON_DEPTH = 100


def _check_json(what: str, value: Any) -> None:
    """Args and data must be JSON documents, so they read back exactly as given (tuples read back as lists).

    Walked without recursion, so a document nested too deeply is refused in one line, not a crash.
    """
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        where = f"{what}{path}"
        if depth > MAX_JSON_DEPTH:
            raise ResultError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep at {where}")
        if isinstance(item, str):
            problem = unstorable(item)
            if problem is not None:
                raise ResultError(f"{what} holds {problem} at {where}, which cannot be stored")
        elif item is None or isinstance(item, bool | int):
            continue
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                raise ResultError(
                    f"{what} must be JSON-serialisable: {item!r} at {where} is not a JSON number"
                )
        elif isinstance(item, list | tuple):
            pending += [(inner, f"{path}[{index}]", depth + 1) for index, inner in enumerate(item)]
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise ResultError(
                        f"{what} must be JSON-serialisable: key {key!r} at {where} is not a string"
                    )
                problem = unstorable(key)
                if problem is not None:
                    raise ResultError(f"{what} holds {problem} in a key at {where}, which cannot be stored")
                pending.append((inner, f"{path}.{key}", depth + 1))
        else:
            raise ResultError(
                f"{what} must be JSON-serialisable: {type(item).__name__} at {where} is not a JSON type"
            )


def _window(
    since: datetime | str | None, until: datetime | str | None
) -> tuple[datetime | None, datetime | None]:
    """A history window's two ends; a bare day opens it at its start and closes it at its end."""
    return moment_of(since, "since", day="start"), moment_of(until, "until", day="end")


def _relative_path(path: str, spec: SourceSpec) -> str:
    """A path as a source names its files: POSIX, relative to the root (a folder's absolute path is made so)."""
    if spec.kind == "local" and Path(path).is_absolute():
        with suppress(ValueError):
            path = Path(path).relative_to(Path(spec.url)).as_posix()
    return posixpath.normpath(path) if path else path


def _looks_like_location(target: str) -> bool:
    """A URL or a path; a bare word is a source name first, and a folder only if no source has that name."""
    return (
        "://" in target
        or "/" in target
        or target.startswith((".", "~"))
        or re.match(r"^[^/:@\s]+@[^/:\s]+:", target) is not None
    )


def _is_plain_folder(location: str) -> bool:
    """A folder that is neither a work tree nor a bare repository: a ``local`` source."""
    folder = Path(location)
    if "://" in location or not folder.is_dir():
        return False
    is_bare = (folder / "HEAD").is_file() and (folder / "objects").is_dir()
    return not ((folder / ".git").exists() or is_bare)


def _normalise_location(target: str) -> str:
    if "://" in target or re.match(r"^[^/:@\s]+@[^/:\s]+:", target):
        return target
    try:
        return str(Path(target).expanduser().resolve())
    except RuntimeError as exc:  # ~user of no such user; a loop of links (Python 3.11)
        raise SourceReadError("NotFound", f"cannot find {target!r}: {exc}") from None


def _name_from_url(url: str) -> str:
    tail = redact_url(url).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    tail = tail.removesuffix(".git") or "source"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", tail)


__all__ = ["OVERRIDABLE_FIELDS", "Catalog", "default_actor", "default_state_dir"]
