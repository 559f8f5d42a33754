"""The JobResult aggregate follows Nautobot's result rules (docs/design.md §2, §3 rule 9), and replays."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import pytest

from jobsync.domain.result import (
    LOG_LEVELS,
    MAX_GROUPING,
    MAX_MESSAGE,
    MAX_OBJECT,
    MAX_URL,
    JobResult,
    LogEntry,
    ResultError,
    stale_reason,
)

ARGS = {"device": "rtr1", "dry_run": True, "limits": [1, 2]}


def new_result(args: Any = None, task: str = "job") -> JobResult:
    return JobResult.record(
        job_id=uuid4(),
        job_ref="netops:jobs.backup.Backup",
        job_name="Backup",
        task=task,
        args=ARGS if args is None else args,
        actor="alice",
        scheduled_job="nightly",
    )


def replayed(result: JobResult) -> JobResult:
    """Rebuild a result from its own events, as the store does."""
    state: JobResult | None = None
    for event in result.collect_events():
        state = cast("JobResult | None", event.mutate(state))
    assert state is not None
    return state


def snapshot(result: JobResult) -> dict[str, Any]:
    """The state a reader of a result cares about."""
    return {
        "id": result.id,
        "job_id": result.job_id,
        "job_ref": result.job_ref,
        "job_name": result.job_name,
        "task": result.task,
        "args": result.args,
        "scheduled_job": result.scheduled_job,
        "recorded_by": result.recorded_by,
        "status": result.status,
        "data": result.data,
        "log_count": result.log_count,
        "version": result.version,
    }


class TestLifecycle:
    def test_recorded_result_is_pending(self) -> None:
        """A new result is pending, keeps its job's ref, name and args, and has no data or logs."""
        result = new_result()
        assert result.status == "pending"
        assert not result.finished
        assert result.job_ref == "netops:jobs.backup.Backup" and result.job_name == "Backup"
        assert result.args == ARGS
        assert result.scheduled_job == "nightly"
        assert result.recorded_by == "alice"
        assert result.data is None and result.log_count == 0
        [recorded] = result.pending_events
        assert isinstance(recorded, JobResult.ResultRecorded)

    def test_start_moves_pending_to_running(self) -> None:
        """Starting a pending result makes it running and records who started it."""
        result = new_result()
        result.start(actor="worker")
        assert result.status == "running"
        assert not result.finished
        started = result.pending_events[-1]
        assert isinstance(started, JobResult.ResultStarted)
        assert started.actor == "worker"

    @pytest.mark.parametrize("status", ["completed", "failed", "errored"])
    def test_finish_moves_running_to_terminal_status(self, status: str) -> None:
        """A running result finishes with a terminal status and its JSON data."""
        result = new_result()
        result.start(actor="worker")
        result.finish(status, {"changed": 3}, actor="worker")
        assert result.status == status
        assert result.finished
        assert result.data == {"changed": 3}
        finished = result.pending_events[-1]
        assert isinstance(finished, JobResult.ResultFinished)
        assert finished.status == status

    def test_pending_result_may_finish_without_starting(self) -> None:
        """A pending result may end at once (e.g. refused by a worker), never moving backwards after."""
        result = new_result()
        result.finish("errored", {"error": "no worker"}, actor="worker")
        assert result.status == "errored"
        assert result.data == {"error": "no worker"}

    def test_unknown_task_is_refused(self) -> None:
        """Only the job and sync tasks may record results."""
        with pytest.raises(ResultError, match=r"task 'backup' is not one of job, sync"):
            new_result(task="backup")

    def test_sync_task_needs_no_job(self) -> None:
        """A sync result belongs to the built-in sync task, not to a job."""
        result = JobResult.record(
            job_id=None, job_ref="netops", job_name="Sync netops", task="sync", args={}, actor="daemon"
        )
        assert result.task == "sync" and result.job_id is None


