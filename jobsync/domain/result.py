"""The JobResult aggregate: one run of a job (or of a sync), its status lifecycle and its log entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from jobsync.domain.errors import JobSyncError
from jobsync.domain.text import storable

PENDING, RUNNING, COMPLETED, FAILED, ERRORED = "pending", "running", "completed", "failed", "errored"
FINISHED_STATUSES = (COMPLETED, FAILED, ERRORED)
STATUSES = (PENDING, RUNNING, *FINISHED_STATUSES)
#: Nautobot's log levels, in order of severity.
LOG_LEVELS = ("debug", "info", "success", "warning", "failure", "error", "critical")
TASKS = ("job", "sync")
#: The queue a job with no ``task_queues`` serves (Nautobot's default Celery queue).
DEFAULT_QUEUE = "default"

#: Nautobot's column sizes; longer values are refused rather than cut short silently.
MAX_GROUPING = 255
MAX_OBJECT = 200
MAX_URL = 255
MAX_MESSAGE = 1_000_000


@dataclass(frozen=True)
class RunOptions:
    """How a run is queued: from which schedule, for which of its job's queues, and whether it may
    run beside another run of a singleton job."""

    scheduled_job: str | None = None
    queue: str | None = None
    ignore_singleton: bool = False
    #: A deterministic id instead of a fresh one: a schedule's due time is recorded once.
    result_id: UUID | None = None


#: A run queued with no options: any of its job's queues, no schedule.
PLAIN_RUN = RunOptions()


#: A run may outlive its job's ``time_limit`` by this much (seconds) before the reaper ends it:
#: the worker's own limit should fire first and report how the run ended.
TIME_LIMIT_GRACE = 60.0


def stale_reason(
    started: datetime | None, last_seen: datetime | None, time_limit: float, now: datetime, timeout: float
) -> str | None:
    """Why a running run should be ended as errored (docs/design.md §3 rule 12), or None while it is healthy.

    ``last_seen`` is its last claim, start, heartbeat or log entry; ``time_limit`` 0 means none.
    """
    if started is not None and time_limit > 0:
        ran = (now - started).total_seconds()
        if ran > time_limit + TIME_LIMIT_GRACE:
            return (
                f"ran {ran:.0f} s, past its job's time_limit of {time_limit:g} s "
                f"(plus {TIME_LIMIT_GRACE:g} s grace): ended by the reaper"
            )
    if last_seen is not None:
        quiet = (now - last_seen).total_seconds()
        if quiet > timeout:
            return (
                f"no heartbeat or log entry from its worker for {quiet:.0f} s "
                f"(heartbeat_timeout {timeout:g} s): ended by the reaper"
            )
    return None


class ResultError(JobSyncError):
    """A result change was refused: bad status move, bad level, or a field too long."""


@dataclass(frozen=True)
class LogEntry:
    """One log line of a run, as an executor hands it to jobsync."""

    message: str
    level: str = "info"
    grouping: str = "main"
    object: str = ""
    url: str = ""


def storable_entry(entry: LogEntry) -> LogEntry:
    """The entry with every unstorable character replaced by U+FFFD, the message saying how many."""
    fields = [storable(text) for text in (entry.message, entry.grouping, entry.object, entry.url)]
    replaced = sum(count for _, count in fields)
    if not replaced:
        return entry
    message, grouping, obj, url = (text for text, _ in fields)
    note = f" [jobsync: {replaced} unstorable character{'s' if replaced > 1 else ''} shown as U+FFFD]"
    return LogEntry(message + note, entry.level, grouping, obj, url)


def check_log_entry(entry: LogEntry) -> None:
    """Refuse unknown levels and over-long fields with a message that says which and by how much."""
    if entry.level not in LOG_LEVELS:
        raise ResultError(f"log level {entry.level!r} is not one of {', '.join(LOG_LEVELS)}")
    for what, value, limit in (
        ("grouping", entry.grouping, MAX_GROUPING),
        ("object", entry.object, MAX_OBJECT),
        ("url", entry.url, MAX_URL),
        ("message", entry.message, MAX_MESSAGE),
    ):
        if len(value) > limit:
            raise ResultError(f"log {what} is {len(value)} characters; at most {limit} allowed")


class JobResult(Aggregate):
    """A run recorded by an executor (or by jobsync for its own syncs).

    Log entries are events of the result; the aggregate keeps only their count, so a run with
    100,000 entries stays cheap to load (the entries themselves are read from the log view).
    While it runs, every event (claim, start, heartbeat, log entry) is a sign of life: its
    ``modified_on`` says when its worker was last heard of.
    """

    #: The worker that claimed the run (a class default: snapshots from before claims lack it).
    worker: str | None = None

    class Event(Aggregate.Event):
        """Every result event says who caused it."""

        actor: str

    class ResultRecorded(Event, Aggregate.Created):
        """A run was queued (status ``pending``); the job's ref and name are kept as text for audit.

        Version 2 added ``args_stored`` (False: the job has sensitive variables, so ``args`` is None
        and the caller's args were never written, docs/design.md §3 rule 10), the job's ``commit`` and
        ``file`` when the run was recorded (which code it was meant to run), the ``queues`` a worker
        may claim it from, and ``ignore_singleton``. Version 1 events read as args stored, no
        commit or file, queue ``default``.
        """

        class_version = 2
        job_id: UUID | None
        job_ref: str
        job_name: str
        task: str
        args: Any
        scheduled_job: str | None
        args_stored: bool
        commit: str | None
        file: str | None
        queues: list[str]
        ignore_singleton: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(
                args_stored=True, commit=None, file=None, queues=[DEFAULT_QUEUE], ignore_singleton=False
            )

    class ResultStarted(Event):
        """The run began."""

    class ResultClaimed(Event):
        """A worker took the pending run (docs/design.md §3 rule 12); it is running now.

        ``exclusive``: the claim counted on no other run of the job running (a singleton job, not
        recorded with ``ignore_singleton``); the save that records it checks so, under the write lock.
        """

        worker: str
        exclusive: bool

    class ResultHeartbeat(Event):
        """The run's worker said it is still alive; the daemon's reaper leaves the run alone."""

    class ResultFinished(Event):
        """The run ended with ``status``; ``data`` is its JSON output."""

        status: str
        data: Any

    class LogEmitted(Event):
        """The run wrote one log entry (its time is the event's timestamp)."""

        level: str
        message: str
        grouping: str
        object: str
        url: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, JobResult)
            aggregate.log_count += 1

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    @classmethod
    def record(
        cls,
        *,
        job_id: UUID | None,
        job_ref: str,
        job_name: str,
        task: str,
        args: Any,
        actor: str,
        scheduled_job: str | None = None,
        args_stored: bool = True,
        commit: str | None = None,
        file: str | None = None,
        queues: list[str] | None = None,
        ignore_singleton: bool = False,
        result_id: UUID | None = None,
    ) -> JobResult:
        """Queue a run; the caller has checked that the job may run (and dropped sensitive args).

        ``result_id``: a deterministic id instead of a fresh one (a schedule's: each due time fires once).
        """
        if task not in TASKS:
            raise ResultError(f"task {task!r} is not one of {', '.join(TASKS)}")
        # _create, eventsourcing's documented way to pass an id (create_id is asked only when it is None).
        return cls._create(
            cls.ResultRecorded,
            id=result_id,
            job_id=job_id,
            job_ref=job_ref,
            job_name=job_name,
            task=task,
            args=args,
            scheduled_job=scheduled_job,
            args_stored=args_stored,
            commit=commit,
            file=file,
            queues=queues if queues is not None else [DEFAULT_QUEUE],
            ignore_singleton=ignore_singleton,
            actor=actor,
        )

    @event(ResultRecorded)
    def __init__(
        self,
        job_id: UUID | None,
        job_ref: str,
        job_name: str,
        task: str,
        args: Any,
        scheduled_job: str | None,
        args_stored: bool,
        commit: str | None,
        file: str | None,
        queues: list[str],
        ignore_singleton: bool,
        actor: str,
    ) -> None:
        self.job_id = job_id
        self.job_ref = job_ref
        self.job_name = job_name
        self.task = task
        self.args = args
        self.scheduled_job = scheduled_job
        self.args_stored = args_stored
        self.commit = commit
        self.file = file
        self.queues = queues
        self.ignore_singleton = ignore_singleton
        self.recorded_by = actor
        self.status = PENDING
        self.data: Any = None
        self.log_count = 0

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def start(self, actor: str) -> None:
        """pending -> running; anything else is refused (status never moves backwards)."""
        if self.status != PENDING:
            raise ResultError(f"result {self.id} is {self.status}; only a pending result can start")
        self._start(actor=actor)

    def claim(self, worker: str, exclusive: bool, actor: str) -> None:
        """pending -> running for ``worker``; only a job's run is claimed, and only once."""
        if self.task != "job":
            raise ResultError(f"result {self.id} is a {self.task}; only a job's run can be claimed")
        if self.status != PENDING:
            raise ResultError(f"result {self.id} is {self.status}; only a pending result can be claimed")
        self._claim(worker=worker, exclusive=exclusive, actor=actor)

    def heartbeat(self, actor: str) -> None:
        """Say the run is alive; only a running result can (a finished one is beyond saving)."""
        if self.status != RUNNING:
            raise ResultError(f"result {self.id} is {self.status}; only a running result takes a heartbeat")
        self._heartbeat(actor=actor)

    def finish(self, status: str, data: Any, actor: str) -> None:
        """pending|running -> completed|failed|errored, once."""
        if status not in FINISHED_STATUSES:
            raise ResultError(f"a result finishes as {', '.join(FINISHED_STATUSES)}, not {status!r}")
        if self.finished:
            raise ResultError(f"result {self.id} already finished as {self.status}")
        self._finish(status=status, data=data, actor=actor)

    def log(self, entry: LogEntry, actor: str) -> None:
        """Append a log entry; a finished result takes no more.

        A worker relaying device output must never fail on it: a NUL or a lone surrogate, which
        no store keeps, becomes U+FFFD and the message says so.
        """
        entry = storable_entry(entry)
        check_log_entry(entry)
        if self.finished:
            raise ResultError(f"result {self.id} finished as {self.status}; it takes no more log entries")
        # Triggered directly rather than through an @event method: an executor may log 100,000
        # entries, and the decorator's argument handling was a fifth of the cost of each.
        self.trigger_event(
            self.LogEmitted,
            level=entry.level,
            message=entry.message,
            grouping=entry.grouping,
            object=entry.object,
            url=entry.url,
            actor=actor,
        )

    @event(ResultStarted)
    def _start(self, actor: str) -> None:
        self.status = RUNNING

    @event(ResultClaimed)
    def _claim(self, worker: str, exclusive: bool, actor: str) -> None:
        self.status = RUNNING
        self.worker = worker

    @event(ResultHeartbeat)
    def _heartbeat(self, actor: str) -> None:
        pass

    @event(ResultFinished)
    def _finish(self, status: str, data: Any, actor: str) -> None:
        self.status = status
        self.data = data
