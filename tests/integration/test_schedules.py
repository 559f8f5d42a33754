"""Scheduled jobs through ``Catalog`` on real SQLite and PostgreSQL (docs/design.md §3 rule 11, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5

import pytest
from eventsourcing.persistence import IntegrityError

from jobsync import Catalog, ScheduleError, ScheduleNotFoundError
from jobsync.domain.result import RunOptions
from jobsync.domain.schedule import ScheduledJob
from tests.concurrency import Workers
from tests.conftest import run_sql
from tests.helpers import GitRepo
from tests.postgres import PostgresServer

JOBS = """\
from nautobot.apps.jobs import Job, register_jobs


class BackupConfigs(Job):
    class Meta:
        has_sensitive_variables = False
        task_queues = ["default", "slow"]


class PushSecrets(Job):
    pass


class Reboot(Job):
    class Meta:
        has_sensitive_variables = False
        approval_required = True


register_jobs({registered})
"""

BACKUP = "netops:jobs.net.BackupConfigs"
SECRETS = "netops:jobs.net.PushSecrets"
REBOOT = "netops:jobs.net.Reboot"
ARGS = {"devices": ["rtr1"], "limit": 5}
#: Every schedule of these tests starts here, a Monday far in the future of any test run's clock.
START = datetime(2099, 3, 2, 2, 0, tzinfo=UTC)


def write_jobs(repo: GitRepo, registered: str = "BackupConfigs, PushSecrets, Reboot") -> None:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/net.py", JOBS.format(registered=registered))
    repo.commit("jobs")


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    """A catalog with the three jobs of JOBS synced and enabled."""
    write_jobs(repo)
    catalog.resync(repo.url, name="netops")
    for ref in (BACKUP, SECRETS, REBOOT):
        catalog.enable(ref)
    return catalog


def scheduled_results(catalog: Catalog) -> list[str]:
    return sorted(str(r["id"]) for r in catalog.results() if r["scheduled_job"] is not None)


class TestAdding:
    def test_a_schedule_has_the_keys_of_the_design(self, synced: Catalog) -> None:
        """A new schedule is enabled, unapproved, due first at its start, and shows every §6 key."""
        record = synced.add_schedule(
            BACKUP, "nightly", at=START, every="daily", args=ARGS, tz="Europe/Berlin"
        )
        assert record["job"] == BACKUP and record["args"] == ARGS and record["queue"] == "default"
        assert record["interval"] == "daily" and record["crontab"] is None
        assert record["enabled"] is True and record["approved_by"] is None and record["actor"] == "tester"
        assert record["next_run"] == START and record["start_time"] == START
        assert record["last_run"] is None and record["total_run_count"] == 0
        assert record["time_zone"] == "Europe/Berlin" and record["blocked"] is None
        assert synced.schedule("nightly")["id"] == record["id"] == synced.schedule(str(record["id"]))["id"]
        assert [s["name"] for s in synced.schedules()] == ["nightly"]

    def test_a_job_with_sensitive_variables_cannot_be_scheduled(self, synced: Catalog) -> None:
        """A job whose effective has_sensitive_variables is true (the default) is refused, nothing saved."""
        with pytest.raises(ScheduleError, match="sensitive variables"):
            synced.add_schedule(SECRETS, "secrets", every="hourly")
        synced.override(SECRETS, "has_sensitive_variables", False)
        assert synced.add_schedule(SECRETS, "secrets", every="hourly")["job"] == SECRETS
        synced.override(BACKUP, "has_sensitive_variables", True)
        with pytest.raises(ScheduleError, match="sensitive variables"):
            synced.add_schedule(BACKUP, "backup", every="hourly")

    def test_a_disabled_or_uninstalled_job_cannot_be_scheduled(self, repo: GitRepo, synced: Catalog) -> None:
        """Only an installed, enabled job may be scheduled."""
        synced.disable(BACKUP)
        with pytest.raises(ScheduleError, match="disabled"):
            synced.add_schedule(BACKUP, "nightly", every="daily")
        write_jobs(repo, registered="PushSecrets, Reboot")
        synced.resync("netops")
        with pytest.raises(ScheduleError, match="not installed"):
            synced.add_schedule(BACKUP, "nightly", every="daily")
        assert synced.schedules() == []

    def test_names_are_unique_and_queues_are_the_jobs(self, synced: Catalog) -> None:
        """A second schedule of one name, or a queue the job does not serve, is refused."""
        synced.add_schedule(BACKUP, "nightly", every="daily", queue="slow")
        with pytest.raises(ScheduleError, match="exists already"):
            synced.add_schedule(BACKUP, "nightly", every="hourly")
        with pytest.raises(ScheduleError, match="not 'fast'"):
            synced.add_schedule(BACKUP, "other", every="hourly", queue="fast")

    def test_bad_crontab_zone_or_past_once_is_refused(self, synced: Catalog) -> None:
        """An unreadable crontab or zone, or a one-off time already past, is refused in one line."""
        with pytest.raises(ScheduleError, match="crontab"):
            synced.add_schedule(BACKUP, "c", cron="61 * * * *")
        with pytest.raises(ScheduleError, match="time zone"):
            synced.add_schedule(BACKUP, "c", every="daily", tz="Mars/Olympus")
        with pytest.raises(ScheduleError, match="past"):
            synced.add_schedule(BACKUP, "c", at=datetime.now(UTC) - timedelta(hours=1))
        with pytest.raises(ScheduleNotFoundError):
            synced.schedule("c")


class TestApproval:
    def test_a_job_requiring_approval_fires_only_after_another_actor_approved(self, synced: Catalog) -> None:
        """The creator cannot approve; until someone else does, the schedule says why and does not fire."""
        synced.add_schedule(REBOOT, "reboot", at=START)
        assert "requires approval" in (synced.schedule("reboot")["blocked"] or "")
        assert synced.fire_due_schedules(START) == []
        with pytest.raises(ScheduleError, match="another actor must approve"):
            synced.approve_schedule("reboot")
        assert synced.approve_schedule("reboot", actor="bob") is True
        assert synced.schedule("reboot")["approved_by"] == "bob"
        assert len(synced.fire_due_schedules(START)) == 1

    def test_a_job_without_approval_fires_unapproved(self, synced: Catalog) -> None:
        """Approval is needed only when the job's approval_required is true."""
        synced.add_schedule(BACKUP, "once", at=START)
        assert len(synced.fire_due_schedules(START)) == 1


