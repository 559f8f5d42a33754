"""Filters, time travel, history, audit and replay through ``Catalog`` on real Git and SQLite (docs/design.md §2, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from jobsync import Catalog, JobNotFoundError, JobSyncError
from jobsync.records import HistoryEntry, JobRecord
from tests.conftest import run_sql
from tests.helpers import GitRepo

BACKUP = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Zeta Backups"


class BackupConfigs(Job):
    class Meta:
        description = "{description}"


class RestoreConfigs(Job):
    class Meta:
        description = "Restore saved configs"


register_jobs({registered})
"""

COMPLIANCE = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Audit"


class CheckNtp(Job):
    class Meta:
        description = "Check the NTP servers"


class Legacy(Job):
    pass


register_jobs({registered})
"""

LAB = """\
from nautobot.apps.jobs import Job, register_jobs

name = "Lab"


class ResetLab(Job):
    class Meta:
        description = "Wipe the LAB Devices"


register_jobs(ResetLab)
"""

BACKUP_REF = "netops:jobs.backup.BackupConfigs"
RESTORE_REF = "netops:jobs.backup.RestoreConfigs"
CHECK_REF = "netops:jobs.compliance.CheckNtp"
LEGACY_REF = "netops:jobs.compliance.Legacy"
RESET_REF = "labs:jobs.lab.ResetLab"


def write_backup(
    repo: GitRepo,
    description: str = "Back up device configs",
    registered: str = "BackupConfigs, RestoreConfigs",
) -> str:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", BACKUP.format(description=description, registered=registered))
    return repo.commit("backup jobs")


def write_compliance(repo: GitRepo, registered: str = "CheckNtp, Legacy") -> str:
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/compliance.py", COMPLIANCE.format(registered=registered))
    return repo.commit("compliance jobs")


def last_time(catalog: Catalog, ref: str) -> datetime:
    """The moment of the job's latest event, as its history reports it."""
    return catalog.history(ref)[-1]["time"]


def refs(records: list[JobRecord]) -> list[str]:
    return [record["ref"] for record in records]


def without_last_updated(record: JobRecord) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "last_updated"}


@pytest.fixture
def several(repo: GitRepo, catalog: Catalog, tmp_path: Path) -> Catalog:
    """Two sources, four installed jobs in three groupings, one uninstalled, two enabled, one overridden."""
    write_backup(repo)
    write_compliance(repo)
    catalog.resync(repo.url, name="netops")
    labs = GitRepo(tmp_path / "labs")
    labs.write("jobs/__init__.py", "")
    labs.write("jobs/lab.py", LAB)
    labs.commit("lab jobs")
    catalog.resync(labs.url, name="labs")
    write_compliance(repo, registered="CheckNtp")
    catalog.resync("netops")
    catalog.enable(RESET_REF)
    catalog.enable(BACKUP_REF)
    catalog.override(CHECK_REF, "description", "Pinned by ops")
    return catalog


