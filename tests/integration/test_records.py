"""Typed library records (``jobsync.records``): real types, and the same JSON the CLI prints."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from jobsync import Catalog, JobNotFoundError, JobSyncError
from jobsync.cli import main
from jobsync.domain.fields import OVERRIDABLE_FIELDS
from jobsync.records import HistoryEntry, JobRecord, LogRecord, ResultRecord, SourceRecord, to_json
from tests.helpers import GitRepo

JOBS = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Backups"


class BackupConfigs(Job):
    class Meta:
        description = "Back up"
        has_sensitive_variables = False
        task_queues = ["fast", "slow"]
        soft_time_limit = 1.5


class RestoreConfigs(Job):
    pass


register_jobs(BackupConfigs, RestoreConfigs)
"""

BACKUP_REF = "netops:jobs.backup.BackupConfigs"


@pytest.fixture
def synced(repo: GitRepo, catalog: Catalog) -> Catalog:
    """``netops`` synced, BackupConfigs overridden and enabled, with one finished run that logged twice."""
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", JOBS)
    repo.commit("jobs")
    catalog.resync(repo.url, name="netops")
    catalog.override(BACKUP_REF, "description", "Pinned", actor="alice")
    catalog.enable(BACKUP_REF)
    rid = catalog.record_result(BACKUP_REF, {"devices": ["rtr1"]})
    catalog.start_result(rid)
    catalog.log(rid, "saved rtr1", level="success", object="rtr1")
    catalog.log(rid, "done")
    catalog.finish_result(rid, "completed", {"saved": 1})
    return catalog


def assert_utc(moment: object) -> None:
    assert isinstance(moment, datetime), moment
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0), moment


def declared(record_type: type[Any]) -> frozenset[str]:
    keys: frozenset[str] = record_type.__required_keys__ | record_type.__optional_keys__
    return keys


def run_id(catalog: Catalog) -> UUID:
    [run] = [r for r in catalog.results() if r["task"] == "job"]
    return run["id"]


class TestTypes:
    def test_jobs_have_uuid_ids_and_utc_times(self, synced: Catalog) -> None:
        """``jobs()`` and ``job()`` give the id as a UUID and ``created``/``last_updated`` as aware UTC datetimes."""
        for record in [*synced.jobs(), synced.job(BACKUP_REF)]:
            assert isinstance(record["id"], UUID)
            assert_utc(record["created"])
            assert_utc(record["last_updated"])
            assert record["created"] <= record["last_updated"]

    def test_sources_have_uuid_ids_and_utc_times(self, synced: Catalog) -> None:
        """A source's id is a UUID and its ``created``/``last_synced`` are aware UTC datetimes."""
        [listed] = synced.sources()
        shown = synced.source("netops")
        assert listed == shown
        assert isinstance(shown["id"], UUID)
        assert_utc(shown["created"])
        assert_utc(shown["last_synced"])

    def test_results_have_uuid_ids_and_utc_times(self, synced: Catalog) -> None:
        """A result's id is a UUID, its times aware UTC datetimes, and ``job`` stays the job's ref."""
        rid = run_id(synced)
        result = synced.result(rid)
        assert result["id"] == rid
        assert result["job"] == BACKUP_REF
        for moment in (result["created"], result["started"], result["completed"]):
            assert_utc(moment)
        assert result["args"] == {"devices": ["rtr1"]} and result["data"] == {"saved": 1}

    def test_log_entries_have_utc_times(self, synced: Catalog) -> None:
        """Each log entry's ``time`` is an aware UTC datetime and ``seq`` its integer position."""
        entries = synced.logs(run_id(synced))
        assert [e["message"] for e in entries] == ["saved rtr1", "done"]
        for entry in entries:
            assert_utc(entry["time"])
            assert isinstance(entry["seq"], int)

    def test_history_and_audit_times_are_utc(self, synced: Catalog) -> None:
        """History and audit entries carry their moment as an aware UTC datetime."""
        for entries in (synced.history(BACKUP_REF), synced.audit()):
            assert entries
            for entry in entries:
                assert_utc(entry["time"])

    def test_records_have_exactly_the_declared_keys(self, synced: Catalog) -> None:
        """Every key a record has is declared in its TypedDict, and every required key is there."""
        rid = run_id(synced)
        samples: list[tuple[type[Any], list[Any]]] = [
            (JobRecord, [*synced.jobs(installed=None), synced.job(BACKUP_REF)]),
            (SourceRecord, synced.sources()),
            (ResultRecord, synced.results()),
            (LogRecord, synced.logs(rid)),
            (HistoryEntry, [*synced.history(BACKUP_REF), *synced.audit()]),
        ]
        for record_type, records in samples:
            assert records, record_type
            for record in records:
                assert record_type.__required_keys__ <= set(record) <= declared(record_type), record_type
        assert synced.job(BACKUP_REF)["deleted"] is False

    def test_ids_may_be_given_as_uuid_or_text(self, synced: Catalog) -> None:
        """Read methods taking an id accept the UUID a record holds as well as its text."""
        job = synced.job(BACKUP_REF)
        rid = run_id(synced)
        assert synced.job(job["id"]) == synced.job(str(job["id"])) == job
        assert synced.history(job["id"]) == synced.history(BACKUP_REF)
        assert [r["id"] for r in synced.results(job=job["id"])] == [rid]
        assert synced.result(rid) == synced.result(str(rid))
        assert synced.logs(rid) == synced.logs(str(rid))


