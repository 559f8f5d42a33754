"""The ``jobsync`` command as a user runs it: a real subprocess on a real repo and store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from jobsync.adapters.locks import work_locks
from jobsync.adapters.store import default_store_url
from tests.helpers import Cli, GitRepo, assert_one_line_error

JOBS = """\
from nautobot.extras.jobs import Job as NautobotJob


class Backup(NautobotJob):
    class Meta:
        description = "Back up"
        soft_time_limit = 10
        time_limit = 20


class Restore(NautobotJob):
    pass


jobs = [Backup, Restore]
"""


@pytest.fixture
def synced(cli: Cli, repo: GitRepo) -> Cli:
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    return cli


class TestResync:
    def test_resync_json_has_the_documented_keys(self, cli: Cli, repo: GitRepo) -> None:
        """``resync --json`` prints source, commit, up_to_date, the four job lists, problems and result."""
        repo.write("jobs/ops.py", JOBS)
        commit = repo.commit("jobs")
        data = cli.json("resync", repo.url, "--name", "netops")
        assert isinstance(data, dict)
        assert set(data) == {
            "source",
            "commit",
            "up_to_date",
            "added",
            "changed",
            "uninstalled",
            "reinstalled",
            "problems",
            "result",
        }
        assert data["commit"] == commit and data["up_to_date"] is False
        again = cli.json("resync", "netops")
        assert again["up_to_date"] is True and again["commit"] == commit and again["added"] == []
        assert data["added"] == ["netops:jobs.ops.Backup", "netops:jobs.ops.Restore"]

    def test_resync_human_summary(self, cli: Cli, repo: GitRepo) -> None:
        """The human summary names the source, the counts and each added job."""
        repo.write("jobs/ops.py", JOBS)
        repo.commit("jobs")
        out = cli.ok("resync", repo.url, "--name", "netops")
        assert "2 added" in out and "netops:jobs.ops.Backup" in out

    def test_problems_come_in_three_kinds(self, cli: Cli, repo: GitRepo) -> None:
        """Errors and warnings are counted and listed; notes only with --verbose and in JSON; each kind
        is logged at its own level in the sync's result; migrations are not even scanned."""
        repo.write("jobs/ops.py", JOBS)
        repo.write("jobs/broken.py", "class (:\n")
        repo.write(
            "jobs/timed.py",
            "from nautobot.apps.jobs import Job\n\nclass Timed(Job):\n    class Meta:\n        time_limit = compute()\n",
        )
        repo.write("jobs/not-a-module.py", JOBS)
        repo.write("jobs/migrations/0001_initial.py", "from django.db import migrations\n")
        repo.commit("jobs")
        out = cli.ok("resync", repo.url, "--name", "netops")
        head, *lines = out.splitlines()
        assert head.endswith("1 error, 1 warning")
        assert any(line.split()[0] == "error" and "jobs/broken.py:1:" in line for line in lines)
        assert any(line.split()[0] == "warning" and "jobs/timed.py" in line for line in lines)
        assert not any("not-a-module" in line or "migrations" in line for line in lines)
        repo.write("jobs/ops.py", JOBS + "\n")
        repo.commit("touch")
        verbose = cli.ok("resync", "netops", "--verbose")
        assert any(
            line.split()[0] == "note" and "jobs/not-a-module.py" in line for line in verbose.splitlines()
        )
        repo.write("jobs/ops.py", JOBS + "\n\n")
        repo.commit("touch again")
        data = cli.json("resync", "netops", "--json")
        kinds = {p["file"]: p["kind"] for p in data["problems"]}
        assert kinds == {
            "jobs/broken.py": "error",
            "jobs/timed.py": "warning",
            "jobs/not-a-module.py": "note",
        }
        levels = {e["message"].split(":")[0]: e["level"] for e in cli.json("logs", data["result"], "--json")}
        assert levels["jobs/broken.py"] == "error"
        assert levels["jobs/timed.py"] == "warning"
        assert levels["jobs/not-a-module.py"] == "info"
        source = cli.json("sources", "show", "netops", "--json")
        assert {k: source["last_counts"][k] for k in ("errors", "warnings", "notes")} == {
            "errors": 1,
            "warnings": 1,
            "notes": 1,
        }

    def test_unreachable_remote_is_one_line(self, cli: Cli, tmp_path: Path) -> None:
        """An unreachable remote gives one ``error:`` line and exit 1."""
        done = cli.run("resync", str(tmp_path / "missing"), "--name", "x")
        assert_one_line_error(done, 1, "missing")

    def test_unknown_source_name(self, cli: Cli) -> None:
        """A name that is neither configured nor remembered is refused clearly."""
        assert_one_line_error(cli.run("resync", "nosuch"), 1, "no source named 'nosuch'")