class TestJobFilters:
    def test_default_lists_installed_jobs_of_every_source(self, several: Catalog) -> None:
        """With no filter, every installed job of every source is listed and the uninstalled one is not."""
        assert sorted(refs(several.jobs())) == sorted([BACKUP_REF, RESTORE_REF, CHECK_REF, RESET_REF])

    def test_source_filter(self, several: Catalog) -> None:
        """``source`` keeps only that source's jobs."""
        assert refs(several.jobs(source="labs")) == [RESET_REF]
        assert sorted(refs(several.jobs(source="netops"))) == [BACKUP_REF, RESTORE_REF, CHECK_REF]

    def test_grouping_filter(self, several: Catalog) -> None:
        """``grouping`` keeps only jobs of that grouping, installed ones by default."""
        assert refs(several.jobs(grouping="Zeta Backups")) == [BACKUP_REF, RESTORE_REF]
        assert refs(several.jobs(grouping="Audit")) == [CHECK_REF]
        assert refs(several.jobs(grouping="Audit", installed=None)) == [CHECK_REF, LEGACY_REF]
        assert several.jobs(grouping="Nowhere") == []

    def test_installed_filter(self, several: Catalog) -> None:
        """``installed`` True lists installed jobs, False only the uninstalled one, None both."""
        assert LEGACY_REF not in refs(several.jobs(installed=True))
        assert refs(several.jobs(installed=False)) == [LEGACY_REF]
        assert sorted(refs(several.jobs(installed=None))) == sorted(
            [BACKUP_REF, RESTORE_REF, CHECK_REF, LEGACY_REF, RESET_REF]
        )

    def test_enabled_filter(self, several: Catalog) -> None:
        """``enabled`` True lists the enabled jobs, False the disabled ones."""
        assert sorted(refs(several.jobs(enabled=True))) == [RESET_REF, BACKUP_REF]
        assert sorted(refs(several.jobs(enabled=False))) == [RESTORE_REF, CHECK_REF]
        assert all(record["enabled"] for record in several.jobs(enabled=True))

    def test_overridden_filter(self, several: Catalog) -> None:
        """``overridden`` True lists jobs with an override, False those without."""
        assert refs(several.jobs(overridden=True)) == [CHECK_REF]
        assert sorted(refs(several.jobs(overridden=False))) == [RESET_REF, BACKUP_REF, RESTORE_REF]

    def test_filters_combine(self, several: Catalog) -> None:
        """Several filters narrow together."""
        assert refs(several.jobs(source="netops", enabled=False, overridden=False)) == [RESTORE_REF]

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ntp", [CHECK_REF]),  # in the name only, lower case
            ("RESTORE", [RESTORE_REF]),  # name and description, upper case
            ("DEVICE", [BACKUP_REF, RESET_REF]),  # in descriptions only, any case
            ("pinned BY", [CHECK_REF]),  # the effective (overridden) description
            ("nothing like this", []),
        ],
    )
    def test_search_matches_name_or_description_in_any_case(
        self, several: Catalog, text: str, expected: list[str]
    ) -> None:
        """``search`` matches the name or the effective description, case-insensitively."""
        assert sorted(refs(several.jobs(search=text))) == sorted(expected)

    def test_search_does_not_see_the_overridden_source_description(self, several: Catalog) -> None:
        """The source description hidden under an override is not searched."""
        assert several.jobs(search="NTP servers") == []

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("source", [RESET_REF, CHECK_REF, BACKUP_REF, RESTORE_REF]),  # source, grouping, name
            ("name", [BACKUP_REF, CHECK_REF, RESET_REF, RESTORE_REF]),
            ("ref", [RESET_REF, BACKUP_REF, RESTORE_REF, CHECK_REF]),
            ("grouping", [CHECK_REF, RESET_REF, BACKUP_REF, RESTORE_REF]),  # Audit, Lab, Zeta Backups
            ("updated", [CHECK_REF, BACKUP_REF, RESET_REF, RESTORE_REF]),  # newest change first
        ],
    )
    def test_sort_orders(self, several: Catalog, sort: str, expected: list[str]) -> None:
        """Each sort key gives its documented order."""
        assert refs(several.jobs(sort=sort)) == expected

    def test_updated_sort_follows_the_aggregates(self, several: Catalog) -> None:
        """``updated`` orders by each job's last change, newest first, as the aggregates record it."""
        listed = refs(several.jobs(sort="updated", installed=None))
        moments = {ref: several.job(ref)["last_updated"] for ref in listed}
        assert listed == sorted(listed, key=lambda ref: moments[ref], reverse=True)

    def test_limit(self, several: Catalog) -> None:
        """``limit`` keeps the first jobs of the sorted list."""
        assert refs(several.jobs(sort="name", limit=2)) == [BACKUP_REF, CHECK_REF]
        assert refs(several.jobs(sort="name", limit=1, enabled=True)) == [BACKUP_REF]

    def test_bad_sort_is_refused(self, several: Catalog) -> None:
        """An unknown sort key is refused, naming the allowed ones."""
        with pytest.raises(JobSyncError, match="sort must be one of source, name, ref, grouping, updated"):
            several.jobs(sort="colour")

    def test_search_is_case_insensitive_beyond_ascii(self, repo: GitRepo, catalog: Catalog) -> None:
        """A search finds a description with accented capitals, typed as written or in lower case."""
        write_backup(repo, description="Sauvegarde ÉTÉ des configurations")
        catalog.resync(repo.url, name="netops")
        assert refs(catalog.jobs(search="sauvegarde")) == [BACKUP_REF]
        assert refs(catalog.jobs(search="ÉTÉ")) == [BACKUP_REF]
        assert refs(catalog.jobs(search="été")) == [BACKUP_REF]