class TestFiring:
    def test_a_due_schedule_records_one_pending_result_with_a_deterministic_id(self, synced: Catalog) -> None:
        """The result is uuid5(schedule id, due time), pending, with the schedule's args, queue and id."""
        schedule = synced.add_schedule(BACKUP, "nightly", at=START, every="daily", args=ARGS)
        assert synced.fire_due_schedules(START - timedelta(seconds=1)) == []
        [fired] = synced.fire_due_schedules(START + timedelta(minutes=1), actor="daemon@host1")
        assert fired == uuid5(schedule["id"], START.isoformat())
        result = synced.result(fired)
        assert result["status"] == "pending" and result["task"] == "job" and result["job"] == BACKUP
        assert result["args"] == ARGS and result["actor"] == "daemon@host1"
        assert result["scheduled_job"] == str(schedule["id"])
        after = synced.schedule("nightly")
        assert after["total_run_count"] == 1 and after["last_run"] is not None
        assert after["next_run"] == START + timedelta(days=1)

    def test_a_schedule_is_due_from_its_exact_moment(self, synced: Catalog) -> None:
        """Due at 02:00:00 means due at 02:00:00.5 too, and not at 01:59:59.999999 (sub-second text compares right)."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        assert synced.fire_due_schedules(START - timedelta(microseconds=1)) == []
        assert len(synced.fire_due_schedules(START + timedelta(milliseconds=500))) == 1

    def test_firing_again_at_the_same_time_records_nothing(self, synced: Catalog) -> None:
        """A restart mid-tick fires the same due time again: nothing more is recorded."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        first = synced.fire_due_schedules(START)
        assert synced.fire_due_schedules(START) == []
        assert scheduled_results(synced) == [str(first[0])]

    def test_a_stale_process_loses_the_save_and_records_nothing(self, synced: Catalog) -> None:
        """A process that loaded the schedule before another fired it cannot save a second result."""
        record = synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        app = synced._app
        stale = app.get_schedule(record["id"])
        job = app.get_job(stale.job_id)
        assert len(synced.fire_due_schedules(START)) == 1
        options = RunOptions(scheduled_job=str(stale.id), result_id=uuid5(stale.id, START.isoformat()))
        result = job.record_run({}, "late", options)
        stale.fire(job, START, START + timedelta(days=1), result.id, "late")
        with pytest.raises(IntegrityError):
            app.save_and_project(stale, result)
        assert len(scheduled_results(synced)) == 1

    def test_missed_due_times_fire_once(self, synced: Catalog) -> None:
        """A daemon down for ten hours fires an hourly schedule once, then next at the hour after now."""
        synced.add_schedule(BACKUP, "hourly", at=START, every="hourly")
        now = START + timedelta(hours=10, minutes=30)
        assert len(synced.fire_due_schedules(now)) == 1
        assert synced.fire_due_schedules(now) == []
        after = synced.schedule("hourly")
        assert after["total_run_count"] == 1
        assert after["next_run"] == START + timedelta(hours=11)

    def test_a_once_schedule_fires_once_and_never_again(self, synced: Catalog) -> None:
        """``future`` fires at its start time, then has no due time left."""
        synced.add_schedule(BACKUP, "once", at=START)
        assert len(synced.fire_due_schedules(START + timedelta(days=3))) == 1
        record = synced.schedule("once")
        assert record["next_run"] is None and "no due time" in (record["blocked"] or "")
        assert synced.fire_due_schedules(START + timedelta(days=30)) == []

    def test_a_disabled_schedule_or_job_does_not_fire_and_says_why(self, synced: Catalog) -> None:
        """Disabling the schedule or its job stops it; the reason is shown; enabling again fires once."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        synced.disable_schedule("nightly")
        assert synced.schedule("nightly")["blocked"] == "the schedule is disabled"
        assert synced.fire_due_schedules(START) == []
        synced.enable_schedule("nightly")
        synced.disable(BACKUP)
        assert synced.schedule("nightly")["blocked"] == f"its job {BACKUP} is disabled"
        assert synced.fire_due_schedules(START) == []
        synced.enable(BACKUP)
        assert len(synced.fire_due_schedules(START + timedelta(days=2))) == 1

    def test_a_deleted_job_keeps_its_schedule_with_a_null_job(self, repo: GitRepo, synced: Catalog) -> None:
        """The schedule stays, disabled, points at no job, says why, and never fires."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        write_jobs(repo, registered="PushSecrets, Reboot")
        synced.resync("netops")
        assert "not installed" in (synced.schedule("nightly")["blocked"] or "")
        synced.delete_job(BACKUP)
        record = synced.schedule("nightly")
        assert record["job"] is None and "was deleted" in (record["blocked"] or "")
        assert record["enabled"] is False
        events = [(e["event"], e["actor"]) for e in synced.audit() if e["ref"] == "schedule nightly"]
        assert events[-1] == ("ScheduleDisabled", "tester")
        assert synced.replay(verify=True).ok
        assert synced.fire_due_schedules(START) == []

    def test_a_deleted_schedule_is_gone_and_fires_no_more(self, synced: Catalog) -> None:
        """Deleting hides the schedule from list and show, and stops it."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        assert synced.delete_schedule("nightly") is True
        with pytest.raises(ScheduleNotFoundError):
            synced.schedule("nightly")
        assert synced.schedules() == [] and synced.fire_due_schedules(START) == []


class TestReadModelAndAudit:
    def test_replay_verify_covers_the_schedules(self, synced: Catalog) -> None:
        """The schedules table is rebuilt from the log; a changed row is found by --verify."""
        synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
        synced.fire_due_schedules(START)
        assert synced.replay(verify=True).ok
        run_sql(synced, "UPDATE {schedules} SET next_run = NULL")
        report = synced.replay(verify=True)
        assert any(d.startswith("schedules_view") for d in report.differences), report.differences
        synced.replay()
        assert synced.schedule("nightly")["next_run"] == START + timedelta(days=1)

    def test_schedule_events_are_in_the_jobs_history_and_in_audit(self, synced: Catalog) -> None:
        """Every schedule change, with its actor, shows in its job's history and in the audit."""
        synced.add_schedule(REBOOT, "reboot", at=START)
        synced.approve_schedule("reboot", actor="bob")
        synced.fire_due_schedules(START, actor="daemon@h")
        wanted = [
            ("ScheduleCreated", "tester"),
            ("ScheduleApproved", "bob"),
            ("ScheduleFired", "daemon@h"),
        ]
        history = [(e["event"], e["actor"]) for e in synced.history(REBOOT) if e["event"].startswith("Sched")]
        assert history == wanted
        audit = [
            (e["event"], e["actor"]) for e in synced.audit(source="netops") if e["event"].startswith("Sched")
        ]
        assert audit == wanted