def many_jobs(count: int) -> str:
    """A job module defining ``count`` jobs ``Job0``, ``Job1``, ..."""
    return "from nautobot.apps.jobs import Job\n" + "".join(
        f"\n\nclass Job{i}(Job):\n    pass\n" for i in range(count)
    )


class TestMassUninstallGuard:
    def test_refused_with_one_line_then_allowed_by_the_flag(self, cli: Cli, repo: GitRepo) -> None:
        """Emptying a source of 9 jobs exits 1 naming the count and the flag; the flag then applies it."""
        repo.write("jobs/ops.py", many_jobs(9))
        repo.commit("jobs")
        cli.ok("resync", repo.url, "--name", "netops")
        events = cli.json("replay", "--verify")["events"]
        repo.remove("jobs/ops.py")
        repo.commit("oops: wrong branch")
        done = cli.run("resync", "netops")
        assert_one_line_error(done, 1, "9 of 9")
        assert "--allow-mass-uninstall" in done.stderr
        assert len(cli.refs("--source", "netops")) == 9
        report = cli.json("replay", "--verify")
        assert report["differences"] == [] and report["events"] > events
        [failed] = [r for r in cli.json("results", "list") if r["status"] == "failed"]
        assert failed["task"] == "sync"
        data = cli.json("resync", "netops", "--allow-mass-uninstall")
        assert len(data["uninstalled"]) == 9 and data["up_to_date"] is False
        assert cli.refs("--source", "netops") == []

    def test_max_uninstall_in_the_config_allows(self, cli: Cli, repo: GitRepo) -> None:
        """A source configured with ``max_uninstall = "100%"`` may be emptied without the flag."""
        repo.write("jobs/ops.py", many_jobs(6))
        repo.commit("jobs")
        cli.config.write_text(
            cli.config.read_text(encoding="utf-8")
            + f'\n[[sources]]\nname = "netops"\nurl = "{repo.url}"\nmax_uninstall = "100%"\n',
            encoding="utf-8",
        )
        cli.ok("resync", "netops")
        repo.remove("jobs/ops.py")
        repo.commit("retire them all")
        assert len(cli.json("resync", "netops")["uninstalled"]) == 6


class TestSources:
    def test_list_names_who_synced_last(self, synced: Cli, repo: GitRepo) -> None:
        """``sources list`` shows who saved each source's last sync: a column, and ``last_synced_by`` in JSON."""
        repo.write("jobs/ops.py", JOBS.replace("Back up", "Back up all"))
        repo.commit("describe")
        synced.ok("resync", "netops", actor="daemon@web2")
        [header, row] = synced.ok("sources", "list").splitlines()
        assert header.split()[-3:] == ["SYNCED", "BY", "STATUS"]
        assert row.split()[-2:] == ["daemon@web2", "ok"]
        [listed] = synced.json("sources", "list")
        assert listed["last_synced_by"] == "daemon@web2"

    def test_resync_waits_for_another_process_and_says_so(self, synced: Cli) -> None:
        """A resync of a source another process is syncing says it waits, then syncs once that one is done."""
        command = [sys.executable, "-m", "jobsync", "--config", str(synced.config), "resync", "netops"]
        with closing(work_locks(default_store_url(synced.state))) as other:
            with other.holding("source:netops") as held:
                assert held
                waiting = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                assert waiting.stderr is not None
                said = waiting.stderr.readline()  # the lock is let go only once it says it waits
            out, err = waiting.communicate(timeout=120)
        assert waiting.returncode == 0, err
        assert said == "waiting up to 60 s: another process is syncing netops\n"
        assert err == "" and "netops @" in out


