"""The Job aggregate follows Nautobot's rules (docs/design.md §3), and replays to the same state."""

from __future__ import annotations

from typing import Any, cast

import pytest

from jobsync.domain.errors import FieldError, JobDeletedError, JobStillInstalledError
from jobsync.domain.fields import OVERRIDABLE_DEFAULTS, OVERRIDABLE_FIELDS
from jobsync.domain.job import Job, job_id


def facts(**values: Any) -> dict[str, Any]:
    return {
        "values": {**OVERRIDABLE_DEFAULTS, "name": "Backup", "grouping": "jobs.backup", **values},
        "read_only": False,
        "is_job_hook_receiver": False,
        "is_job_button_receiver": False,
        "file": "jobs/backup.py",
        "line": 4,
    }


def new_job(**values: Any) -> Job:
    return Job(
        source="netops",
        module_name="jobs.backup",
        job_class_name="Backup",
        facts=facts(**values),
        commit="c1",
        actor="daemon@host",
    )


def replayed(job: Job) -> Job:
    """Rebuild a job from its own events, as the store does."""
    state: Job | None = None
    for event in job.collect_events():
        state = cast("Job", event.mutate(state))
    assert state is not None
    return state


class TestIdentity:
    def test_id_is_deterministic(self) -> None:
        """Every daemon computes the same id for the same source, module and class."""
        job = new_job()
        assert job.id == job_id("netops", "jobs.backup", "Backup")
        assert job.id != job_id("netops", "jobs.backup", "Other")

    def test_defaults_follow_nautobot(self) -> None:
        """A new job is installed, disabled, and has Nautobot's defaults where the source says nothing."""
        job = new_job()
        assert job.installed and not job.enabled
        assert job.value("has_sensitive_variables") is True
        assert job.value("task_queues") == []
        assert job.ref == "netops:jobs.backup.Backup"


class TestOverrides:
    def test_override_sets_value_and_flag(self) -> None:
        """Overriding records the value and sets its flag; the effective value is the override."""
        job = new_job(description="from source")
        assert job.override("description", "pinned", actor="alice")
        record = job.as_record()
        assert record["description"] == "pinned"
        assert record["description_override"] is True
        assert job.collect_events()[-1].actor == "alice"  # type: ignore[attr-defined]

    def test_source_change_under_override_keeps_effective_value(self) -> None:
        """A source change to an overridden field updates the value underneath only."""
        job = new_job(description="v1")
        job.override("description", "pinned", actor="alice")
        assert job.sync_facts(facts(description="v2"), "c2", actor="daemon") == "changed"
        assert job.value("description") == "pinned"
        assert job.source_values["description"] == "v2"

    def test_record_shows_the_source_value_under_an_override(self) -> None:
        """The record holds ``source_values`` for every overridable field: the source's, not the override."""
        job = new_job(description="v1")
        job.override("description", "pinned", actor="alice")
        job.sync_facts(facts(description="v2"), "c2", actor="daemon")
        record = job.as_record()
        assert record["description"] == "pinned"
        assert record["source_values"] == {**OVERRIDABLE_DEFAULTS, **facts(description="v2")["values"]}
        assert list(record["source_values"]) == list(OVERRIDABLE_FIELDS)

    def test_clear_reverts_to_current_source_value(self) -> None:
        """Clearing reverts to the source value as it is now, not as it was when overridden."""
        job = new_job(description="v1")
        job.override("description", "pinned", actor="alice")
        job.sync_facts(facts(description="v2"), "c2", actor="daemon")
        assert job.clear_override("description", actor="bob")
        assert job.value("description") == "v2"
        assert job.as_record()["description_override"] is False

    def test_clear_of_field_not_overridden_appends_nothing(self) -> None:
        """Clearing a field that is not overridden is a no-op, not an event."""
        job = new_job()
        before = len(job.pending_events)
        assert job.clear_override("description", actor="bob") is False
        assert len(job.pending_events) == before

    def test_same_override_twice_appends_one_event(self) -> None:
        """Re-applying the same override is not a new fact."""
        job = new_job()
        assert job.override("hidden", True, actor="a")
        assert job.override("hidden", True, actor="a") is False
        assert sum(isinstance(e, Job.FieldOverridden) for e in job.pending_events) == 1

    @pytest.mark.parametrize("field", ["source", "module_name", "installed", "commit", "file", "read_only"])
    def test_read_only_fields_are_refused(self, field: str) -> None:
        """Editing a read-only field is refused with a message naming it."""
        job = new_job()
        with pytest.raises(FieldError, match=f"'{field}' is read-only"):
            job.override(field, "x", actor="a")

    def test_unknown_field_is_refused(self) -> None:
        """An unknown field is refused, listing what may be overridden."""
        with pytest.raises(FieldError, match=r"unknown field .colour.*description"):
            new_job().override("colour", "red", actor="a")

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("hidden", "yes", "true or false"),
            ("time_limit", -1, ">= 0"),
            ("soft_time_limit", "10", "number"),
            ("name", "", "must not be empty"),
            ("name", "x" * 101, "at most 100"),
            ("grouping", "g" * 256, "at most 255"),
            ("task_queues", "fast", "list of strings"),
            ("task_queues", ["ok", 3], "list of strings"),
            ("description", 5, "text"),
        ],
    )
    def test_bad_values_are_refused(self, field: str, value: object, message: str) -> None:
        """Override values are validated per field before any event is recorded."""
        job = new_job()
        before = len(job.pending_events)
        with pytest.raises(FieldError, match=message):
            job.override(field, value, actor="a")
        assert len(job.pending_events) == before

    def test_soft_limit_at_or_over_hard_limit_is_refused(self) -> None:
        """An override leaving soft_time_limit >= time_limit (both set) is refused up front."""
        job = new_job(soft_time_limit=100, time_limit=200)
        with pytest.raises(FieldError, match="lower than time_limit"):
            job.override("soft_time_limit", 200, actor="a")
        with pytest.raises(FieldError, match="lower than time_limit"):
            job.override("time_limit", 50, actor="a")
        assert job.override("time_limit", 0, actor="a")  # 0 means the default: no conflict


