"""Listing, history, audit, replay and time travel through the ``jobsync`` command, as a real subprocess."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import Cli, GitRepo, assert_one_line_error

BACKUP = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Backups"


class Backup(Job):
    class Meta:
        description = "Back up device configs"


class Restore(Job):
    pass


register_jobs(Backup, Restore)
"""

COMPLIANCE = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Audit"


class CheckNtp(Job):
    class Meta:
        description = "Check the NTP servers"


register_jobs(CheckNtp)
"""

LAB = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Lab"


class ResetLab(Job):
    class Meta:
        description = "Wipe the LAB Devices"


register_jobs(ResetLab)
"""

BACKUP_REF = "netops:jobs.backup.Backup"
RESTORE_REF = "netops:jobs.backup.Restore"
CHECK_REF = "netops:jobs.compliance.CheckNtp"
RESET_REF = "labs:jobs.lab.ResetLab"


@pytest.fixture
def catalogued(cli: Cli, repo: GitRepo, tmp_path: Path) -> Cli:
    """``netops`` synced by alice, ``labs`` by bob; Backup and ResetLab enabled, CheckNtp's description pinned."""
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", BACKUP)
    repo.write("jobs/compliance.py", COMPLIANCE)
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    labs = GitRepo(tmp_path / "labs")
    labs.write("jobs/__init__.py", "")
    labs.write("jobs/lab.py", LAB)
    labs.commit("lab jobs")
    cli.ok("resync", labs.url, "--name", "labs", actor="bob")
    cli.ok("jobs", "enable", "ResetLab", actor="bob")
    cli.ok("jobs", "enable", "Backup")
    cli.ok("jobs", "override", CHECK_REF, "description", "Pinned by ops")
    return cli


class TestJobsList:
    def test_without_filters_every_installed_job_is_listed(self, catalogued: Cli) -> None:
        """Plain ``jobs list`` shows every installed job of both sources, overridden or not."""
        assert sorted(catalogued.refs()) == sorted([BACKUP_REF, RESTORE_REF, CHECK_REF, RESET_REF])

    def test_grouping(self, catalogued: Cli) -> None:
        """``--grouping`` keeps that grouping's jobs."""
        assert catalogued.refs("--grouping", "Backups") == [BACKUP_REF, RESTORE_REF]
        assert catalogued.refs("--grouping", "Lab") == [RESET_REF]

    def test_enabled_and_disabled(self, catalogued: Cli) -> None:
        """``--enabled`` and ``--disabled`` split the jobs by whether they may run."""
        assert sorted(catalogued.refs("--enabled")) == [RESET_REF, BACKUP_REF]
        assert sorted(catalogued.refs("--disabled")) == [RESTORE_REF, CHECK_REF]

    def test_overridden(self, catalogued: Cli) -> None:
        """``--overridden`` keeps jobs with at least one override."""
        assert catalogued.refs("--overridden") == [CHECK_REF]

    def test_search_in_any_case(self, catalogued: Cli) -> None:
        """``--search`` matches names and effective descriptions in any case."""
        assert sorted(catalogued.refs("--search", "DEVICE")) == [RESET_REF, BACKUP_REF]
        assert catalogued.refs("--search", "pinned") == [CHECK_REF]
        assert catalogued.refs("--search", "no such text") == []

    def test_sort_and_limit(self, catalogued: Cli) -> None:
        """``--sort`` orders the list and ``--limit`` keeps its head."""
        assert catalogued.refs("--sort", "name") == [BACKUP_REF, CHECK_REF, RESET_REF, RESTORE_REF]
        assert catalogued.refs("--sort", "grouping") == [CHECK_REF, BACKUP_REF, RESTORE_REF, RESET_REF]
        assert catalogued.refs("--sort", "updated", "--limit", "1") == [CHECK_REF]
        assert catalogued.refs("--sort", "name", "--limit", "2", "--disabled") == [CHECK_REF, RESTORE_REF]

    def test_bad_sort_is_a_usage_error(self, catalogued: Cli) -> None:
        """An unknown ``--sort`` is a usage error: one ``error:`` line and exit 2."""
        assert_one_line_error(catalogued.run("jobs", "list", "--sort", "colour"), 2, "colour")


def history_times(cli: Cli, ref: str) -> list[str]:
    return [entry["time"] for entry in cli.json("jobs", "history", ref)]


