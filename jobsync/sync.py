"""One path from ``git fetch`` (or a folder scan) to events appended: read, diff, parse what changed, save."""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Protocol
from uuid import UUID

from jobsync.adapters.folder import AppFolder, Folder
from jobsync.adapters.git import DEFAULT_TIMEOUT, Change, FileEntry, Mirror, RemoteOptions, redact_url
from jobsync.app import JobCatalogApp, SyncSummary
from jobsync.domain.discovery import (
    Discovery,
    ModuleSummary,
    Problem,
    is_candidate,
    resolve_jobs,
    summarize_module,
)
from jobsync.domain.errors import JobSyncError, SourceReadError
from jobsync.domain.result import MAX_MESSAGE, LogEntry
from jobsync.domain.source import Source, source_id
from jobsync.memory import gc_paused

#: Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 200
#: How often the daemon syncs a git source when the config does not say (seconds).
DEFAULT_INTERVAL = 300.0
#: Bump when discovery's output for the same file changes, so cached summaries are not reused.
CACHE_VERSION = 2


@dataclass(frozen=True)
class SourceSpec:
    """Where a source lives and which files of it count, as config or the command line give it.

    ``url`` is the git URL, the folder of a ``local`` source, or the distribution of an ``app``.
    A git source follows at most one of ``branch``, ``tag`` and ``commit`` (none: the remote HEAD).
    ``auth`` says how the secret from ``credentials_env``/``credentials_file`` is sent over
    http(s): ``basic`` (``user:secret``, or a bare token as the password) or ``bearer``.
    """

    name: str
    url: str
    branch: str | None = None
    kind: str = "git"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    interval: float = DEFAULT_INTERVAL
    credentials_env: str | None = None
    credentials_file: str | None = None
    tag: str | None = None
    commit: str | None = None
    auth: str = "basic"
    proxy: str | None = None
    ca_bundle: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None

    @property
    def location(self) -> str:
        """Where the source lives, safe to record and print (credentials removed)."""
        return redact_url(self.url) if self.kind == "git" else self.url

    @property
    def remote_options(self) -> RemoteOptions:
        """How the git adapter reaches this source's remote."""
        return RemoteOptions(
            timeout=self.timeout,
            proxy=self.proxy,
            ca_bundle=self.ca_bundle,
            ssh_key_file=self.ssh_key_file,
            known_hosts_file=self.known_hosts_file,
        )


@dataclass(frozen=True)
class Credentials:
    """The secret of one fetch: HTTP basic auth (``username``/``password``) or a bearer ``token``."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    def __repr__(self) -> str:  # a stray log of this object must not print the secret
        return f"Credentials(username={self.username!r}, password=***, token=***)"


class Snapshot(Protocol):
    """A source's files at one ``commit`` (a git commit, or a content digest of a folder)."""

    commit: str
    branch: str

    def files(self) -> list[FileEntry]: ...

    def changes_since(self, old_commit: str, cached: Mapping[str, str]) -> list[Change] | None: ...

    def read_many(self, shas: Sequence[str]) -> list[bytes]: ...

    def links(self) -> list[str]: ...


class Reader(Protocol):
    """Brings a source's current files: a git fetch, or a folder scan."""

    def snapshot(self, branch: str | None = None) -> Snapshot: ...


@dataclass
class _GitSnapshot:
    """A fetched commit of a bare mirror."""

    mirror: Mirror
    commit: str
    branch: str

    def files(self) -> list[FileEntry]:
        return self.mirror.files(self.commit)

    def changes_since(self, old_commit: str, cached: Mapping[str, str]) -> list[Change] | None:
        if not self.mirror.has_commit(old_commit):
            return None
        return self.mirror.changes(old_commit, self.commit)

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        return self.mirror.read_many(shas)

    def links(self) -> list[str]:
        return self.mirror.links(self.commit)


@dataclass
class _GitReader:
    mirror: Mirror
    spec: SourceSpec

    def snapshot(self, branch: str | None = None) -> Snapshot:
        """Fetch what the spec follows; an explicit ``branch`` (``resync --branch``) wins over its tag or commit."""
        credentials = read_credentials(self.spec)  # re-read each time: rotated tokens just work
        pinned = branch is None
        fetched = self.mirror.fetch(
            branch,
            tag=self.spec.tag if pinned else None,
            commit=self.spec.commit if pinned else None,
            username=credentials.username,
            password=credentials.password,
            token=credentials.token,
        )
        return _GitSnapshot(self.mirror, fetched.commit, fetched.branch)