class TestInstallState:
    def test_uninstall_keeps_job_and_overrides(self) -> None:
        """A vanished job is marked uninstalled, keeping its overrides and history."""
        job = new_job()
        job.override("description", "pinned", actor="a")
        assert job.uninstall("c2", actor="daemon")
        assert not job.installed and not job.deleted
        assert job.value("description") == "pinned"

    def test_reinstall_brings_overrides_back(self) -> None:
        """A job that reappears is reinstalled with its overrides."""
        job = new_job()
        job.override("description", "pinned", actor="a")
        job.uninstall("c2", actor="daemon")
        assert job.sync_facts(facts(description="new"), "c3", actor="daemon") == "reinstalled"
        assert job.installed and job.value("description") == "pinned" and job.commit == "c3"

    def test_unchanged_facts_append_nothing(self) -> None:
        """Syncing the same facts again is not a change."""
        job = new_job()
        assert job.sync_facts(facts(), "c2", actor="daemon") is None
        assert len(job.pending_events) == 1

    def test_delete_refused_while_installed(self) -> None:
        """Only an uninstalled job may be deleted."""
        job = new_job()
        with pytest.raises(JobStillInstalledError):
            job.delete(actor="a")
        job.uninstall("c2", actor="d")
        job.delete(actor="a")
        assert job.deleted

    def test_deleted_job_takes_no_more_changes(self) -> None:
        """A deleted job refuses overrides and enabling; its history stays."""
        job = new_job()
        job.uninstall("c2", actor="d")
        job.delete(actor="a")
        with pytest.raises(JobDeletedError):
            job.override("hidden", True, actor="a")

    def test_enable_and_disable(self) -> None:
        """Enabling and disabling are operator facts; an uninstalled job cannot be enabled."""
        job = new_job()
        assert job.enable(actor="a") and job.enabled
        assert job.enable(actor="a") is False
        assert job.disable(actor="a") and not job.enabled
        job.uninstall("c2", actor="d")
        with pytest.raises(FieldError, match="not installed"):
            job.enable(actor="a")


class TestReplay:
    def test_replay_gives_same_state(self) -> None:
        """Rebuilding a job from its events gives the same record."""
        job = new_job(description="v1")
        job.override("description", "pinned", actor="a")
        job.sync_facts(facts(description="v2", time_limit=60), "c2", actor="d")
        job.enable(actor="a")
        job.uninstall("c3", actor="d")
        job.sync_facts(facts(description="v3"), "c4", actor="d")
        job.clear_override("description", actor="b")
        expected = job.as_record()
        assert replayed(job).as_record() == expected

    def test_replay_does_not_rerun_rules(self) -> None:
        """Events are facts: an override refused by today's rules still replays from an old log."""
        job = new_job()
        job._override(field="name", value="", actor="old-version")  # as an older release might have stored
        assert replayed(job).value("name") == ""


class TestDeletedJobReturns:
    def test_deleted_job_that_reappears_starts_fresh(self) -> None:
        """A deleted job found again in source is reinstalled as Nautobot re-creates it: no overrides, disabled."""
        job = new_job()
        job.enable(actor="a")
        job.override("hidden", True, actor="a")
        job.disable(actor="a")
        job.uninstall("c2", actor="d")
        job.delete(actor="a")
        assert job.sync_facts(facts(), "c3", actor="d") == "reinstalled"
        assert job.installed and not job.deleted and not job.enabled
        assert job.overrides == {}
        assert replayed(job).as_record() == job.as_record()
