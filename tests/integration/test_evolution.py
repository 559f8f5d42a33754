"""Old logs stay readable: older event shapes are upcast, and moved classes keep their old topics."""

from __future__ import annotations

import json
import platform
import socket
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from jobsync import Catalog, JobRecord
from jobsync.domain.topics import register_moved_topics
from tests.helpers import GitRepo

JOB = "from nautobot.apps.jobs import Job\n\n\nclass Backup(Job):\n    pass\n"
REF = "netops:jobs.backup.Backup"


def synced_catalog(repo: GitRepo, state_dir: Path) -> Catalog:
    repo.write("jobs/backup.py", JOB)
    repo.commit("jobs")
    catalog = Catalog.open(state_dir=state_dir, actor="tester")
    catalog.resync(repo.url, name="netops")
    return catalog


def jobs_after_sync(repo: GitRepo, state_dir: Path) -> list[JobRecord]:
    """Sync ``netops`` into the store in ``state_dir`` and close it; the jobs as they read then."""
    with synced_catalog(repo, state_dir) as catalog:
        return catalog.jobs()


def stored(catalog: Catalog, event: Any, edit: dict[str, object], drop: tuple[str, ...] = ()) -> StoredEvent:
    """The event as the recorder stores it, with its JSON state edited into another shape."""
    record = catalog._app.mapper.to_stored_event(event)
    state = json.loads(record.state)
    for key in drop:
        state.pop(key, None)
    state.update(edit)
    return replace(record, state=json.dumps(state).encode())