class TestRefusals:
    def test_start_twice_is_refused(self) -> None:
        """A running result cannot start again, and no event is appended."""
        result = new_result()
        result.start(actor="worker")
        before = len(result.pending_events)
        with pytest.raises(ResultError, match="is running; only a pending result can start"):
            result.start(actor="worker")
        assert len(result.pending_events) == before
        assert result.status == "running"

    @pytest.mark.parametrize("status", ["completed", "failed", "errored"])
    def test_start_after_finish_is_refused(self, status: str) -> None:
        """A finished result never moves back to running."""
        result = new_result()
        result.start(actor="worker")
        result.finish(status, None, actor="worker")
        before = len(result.pending_events)
        with pytest.raises(ResultError, match=f"is {status}; only a pending result can start"):
            result.start(actor="worker")
        assert len(result.pending_events) == before
        assert result.status == status

    def test_finish_twice_is_refused(self) -> None:
        """A result finishes once; a second finish is refused and leaves status and data alone."""
        result = new_result()
        result.start(actor="worker")
        result.finish("completed", {"n": 1}, actor="worker")
        before = len(result.pending_events)
        with pytest.raises(ResultError, match="already finished as completed"):
            result.finish("failed", {"n": 2}, actor="worker")
        assert len(result.pending_events) == before
        assert result.status == "completed" and result.data == {"n": 1}

    @pytest.mark.parametrize("status", ["pending", "running", "success", "COMPLETED", ""])
    def test_finish_with_non_terminal_status_is_refused(self, status: str) -> None:
        """Only completed, failed or errored end a result; anything else is refused by name."""
        result = new_result()
        result.start(actor="worker")
        before = len(result.pending_events)
        with pytest.raises(ResultError, match=f"finishes as completed, failed, errored, not '{status}'"):
            result.finish(status, None, actor="worker")
        assert len(result.pending_events) == before
        assert result.status == "running" and not result.finished

    @pytest.mark.parametrize("status", ["completed", "failed", "errored"])
    def test_log_after_finish_is_refused(self, status: str) -> None:
        """A finished result takes no more log entries."""
        result = new_result()
        result.start(actor="worker")
        result.finish(status, None, actor="worker")
        before = len(result.pending_events)
        with pytest.raises(ResultError, match=f"finished as {status}; it takes no more log entries"):
            result.log(LogEntry("late"), actor="worker")
        assert len(result.pending_events) == before
        assert result.log_count == 0

    @pytest.mark.parametrize("level", ["trace", "warn", "INFO", "fatal", ""])
    def test_unknown_log_level_is_refused(self, level: str) -> None:
        """A level outside Nautobot's seven is refused, listing the valid ones."""
        result = new_result()
        before = len(result.pending_events)
        with pytest.raises(ResultError, match=f"log level '{level}' is not one of debug, info, success"):
            result.log(LogEntry("x", level=level), actor="worker")
        assert len(result.pending_events) == before
        assert result.log_count == 0

    @pytest.mark.parametrize(
        ("field", "limit"),
        [("grouping", MAX_GROUPING), ("object", MAX_OBJECT), ("url", MAX_URL), ("message", MAX_MESSAGE)],
    )
    def test_over_long_field_is_refused(self, field: str, limit: int) -> None:
        """A field one character over Nautobot's column size is refused, saying which and by how much."""
        result = new_result()
        before = len(result.pending_events)
        values = {"message": "m", field: "x" * (limit + 1)}
        with pytest.raises(
            ResultError, match=f"log {field} is {limit + 1} characters; at most {limit} allowed"
        ):
            result.log(LogEntry(**values), actor="worker")
        assert len(result.pending_events) == before
        assert result.log_count == 0

    @pytest.mark.parametrize(
        ("field", "limit"),
        [("grouping", MAX_GROUPING), ("object", MAX_OBJECT), ("url", MAX_URL)],
    )
    def test_field_at_its_limit_is_accepted(self, field: str, limit: int) -> None:
        """A field exactly at its column size is kept whole."""
        result = new_result()
        values = {"message": "m", field: "x" * limit}
        result.log(LogEntry(**values), actor="worker")
        emitted = result.pending_events[-1]
        assert isinstance(emitted, JobResult.LogEmitted)
        assert getattr(emitted, field) == "x" * limit

    def test_refused_change_leaves_state_alone(self) -> None:
        """A run of refused changes leaves the result exactly as it was, in memory and on replay."""
        result = new_result()
        result.start(actor="worker")
        result.log(LogEntry("one"), actor="worker")
        result.finish("failed", {"why": "timeout"}, actor="worker")
        before = snapshot(result)
        refusals: list[Callable[[], None]] = [
            lambda: result.start(actor="x"),
            lambda: result.finish("completed", {"why": "other"}, actor="x"),
            lambda: result.finish("pending", None, actor="x"),
            lambda: result.log(LogEntry("late"), actor="x"),
            lambda: result.log(LogEntry("late", level="loud"), actor="x"),
        ]
        for refused in refusals:
            with pytest.raises(ResultError):
                refused()
        assert snapshot(result) == before
        assert snapshot(replayed(result)) == before


class TestLogEntries:
    @pytest.mark.parametrize("level", LOG_LEVELS)
    def test_nautobot_levels_are_accepted(self, level: str) -> None:
        """Each of Nautobot's seven levels is a valid log level."""
        result = new_result()
        result.log(LogEntry(f"at {level}", level=level), actor="worker")
        emitted = result.pending_events[-1]
        assert isinstance(emitted, JobResult.LogEmitted)
        assert emitted.level == level and emitted.message == f"at {level}"
        assert result.log_count == 1

    def test_levels_are_nautobots_seven_in_severity_order(self) -> None:
        """The level list is exactly Nautobot's, least severe first (``logs --level`` relies on the order)."""
        assert LOG_LEVELS == ("debug", "info", "success", "warning", "failure", "error", "critical")

    def test_log_entry_keeps_every_field(self) -> None:
        """A log event carries level, message, grouping, object, url and the actor."""
        result = new_result()
        result.start(actor="worker")
        result.log(
            LogEntry("saved", "success", "backup", "rtr1", "/dcim/devices/1/"),
            actor="worker",
        )
        emitted = result.pending_events[-1]
        assert isinstance(emitted, JobResult.LogEmitted)
        assert (emitted.level, emitted.message, emitted.grouping, emitted.object, emitted.url) == (
            "success",
            "saved",
            "backup",
            "rtr1",
            "/dcim/devices/1/",
        )
        assert emitted.actor == "worker"

    def test_log_entry_defaults(self) -> None:
        """An entry with only a message is info, grouped under main, with no object or url."""
        entry = LogEntry("hello")
        assert (entry.level, entry.grouping, entry.object, entry.url) == ("info", "main", "", "")

    def test_pending_result_takes_log_entries(self) -> None:
        """A result may log before it starts (an executor preparing the run)."""
        result = new_result()
        result.log(LogEntry("queued behind 3 others"), actor="worker")
        assert result.log_count == 1 and result.status == "pending"

    def test_log_count_counts_every_entry(self) -> None:
        """The aggregate keeps a count of its entries, not the entries themselves."""
        result = new_result()
        result.start(actor="worker")
        for n in range(5):
            result.log(LogEntry(f"line {n}"), actor="worker")
        assert result.log_count == 5
        assert not hasattr(result, "entries")