class TestJson:
    @pytest.fixture
    def cli(
        self,
        synced: Catalog,
        store_url: str,
        state_dir: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> Any:
        """Runs the real ``jobsync`` entry point on the catalog's store and returns what it printed."""
        config = tmp_path / "config.toml"
        config.write_text(f'state_dir = "{state_dir}"\n', encoding="utf-8")

        def printed(*args: str) -> str:
            capsys.readouterr()
            main(["--config", str(config), "--store", store_url, *args])
            return capsys.readouterr().out

        return printed

    @staticmethod
    def compact(data: object) -> str:
        return json.dumps(data, separators=(",", ":")) + "\n"

    def test_to_json_is_what_the_cli_prints(self, synced: Catalog, cli: Any) -> None:
        """``to_json`` of each record, in the local zone, gives byte for byte the JSON the matching CLI command prints."""
        rid = str(run_id(synced))
        expected = {
            ("sources", "list"): [to_json(r, "local") for r in synced.sources()],
            ("sources", "show", "netops"): to_json(synced.source("netops"), "local"),
            ("jobs", "show", BACKUP_REF): to_json(synced.job(BACKUP_REF), "local"),
            ("jobs", "history", BACKUP_REF): [to_json(e, "local") for e in synced.history(BACKUP_REF)],
            ("audit",): [to_json(e, "local") for e in synced.audit()],
            ("results", "list"): [to_json(r, "local") for r in synced.results()],
            ("results", "show", rid): to_json(synced.result(rid), "local"),
            ("logs", rid): [
                {k: v for k, v in to_json(e, "local").items() if k != "seq"} for e in synced.logs(rid)
            ],
        }
        for command, data in expected.items():
            assert cli(*command, "--json") == self.compact(data), command

    def test_piped_jobs_list_is_the_stored_text_of_the_same_records(self, synced: Catalog, cli: Any) -> None:
        """``jobs list --json`` into a pipe prints the stored records, which decode to ``to_json`` of ``jobs()``."""
        printed = cli("jobs", "list", "--all", "--json")
        assert printed == synced.jobs_json(installed=None) + "\n"
        assert json.loads(printed) == [to_json(r) for r in synced.jobs(installed=None)]

    def test_to_json_keeps_iso_text_and_key_order(self, synced: Catalog) -> None:
        """Times go back to the ISO-8601 text they were read from and ids to text, keys in their order."""
        record = synced.job(BACKUP_REF)
        as_json = to_json(record)
        assert list(as_json) == list(record)
        assert as_json["id"] == str(record["id"])
        assert as_json["created"] == record["created"].isoformat()
        assert as_json["task_queues"] == ["fast", "slow"] and as_json["soft_time_limit"] == 1.5


class TestMoments:
    def test_at_takes_relative_text(self, synced: Catalog) -> None:
        """``at="1 second ago"`` is read as the CLI reads it: the job before an override made just now."""
        time.sleep(1.2)  # the override below is then more than a second after everything before it
        synced.override(BACKUP_REF, "description", "Later", actor="bob")
        assert synced.job(BACKUP_REF, at="1 second ago")["description"] == "Pinned"
        assert synced.job(BACKUP_REF)["description"] == "Later"

    def test_at_an_hour_ago_is_before_the_job_existed(self, synced: Catalog) -> None:
        """``at="1 hour ago"`` is understood; the job, discovered just now, did not exist then."""
        with pytest.raises(JobNotFoundError, match="at "):
            synced.job(BACKUP_REF, at="1 hour ago")

    def test_at_takes_iso_text_and_datetimes(self, synced: Catalog) -> None:
        """An ISO-8601 string and the datetime it names give the same record; naive datetimes are local time."""
        moment = synced.history(BACKUP_REF)[-1]["time"]
        by_text = synced.job(BACKUP_REF, at=moment.isoformat())
        assert by_text == synced.job(BACKUP_REF, at=moment)
        assert by_text == synced.job(BACKUP_REF, at=moment.astimezone().replace(tzinfo=None))
        assert synced.job(BACKUP_REF, at=None) == synced.job(BACKUP_REF)

    def test_since_and_until_take_text(self, synced: Catalog) -> None:
        """History and audit windows accept the CLI's time text as well as datetimes."""
        first = synced.history(BACKUP_REF)[0]["time"]
        assert synced.history(BACKUP_REF, since="1 hour ago") == synced.history(BACKUP_REF)
        assert synced.history(BACKUP_REF, until=first.isoformat()) == synced.history(BACKUP_REF, until=first)
        assert synced.audit(since="1 hour ago", until="now") == synced.audit()
        assert synced.audit(until="2000-01-01") == []

    @pytest.mark.parametrize("bad", [5, 1.5, b"yesterday", ["now"]])
    def test_other_types_are_refused_in_one_line(self, synced: Catalog, bad: object) -> None:
        """A moment that is neither a datetime nor text raises a JobSyncError of one line naming the argument."""
        calls: dict[str, Callable[[], object]] = {
            "at": lambda: synced.job(BACKUP_REF, at=bad),  # type: ignore[arg-type]
            "since": lambda: synced.history(BACKUP_REF, since=bad),  # type: ignore[arg-type]
            "until": lambda: synced.audit(until=bad),  # type: ignore[arg-type]
        }
        for argument, call in calls.items():
            with pytest.raises(JobSyncError) as caught:
                call()
            message = str(caught.value)
            assert "\n" not in message
            assert message.startswith(f"{argument} must be a datetime or a time")
            assert type(bad).__name__ in message

    def test_unreadable_text_is_refused(self, synced: Catalog) -> None:
        """Text that is no time raises the same JobSyncError the CLI reports for ``--at``."""
        with pytest.raises(JobSyncError, match="cannot read time 'soon'"):
            synced.job(BACKUP_REF, at="soon")


class TestSourceValues:
    """docs/design.md §3 rule 3: a read shows the effective value and, underneath, the source's value."""

    @staticmethod
    def resync_with_description(repo: GitRepo, catalog: Catalog, description: str) -> None:
        repo.write("jobs/backup.py", JOBS.replace('"Back up"', json.dumps(description)))
        repo.commit(f"describe as {description}")
        catalog.resync(repo.url, name="netops")

    def test_an_overridden_field_shows_the_current_source_value_underneath(
        self, synced: Catalog, repo: GitRepo
    ) -> None:
        """After the source changes an overridden field, the job keeps the override and holds the new source value."""
        self.resync_with_description(repo, synced, "Back up nightly")
        job = synced.job(BACKUP_REF)
        assert job["description"] == "Pinned" and job["description_override"] is True
        assert job["source_values"] == {
            "grouping": "Backups",
            "name": "BackupConfigs",
            "description": "Back up nightly",
            "approval_required": False,
            "dryrun_default": False,
            "hidden": False,
            "has_sensitive_variables": False,
            "soft_time_limit": 1.5,
            "time_limit": 0,
            "task_queues": ["fast", "slow"],
            "is_singleton": False,
        }
        assert list(job["source_values"]) == list(OVERRIDABLE_FIELDS)

    def test_every_listed_job_has_its_source_values(self, synced: Catalog, repo: GitRepo) -> None:
        """``jobs()`` gives each record ``source_values`` too, the same as ``job()`` does."""
        self.resync_with_description(repo, synced, "Back up nightly")
        listed = {record["ref"]: record for record in synced.jobs(installed=None)}
        assert set(listed) == {BACKUP_REF, "netops:jobs.backup.RestoreConfigs"}
        for ref, record in listed.items():
            assert record["source_values"] == synced.job(ref)["source_values"]
        restore = listed["netops:jobs.backup.RestoreConfigs"]
        assert restore["source_values"]["description"] == restore["description"] == ""

    def test_clearing_shows_the_source_value_again(self, synced: Catalog, repo: GitRepo) -> None:
        """Once the override is cleared, the effective value is the current source value and equals it."""
        self.resync_with_description(repo, synced, "Back up nightly")
        synced.clear_override(BACKUP_REF, "description")
        job = synced.job(BACKUP_REF)
        assert job["description"] == job["source_values"]["description"] == "Back up nightly"
        assert job["description_override"] is False

    def test_a_job_at_an_earlier_time_shows_the_source_value_of_then(
        self, synced: Catalog, repo: GitRepo
    ) -> None:
        """``job(ref, at=...)`` before the source changed shows the source value the job had then."""
        time.sleep(0.01)
        before_change = datetime.now(UTC)
        time.sleep(0.01)
        self.resync_with_description(repo, synced, "Back up nightly")
        then = synced.job(BACKUP_REF, at=before_change)
        assert then["description"] == "Pinned" and then["description_override"] is True
        assert then["source_values"]["description"] == "Back up"
        assert synced.job(BACKUP_REF)["source_values"]["description"] == "Back up nightly"
