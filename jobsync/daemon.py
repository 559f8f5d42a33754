"""The service: sync every source on its schedule, watch local folders, obey systemd. No business rules."""

from __future__ import annotations

import queue
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog

from jobsync.adapters.notify import Notifier
from jobsync.adapters.watch import FolderWatcher
from jobsync.catalog import Catalog
from jobsync.config import DEFAULT_HEARTBEAT_TIMEOUT, Config
from jobsync.domain.errors import (
    JobSyncError,
    MassUninstallError,
    SourceBusyError,
    SourceReadError,
    SourceRemovedError,
    SourceSuspendedError,
)
from jobsync.ports import SourceReader
from jobsync.spec import SourceSpec

if TYPE_CHECKING:
    from jobsync.app import SyncSummary
    from jobsync.http.server import HttpServer

log = structlog.get_logger("jobsync.daemon")

#: The first retry of a failing source comes after at most this many seconds, then doubles.
RETRY_BASE = 5.0
#: Retries never wait longer than this.
RETRY_CAP = 900.0
#: Spread syncs of many sources so they do not all fetch at the same instant.
JITTER = 0.1
#: Folder changes are gathered this long before a sync (watchfiles' debounce, in ms).
DEBOUNCE_MS = 200
#: A webhook's sync waits until no push came for this long (a Git host sends one delivery per push)...
HOOK_QUIET = 0.25
#: ...but no longer than this after the first push of the burst.
HOOK_MAX_WAIT = 2.0
#: A local folder is also rescanned this often, in case the watcher missed something.
LOCAL_RESCAN = 300.0
#: The loop wakes at least this often to ping the watchdog and check for signals.
MAX_SLEEP = 1.0
#: A suspended or removed source's state is read again this often (a resume takes effect so soon).
SKIPPED_RECHECK = 30.0
#: How often the daemon looks for sources the CLI added, renamed or removed (seconds).
SOURCES_REFRESH = 10.0
#: Stale runs are looked for this often at most (and at least twice per heartbeat_timeout).
REAP_INTERVAL = 30.0


def daemon_actor() -> str:
    """Who the daemon's events are recorded as: ``daemon@HOST``."""
    return f"daemon@{socket.gethostname()}"


@dataclass
class SourceState:
    """What the daemon knows about one source between syncs."""

    spec: SourceSpec
    reader: SourceReader | None = None
    next_due: float = 0.0
    failures: int = 0
    dirty: bool = False
    #: When a webhook's sync is due (see HOOK_QUIET), or None; and when its burst began.
    requested: float | None = None
    burst_began: float = 0.0
    last_reason: str | None = None
    last_ok: float | None = None
    watcher: FolderWatcher | None = None
    #: The config names this source, which an operator removed: its next sync adds it back.
    readd: bool = False

    @property
    def period(self) -> float:
        if self.spec.kind == "git":
            return self.spec.interval
        if self.spec.kind == "local":
            return LOCAL_RESCAN
        return float("inf")  # app sources are read at start and on reload


@dataclass
class Reaper:
    """Ends the runs whose worker went quiet or overran (docs/design.md §3 rule 12), at a modest interval.

    Several daemons on one store may reap at once: each run's versioned save lets one of them end it.
    """

    timeout: float
    next_due: float = 0.0

    def tick(self, catalog: Catalog, now: float) -> None:
        if now < self.next_due:
            return
        self.next_due = now + min(REAP_INTERVAL, self.timeout / 2)
        try:
            reaped = catalog.reap_stale_runs(self.timeout, actor=daemon_actor())
        except JobSyncError as exc:
            log.warning("reaping stale runs failed", error=str(exc))
            return
        except Exception:  # a bug must cost one round of reaping, not the service
            log.exception("reaping stale runs errored")
            return
        for ident, reason in reaped:
            log.warning("stale run ended as errored", result=str(ident), reason=reason)