class TestHistoryAndAudit:
    def test_history_since(self, catalogued: Cli) -> None:
        """``jobs history --since`` keeps the job's events from that moment on."""
        full = catalogued.json("jobs", "history", "Backup")
        assert [entry["event"] for entry in full] == ["JobDiscovered", "JobEnabled"]
        since = catalogued.json("jobs", "history", "Backup", "--since", full[1]["time"])
        assert since == full[1:]
        assert since[0]["actor"] == "alice" and since[0]["changes"] == {"enabled": [False, True]}
        assert catalogued.json("jobs", "history", "Backup", "--since", "0 minutes ago") == []

    def test_history_text_shows_old_and_new(self, catalogued: Cli) -> None:
        """The human history prints each changed field as ``old -> new``."""
        out = catalogued.ok("jobs", "history", CHECK_REF)
        assert "FieldOverridden" in out
        assert "description: Check the NTP servers -> Pinned by ops" in out

    def test_audit_since_and_actor(self, catalogued: Cli) -> None:
        """``audit --since --actor --json`` lists only that person's changes from that moment, in log order."""
        labs_synced = history_times(catalogued, RESET_REF)[0]
        everything = catalogued.json("audit", "--since", labs_synced)
        assert [(e["event"], e["ref"], e["actor"]) for e in everything] == [
            ("SourceSynced", "labs", "bob"),
            ("JobDiscovered", RESET_REF, "bob"),
            ("JobEnabled", RESET_REF, "bob"),
            ("JobEnabled", BACKUP_REF, "alice"),
            ("FieldOverridden", CHECK_REF, "alice"),
        ]
        alice = catalogued.json("audit", "--since", labs_synced, "--actor", "alice")
        assert [(e["event"], e["ref"]) for e in alice] == [
            ("JobEnabled", BACKUP_REF),
            ("FieldOverridden", CHECK_REF),
        ]
        assert alice[1]["changes"]["description"] == ["Check the NTP servers", "Pinned by ops"]
        assert catalogued.json("audit", "--actor", "bob", "--source", "netops") == []

    def test_audit_of_an_empty_window(self, catalogued: Cli) -> None:
        """A window before anything happened prints an empty JSON list."""
        assert catalogued.json("audit", "--until", "1 day ago") == []


def edit_behind_its_back(cli: Cli, statement: str, *params: str) -> None:
    """Change the live read model directly in the SQLite file, as a stray script might."""
    conn = sqlite3.connect(cli.state / "jobsync.db")
    try:
        with conn:
            assert conn.execute(statement, params).rowcount == 1
    finally:
        conn.close()


class TestReplay:
    def test_verify_of_a_clean_catalog_exits_0(self, catalogued: Cli) -> None:
        """``replay --verify`` on an untouched catalog exits 0 and reports no difference."""
        done = catalogued.run("replay", "--verify")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("verified read models from ")
        assert done.stderr == ""
        report = catalogued.json("replay", "--verify")
        assert report["ok"] is True and report["differences"] == [] and report["events"] > 0

    def test_edited_row_fails_verify_then_replay_repairs_it(self, catalogued: Cli) -> None:
        """An edited row fails verify (exit 1, one ``error:`` line, the row on stdout); ``replay`` repairs it."""
        restore_id = catalogued.json("jobs", "show", RESTORE_REF)["id"]
        edit_behind_its_back(catalogued, "UPDATE jobs_view SET enabled = 1 WHERE ref = ?", RESTORE_REF)
        assert RESTORE_REF in catalogued.refs("--enabled")

        done = catalogued.run("replay", "--verify")
        assert_one_line_error(done, 1, "1 differences between the read models and the log")
        assert f"jobs_view id={restore_id}: enabled: live 1 != rebuilt 0" in done.stdout
        assert RESTORE_REF in catalogued.refs("--enabled")  # verify changed nothing

        rebuilt = catalogued.run("replay")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert rebuilt.stdout.startswith("rebuilt read models from ")
        assert RESTORE_REF not in catalogued.refs("--enabled")
        assert catalogued.run("replay", "--verify").returncode == 0