class TestReplay:
    @pytest.mark.parametrize("status", ["completed", "failed", "errored"])
    def test_replay_gives_same_state(self, status: str) -> None:
        """Rebuilding a result from its events gives the same status, data, log count and args."""
        result = new_result()
        result.log(LogEntry("queued", "debug"), actor="worker")
        result.start(actor="worker")
        result.log(LogEntry("working", "warning", "backup", "rtr1"), actor="worker")
        result.log(LogEntry("done", "success"), actor="worker")
        result.finish(status, {"changed": ["rtr1"], "count": 1}, actor="worker")
        expected = snapshot(result)
        again = replayed(result)
        assert snapshot(again) == expected
        assert again.status == status
        assert again.data == {"changed": ["rtr1"], "count": 1}
        assert again.log_count == 3
        assert again.args == ARGS

    def test_replay_of_running_result(self) -> None:
        """A running result replays as running, with the entries logged so far counted."""
        result = new_result()
        result.start(actor="worker")
        result.log(LogEntry("one"), actor="worker")
        again = replayed(result)
        assert again.status == "running" and again.log_count == 1 and not again.finished

    def test_replay_does_not_rerun_rules(self) -> None:
        """Events are facts: a log entry today's rules refuse still replays from an old log."""
        result = new_result()
        result.trigger_event(
            JobResult.LogEmitted,
            level="verbose",
            message="old",
            grouping="g",
            object="",
            url="",
            actor="old-version",
        )
        assert replayed(result).log_count == 1


class TestClaimAndHeartbeat:
    def test_claim_moves_pending_to_running_with_the_worker(self) -> None:
        """A claim is a start that names the worker; a second claim is refused."""
        result = new_result()
        result.claim("w1", exclusive=False, actor="w1")
        assert (result.status, result.worker) == ("running", "w1")
        with pytest.raises(ResultError, match="only a pending result can be claimed"):
            result.claim("w2", exclusive=False, actor="w2")

    def test_a_sync_is_never_claimed(self) -> None:
        """Syncs are jobsync's own runs: no worker takes them."""
        with pytest.raises(ResultError, match="only a job's run can be claimed"):
            new_result(task="sync").claim("w1", exclusive=False, actor="w1")

    def test_heartbeat_only_while_running(self) -> None:
        """A heartbeat is refused before the run runs and after it finished."""
        result = new_result()
        with pytest.raises(ResultError, match="pending"):
            result.heartbeat(actor="w1")
        result.claim("w1", exclusive=False, actor="w1")
        result.heartbeat(actor="w1")
        result.finish("completed", None, actor="w1")
        with pytest.raises(ResultError, match="completed"):
            result.heartbeat(actor="w1")

    def test_claimed_worker_survives_replay(self) -> None:
        """The worker comes back when the events are replayed."""
        result = new_result()
        result.claim("w1", exclusive=True, actor="w1")
        result.heartbeat(actor="w1")
        copy = replayed(result)
        assert (copy.status, copy.worker, copy.version) == ("running", "w1", 3)


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class TestStaleReason:
    @pytest.mark.parametrize(
        ("started_ago", "seen_ago", "time_limit", "expected"),
        [
            (5, 5, 0, None),  # recently heard of
            (3600, 5, 0, None),  # long run, but beating
            (700, 601, 0, "heartbeat_timeout"),  # quiet for longer than the timeout
            (500, 5, 400, "time_limit"),  # 400 s limit + 60 s grace passed
            (450, 5, 400, None),  # within the grace
        ],
    )
    def test_runs_are_stale_when_quiet_or_overrunning(
        self, started_ago: int, seen_ago: int, time_limit: float, expected: str | None
    ) -> None:
        """Quiet past the timeout, or past the time limit plus grace, and only then."""
        reason = stale_reason(
            NOW - timedelta(seconds=started_ago), NOW - timedelta(seconds=seen_ago), time_limit, NOW, 600.0
        )
        if expected is None:
            assert reason is None
        else:
            assert reason is not None and expected in reason