class TestJobs:
    def test_list_json_keys(self, synced: Cli) -> None:
        """``jobs list --json`` gives every documented key, each field with its override flag."""
        data = synced.json("jobs", "list")
        assert isinstance(data, list) and len(data) == 2
        keys = set(data[0])
        for key in (
            "id",
            "ref",
            "source",
            "module_name",
            "job_class_name",
            "installed",
            "enabled",
            "read_only",
            "is_job_hook_receiver",
            "is_job_button_receiver",
            "commit",
            "file",
            "line",
            "created",
            "last_updated",
            "name",
            "name_override",
            "task_queues_override",
        ):
            assert key in keys

    def test_override_show_clear_history(self, synced: Cli) -> None:
        """An override shows in ``jobs show`` and in the history with its actor; clear reverts it."""
        synced.ok("jobs", "override", "netops:jobs.ops.Backup", "description", "Pinned")
        shown = synced.json("jobs", "show", "netops:jobs.ops.Backup")
        assert isinstance(shown, dict)
        assert shown["description"] == "Pinned" and shown["description_override"] is True
        synced.ok("jobs", "clear", "Backup", "description")
        shown = synced.json("jobs", "show", "Backup")
        assert isinstance(shown, dict) and shown["description"] == "Back up"
        history = synced.json("jobs", "history", "Backup")
        assert isinstance(history, list)
        assert [h["event"] for h in history] == ["JobDiscovered", "FieldOverridden", "OverrideCleared"]
        assert history[1]["actor"] == "alice"

    def test_show_at_a_past_time(self, synced: Cli) -> None:
        """``jobs show --at`` before an override shows the job without it."""
        history = synced.json("jobs", "history", "Backup")
        assert isinstance(history, list)
        discovered_at = history[0]["time"]
        synced.ok("jobs", "override", "Backup", "hidden", "true")
        then = synced.json("jobs", "show", "Backup", "--at", discovered_at)
        assert isinstance(then, dict) and then["hidden"] is False
        now = synced.json("jobs", "show", "Backup")
        assert isinstance(now, dict) and now["hidden"] is True

    def test_show_puts_the_source_value_beside_an_override(self, synced: Cli, repo: GitRepo) -> None:
        """An overridden field shows the current source value beside it, in text and in JSON, now and ``--at``."""
        synced.ok("jobs", "override", "Backup", "description", "Owned by NetOps")
        overridden_at = synced.json("jobs", "history", "Backup")[-1]["time"]
        repo.write("jobs/ops.py", JOBS.replace('"Back up"', '"Pull inventory from NetBox"'))
        repo.commit("describe Backup")
        synced.ok("resync", repo.url, "--name", "netops")

        lines = synced.ok("jobs", "show", "Backup").splitlines()
        assert (
            f'{"description":<24} Owned by NetOps  (overridden; source: "Pull inventory from NetBox")'
            in lines
        )
        assert f"{'time_limit':<24} 20" in lines
        assert not [line for line in lines if line.startswith("source_values")]
        shown = synced.json("jobs", "show", "Backup")
        assert shown["description"] == "Owned by NetOps"
        assert shown["source_values"] == {
            "grouping": "jobs.ops",
            "name": "Backup",
            "description": "Pull inventory from NetBox",
            "approval_required": False,
            "dryrun_default": False,
            "hidden": False,
            "has_sensitive_variables": True,
            "soft_time_limit": 10,
            "time_limit": 20,
            "task_queues": [],
            "is_singleton": False,
        }
        for record in synced.json("jobs", "list", "--all"):
            assert list(record["source_values"]) == list(shown["source_values"]), record["ref"]

        then = synced.ok("jobs", "show", "Backup", "--at", overridden_at).splitlines()
        assert f'{"description":<24} Owned by NetOps  (overridden; source: "Back up")' in then
        assert (
            synced.json("jobs", "show", "Backup", "--at", overridden_at)["source_values"]["description"]
            == "Back up"
        )

        synced.ok("jobs", "clear", "Backup", "description")
        lines = synced.ok("jobs", "show", "Backup").splitlines()
        assert f"{'description':<24} Pull inventory from NetBox" in lines
        assert not [line for line in lines if "overridden" in line]

    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (("jobs", "override", "Backup", "installed", "false"), "read-only"),
            (("jobs", "override", "Backup", "colour", "red"), "unknown field 'colour'"),
            (("jobs", "override", "Backup", "time_limit", "soon"), "number of seconds"),
            (("jobs", "override", "Backup", "soft_time_limit", "30"), "lower than time_limit"),
            (("jobs", "override", "Backup", "name", "Restore"), "already used"),
            (("jobs", "show", "Nope"), "no job matches 'Nope'"),
            (("jobs", "delete", "Backup"), "still installed"),
        ],
    )
    def test_bad_input_is_one_line_and_changes_nothing(
        self, synced: Cli, args: tuple[str, ...], text: str
    ) -> None:
        """Bad input is refused with one ``error:`` line, exit 1, and no new event."""
        before = synced.json("jobs", "history", "Backup")
        assert_one_line_error(synced.run(*args), 1, text)
        assert synced.json("jobs", "history", "Backup") == before

    def test_usage_error_exits_2(self, synced: Cli) -> None:
        """A missing argument, or an ``--at`` that is no time, commit or version, is a usage error: exit 2."""
        assert_one_line_error(synced.run("jobs", "override", "Backup"), 2, "Missing argument")
        assert_one_line_error(
            synced.run("jobs", "show", "Backup", "--at", "last blue moon"), 2, "cannot read time"
        )

    def test_bad_config_is_one_line(self, cli: Cli) -> None:
        """A config with an unknown key is refused naming the key."""
        cli.config.write_text('colour = "red"\n', encoding="utf-8")
        assert_one_line_error(cli.run("jobs", "list"), 1, "colour: unknown key")