class TestJobAt:
    def test_each_moment_shows_the_job_as_it_was(self, repo: GitRepo, catalog: Catalog) -> None:
        """``job(ref, at=t)`` gives, at and after each step, exactly the record seen right after that step."""
        steps: list[tuple[str, datetime, JobRecord]] = []

        def step(event: str) -> None:
            history = catalog.history(BACKUP_REF)
            assert history[-1]["event"] == event
            steps.append((event, history[-1]["time"], catalog.job(BACKUP_REF)))

        write_backup(repo, description="Back up")
        catalog.resync(repo.url, name="netops")
        step("JobDiscovered")
        write_backup(repo, description="Back up v2")
        catalog.resync("netops")
        step("JobChanged")
        catalog.override(BACKUP_REF, "description", "Pinned")
        step("FieldOverridden")
        write_backup(repo, description="Back up v3")
        catalog.resync("netops")
        step("JobChanged")
        catalog.clear_override(BACKUP_REF, "description")
        step("OverrideCleared")
        write_backup(repo, description="Back up v3", registered="RestoreConfigs")
        catalog.resync("netops")
        step("JobUninstalled")
        write_backup(repo, description="Back up v3")
        catalog.resync("netops")
        step("JobReinstalled")
        catalog.enable(BACKUP_REF)
        step("JobEnabled")
        write_backup(repo, description="Back up v3", registered="RestoreConfigs")
        catalog.resync("netops")
        step("JobUninstalled")
        catalog.delete_job(BACKUP_REF)
        step("JobDeleted")

        # The story really moved: each recorded state differs from the one before (deletion shows
        # only in ``deleted``, which ``job(ref, at=...)`` adds).
        records = [without_last_updated(record) for _, _, record in steps]
        assert all(a != b for a, b in pairwise(records[:-1]))
        assert records[2]["description"] == "Pinned" and records[2]["description_override"] is True
        assert records[3]["description"] == "Pinned" and records[3]["commit"] != records[2]["commit"]
        assert records[4]["description"] == "Back up v3" and records[4]["description_override"] is False

        for index, (event, moment, expected) in enumerate(steps):
            later = steps[index + 1][1] if index + 1 < len(steps) else moment + timedelta(days=1)
            for at in (moment, moment + (later - moment) / 2):
                then = catalog.job(BACKUP_REF, at=at)
                assert without_last_updated(then) == without_last_updated(expected), (
                    index,
                    event,
                    at,
                )
                assert then["deleted"] is (event == "JobDeleted")

    def test_before_discovery_is_not_found(self, repo: GitRepo, catalog: Catalog) -> None:
        """A moment before the job was discovered raises JobNotFoundError."""
        write_backup(repo)
        catalog.resync(repo.url, name="netops")
        discovered = catalog.history(BACKUP_REF)[0]["time"]
        with pytest.raises(JobNotFoundError):
            catalog.job(BACKUP_REF, at=discovered - timedelta(microseconds=1))
        assert catalog.job(BACKUP_REF, at=discovered)["ref"] == BACKUP_REF


@pytest.fixture
def story(repo: GitRepo, catalog: Catalog) -> list[datetime]:
    """BackupConfigs discovered, changed, overridden, changed under the override, cleared: each step's time."""
    moments = []
    write_backup(repo, description="Back up")
    catalog.resync(repo.url, name="netops")
    moments.append(last_time(catalog, BACKUP_REF))
    write_backup(repo, description="Back up v2")
    catalog.resync("netops")
    moments.append(last_time(catalog, BACKUP_REF))
    catalog.override(BACKUP_REF, "description", "Pinned", actor="alice")
    moments.append(last_time(catalog, BACKUP_REF))
    write_backup(repo, description="Back up v3")
    catalog.resync("netops")
    moments.append(last_time(catalog, BACKUP_REF))
    catalog.clear_override(BACKUP_REF, "description", actor="bob")
    moments.append(last_time(catalog, BACKUP_REF))
    return moments