class TestTwoProcesses:
    def test_two_processes_fire_each_due_time_exactly_once(
        self, tmp_path: Path, repo: GitRepo, postgres_server: PostgresServer
    ) -> None:
        """Two processes firing the same due schedules on one PostgreSQL record one result per due time."""
        store = postgres_server.url(postgres_server.create_database())
        write_jobs(repo)
        with Catalog.open(store=store, state_dir=tmp_path / "setup", actor="tester") as catalog:
            catalog.resync(repo.url, name="netops")
            catalog.enable(BACKUP)
            schedules = [
                catalog.add_schedule(BACKUP, f"s{i}", at=START, every="hourly")["id"] for i in range(10)
            ]
        now = START + timedelta(minutes=5)
        names = ["d1", "d2"]
        with Workers(tmp_path / "workers") as workers:
            for name in names:
                workers.spawn(
                    "fire", name, "--store", store, "--state", str(tmp_path / name), "--now", now.isoformat()
                )
            workers.release()
            reports = [workers.report(name) for name in names]
        for report in reports:
            assert report["errors"] == [], report["errors"][:2]
        fired = [ident for report in reports for ident in report["fired"]]
        expected = sorted(str(uuid5(UUID(str(s)), START.isoformat())) for s in schedules)
        assert sorted(fired) == expected  # each once, in one process or the other
        with Catalog.open(store=store, state_dir=tmp_path / "setup", actor="tester") as catalog:
            assert scheduled_results(catalog) == expected
            assert {s["total_run_count"] for s in catalog.schedules()} == {1}


def test_the_aggregate_refuses_to_fire_before_due(synced: Catalog) -> None:
    """ScheduledJob.fire checks the due time itself, whoever calls it."""
    record = synced.add_schedule(BACKUP, "nightly", at=START, every="daily")
    schedule: ScheduledJob = synced._app.get_schedule(record["id"])
    job = synced._app.get_job(schedule.job_id)
    with pytest.raises(ScheduleError, match="not due"):
        schedule.fire(
            job, START - timedelta(seconds=1), START + timedelta(days=1), uuid5(schedule.id, "x"), "t"
        )