class TestShowAt:
    def test_at_a_date(self, catalogued: Cli) -> None:
        """``--at`` today's local date (its end) shows the job as now; yesterday's is before it existed."""
        today = datetime.now().astimezone().date()
        shown = catalogued.json("jobs", "show", CHECK_REF, "--at", today.isoformat())
        assert shown["description"] == "Pinned by ops" and shown["description_override"] is True
        done = catalogued.run("jobs", "show", CHECK_REF, "--at", (today - timedelta(days=1)).isoformat())
        assert_one_line_error(done, 1, CHECK_REF)

    def test_at_minutes_ago(self, catalogued: Cli) -> None:
        """``--at "N minutes ago"`` reads relative moments: 0 minutes ago is now, 30 minutes ago is before discovery."""
        shown = catalogued.json("jobs", "show", "Backup", "--at", "0 minutes ago")
        assert shown["enabled"] is True and shown["deleted"] is False
        assert_one_line_error(catalogued.run("jobs", "show", "Backup", "--at", "30 minutes ago"), 1, "Backup")

    def test_at_a_moment_between_changes(self, catalogued: Cli) -> None:
        """``--at`` the discovery time shows the job before its later override."""
        discovered = history_times(catalogued, CHECK_REF)[0]
        then = catalogued.json("jobs", "show", CHECK_REF, "--at", discovered)
        assert then["description"] == "Check the NTP servers" and then["description_override"] is False


class TestProvenanceShown:
    def test_history_and_audit_name_the_commit_author_and_subject(self, tmp_path: Path) -> None:
        """``jobs history`` shows who wrote the change next to who synced it; ``audit --author`` filters by it."""
        repo = GitRepo(tmp_path / "repo")
        repo.write("jobs/backup.py", BACKUP)
        repo.commit("Add backups", author="Bob Builder <bob@example.org>")
        cli = Cli(tmp_path)
        assert cli.run("resync", repo.url, "--name", "netops", actor="daemon@vm").returncode == 0
        repo.write("jobs/backup.py", BACKUP.replace("Back up device configs", "Purge after 90 days"))
        sha = repo.commit("Purge after 90 days", author="Eve Writer <eve@example.org>")
        assert cli.run("resync", "netops", actor="daemon@vm").returncode == 0

        history = cli.run("jobs", "history", BACKUP_REF)
        assert history.returncode == 0, history.stderr
        changed = [line for line in history.stdout.splitlines() if "JobChanged" in line]
        assert changed == [
            changed[0].split("daemon@vm")[0]
            + f'daemon@vm (Eve Writer <eve@example.org>, "Purge after 90 days", {sha[:7]}) JobChanged'
        ]
        found = cli.json("audit", "--author", "EVE")
        assert [(e["event"], e["commit"], e["author"], e["subject"]) for e in found] == [
            ("SourceSynced", sha, "Eve Writer <eve@example.org>", "Purge after 90 days"),
            ("JobChanged", sha, "Eve Writer <eve@example.org>", "Purge after 90 days"),
        ]
        assert all(datetime.fromisoformat(e["committed"]).tzinfo is not None for e in found)
        assert cli.json("audit", "--author", "mallory") == []


#: Zones without summer time, so the names and offsets a test expects hold all year.
TOKYO, KIRITIMATI = "Asia/Tokyo", "Pacific/Kiritimati"
SHOWN_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


