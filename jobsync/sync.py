"""One path from ``git fetch`` to events appended: fetch, diff trees, parse what changed, save."""

from __future__ import annotations

import gc
import os
import pickle
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from uuid import UUID

from jobsync.adapters.git import FileEntry, Mirror, redact_url
from jobsync.app import JobCatalogApp, SyncSummary
from jobsync.domain.discovery import ModuleSummary, is_candidate, resolve_jobs, summarize_module
from jobsync.domain.errors import JobSyncError
from jobsync.domain.result import MAX_MESSAGE, LogEntry
from jobsync.domain.source import Source

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
#: Bump when discovery's output for the same file changes, so cached summaries are not reused.
CACHE_VERSION = 1


@dataclass(frozen=True)
class SourceSpec:
    """Where a source lives and which files of it count, as config or the command line give it."""

    name: str
    url: str
    branch: str | None = None
    kind: str = "git"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass
class _SummaryCache:
    """Per-file discovery summaries at one commit, keyed by blob sha: derived data, safe to lose."""

    commit: str
    filters: tuple[tuple[str, ...], tuple[str, ...]]
    files: dict[str, tuple[str, ModuleSummary]]
    version: int = CACHE_VERSION


def resync(app: JobCatalogApp, spec: SourceSpec, state_dir: Path, actor: str) -> SyncSummary:
    """Sync one git source, recorded as a result of the built-in sync task.

    The result is saved as running before the fetch; it finishes ``completed`` in the same
    transaction as the sync's job events, or ``failed`` with the reason when nothing could be saved.
    A branch that has not moved appends no job events.
    """
    source = app.register_source(spec.name, spec.kind, redact_url(spec.url), spec.branch, actor)
    result_id = app.start_sync_result(spec.name, actor)
    try:
        summary = _sync(app, spec, source, state_dir, actor, result_id)
    except JobSyncError as exc:
        _end_result(app, result_id, "failed", str(exc), actor)
        raise
    except Exception as exc:
        _end_result(app, result_id, "errored", f"{type(exc).__name__}: {exc}", actor)
        raise
    if summary.up_to_date:
        summary.result = result_id
        result = app.end_sync_result(result_id, summary.log_entries(), "completed", summary.as_dict(), actor)
        app.save_and_project(result)
    return summary


def _sync(
    app: JobCatalogApp, spec: SourceSpec, source: Source, state_dir: Path, actor: str, result_id: UUID
) -> SyncSummary:
    mirror = Mirror(state_dir / "mirrors" / f"{source.id}.git", spec.url)
    fetched = mirror.fetch(spec.branch)
    if source.last_commit == fetched.commit:
        return SyncSummary(source=spec.name, commit=fetched.commit, up_to_date=True)
    cache_file = state_dir / "cache" / f"{source.id}.pickle"
    with _gc_paused():
        cache = _read_cache(cache_file, spec)
        files = _summaries_at(mirror, fetched.commit, spec, cache)
        discovery = resolve_jobs({path: summary for path, (_, summary) in files.items()})
        summary = app.apply_discovery(source, fetched.commit, fetched.branch, discovery, actor, result_id)
        _write_cache(cache_file, _SummaryCache(fetched.commit, (spec.include, spec.exclude), files))
    return summary


def _end_result(app: JobCatalogApp, result_id: UUID, status: str, reason: str, actor: str) -> None:
    """Finish a sync result that saved nothing; a failure here must not hide the original error."""
    entry = LogEntry(reason[:MAX_MESSAGE], "failure" if status == "failed" else "error", "sync")
    with suppress(Exception):  # the store itself may be what failed
        app.save_and_project(app.end_sync_result(result_id, [entry], status, {"error": reason}, actor))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A sync allocates many long-lived objects and few cycles: collecting during it costs ~10 %."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _summaries_at(
    mirror: Mirror, commit: str, spec: SourceSpec, cache: _SummaryCache | None
) -> dict[str, tuple[str, ModuleSummary]]:
    """Summaries of every candidate file at ``commit``, parsing only files the cache does not hold."""
    if cache is not None and mirror.has_commit(cache.commit):
        files = dict(cache.files)
        wanted: list[FileEntry] = []
        for change in mirror.changes(cache.commit, commit):
            files.pop(change.path, None)
            if change.sha is not None and is_candidate(change.path, spec.include, spec.exclude):
                wanted.append(FileEntry(change.path, change.sha, -1))
    else:
        files = {}
        wanted = [e for e in mirror.files(commit) if is_candidate(e.path, spec.include, spec.exclude)]
    files.update(_summarize(mirror, wanted))
    return files


def _summarize(mirror: Mirror, entries: list[FileEntry]) -> dict[str, tuple[str, ModuleSummary]]:
    contents = mirror.read_many([entry.sha for entry in entries])
    items = [(entry.path, data) for entry, data in zip(entries, contents, strict=True)]
    if len(items) < PARALLEL_THRESHOLD or (os.cpu_count() or 1) < 2:
        summaries: Iterable[ModuleSummary] = [summarize_module(path, data) for path, data in items]
    else:
        workers = min(os.cpu_count() or 2, 4)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
            summaries = list(pool.map(_summarize_item, items, chunksize=max(16, len(items) // (workers * 4))))
    return {entry.path: (entry.sha, summary) for entry, summary in zip(entries, summaries, strict=True)}


def _summarize_item(item: tuple[str, bytes]) -> ModuleSummary:
    return summarize_module(item[0], item[1])


def _read_cache(path: Path, spec: SourceSpec) -> _SummaryCache | None:
    try:
        with path.open("rb") as handle:
            cache = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return None
    if (
        not isinstance(cache, _SummaryCache)
        or cache.version != CACHE_VERSION
        or cache.filters != (spec.include, spec.exclude)
    ):
        return None
    return cache


def _write_cache(path: Path, cache: _SummaryCache) -> None:
    """Write atomically; a cache that cannot be written only costs a full parse next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            pickle.dump(cache, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass
