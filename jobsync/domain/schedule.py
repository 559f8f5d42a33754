"""The ScheduledJob aggregate: "run job J with args A at T / every interval / on a crontab" (docs/design.md §3 rule 11).

Due times are computed outside the domain (jobsync/schedule_times.py: crontabs need a library); the
events carry the ``next_run`` the use case computed, so replaying them never depends on the clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from jobsync.domain.errors import JobSyncError
from jobsync.domain.job import Job

#: ``future``: once, at the start time; ``custom``: on ``crontab`` (Nautobot's names).
INTERVALS = ("future", "hourly", "daily", "weekly", "custom")
MAX_NAME = 200


class ScheduleError(JobSyncError):
    """A schedule change was refused: a job that cannot be scheduled, a self-approval, a bad name."""


class ScheduleNotFoundError(JobSyncError):
    """No schedule has this name or id."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"no schedule named {ref!r} (see jobsync schedules list)")


def check_schedulable(job: Job) -> None:
    """Only an installed, enabled job without sensitive variables can be scheduled (docs/design.md §3 rules 10, 11)."""
    if job.deleted or not job.installed:
        raise ScheduleError(f"job {job.ref} is not installed; it cannot be scheduled")
    if not job.enabled:
        raise ScheduleError(f"job {job.ref} is disabled; enable it before scheduling it")
    if job.value("has_sensitive_variables"):
        raise ScheduleError(
            f"job {job.ref} has sensitive variables, so its args are never stored and it cannot be "
            "scheduled (override has_sensitive_variables if it has none)"
        )