class TestTimes:
    def test_since_today_prints_todays_events(self, catalogued: Cli) -> None:
        """``audit --since`` today's local date opens at its start, so today's events show; ``--until`` yesterday shows none."""
        catalogued.tz = KIRITIMATI  # +14:00: its date is not UTC's for most of the day
        today = datetime.now(ZoneInfo(KIRITIMATI)).date()
        everything = catalogued.json("audit")
        assert len(everything) > 5
        assert catalogued.json("audit", "--since", today.isoformat()) == everything
        assert catalogued.json("jobs", "history", "Backup", "--since", today.isoformat()) != []
        assert catalogued.json("audit", "--until", (today - timedelta(days=1)).isoformat()) == []

    @pytest.mark.parametrize("phrase", ["last week", "yesterday", "today", "3 days ago", "last tuesday"])
    def test_phrases_people_type_are_accepted(self, catalogued: Cli, phrase: str) -> None:
        """``--since "last week"`` and the other documented phrases open a window that holds what just happened."""
        assert catalogued.json("audit", "--since", phrase) == catalogued.json("audit")

    def test_a_time_no_one_can_read_is_a_usage_error(self, catalogued: Cli) -> None:
        """An unreadable ``--since``/``--until`` is one ``error:`` line and exit 2."""
        assert_one_line_error(catalogued.run("audit", "--since", "soon"), 2, "cannot read time 'soon'; use ")
        assert_one_line_error(
            catalogued.run("jobs", "history", "Backup", "--until", "7"), 2, "cannot read time '7'"
        )

    def test_text_output_shows_local_time_with_the_zone(self, catalogued: Cli) -> None:
        """Every text listing shows times one way, local, with the zone's name."""
        catalogued.tz = TOKYO
        run = catalogued.ok("results", "record", "Backup").strip()
        catalogued.ok("results", "log", run, "saved r1")
        outputs = {
            "audit": catalogued.ok("audit").splitlines()[0],
            "history": catalogued.ok("jobs", "history", "Backup").splitlines()[0],
            "sources": catalogued.ok("sources", "list").splitlines()[1],
            "source": next(
                line for line in catalogued.ok("sources", "show", "netops").splitlines() if "created" in line
            ),
            "job": next(
                line for line in catalogued.ok("jobs", "show", "Backup").splitlines() if "created" in line
            ),
            "results": catalogued.ok("results", "list").splitlines()[1],
            "result": next(
                line for line in catalogued.ok("results", "show", run).splitlines() if "created" in line
            ),
        }
        for what, line in outputs.items():
            assert re.search(rf"{SHOWN_TIME} JST\b", line), (what, line)
            assert "+00:00" not in line and "T" not in line.split()[0], (what, line)
        assert re.match(rf"{SHOWN_TIME}\.\d{{3}} JST  info", catalogued.ok("logs", run)), (
            "log lines keep milliseconds"
        )

    def test_utc_shows_utc(self, catalogued: Cli) -> None:
        """``jobsync --utc`` shows the same moments in UTC, in text and JSON, whatever the local zone."""
        catalogued.tz = TOKYO
        assert re.match(rf"{SHOWN_TIME} UTC  ", catalogued.ok("--utc", "audit"))
        assert re.search(rf"{SHOWN_TIME} UTC", catalogued.ok("--utc", "sources", "list"))
        local, utc = catalogued.json("audit"), catalogued.json("--utc", "audit")
        assert all(entry["time"].endswith("+09:00") for entry in local)
        assert all(entry["time"].endswith("+00:00") for entry in utc)
        assert [datetime.fromisoformat(e["time"]) for e in local] == [
            datetime.fromisoformat(e["time"]) for e in utc
        ]

    def test_json_times_carry_the_local_offset(self, catalogued: Cli) -> None:
        """JSON shows ISO-8601 with the local offset everywhere, the piped ``jobs list`` included."""
        catalogued.tz = TOKYO
        [job] = catalogued.json("jobs", "list", "--search", "Back up")
        assert job["created"].endswith("+09:00") and job["last_updated"].endswith("+09:00")
        assert catalogued.json("jobs", "show", "Backup")["created"] == job["created"]
        assert catalogued.json("sources", "show", "netops")["last_synced"].endswith("+09:00")
        assert catalogued.json("jobs", "history", "Backup")[0]["time"].endswith("+09:00")
        [utc_job] = catalogued.json("--utc", "jobs", "list", "--search", "Back up")
        assert utc_job["created"].endswith("+00:00")
        assert datetime.fromisoformat(utc_job["created"]) == datetime.fromisoformat(job["created"])


class TestFilters:
    def test_an_unknown_source_is_an_error(self, catalogued: Cli) -> None:
        """``--source`` names a thing: one that does not exist is refused, exit 1, naming the known ones."""
        for command in (("audit",), ("jobs", "list")):
            done = catalogued.run(*command, "--source", "nosuch")
            assert_one_line_error(done, 1, "no source named 'nosuch' (known: labs, netops)")
            assert done.stdout == ""

    def test_an_empty_catalog_says_it_knows_no_source(self, cli: Cli) -> None:
        """Before any sync, ``--source`` of any name is refused, and the message says none is known."""
        assert_one_line_error(
            cli.run("audit", "--source", "netops"), 1, "no source named 'netops' (known: none)"
        )

    def test_a_filter_that_matches_nothing_prints_nothing(self, catalogued: Cli) -> None:
        """A known source, or an actor, with nothing to show is an empty answer with exit 0, not an error."""
        assert catalogued.json("audit", "--actor", "nobody") == []
        done = catalogued.run("audit", "--actor", "nobody")
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        assert catalogued.json("audit", "--source", "labs", "--actor", "alice") == []
        assert catalogued.json("jobs", "list", "--source", "labs", "--disabled") == []
        assert catalogued.ok("jobs", "list", "--source", "labs", "--disabled") == "(none)\n"
