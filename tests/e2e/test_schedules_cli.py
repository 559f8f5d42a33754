"""``jobsync schedules ...`` as a user runs it: a real subprocess on a real repo and store."""

from __future__ import annotations

import pytest

from tests.helpers import Cli, GitRepo, assert_one_line_error

JOBS = """\
from nautobot.apps.jobs import Job


class Backup(Job):
    class Meta:
        has_sensitive_variables = False
        approval_required = True


class Secret(Job):
    pass
"""

BACKUP = "netops:jobs.ops.Backup"
SECRET = "netops:jobs.ops.Secret"
SCHEDULE_KEYS = {
    "id", "name", "job", "args", "queue", "interval", "crontab", "start_time", "time_zone", "enabled",
    "approved_by", "next_run", "last_run", "total_run_count", "actor",
}  # fmt: skip


@pytest.fixture
def synced(cli: Cli, repo: GitRepo) -> Cli:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    cli.ok("jobs", "enable", BACKUP)
    cli.ok("jobs", "enable", SECRET)
    return cli


class TestSchedulesCli:
    def test_add_list_show_approve_disable_enable_delete(self, synced: Cli) -> None:
        """The whole life of a schedule through the command, each step visible in show, list and history."""
        out = synced.ok(
            "schedules", "add", BACKUP, "--name", "nightly", "--cron", "0 2 * * *", "--tz", "Europe/Berlin",
            "--args", '{"site": "ams"}',
        )  # fmt: skip
        assert out.startswith("scheduled nightly")
        shown = synced.json("schedules", "show", "nightly")
        assert set(shown) >= SCHEDULE_KEYS
        assert shown["crontab"] == "0 2 * * *" and shown["interval"] == "custom" and shown["actor"] == "alice"
        assert shown["args"] == {"site": "ams"} and shown["time_zone"] == "Europe/Berlin"
        assert shown["next_run"] is not None and shown["total_run_count"] == 0
        assert "requires approval" in synced.ok("schedules", "show", "nightly")

        assert_one_line_error(synced.run("schedules", "approve", "nightly"), 1, "another actor must approve")
        assert "approved nightly" in synced.ok("schedules", "approve", "nightly", actor="bob")
        assert synced.json("schedules", "show", "nightly")["approved_by"] == "bob"
        assert "will not fire" not in synced.ok("schedules", "show", "nightly")

        synced.ok("schedules", "disable", "nightly")
        assert "the schedule is disabled" in synced.ok("schedules", "list")
        assert synced.json("schedules", "list")[0]["enabled"] is False
        synced.ok("schedules", "enable", "nightly")
        assert [s["name"] for s in synced.json("schedules", "list")] == ["nightly"]

        history = synced.json("jobs", "history", BACKUP)
        events = [(e["event"], e["actor"]) for e in history if e["event"].startswith("Schedule")]
        assert events == [
            ("ScheduleCreated", "alice"),
            ("ScheduleApproved", "bob"),
            ("ScheduleDisabled", "alice"),
            ("ScheduleEnabled", "alice"),
        ]

        synced.ok("schedules", "delete", "nightly")
        assert synced.json("schedules", "list") == []
        assert_one_line_error(synced.run("schedules", "show", "nightly"), 1, "no schedule named 'nightly'")
        assert "ScheduleDeleted" in synced.ok("audit")

    def test_refused_operations_exit_1(self, synced: Cli) -> None:
        """A sensitive job, a taken name or a disabled job: one error line, exit 1."""
        assert_one_line_error(
            synced.run("schedules", "add", SECRET, "--name", "s", "--every", "daily"),
            1,
            "sensitive variables",
        )
        synced.ok("schedules", "add", BACKUP, "--name", "n", "--every", "hourly")
        assert_one_line_error(
            synced.run("schedules", "add", BACKUP, "--name", "n", "--every", "daily"), 1, "exists already"
        )
        synced.ok("jobs", "disable", BACKUP)
        assert "is disabled" in synced.ok("schedules", "show", "n")
        assert_one_line_error(
            synced.run("schedules", "add", BACKUP, "--name", "m", "--every", "daily"), 1, "disabled"
        )

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            (("--cron", "0 2 * *"), "crontab"),
            (("--every", "monthly"), "monthly"),
            (("--every", "daily", "--tz", "Mars/Olympus"), "time zone"),
            (("--at", "not a time at all"), "time"),
            ((), "say when"),
            (("--every", "daily", "--cron", "0 2 * * *"), "exclude each other"),
        ],
    )
    def test_bad_option_values_exit_2(self, synced: Cli, options: tuple[str, ...], message: str) -> None:
        """A value the command cannot read is a usage error: one line, exit 2, nothing saved."""
        assert_one_line_error(synced.run("schedules", "add", BACKUP, "--name", "x", *options), 2, message)
        assert synced.json("schedules", "list") == []