class ScheduledJob(Aggregate):
    """A job run that the daemon records when it is due; each due time fires at most once."""

    class Event(Aggregate.Event):
        """Every schedule event says who caused it."""

        actor: str

    class ScheduleCreated(Event, Aggregate.Created):
        """A schedule was made; the job's ref and name are kept as text, for when the job is deleted."""

        name: str
        job_id: UUID
        job_ref: str
        job_name: str
        args: Any
        queue: str
        interval: str
        crontab: str
        start_time: datetime
        time_zone: str
        next_run: datetime | None

    class ScheduleApproved(Event):
        """Another actor than its creator approved the schedule (needed when the job requires approval)."""

    class ScheduleEnabled(Event):
        """An operator let the schedule fire again (a due time missed meanwhile fires once)."""

    class ScheduleDisabled(Event):
        """An operator stopped the schedule from firing."""

    class ScheduleFired(Event):
        """The run due at ``due`` was recorded as result ``result_id``; ``next_run`` is after now."""

        due: datetime
        result_id: UUID
        next_run: datetime | None

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, ScheduledJob)
            aggregate.last_due = self.due
            aggregate.last_run = self.timestamp  # when the run was recorded
            aggregate.next_run = self.next_run
            aggregate.total_run_count += 1

    class ScheduleDeleted(Event):
        """An operator removed the schedule; its results and history stay."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    @classmethod
    def create(
        cls,
        *,
        name: str,
        job: Job,
        args: Any,
        queue: str | None,
        interval: str,
        crontab: str,
        start_time: datetime,
        time_zone: str,
        next_run: datetime | None,
        actor: str,
    ) -> ScheduledJob:
        """A new schedule of ``job``; the job must be schedulable, the queue one the job serves."""
        check_schedulable(job)
        if not name.strip() or len(name) > MAX_NAME:
            raise ScheduleError(f"a schedule name is 1 to {MAX_NAME} characters, not {len(name)}")
        if interval not in INTERVALS:
            raise ScheduleError(f"interval {interval!r} is not one of {', '.join(INTERVALS)}")
        if (interval == "custom") != bool(crontab):
            raise ScheduleError("a crontab goes with the custom interval, and only with it")
        if next_run is None:
            raise ScheduleError("the schedule would never fire: its start time is in the past")
        queues: list[str] = list(job.value("task_queues"))
        if queue is None:
            queue = queues[0] if queues else "default"
        elif queues and queue not in queues:
            raise ScheduleError(f"job {job.ref} serves the queues {', '.join(queues)}, not {queue!r}")
        return cls._create(
            cls.ScheduleCreated,
            name=name,
            job_id=job.id,
            job_ref=job.ref,
            job_name=job.name,
            args=args,
            queue=queue,
            interval=interval,
            crontab=crontab,
            start_time=start_time,
            time_zone=time_zone,
            next_run=next_run,
            actor=actor,
        )

    @event(ScheduleCreated)
    def __init__(
        self,
        name: str,
        job_id: UUID,
        job_ref: str,
        job_name: str,
        args: Any,
        queue: str,
        interval: str,
        crontab: str,
        start_time: datetime,
        time_zone: str,
        next_run: datetime | None,
        actor: str,
    ) -> None:
        self.name = name
        self.job_id = job_id
        self.job_ref = job_ref
        self.job_name = job_name
        self.args = args
        self.queue = queue
        self.interval = interval
        self.crontab = crontab
        self.start_time = start_time
        self.time_zone = time_zone
        self.next_run = next_run
        self.created_by = actor
        self.enabled = True
        self.approved_by: str | None = None
        self.last_run: datetime | None = None
        self.last_due: datetime | None = None
        self.total_run_count = 0
        self.deleted = False

    # -- operator actions --------------------------------------------------------------------

    def approve(self, actor: str) -> bool:
        """Approve the schedule; its own creator may not (four eyes). False when it already was."""
        self._check_not_deleted()
        if actor == self.created_by:
            raise ScheduleError(f"schedule {self.name!r} was made by {actor}; another actor must approve it")
        if self.approved_by is not None:
            return False
        self._approve(actor=actor)
        return True

    def enable(self, actor: str) -> bool:
        """Let the schedule fire; False when it already could."""
        return self._switch(True, actor)

    def disable(self, actor: str) -> bool:
        """Stop the schedule from firing; False when it already was stopped."""
        return self._switch(False, actor)

    def _switch(self, enabled: bool, actor: str) -> bool:
        self._check_not_deleted()
        if self.enabled == enabled:
            return False
        (self._enable if enabled else self._disable)(actor=actor)
        return True

    def delete(self, actor: str) -> None:
        self._check_not_deleted()
        self._delete(actor=actor)

    # -- firing ------------------------------------------------------------------------------

    def blocked(self, job: Job | None) -> str | None:
        """Why the schedule will not fire (None: it fires when due), as ``schedules show`` says it."""
        if self.deleted:
            return "the schedule is deleted"
        if job is None or job.deleted:
            return f"its job {self.job_ref} was deleted"
        if not job.installed:
            return f"its job {job.ref} is not installed"
        if not job.enabled:
            return f"its job {job.ref} is disabled"
        if job.value("has_sensitive_variables"):
            return f"its job {job.ref} has sensitive variables"
        if not self.enabled:
            return "the schedule is disabled"
        if job.value("approval_required") and self.approved_by is None:
            return f"its job {job.ref} requires approval, and no other actor has approved it"
        if self.next_run is None:
            return "it has no due time left"
        return None

    def fire(self, job: Job, now: datetime, next_run: datetime | None, result_id: UUID, actor: str) -> None:
        """Record that the run due at ``next_run`` was queued as ``result_id``; ``next_run`` moves on.

        Due times missed meanwhile fire once, here, not once each (as Celery beat does).
        """
        reason = self.blocked(job)
        if reason is not None:
            raise ScheduleError(f"schedule {self.name!r} does not fire: {reason}")
        assert self.next_run is not None  # blocked() said so otherwise
        if self.next_run > now:
            raise ScheduleError(f"schedule {self.name!r} is not due before {self.next_run.isoformat()}")
        if next_run is not None and next_run <= now:
            raise ScheduleError("the next run of a fired schedule must be after now")
        self.trigger_event(
            self.ScheduleFired, due=self.next_run, result_id=result_id, next_run=next_run, actor=actor
        )

    def _check_not_deleted(self) -> None:
        if self.deleted:
            raise ScheduleError(f"schedule {self.name!r} is deleted")

    @event(ScheduleApproved)
    def _approve(self, actor: str) -> None:
        self.approved_by = actor

    @event(ScheduleEnabled)
    def _enable(self, actor: str) -> None:
        self.enabled = True

    @event(ScheduleDisabled)
    def _disable(self, actor: str) -> None:
        self.enabled = False

    @event(ScheduleDeleted)
    def _delete(self, actor: str) -> None:
        self.deleted = True
        self.enabled = False