class TestHistory:
    def test_window_returns_exactly_the_entries_inside(self, catalog: Catalog, story: list[datetime]) -> None:
        """``since`` and ``until`` are inclusive bounds: only the events between them are returned."""
        window = catalog.history(BACKUP_REF, since=story[1], until=story[3])
        assert [entry["event"] for entry in window] == ["JobChanged", "FieldOverridden", "JobChanged"]
        assert [entry["time"] for entry in window] == story[1:4]
        assert [e["event"] for e in catalog.history(BACKUP_REF, since=story[3])] == [
            "JobChanged",
            "OverrideCleared",
        ]
        assert [e["event"] for e in catalog.history(BACKUP_REF, until=story[0])] == ["JobDiscovered"]
        assert catalog.history(BACKUP_REF, since=story[4] + timedelta(microseconds=1)) == []

    def test_entries_say_when_who_what_and_old_to_new(self, catalog: Catalog, story: list[datetime]) -> None:
        """Each entry carries time, actor, event and the changed fields as [old, new]."""
        history = catalog.history(BACKUP_REF)
        assert len(history) == 5
        for entry in history:
            assert {"time", "actor", "event", "changes"} <= set(entry)
        assert [entry["actor"] for entry in history] == ["tester", "tester", "alice", "tester", "bob"]
        assert history[1]["changes"]["description"] == ["Back up", "Back up v2"]
        assert history[2]["changes"] == {
            "description": ["Back up v2", "Pinned"],
            "description_override": [False, True],
        }
        assert history[4]["changes"] == {
            "description": ["Pinned", "Back up v3"],
            "description_override": [True, False],
        }

    def test_change_under_an_override_names_the_source_value(
        self, catalog: Catalog, story: list[datetime]
    ) -> None:
        """A JobChanged under an override shows ``<field> (in source)`` moving, not the effective field."""
        changed = catalog.history(BACKUP_REF)[3]
        assert changed["event"] == "JobChanged"
        assert changed["changes"]["description (in source)"] == ["Back up v2", "Back up v3"]
        assert "description" not in changed["changes"]
        assert set(changed["changes"]) == {"commit", "description (in source)"}


@pytest.fixture
def two_sources(repo: GitRepo, catalog: Catalog, tmp_path: Path) -> dict[str, datetime]:
    """``netops`` synced by tester, ``labs`` synced by bob, then alice overrides a netops job."""
    write_backup(repo)
    catalog.resync(repo.url, name="netops")
    labs = GitRepo(tmp_path / "labs")
    labs.write("jobs/__init__.py", "")
    labs.write("jobs/lab.py", LAB)
    labs.commit("lab jobs")
    catalog.resync(labs.url, name="labs", actor="bob")
    labs_at = last_time(catalog, RESET_REF)
    catalog.override(BACKUP_REF, "hidden", True, actor="alice")
    return {"labs": labs_at, "override": last_time(catalog, BACKUP_REF)}


def summary(entries: list[HistoryEntry]) -> list[tuple[str, str, str]]:
    return [(entry["event"], entry["ref"], entry["actor"]) for entry in entries]