class TestClosedPipe:
    @pytest.mark.parametrize("args", [("jobs", "list"), ("audit",), ("jobs", "list", "--json")])
    def test_a_reader_that_leaves_early_is_no_failure(
        self, cli: Cli, repo: GitRepo, args: tuple[str, ...]
    ) -> None:
        """``jobsync jobs list | head -1`` exits 0 and says nothing, as git and gh do."""
        repo.write("jobs/ops.py", many_jobs(3000))
        repo.commit("many jobs")
        cli.ok("resync", repo.url, "--name", "netops")
        reader = subprocess.Popen(
            [sys.executable, "-m", "jobsync", "--config", str(cli.config), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert reader.stdout is not None and reader.stderr is not None
        reader.stdout.read(10)
        reader.stdout.close()  # as `head` does once it has its line
        assert reader.wait(60) == 0
        assert reader.stderr.read() == b""


class TestDemo:
    def test_demo_runs_and_tells_the_story(self, tmp_path: Path) -> None:
        """``jobsync demo`` (what ``make demo`` runs) discovers, changes, overrides and shows history."""
        done = subprocess.run(
            [sys.executable, "-m", "jobsync", "demo", "--dir", str(tmp_path / "demo")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert "3 added" in out and "1 changed, 1 uninstalled" in out
        assert "already up to date" in out
        assert "OverrideCleared" in out and "JobChanged" in out
        assert "  time_limit: 600 -> 900" in out  # the diff of the job's first version against now
        assert "dry run: netops @ " in out  # the preview before the second sync
        assert (
            '(Eve Writer <eve@example.com>, "Longer backups; retire BounceInterface", ' in out
        )  # provenance
        assert "total_run_count     1" in out  # the schedule fired once...
        assert re.search(r"completed .* daemon@demo +worker-1", out)  # ...and a worker completed its run
        assert not (tmp_path / "demo" / "legacy" / "never").exists()

    def test_demo_cleans_up_unless_kept_and_hints_with_the_command_that_works(self, tmp_path: Path) -> None:
        """Without --dir the temp folder goes away (--keep keeps it); hints name the script as run."""
        script = Path(sys.executable).with_name("jobsync")  # .venv/bin/jobsync, as `make demo` runs it
        env = {**os.environ, "TMPDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}  # jobsync not on PATH
        done = subprocess.run([str(script), "demo"], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert not list(tmp_path.glob("jobsync-demo-*"))
        assert f"'{script} demo --keep' keeps it" in done.stdout
        kept = subprocess.run(
            [str(script), "demo", "--keep"], capture_output=True, text=True, env=env, timeout=120
        )
        assert kept.returncode == 0, kept.stderr
        (folder,) = tmp_path.glob("jobsync-demo-*")
        assert f"  {script} --config {folder / 'config.toml'} jobs show" in kept.stdout
        assert (folder / "state" / "jobsync.db").exists()


@pytest.fixture
def enabled(synced: Cli) -> Cli:
    synced.ok("jobs", "enable", "Backup")
    return synced


class TestResults:
    def test_result_lifecycle_through_the_cli(self, enabled: Cli) -> None:
        """record, start, log, finish and show work as separate processes, and args come back as given."""
        enabled.ok("jobs", "override", "Backup", "has_sensitive_variables", "false")  # args are kept
        result_id = enabled.ok("results", "record", "Backup", "--args", '{"devices": ["r1"]}').strip()
        enabled.ok("results", "start", result_id[:8])
        enabled.ok("results", "log", result_id, "saved r1", "--object", "r1", "--url", "https://n/r1")
        enabled.ok("results", "finish", result_id, "--status", "completed", "--data", '{"saved": 1}')
        shown = enabled.json("results", "show", result_id)
        assert isinstance(shown, dict)
        assert shown["status"] == "completed" and shown["args"] == {"devices": ["r1"]}
        assert shown["data"] == {"saved": 1} and shown["job"] == "netops:jobs.ops.Backup"
        for key in (
            "id",
            "job",
            "job_name",
            "task",
            "status",
            "args",
            "actor",
            "created",
            "started",
            "completed",
            "data",
        ):
            assert key in shown
        entries = enabled.json("logs", result_id)
        assert entries == [
            {
                "time": entries[0]["time"],
                "level": "info",
                "message": "saved r1",
                "grouping": "main",
                "object": "r1",
                "url": "https://n/r1",
            }
        ]

    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (("results", "start", "ffffffff"), "no result matches"),
            (("results", "start", "RESULT"), "only a pending result can start"),
        ],
    )
    def test_refusals_are_one_line(self, enabled: Cli, args: tuple[str, ...], text: str) -> None:
        """Unknown ids and refused transitions: one ``error:`` line and exit 1."""
        result_id = enabled.ok("results", "record", "Backup").strip()
        enabled.ok("results", "start", result_id)
        done = enabled.run(*(result_id if a == "RESULT" else a for a in args))
        assert_one_line_error(done, 1, text)

    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (("results", "finish", "RESULT", "--status", "done"), "'done' is not one of 'completed'"),
            (("results", "log", "RESULT", "x", "--level", "loud"), "'loud' is not one of 'debug'"),
            (("results", "list", "--status", "bogus"), "'bogus' is not one of 'pending'"),
            (("logs", "RESULT", "--level", "warn"), "'warn' is not one of 'debug'"),
            (("results", "record", "Backup", "--args", "{nope"), "--args is not valid JSON"),
        ],
    )
    def test_bad_choices_are_usage_errors(self, enabled: Cli, args: tuple[str, ...], text: str) -> None:
        """A status or level that is not one of the documented values, or --args that is no JSON: one line
        and exit 2 (issue 14, item 7; issue 17, item 4)."""
        result_id = enabled.ok("results", "record", "Backup").strip()
        done = enabled.run(*(result_id if a == "RESULT" else a for a in args))
        assert_one_line_error(done, 2, text)

    def test_claim_and_heartbeat_through_the_cli(self, enabled: Cli) -> None:
        """A worker claims the oldest run (its id, or its record with --json), beats, and gets exit 3 when none waits."""
        enabled.ok("jobs", "override", "Backup", "has_sensitive_variables", "false")  # args are kept
        first = enabled.ok("results", "record", "Backup", "--args", '{"n": 1}').strip()
        second = enabled.ok("results", "record", "Backup", "--args", '{"n": 2}').strip()
        assert enabled.ok("results", "claim", "--queue", "default", "--worker", "w1").strip() == first
        claimed = enabled.json("results", "claim", "--queue", "default", "--worker", "w2")
        assert (claimed["id"], claimed["status"], claimed["worker"]) == (second, "running", "w2")
        assert claimed["args"] == {"n": 2}
        empty = enabled.run("results", "claim", "--queue", "default", "--worker", "w3")
        assert (empty.returncode, empty.stdout, empty.stderr) == (3, "", "")
        assert enabled.run("results", "claim", "--queue", "other", "--worker", "w3").returncode == 3
        enabled.ok("results", "heartbeat", first[:8])
        assert "w1" in enabled.ok("results", "list")
        assert "w2" in enabled.ok("results", "show", second)
        enabled.ok("results", "finish", first, "--status", "completed")
        assert_one_line_error(
            enabled.run("results", "heartbeat", first), 1, "only a running result takes a heartbeat"
        )

    def test_disabled_job_cannot_run(self, synced: Cli) -> None:
        """A result is refused for a disabled job, saying how to enable it."""
        assert_one_line_error(synced.run("results", "record", "Backup"), 1, "disabled")

    def test_follow_prints_entries_from_another_process_and_exits(self, enabled: Cli) -> None:
        """``logs --follow`` shows every entry another process appends, in order, and exits when the run ends."""
        result_id = enabled.ok("results", "record", "Backup").strip()
        enabled.ok("results", "start", result_id)
        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobsync",
                "--config",
                str(enabled.config),
                "logs",
                result_id,
                "--follow",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for n in range(5):
                enabled.ok("results", "log", result_id, f"step {n}")
            enabled.ok("results", "finish", result_id, "--status", "failed")
            out, err = follower.communicate(timeout=60)
        finally:
            follower.kill()
        assert follower.returncode == 1, err  # the run failed, so the follow does
        assert err == f"failed {result_id}\n"
        messages = [json.loads(line)["message"] for line in out.splitlines()]
        assert messages == [f"step {n}" for n in range(5)]

    def test_follow_of_a_completed_run_exits_zero(self, enabled: Cli) -> None:
        result_id = enabled.ok("results", "record", "Backup").strip()
        enabled.ok("results", "start", result_id)
        enabled.ok("results", "log", result_id, "done soon")
        enabled.ok("results", "finish", result_id, "--status", "completed")
        done = enabled.run("logs", result_id, "--follow")
        assert done.returncode == 0, done.stderr
        assert "done soon" in done.stdout
        assert done.stderr == f"completed {result_id}\n"


class TestSyncResults:
    def test_resync_json_names_its_result(self, cli: Cli, repo: GitRepo) -> None:
        """``resync --json`` returns the id of the sync's result, whose logs list what was added."""
        repo.write("jobs/ops.py", JOBS)
        repo.commit("jobs")
        data = cli.json("resync", repo.url, "--name", "netops")
        assert isinstance(data, dict) and data["result"]
        shown = cli.json("results", "show", data["result"])
        assert isinstance(shown, dict) and shown["task"] == "sync" and shown["status"] == "completed"
        messages = [e["message"] for e in cli.json("logs", data["result"])]
        assert "added netops:jobs.ops.Backup" in messages


class TestStartUp:
    #: Modules only other commands, transports or stores use; a few ms of start-up each (urllib3: ~45).
    ELSEWHERE = (
        "urllib3",
        "structlog",
        "watchfiles",
        "psycopg",
        "importlib.metadata",
        "jobsync.adapters.folder",
        "jobsync.adapters.git_http",
        "jobsync.audit",
        "jobsync.daemon",
        "jobsync.demo",
        "jobsync.migrate",
        "jobsync.postgres",
    )

    def test_resync_of_a_local_repository_imports_only_what_it_uses(
        self, synced: Cli, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A no-op ``resync`` of a local repository loads no HTTP, daemon, audit, migration or PostgreSQL code."""
        monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # the interpreter lists every import on stderr
        done = synced.run("resync", "netops", "--json")
        assert done.returncode == 0, done.stderr
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
        assert "jobsync.adapters.git" in imported  # the listing is complete enough to mean something
        loaded = sorted(m for m in imported if any(m == x or m.startswith(x + ".") for x in self.ELSEWHERE))
        assert loaded == []