def read_credentials(spec: SourceSpec) -> Credentials:
    """The secret from ``credentials_env`` / ``credentials_file``, read now; never from config text.

    With ``auth = "basic"`` the text is ``user:secret`` or a bare token (sent as the password);
    with ``bearer`` it is the token. A relative ``credentials_file`` is a name under systemd's
    ``$CREDENTIALS_DIRECTORY``. Messages name the variable or file, never its content.
    """
    if spec.credentials_env:
        origin = f"environment variable {spec.credentials_env}"
        text = os.environ.get(spec.credentials_env)
        if not text:
            raise SourceReadError("AuthenticationFailed", f"credentials of {spec.name}: {origin} is not set")
    elif spec.credentials_file:
        path = Path(spec.credentials_file)
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not path.is_absolute() and directory:
            path = Path(directory) / path
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            hint = "" if path.is_absolute() else " ($CREDENTIALS_DIRECTORY is not set)"
            raise SourceReadError(
                "AuthenticationFailed", f"credentials of {spec.name}: cannot read {origin}: {why}{hint}"
            ) from None
    else:
        return Credentials()
    text = text.strip()
    if not text or any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        # A newline would end the HTTP header early; say so without quoting the secret.
        what = "is empty" if not text else "holds more than one line or a control character"
        raise SourceReadError("AuthenticationFailed", f"credentials of {spec.name}: {origin} {what}")
    if spec.auth == "bearer":
        return Credentials(token=text)
    if ":" in text:
        user, _, secret = text.partition(":")
        return Credentials(username=user or None, password=secret)
    return Credentials(password=text)


def open_reader(spec: SourceSpec, state_dir: Path) -> Reader:
    """The reader for a source: a bare mirror under the state dir, a watched folder, or an app's files."""

    def wanted(path: str) -> bool:
        return is_candidate(path, spec.include, spec.exclude)

    if spec.kind == "local":
        return Folder(Path(spec.url), wanted)
    if spec.kind == "app":
        return AppFolder(spec.url, wanted)
    mirror = Mirror(state_dir / "mirrors" / f"{source_id(spec.name)}.git", spec.url, spec.remote_options)
    return _GitReader(mirror, spec)


@dataclass
class _SummaryCache:
    """Per-file discovery summaries at one commit, keyed by blob sha: derived data, safe to lose."""

    commit: str
    filters: tuple[tuple[str, ...], tuple[str, ...]]
    files: dict[str, tuple[str, ModuleSummary]]
    version: int = CACHE_VERSION


def resync(
    app: JobCatalogApp,
    spec: SourceSpec,
    state_dir: Path,
    actor: str,
    reader: Reader | None = None,
    record_unchanged: bool = True,
) -> SyncSummary:
    """Sync one source, recorded as a result of the built-in sync task.

    The result is saved as running before the fetch; it finishes ``completed`` in the same
    transaction as the sync's job events, or ``failed`` with the reason when nothing could be saved.
    A source that has not moved appends no job events; with ``record_unchanged=False`` (the
    daemon's polling) it appends nothing at all, so an idle service does not grow the log.
    A long-lived caller passes its ``reader`` so a folder rescan only reads files whose stat changed.
    """
    source = app.register_source(spec.name, spec.kind, spec.location, spec.branch, actor)
    result_id = app.start_sync_result(spec.name, actor) if record_unchanged else None
    try:
        snapshot = (reader or open_reader(spec, state_dir)).snapshot(spec.branch)
        if source.last_commit == snapshot.commit:
            summary = SyncSummary(source=spec.name, commit=snapshot.commit, up_to_date=True, result=result_id)
            recovered = source.failure is not None
            if recovered:  # reachable again: say so, even though nothing moved
                source.record_sync(snapshot.commit, snapshot.branch, summary.counts(), actor=actor)
            if result_id is None and recovered:
                result_id = summary.result = app.start_sync_result(spec.name, actor)
            if result_id is not None:
                entries = summary.log_entries()
                result = app.end_sync_result(result_id, entries, "completed", summary.as_dict(), actor)
                app.save_and_project(result, *([source] if recovered else []))
            return summary
        if result_id is None:
            result_id = app.start_sync_result(spec.name, actor)
        summary = _apply(app, spec, source, snapshot, state_dir, actor, result_id)
        if summary.up_to_date:  # another process saved this commit first; this sync adds nothing
            summary.result = result_id
            entries = summary.log_entries()
            app.save_and_project(
                app.end_sync_result(result_id, entries, "completed", summary.as_dict(), actor)
            )
        return summary
    except JobSyncError as exc:
        _end_result(app, spec.name, result_id, "failed", str(exc), actor)
        _remember_failure(app, spec.name, exc, actor)
        raise
    except Exception as exc:
        _end_result(app, spec.name, result_id, "errored", f"{type(exc).__name__}: {exc}", actor)
        raise