class TestAudit:
    def test_lists_job_and_source_events_in_log_order(
        self, catalog: Catalog, two_sources: dict[str, datetime]
    ) -> None:
        """Without a window the audit lists every source and job event of both sources, in log order."""
        assert summary(catalog.audit()) == [
            ("SourceRegistered", "netops", "tester"),
            ("SourceSynced", "netops", "tester"),
            ("JobDiscovered", BACKUP_REF, "tester"),
            ("JobDiscovered", RESTORE_REF, "tester"),
            ("SourceRegistered", "labs", "bob"),
            ("SourceSynced", "labs", "bob"),
            ("JobDiscovered", RESET_REF, "bob"),
            ("FieldOverridden", BACKUP_REF, "alice"),
        ]

    def test_since_starts_the_window(self, catalog: Catalog, two_sources: dict[str, datetime]) -> None:
        """``since`` drops earlier events; entries keep their changes as [old, new]."""
        entries = catalog.audit(since=two_sources["labs"])
        # A sync stamps its SourceSynced after planning the jobs, but saves it first in the log.
        assert summary(entries) == [
            ("SourceSynced", "labs", "bob"),
            ("JobDiscovered", RESET_REF, "bob"),
            ("FieldOverridden", BACKUP_REF, "alice"),
        ]
        assert entries[-1]["changes"] == {"hidden": [False, True], "hidden_override": [False, True]}
        assert all(entry["time"] >= two_sources["labs"] for entry in entries)

    def test_actor_filter(self, catalog: Catalog, two_sources: dict[str, datetime]) -> None:
        """``actor`` keeps only that person's changes."""
        assert summary(catalog.audit(actor="bob")) == [
            ("SourceRegistered", "labs", "bob"),
            ("SourceSynced", "labs", "bob"),
            ("JobDiscovered", RESET_REF, "bob"),
        ]
        assert summary(catalog.audit(actor="alice")) == [("FieldOverridden", BACKUP_REF, "alice")]
        assert catalog.audit(actor="nobody") == []

    def test_source_filter(self, catalog: Catalog, two_sources: dict[str, datetime]) -> None:
        """``source`` keeps only that source's own events and its jobs' events."""
        assert summary(catalog.audit(source="labs")) == [
            ("SourceRegistered", "labs", "bob"),
            ("SourceSynced", "labs", "bob"),
            ("JobDiscovered", RESET_REF, "bob"),
        ]
        assert summary(catalog.audit(source="netops", since=two_sources["labs"])) == [
            ("FieldOverridden", BACKUP_REF, "alice")
        ]

    def test_until_ends_the_window(self, catalog: Catalog, two_sources: dict[str, datetime]) -> None:
        """``until`` drops later events."""
        before_override = two_sources["override"] - timedelta(microseconds=1)
        assert ("FieldOverridden", BACKUP_REF, "alice") not in summary(catalog.audit(until=before_override))
        assert summary(catalog.audit(since=two_sources["override"], until=two_sources["override"])) == [
            ("FieldOverridden", BACKUP_REF, "alice")
        ]

    def test_a_window_with_nothing_in_it_is_empty(
        self, catalog: Catalog, two_sources: dict[str, datetime]
    ) -> None:
        """A window after (or before) every event gives an empty list."""
        now = datetime.now(UTC)
        assert catalog.audit(since=now + timedelta(hours=1)) == []
        assert catalog.audit(until=now - timedelta(days=365)) == []


class TestReplay:
    def test_untouched_catalog_verifies_clean(
        self, catalog: Catalog, two_sources: dict[str, datetime]
    ) -> None:
        """Verify on an untouched catalog finds no difference and counts every event of the log."""
        report = catalog.replay(verify=True)
        assert report.ok and report.differences == ()
        assert report.verified is True
        assert report.events == catalog.event_count() > 0
        assert report.position == catalog.event_count()

    def test_edited_job_row_is_reported_not_repaired(
        self, catalog: Catalog, two_sources: dict[str, datetime], state_dir: Path
    ) -> None:
        """A job row edited behind the catalog's back is named by verify, left as is, then repaired by replay."""
        ident = catalog.job(RESTORE_REF)["id"]
        run_sql(catalog, "UPDATE {jobs} SET enabled = 1 WHERE ref = ?", (RESTORE_REF,))
        assert refs(catalog.jobs(enabled=True)) == [RESTORE_REF]

        report = catalog.replay(verify=True)
        assert not report.ok
        assert len(report.differences) == 1
        assert report.differences[0].startswith(f"jobs_view id={ident}: ")
        assert "enabled: live 1 != rebuilt 0" in report.differences[0]
        assert refs(catalog.jobs(enabled=True)) == [RESTORE_REF]  # verify changed nothing
        assert not catalog.replay(verify=True).ok

        repaired = catalog.replay()
        assert repaired.verified is False and repaired.ok
        assert catalog.jobs(enabled=True) == []
        assert catalog.replay(verify=True).ok

    def test_deleted_log_entry_is_reported_not_repaired(
        self, catalog: Catalog, two_sources: dict[str, datetime], state_dir: Path
    ) -> None:
        """A log entry deleted behind the catalog's back is named by verify, then restored by replay."""
        catalog.enable(BACKUP_REF)
        result = catalog.record_result(BACKUP_REF)
        catalog.start_result(result)
        catalog.log(result, "first")
        catalog.log(result, "second")
        catalog.finish_result(result, "completed")
        [second] = [entry for entry in catalog.logs(result) if entry["message"] == "second"]
        run_sql(
            catalog, "DELETE FROM {logs} WHERE result_id = ? AND version = ?", (str(result), second["seq"])
        )

        report = catalog.replay(verify=True)
        assert report.differences == (
            f"log_entries result_id={result} version={second['seq']}: missing from the live view",
        )
        assert [entry["message"] for entry in catalog.logs(result)] == ["first"]

        assert catalog.replay().ok
        assert [entry["message"] for entry in catalog.logs(result)] == ["first", "second"]
        assert catalog.replay(verify=True).ok