class TestUpcasting:
    def test_version_1_uninstall_event_is_upcast_on_read(self, repo: GitRepo, state_dir: Path) -> None:
        """A JobUninstalled stored before ``reason`` existed loads, with reason "" (class_version 1 -> 2)."""
        catalog = synced_catalog(repo, state_dir)
        job = catalog._app.get_job(catalog.resolve(REF))
        job.uninstall("c2", actor="old-release", reason="not stored by version 1")
        [new_event] = job.collect_events()
        old_shape = stored(catalog, new_event, {}, drop=("reason", "class_version"))
        assert "reason" not in json.loads(old_shape.state)
        catalog._app.recorder.insert_events([old_shape])
        catalog.close()

        with Catalog.open(state_dir=state_dir) as reopened:
            loaded = reopened._app.get_job(reopened.resolve(REF))
            assert loaded.installed is False
            assert loaded.uninstall_reason == ""
            assert reopened.job(REF)["installed"] is False  # the projection read it too
            assert reopened.history(REF)[-1]["event"] == "JobUninstalled"
            assert reopened.replay(verify=True).ok

    def test_current_uninstall_event_keeps_its_reason(self, repo: GitRepo, state_dir: Path) -> None:
        """Sync records why a job was uninstalled, and version 2 events read back as written."""
        catalog = synced_catalog(repo, state_dir)
        repo.remove("jobs/backup.py")
        repo.commit("gone")
        catalog.resync("netops")
        job = catalog._app.get_job(catalog.resolve(REF))
        assert job.uninstall_reason == "jobs.backup is no longer in the source"
        catalog.close()

    def test_version_1_reinstall_of_a_deleted_job_comes_back_fresh(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """A JobReinstalled stored before ``fresh`` existed replays as then: a deleted job returns bare."""
        catalog = synced_catalog(repo, state_dir)
        ref = catalog.resolve(REF)
        catalog.enable(REF)
        catalog.override(REF, "description", "pinned")
        repo.remove("jobs/backup.py")
        repo.commit("gone")
        catalog.resync("netops")
        catalog.delete_job(REF)
        job = catalog._app.get_job(ref)
        job.sync_facts(job.facts(), "c3", actor="old-release")  # comes back, as version 1 recorded it
        [new_event] = job.collect_events()
        assert new_event.fresh is True  # type: ignore[attr-defined]
        old_shape = stored(catalog, new_event, {}, drop=("fresh", "class_version"))
        catalog._app.recorder.insert_events([old_shape])
        catalog.close()

        with Catalog.open(state_dir=state_dir) as reopened:
            loaded = reopened._app.get_job(ref)
            assert (loaded.installed, loaded.deleted, loaded.enabled, loaded.overrides) == (
                True,
                False,
                False,
                {},
            )
            assert reopened.history(REF)[-1]["event"] == "JobReinstalled"
            assert reopened.replay(verify=True).ok

    def test_version_1_result_reads_as_stored_args_on_the_default_queue(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """A ResultRecorded saved before args_stored, commit, file and queues existed loads, projects
        and can be claimed: its args were stored, it serves ``default``, its code is unknown."""
        catalog = synced_catalog(repo, state_dir)
        catalog.enable(REF)
        job = catalog._app.get_job(catalog.resolve(REF))
        result = job.record_run({"device": "r1"}, actor="old-release")
        [new_event] = result.collect_events()
        new_keys = ("args_stored", "commit", "file", "queues", "ignore_singleton", "class_version")
        old_shape = stored(catalog, new_event, {"args": {"device": "r1"}}, drop=new_keys)
        catalog._app.recorder.insert_events([old_shape])
        catalog.close()

        with Catalog.open(state_dir=state_dir) as reopened:
            shown = reopened.result(result.id)
            claimed = reopened.claim("default", worker="w1")
            assert reopened.replay(verify=True).ok
        assert (shown["args"], shown["args_stored"], shown["commit"], shown["queues"]) == (
            {"device": "r1"},
            True,
            None,
            ["default"],
        )
        assert claimed is not None and claimed["id"] == result.id


class TestMovedTopics:
    def test_events_of_a_moved_class_still_load(self, repo: GitRepo, state_dir: Path) -> None:
        """Events stored under an old module path load once that path is registered as moved."""
        catalog = synced_catalog(repo, state_dir)
        job = catalog._app.get_job(catalog.resolve(REF))
        job.override("description", "pinned", actor="old-release")
        [event] = job.collect_events()
        old_topic = "jobsync.catalog_v0:Job.FieldOverridden"
        record = replace(stored(catalog, event, {}), topic=old_topic)
        catalog._app.recorder.insert_events([record])
        catalog.close()

        register_moved_topics({old_topic: "jobsync.domain.job:Job.FieldOverridden"})
        with Catalog.open(state_dir=state_dir) as reopened:
            assert reopened.job(REF)["description"] == "pinned"
            assert [h["event"] for h in reopened.history(REF)][-1] == "FieldOverridden"


class TestReadModelSchema:
    def test_read_models_of_an_older_shape_are_rebuilt_from_the_log(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """Views made by another schema version are dropped on open and rebuilt from the log, not migrated."""
        before = jobs_after_sync(repo, state_dir)
        with sqlite3.connect(state_dir / "jobsync.db") as connection:
            connection.execute("DROP TABLE jobs_view")
            connection.execute("CREATE TABLE jobs_view (id TEXT PRIMARY KEY, an_old_column TEXT)")
            connection.execute("UPDATE projection_schema SET version = 1 WHERE name = 'jobsync'")
        with Catalog.open(state_dir=state_dir) as reopened:
            assert reopened.jobs() == before
            assert reopened.replay(verify=True).ok

    def test_job_records_stored_before_source_values_are_rebuilt_with_them(
        self, repo: GitRepo, state_dir: Path
    ) -> None:
        """A jobs view of schema 5 holds records without ``source_values``: opening rebuilds them with it."""
        before = jobs_after_sync(repo, state_dir)
        with sqlite3.connect(state_dir / "jobsync.db") as connection:
            for ident, text in connection.execute("SELECT id, record FROM jobs_view").fetchall():
                old = {k: v for k, v in json.loads(text).items() if k != "source_values"}
                connection.execute("UPDATE jobs_view SET record = ? WHERE id = ?", (json.dumps(old), ident))
            connection.execute("UPDATE projection_schema SET version = 5 WHERE name = 'jobsync'")
        with Catalog.open(state_dir=state_dir) as reopened:
            [job] = reopened.jobs()
            assert job["source_values"]["name"] == "Backup"
            assert reopened.jobs() == before


class TestSourceSyncedVersions:
    def test_version_1_sync_event_reads_without_host_or_python(self, repo: GitRepo, state_dir: Path) -> None:
        """A SourceSynced stored before ``host`` and ``python`` existed loads with both null."""
        catalog = synced_catalog(repo, state_dir)
        source = catalog._app.get_source("netops")
        assert source is not None
        source.record_sync("c2", "main", {"changed": 1}, "old-release", "web1", "3.11.0")
        [new_event] = source.collect_events()
        old_shape = stored(catalog, new_event, {}, drop=("host", "python", "class_version"))
        catalog._app.recorder.insert_events([old_shape])
        catalog.close()

        with Catalog.open(state_dir=state_dir) as reopened:
            shown = reopened.source("netops")
            assert shown["last_commit"] == "c2"
            assert shown["last_synced_host"] is None and shown["last_synced_python"] is None
            assert reopened.replay(verify=True).ok

    def test_a_sync_records_its_host_and_python(self, repo: GitRepo, state_dir: Path) -> None:
        """Which Python parsed a source decides what is a syntax error: each sync says which it was."""
        with synced_catalog(repo, state_dir) as catalog:
            shown = catalog.source("netops")
            assert shown["last_synced_python"] == platform.python_version()
            assert shown["last_synced_host"] == socket.gethostname()