def _apply(
    app: JobCatalogApp,
    spec: SourceSpec,
    source: Source,
    snapshot: Snapshot,
    state_dir: Path,
    actor: str,
    result_id: UUID,
) -> SyncSummary:
    """Parse what changed since the cached summaries, then save the sync's events in one transaction."""
    cache_file = state_dir / "cache" / f"{source.id}.pickle"
    with gc_paused():
        cache = _read_cache(cache_file, spec)
        files = _summaries_at(snapshot, spec, cache)
        discovery = resolve_jobs({path: summary for path, (_, summary) in files.items()})
        discovery = _with_link_problems(discovery, snapshot, spec)
        summary = app.apply_discovery(source, snapshot.commit, snapshot.branch, discovery, actor, result_id)
        _write_cache(cache_file, _SummaryCache(snapshot.commit, (spec.include, spec.exclude), files))
    return summary


def _with_link_problems(discovery: Discovery, snapshot: Snapshot, spec: SourceSpec) -> Discovery:
    """Say which symbolic links were not followed, where one could have held job files."""
    skipped = [
        Problem(
            path,
            0,
            "symbolic link: not followed (only regular files are read, so nothing outside the source is)",
        )
        for path in snapshot.links()
        if is_candidate(path, spec.include, spec.exclude)
        or is_candidate(f"{path}/__init__.py", spec.include, spec.exclude)
    ]
    if not skipped:
        return discovery
    problems = tuple(sorted((*discovery.problems, *skipped), key=lambda p: (p.file, p.line, p.reason)))
    return replace(discovery, problems=problems)


def _remember_failure(app: JobCatalogApp, name: str, exc: JobSyncError, actor: str) -> None:
    """A known source keeps its last failure (``sources show``); a never-saved one records nothing."""
    source = app.get_source(name)
    reason = exc.reason if isinstance(exc, SourceReadError) else type(exc).__name__.removesuffix("Error")
    if source is not None and source.record_failure(reason, str(exc), actor=actor):
        with suppress(Exception):  # another writer, or the store itself failing, must not hide exc
            app.save_and_project(source)


def _end_result(
    app: JobCatalogApp, name: str, result_id: UUID | None, status: str, reason: str, actor: str
) -> None:
    """Finish a sync result that saved nothing; a failure here must not hide the original error."""
    entry = LogEntry(reason[:MAX_MESSAGE], "failure" if status == "failed" else "error", "sync")
    with suppress(Exception):  # the store itself may be what failed
        result_id = result_id or app.start_sync_result(name, actor)
        app.save_and_project(app.end_sync_result(result_id, [entry], status, {"error": reason}, actor))


def _summaries_at(
    snapshot: Snapshot, spec: SourceSpec, cache: _SummaryCache | None
) -> dict[str, tuple[str, ModuleSummary]]:
    """Summaries of every candidate file of ``snapshot``, parsing only files the cache does not hold."""
    changes = None
    if cache is not None:
        changes = snapshot.changes_since(cache.commit, {path: sha for path, (sha, _) in cache.files.items()})
    if cache is not None and changes is not None:
        files = dict(cache.files)
        wanted: list[FileEntry] = []
        for change in changes:
            files.pop(change.path, None)
            if change.sha is not None and is_candidate(change.path, spec.include, spec.exclude):
                wanted.append(FileEntry(change.path, change.sha, -1))
    else:
        files = {}
        wanted = [e for e in snapshot.files() if is_candidate(e.path, spec.include, spec.exclude)]
    files.update(_summarize(snapshot, wanted))
    return files


def _summarize(snapshot: Snapshot, entries: list[FileEntry]) -> dict[str, tuple[str, ModuleSummary]]:
    contents = snapshot.read_many([entry.sha for entry in entries])
    items = [(entry.path, data) for entry, data in zip(entries, contents, strict=True)]
    if len(items) < PARALLEL_THRESHOLD or (os.cpu_count() or 1) < 2:
        summaries: Iterable[ModuleSummary] = [summarize_module(path, data) for path, data in items]
    else:
        workers = min(os.cpu_count() or 2, 4)
        # Forking copies only the calling thread; with other threads alive (the daemon's watchers)
        # a fork could inherit a held lock, so a fork server starts the workers then.
        method = "fork" if threading.active_count() == 1 else "forkserver"
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method)) as pool:
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