@dataclass
class Daemon:
    """One process's loop over its sources; signals only set flags, the loop acts on them."""

    load_config: Callable[[], Config]
    open_catalog: Callable[[Config], Catalog]
    notifier: Notifier
    clock: Callable[[], float] = time.monotonic
    sources: dict[str, SourceState] = field(default_factory=dict)
    _wake: queue.Queue[str] = field(default_factory=queue.Queue)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reload: threading.Event = field(default_factory=threading.Event)
    _last_ping: float = 0.0
    _status: str = ""
    reaper: Reaper = field(default_factory=lambda: Reaper(DEFAULT_HEARTBEAT_TIMEOUT))
    #: The HTTP face, when ``[http]`` is configured; it runs in its own thread.
    http: HttpServer | None = None
    _first_pass: threading.Event = field(default_factory=threading.Event)
    #: The names the config file gave at the last start or reload.
    _configured: set[str] = field(default_factory=set)
    _config_specs: tuple[SourceSpec, ...] = ()
    _next_refresh: float = 0.0

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; exit code 0 after finishing the save in flight."""
        config = self.load_config()
        self.catalog = self.open_catalog(config)
        self.reaper.timeout = config.heartbeat_timeout
        self._install_signals()
        self._apply_sources(config.sources)
        try:
            self._start_http(config)
        except JobSyncError:
            self.catalog.close()
            raise
        names = sorted(self.sources)
        suspended = sorted(name for name in names if self.catalog.source_state(name) == "suspended")
        log.info(
            "daemon starting",
            count=len(names),
            sources=names,
            suspended=suspended,
            store=self.catalog.store_label,
        )
        for state in list(self.sources.values()):  # the first pass, before READY=1
            if self._stop.is_set():
                break
            self._sync(state)
        self._first_pass.set()
        if not self._stop.is_set():  # a SIGTERM during the first pass: STOPPING=1 was the last word
            self.notifier.ready()
            self._report_status()
            log.info("daemon ready", sources=len(self.sources))
        while not self._stop.is_set():
            if self._reload.is_set():
                self._do_reload()
            for state in self._due():
                if self._stop.is_set() or self._reload.is_set():
                    break
                self._sync(state)
            self._fire_schedules()
            self._refresh_sources()
            self.reaper.tick(self.catalog, self.clock())
            self._ping()
            self._report_status()
            self._sleep()
        self._shutdown()
        return 0

    # -- scheduling ----------------------------------------------------------------------------

    def _due(self) -> list[SourceState]:
        now = self.clock()
        due = [s for s in self.sources.values() if s.dirty or s.next_due <= now or _asked_by(s, now)]
        return sorted(due, key=lambda s: (not (s.dirty or _asked_by(s, now)), s.next_due))

    def _sleep(self) -> None:
        now = self.clock()
        wait = min(
            [s.next_due - now for s in self.sources.values()]
            + [s.requested - now for s in self.sources.values() if s.requested is not None]
            + [MAX_SLEEP]
        )
        interval = self.notifier.watchdog_interval()
        if interval is not None:
            wait = min(wait, max(0.0, self._last_ping + interval - now))
        with suppress(queue.Empty):
            self._wake.get(timeout=max(0.0, wait))

    def _sync(self, state: SourceState) -> None:
        """One sync, on the same path as ``jobsync resync``; a failure only reschedules this source."""
        dirty, state.dirty = state.dirty or state.requested is not None, False
        state.requested = None  # a request from now on comes after this sync's read: one more sync
        started = self.clock()
        spec = state.spec
        readd = state.readd
        if self._skipped(state):
            state.next_due = self.clock() + _jittered(min(state.period, SKIPPED_RECHECK))
            return
        try:
            if state.reader is None:
                state.reader = self.catalog.reader_for(spec)
            summary = self.catalog.poll(spec, state.reader, readd=readd)
        except (SourceSuspendedError, SourceRemovedError) as exc:  # since the check
            state.next_due = self.clock() + _jittered(min(state.period, SKIPPED_RECHECK))
            skipped = "suspended" if isinstance(exc, SourceSuspendedError) else "removed"
            log.debug("sync skipped", source=spec.name, reason=skipped)
            outcome = skipped
        except SourceBusyError:
            # Another daemon (or a person's resync) is syncing it now: this round is theirs, and no
            # failure. A folder change seen here may have come after their read: look again soon.
            state.next_due = self.clock() + _jittered(
                min(state.period, RETRY_BASE) if dirty else state.period
            )
            log.debug("sync skipped", source=spec.name, reason="another process is syncing it")
            outcome = "busy"
        except JobSyncError as exc:
            state.failures += 1
            state.last_reason = exc.reason if isinstance(exc, SourceReadError) else type(exc).__name__
            # A refused mass uninstall is no fault to back off from: the source reads fine, its content
            # wants a person's word. Ask again each interval; a fixed source or a raised limit then syncs.
            refused = isinstance(exc, MassUninstallError)
            outcome = "refused" if refused else "failed"
            delay = _jittered(state.period) if refused else self._retry_delay(state)
            state.next_due = self.clock() + delay
            log.warning(
                "sync refused" if refused else "sync failed",
                source=spec.name,
                reason=state.last_reason,
                error=str(exc),
                retry_in=round(delay, 1),
            )
        except Exception:  # a bug must cost one sync, not the service
            state.failures += 1
            state.last_reason = "Error"
            delay = self._retry_delay(state)
            state.next_due = self.clock() + delay
            log.exception("sync errored", source=spec.name, retry_in=round(delay, 1))
            outcome = "failed"
        else:
            state.failures = 0
            state.last_reason = None
            state.last_ok = time.time()
            state.next_due = self.clock() + _jittered(state.period)
            outcome = "unchanged" if summary.up_to_date else "ok"
            # A poll that found nothing new is the daemon's heartbeat, not news: debug.
            (log.debug if summary.up_to_date else log.info)(
                "sync finished",
                source=spec.name,
                kind=spec.kind,
                commit=summary.commit,
                up_to_date=summary.up_to_date,
                **summary.counts(),
                seconds=round(self.clock() - started, 3),
            )
            _log_problems(spec.name, summary)
        if self.http is not None:
            self.http.context.metrics.sync_done(spec.name, outcome, self.clock() - started)
        if spec.kind == "local":
            self._ensure_watching(state)
        self._ping()

    def _skipped(self, state: SourceState) -> bool:
        """Whether an operator suspended or removed the source (read from the log, which the CLI
        writes): the daemon still knows it, but does not sync it. A removed source the config names
        is added back by the first sync after a start or reload (``readd``)."""
        try:
            status = self.catalog.source_state(state.spec.name)
        except JobSyncError as exc:
            log.warning("source state unknown", source=state.spec.name, error=str(exc))
            return False
        if status == "removed" and state.readd:
            state.readd = False
            return False
        if status in ("suspended", "removed"):
            log.debug("sync skipped", source=state.spec.name, reason=status)
            return True
        return False

    def _retry_delay(self, state: SourceState) -> float:
        """Exponential backoff from a quick first retry, capped; a success resets it."""
        base = min(state.period, RETRY_BASE)
        return _jittered(min(base * 2 ** (state.failures - 1), RETRY_CAP))

    def _fire_schedules(self) -> None:
        """Record a pending result for each due schedule (docs/design.md §3 rule 11); a failure costs this tick only.

        Several daemons may do this at once: each due time is saved once, with a deterministic
        result id, and the daemon that loses the race finds the schedule already moved on.
        """
        try:
            fired = self.catalog.fire_due_schedules()
        except JobSyncError as exc:
            log.warning("schedules not fired", error=str(exc))
        except Exception:  # a bug must cost one tick, not the service
            log.exception("schedules errored")
        else:
            if fired and self.http is not None:
                self.http.context.metrics.schedules_fired.inc(len(fired))
            if fired:
                log.info("schedules fired", results=[str(ident) for ident in fired])

    # -- HTTP (docs/design.md §6): the server calls these from its own threads ---------------------------

    def _start_http(self, config: Config) -> None:
        if config.http is None:
            return
        from jobsync.http.auth import Tokens
        from jobsync.http.context import HttpContext
        from jobsync.http.metrics import Metrics
        from jobsync.http.server import HttpServer

        context = HttpContext(self.catalog, Tokens.load(config.http.tokens_file), Metrics(self.catalog), self)
        self.http = HttpServer(context, config.http.host, config.http.port)
        self.http.start()

    def followed(self, name: str) -> SourceSpec | None:
        state = self.sources.get(name)
        return state.spec if state is not None else None

    def request_sync(self, name: str) -> None:
        """A webhook's push: sync once the burst it may be part of is over (called from the server's thread)."""
        state = self.sources.get(name)
        if state is None:
            return
        now = self.clock()
        first = state.requested is None
        if first:
            state.burst_began = now
        state.requested = min(now + HOOK_QUIET, state.burst_began + HOOK_MAX_WAIT)
        if first:  # later pushes only move the time on: the loop, once awake, sleeps until it
            self._wake.put("hook")

    def first_pass_done(self) -> bool:
        return self._first_pass.is_set()

    # -- local folders -------------------------------------------------------------------------

    def _ensure_watching(self, state: SourceState) -> None:
        if state.watcher is not None and state.watcher.alive:
            return
        if state.watcher is not None:  # the folder went away (or was replaced): watch the new one
            state.watcher.stop()
            state.watcher = None
        if not Path(state.spec.url).is_dir():
            return  # the scheduled retries report it; watching starts once the folder exists
        name = state.spec.name
        state.watcher = FolderWatcher(Path(state.spec.url), lambda: self._mark_dirty(name), DEBOUNCE_MS)
        state.watcher.start()

    def _mark_dirty(self, name: str) -> None:
        """Called from a watcher thread: flag the source and wake the loop."""
        state = self.sources.get(name)
        if state is not None:
            state.dirty = True
        self._wake.put("dirty")

    # -- reload and shutdown -------------------------------------------------------------------

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_reload)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()
        self.notifier.stopping()
        self._wake.put("stop")

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self._reload.set()
        self._wake.put("reload")

    def _do_reload(self) -> None:
        """Re-read the config and apply added, removed and changed sources; a bad config changes nothing."""
        self._reload.clear()
        self.notifier.reloading()
        try:
            config = self.load_config()
        except JobSyncError as exc:
            log.error("reload refused: the running configuration stays", error=str(exc))
        else:
            added, removed, changed = self._apply_sources(config.sources)
            self.reaper.timeout = config.heartbeat_timeout
            self._reload_http(config)
            log.info("configuration reloaded", added=added, removed=removed, changed=changed)
        self.notifier.ready()
        self._report_status()

    def _reload_http(self, config: Config) -> None:
        """A reload re-reads the tokens file; where the server listens changes only with a restart."""
        if self.http is None or config.http is None:
            if (self.http is None) != (config.http is None):
                log.warning("the [http] table changed: restart the daemon to apply it")
            return
        from jobsync.http.auth import Tokens

        try:
            self.http.context.tokens = Tokens.load(config.http.tokens_file)
        except JobSyncError as exc:
            log.error("tokens not reloaded: the old ones stay", error=str(exc))

    def _apply_sources(self, specs: tuple[SourceSpec, ...]) -> tuple[list[str], list[str], list[str]]:
        """Follow the config's sources and every source the catalog remembers (docs/design.md §6 Daemon).

        Suspended ones are followed too (their state is read before each sync); a removed one the
        config still names is added back, as a manifest re-applied brings back what it declares.
        """
        followed = self.catalog.followed_sources(specs)
        for note in followed.notes:
            log.warning("configured source", note=note)
        wanted = {spec.name: spec for spec in followed.specs}
        self._config_specs = specs
        self._next_refresh = self.clock() + SOURCES_REFRESH
        configured = {spec.name for spec in specs}
        for name in sorted(self._configured - configured):
            if name in wanted:  # the catalog remembers it: only `sources remove` forgets it
                log.warning(
                    "source left the config file",
                    source=name,
                    note=f"still synced as a remembered source; 'jobsync sources remove {name}' stops that",
                )
        self._configured = configured
        removed = [name for name in self.sources if name not in wanted]
        added = [name for name in wanted if name not in self.sources]
        changed = [
            name for name in wanted if name in self.sources and self.sources[name].spec != wanted[name]
        ]
        for name in removed + changed:
            self._forget(name)
        for name in added + changed:
            self.sources[name] = SourceState(wanted[name])
        for name, state in self.sources.items():
            state.readd = wanted[name].configured and self.catalog.source_state(name) == "removed"
        # Apps are re-read on every reload: a reload is how an upgraded package is noticed.
        for state in self.sources.values():
            if state.spec.kind == "app":
                state.next_due = 0.0
                state.reader = None
        self.catalog.configure_sources(specs)
        return added, removed, changed

    def _refresh_sources(self) -> None:
        """Follow what the CLI changed since: a source first synced by ``resync URL``, a rename, a
        removal (the config is not re-read: that is what a reload does)."""
        now = self.clock()
        if now < self._next_refresh:
            return
        self._next_refresh = now + SOURCES_REFRESH
        try:
            followed = self.catalog.followed_sources(self._config_specs)
        except JobSyncError as exc:
            log.warning("sources not refreshed", error=str(exc))
            return
        wanted = {spec.name: spec for spec in followed.specs}
        added = [name for name in wanted if name not in self.sources]
        gone = [name for name in self.sources if name not in wanted]
        for name in gone:
            self._forget(name)
        for name in added:
            self.sources[name] = SourceState(wanted[name])
        if added or gone:
            log.info("sources changed", added=added, removed=gone, sources=sorted(self.sources))

    def _forget(self, name: str) -> None:
        state = self.sources.pop(name)
        if state.watcher is not None:
            state.watcher.stop()

    def _shutdown(self) -> None:
        if self.http is not None:
            self.http.stop()
        for name in list(self.sources):
            self._forget(name)
        log.info("daemon stopped")
        self.catalog.close()

    # -- systemd -------------------------------------------------------------------------------

    def _ping(self) -> None:
        """WATCHDOG=1 from the loop's own progress, so a hung sync stops the pings."""
        interval = self.notifier.watchdog_interval()
        now = self.clock()
        if interval is not None and now - self._last_ping >= interval:
            self.notifier.watchdog()
            self._last_ping = now

    def _report_status(self) -> None:
        failing = {n: s.last_reason for n, s in self.sources.items() if s.failures}
        synced = [s.last_ok for s in self.sources.values() if s.last_ok is not None]
        last = time.strftime("%H:%M:%S", time.localtime(max(synced))) if synced else "never"
        text = f"{len(self.sources)} sources: {len(self.sources) - len(failing)} ok, {len(failing)} failing"
        if failing:
            text += " (" + ", ".join(f"{n}: {r}" for n, r in sorted(failing.items())) + ")"
        text += f"; last sync {last}"
        if text != self._status:
            self.notifier.status(text)
            self._status = text


def _log_problems(source: str, summary: SyncSummary) -> None:
    """Each problem of a sync on its own line, with file, line and kind: errors at error, notes at debug."""
    for problem in summary.problems:
        emit = {"error": log.error, "note": log.debug}.get(problem.kind, log.warning)
        emit(
            "sync problem",
            source=source,
            file=problem.file,
            line=problem.line,
            kind=problem.kind,
            reason=problem.reason,
        )


def _asked_by(state: SourceState, now: float) -> bool:
    """Whether a webhook's sync of ``state`` is due."""
    return state.requested is not None and state.requested <= now


def _jittered(seconds: float) -> float:
    if seconds == float("inf"):
        return seconds
    return seconds * (1 + random.uniform(-JITTER, JITTER))


def run_daemon(
    load_config: Callable[[], Config], open_catalog: Callable[[Config], Catalog], **kwargs: Any
) -> int:
    """Entry for ``jobsync daemon``: the notifier comes from the environment systemd set."""
    return Daemon(load_config, open_catalog, Notifier.from_environ(), **kwargs).run()
