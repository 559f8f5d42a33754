"""The Application's use cases on eventsourcing's in-memory store, with in-memory ports: no I/O."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from uuid import UUID

import pytest

from jobsync.adapters.summaries import MemorySummaryStore
from jobsync.app import READ_BUDGET, JobCatalogApp
from jobsync.domain.discovery import MAX_FILE_SIZE, ModuleSummary, Problem
from jobsync.domain.errors import FieldError, JobNotRunnableError, JobStillInstalledError, MassUninstallError
from jobsync.domain.job import Job, job_id
from jobsync.domain.result import JobResult
from jobsync.domain.source import Source, source_id
from jobsync.ports import FileEntry, Snapshot, SummaryIndex
from jobsync.spec import SourceSpec
from tests.fakes import DictReader, DictSnapshot, LinkedReader, Processes, memory_app

SPEC = SourceSpec(name="ops", url="/ops", kind="local")
HEADER = "from nautobot.apps.jobs import Job\n"


def job_text(name: str, description: str = "", base: str = "Job") -> str:
    """A job class ``name`` deriving from ``base`` with a Meta description."""
    return f'\nclass {name}({base}):\n    class Meta:\n        description = "{description}"\n'


def module(*classes: str) -> str:
    return HEADER + "".join(classes)


@pytest.fixture
def app() -> Iterator[JobCatalogApp]:
    opened = memory_app()
    try:
        yield opened
    finally:
        opened.close()


def job(app: JobCatalogApp, ref: str) -> Job:
    source, _, rest = ref.partition(":")
    module_name, _, cls = rest.rpartition(".")
    return app.get_job(job_id(source, module_name, cls))


def job_events(app: JobCatalogApp) -> int:
    """Job and source events in the log (sync results not counted)."""
    found = app.recorder.select_notifications(start=None, limit=1_000_000)
    return sum(1 for n in found if n.topic.startswith(("jobsync.domain.job", "jobsync.domain.source")))


class TestSync:
    def test_first_sync_adds_every_job(self, app: JobCatalogApp) -> None:
        """A new source's job classes are all added, each with its Meta values."""
        reader = DictReader({"jobs/a.py": module(job_text("A", "first")), "jobs/b.py": module(job_text("B"))})
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.added == ["ops:jobs.a.A", "ops:jobs.b.B"]
        assert job(app, "ops:jobs.a.A").value("description") == "first"

    def test_unchanged_source_appends_no_job_events(self, app: JobCatalogApp) -> None:
        """A second sync with nothing new is up to date and adds no job or source event."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        before = job_events(app)
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.up_to_date and job_events(app) == before

    def test_poll_of_an_unchanged_source_records_nothing(self, app: JobCatalogApp) -> None:
        """The daemon's poll of a healthy, unmoved source appends no event at all, not even a result."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        before = app.recorder.max_notification_id()
        assert app.poll_source(SPEC, reader, "daemon").up_to_date
        assert app.recorder.max_notification_id() == before

    def test_only_changed_files_are_read(self, app: JobCatalogApp) -> None:
        """A change to one of many files reads and parses that file alone."""
        reader = DictReader({f"jobs/m{i}.py": module(job_text(f"J{i}")) for i in range(20)})
        app.resync_source(SPEC, reader, "alice")
        reader.reads.clear()
        reader.files["jobs/m7.py"] = module(job_text("J7", "edited"))
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.changed == ["ops:jobs.m7.J7"]
        assert len(reader.reads) == 1

    def test_files_are_read_in_batches_within_the_memory_budget(self, app: JobCatalogApp) -> None:
        """Files whose sizes the reader gives are read and parsed a budget's worth at a time, not all at once."""
        files = {f"jobs/m{i:03d}.py": module(job_text(f"J{i}")).encode() for i in range(130)}
        snapshot = _SizedSnapshot(files, size=MAX_FILE_SIZE)  # 130 files of 1 MiB: three batches of 64 MiB

        summary = app.resync_source(SPEC, _Fixed(snapshot), "alice")

        assert len(summary.added) == 130
        assert [len(batch) for batch in snapshot.batches] == [64, 64, 2]
        assert all(len(batch) * MAX_FILE_SIZE <= READ_BUDGET for batch in snapshot.batches)

    def test_a_module_that_imports_a_changed_one_is_decided_again(self, app: JobCatalogApp) -> None:
        """A job whose Meta it inherits from another module changes when that module does."""
        base = (
            HEADER
            + '\nclass Base(Job):\n    class Meta:\n        description = "{}"\n        abstract = True\n'
        )
        reader = DictReader(
            {
                "jobs/common.py": base.format("v1"),
                "jobs/backup.py": "from jobs.common import Base\n\nclass Backup(Base):\n    pass\n",
            }
        )
        app.resync_source(SPEC, reader, "alice")
        assert job(app, "ops:jobs.backup.Backup").value("description") == "v1"
        reader.files["jobs/common.py"] = base.format("v2")
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.changed == ["ops:jobs.backup.Backup"]
        assert job(app, "ops:jobs.backup.Backup").value("description") == "v2"

    def test_vanished_job_is_uninstalled_and_returns_with_its_overrides(self, app: JobCatalogApp) -> None:
        """A removed file uninstalls its jobs (kept, with overrides); restoring it reinstalls them."""
        reader = DictReader({"jobs/a.py": module(job_text("A")), "jobs/b.py": module(job_text("B"))})
        app.resync_source(SPEC, reader, "alice")
        ident = job_id("ops", "jobs.a", "A")
        app.override_field(ident, "description", "pinned", "bob")
        text = reader.files.pop("jobs/a.py")
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.uninstalled == ["ops:jobs.a.A"] and not app.get_job(ident).installed
        reader.files["jobs/a.py"] = text
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.reinstalled == ["ops:jobs.a.A"]
        assert app.get_job(ident).value("description") == "pinned"

    def test_unreadable_module_keeps_its_jobs(self, app: JobCatalogApp) -> None:
        """A file that stops parsing is reported, and its jobs keep their last known state."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        reader.files["jobs/a.py"] = "class Broken(:\n"
        summary = app.resync_source(SPEC, reader, "alice")
        assert not summary.uninstalled and job(app, "ops:jobs.a.A").installed
        assert [p.file for p in summary.problems] == ["jobs/a.py"]

    def test_problems_of_files_not_read_again_are_still_reported(self, app: JobCatalogApp) -> None:
        """An incremental sync still reports a broken file it did not read this time."""
        reader = DictReader({"jobs/a.py": module(job_text("A")), "jobs/bad.py": "def (:\n"})
        first = app.resync_source(SPEC, reader, "alice")
        reader.files["jobs/a.py"] = module(job_text("A", "edited"))
        second = app.resync_source(SPEC, reader, "alice")
        assert second.changed == ["ops:jobs.a.A"]
        assert second.problems == first.problems and [p.file for p in second.problems] == ["jobs/bad.py"]

    def test_colliding_names_are_numbered(self, app: JobCatalogApp) -> None:
        """A job named like another source's job gets ' (2)', and the sync says so."""
        app.resync_source(SPEC, DictReader({"jobs/a.py": module(job_text("A"))}), "alice")
        other = SourceSpec(name="lab", url="/lab", kind="local")
        summary = app.resync_source(other, DictReader({"jobs/a.py": module(job_text("A"))}), "alice")
        assert job(app, "lab:jobs.a.A").name == "A (2)"
        assert any("already used" in p.reason for p in summary.problems)

    def test_a_rename_frees_the_name(self, app: JobCatalogApp) -> None:
        """When a job's source name changes, its old name is free for a new job of another module."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        reader.files["jobs/a.py"] = HEADER + "\nclass A(Job):\n    class Meta:\n        name = 'Renamed'\n"
        reader.files["jobs/b.py"] = HEADER + "\nclass B(Job):\n    class Meta:\n        name = 'A'\n"
        app.resync_source(SPEC, reader, "alice")
        assert (job(app, "ops:jobs.a.A").name, job(app, "ops:jobs.b.B").name) == ("Renamed", "A")

    @pytest.mark.parametrize("reads", ["changed files", "every file"])
    def test_a_job_that_takes_a_taken_name_does_not_rename_others(self, reads: str) -> None:
        """Names never shuffle: a job renamed to a name in use gets the next free variant; others keep theirs."""
        summaries = MemorySummaryStore() if reads == "changed files" else Forgetful()
        app = memory_app(summaries)
        try:
            renamed = HEADER + "\nclass A(Job):\n    class Meta:\n        name = 'Same'\n"
            reader = DictReader(
                {"jobs/a.py": module(job_text("A")), "jobs/b.py": renamed, "jobs/c.py": module(job_text("A"))}
            )
            app.resync_source(SPEC, reader, "alice")
            assert job(app, "ops:jobs.c.A").name == "A (2)"
            reader.files["jobs/b.py"] = module(job_text("A"))
            app.resync_source(SPEC, reader, "alice")
            names = [job(app, f"ops:jobs.{m}.A").name for m in "abc"]
            assert names == ["A", "A (3)", "A (2)"]
        finally:
            app.close()

    def test_a_concurrent_change_is_kept_and_the_sync_retried(self, app: JobCatalogApp) -> None:
        """An operator edit saved while a sync was planning is not lost: the sync re-plans and saves."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        ident = job_id("ops", "jobs.a", "A")
        reader.files["jobs/a.py"] = module(job_text("A", "from source"))

        class EditWhileFetching:
            def snapshot(self, branch: str | None = None) -> Snapshot:
                snapshot = reader.snapshot(branch)
                app.enable_job(ident, "bob")  # lands between the sync's read and its save
                return snapshot

        summary = app.resync_source(SPEC, EditWhileFetching(), "alice")
        assert summary.changed == ["ops:jobs.a.A"]
        saved = app.get_job(ident)
        assert saved.enabled and saved.value("description") == "from source"

    def test_a_sync_that_loses_a_race_loads_again_only_the_jobs_that_changed(
        self, app: JobCatalogApp, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An operator edit between the sync's load of a job and its save: the sync saves at its
        second attempt, loading only the edited job again; both changes are kept."""
        reader = DictReader({f"jobs/m{n}.py": module(job_text(f"J{n}", "old")) for n in range(20)})
        app.resync_source(SPEC, reader, "alice")
        for n in range(20):
            reader.files[f"jobs/m{n}.py"] = module(job_text(f"J{n}", "new"))
        edited = job_id("ops", "jobs.m0", "J0")  # the first the plan loads (keys are sorted)
        loads: list[UUID] = []
        load = app.get_job

        def get_job_while_an_operator_edits(ident: UUID) -> Job:
            loads.append(ident)
            if len(loads) == 10:  # J0 is loaded and changed by now; its stored version moves on
                app.override_field(edited, "grouping", "pinned", "bob")
            return load(ident)

        monkeypatch.setattr(app, "get_job", get_job_while_an_operator_edits)
        summary = app.resync_source(SPEC, reader, "alice")
        assert len(summary.changed) == 20
        assert sorted(loads) == sorted([job_id("ops", f"jobs.m{n}", f"J{n}") for n in range(20)] + [edited])
        saved = load(edited)
        assert saved.value("description") == "new" and saved.value("grouping") == "pinned"
        assert all(
            load(job_id("ops", f"jobs.m{n}", f"J{n}")).value("description") == "new" for n in range(20)
        )

    def test_a_configured_source_that_moved_is_relocated(self, app: JobCatalogApp) -> None:
        """The config's word on a source's location wins: a changed URL relocates it."""
        reader = DictReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SourceSpec(name="ops", url="/old", kind="local", configured=True), reader, "alice")
        app.resync_source(SourceSpec(name="ops", url="/new", kind="local", configured=True), reader, "alice")
        source: Source = app.repository.get(source_id("ops"))
        assert source.url == "/new"


class TestOperatorUseCases:
    @pytest.fixture
    def ident(self, app: JobCatalogApp) -> UUID:
        reader = DictReader({"jobs/a.py": module(job_text("A", "from source"))})
        app.resync_source(SPEC, reader, "alice")
        return job_id("ops", "jobs.a", "A")

    def test_override_and_clear(self, app: JobCatalogApp, ident: UUID) -> None:
        """An override pins the value; clearing it brings back the source value; repeats say False."""
        assert app.override_field(ident, "description", "pinned", "bob")
        assert not app.override_field(ident, "description", "pinned", "bob")
        assert app.get_job(ident).value("description") == "pinned"
        assert app.clear_override(ident, "description", "bob")
        assert app.get_job(ident).value("description") == "from source"

    def test_read_only_field_is_refused(self, app: JobCatalogApp, ident: UUID) -> None:
        """Editing a field only sync may change is refused with a clear message."""
        with pytest.raises(FieldError, match="read-only"):
            app.override_field(ident, "commit", "x", "bob")

    def test_a_disabled_job_cannot_run_until_enabled(self, app: JobCatalogApp, ident: UUID) -> None:
        """Rule 8 lives on the Job: a disabled job's run is refused, an enabled one's is recorded."""
        with pytest.raises(JobNotRunnableError, match="disabled"):
            app.record_result(ident, {}, "bob")
        assert app.enable_job(ident, "bob")
        result = app.record_result(ident, {"x": 1}, "bob").id
        app.start_result(result, "worker")
        app.finish_result(result, "completed", {"ok": True}, "worker")

    def test_only_an_uninstalled_job_is_deleted(self, app: JobCatalogApp, ident: UUID) -> None:
        """Deleting an installed job is refused; once it vanished from its source, it can be deleted."""
        with pytest.raises(JobStillInstalledError):
            app.delete_job(ident, "bob")
        app.resync_source(SPEC, DictReader({"jobs/other.py": module(job_text("O"))}), "alice")
        assert app.delete_job(ident, "bob")
        assert app.get_job(ident).deleted


class _SizedSnapshot(DictSnapshot):
    """A snapshot that gives every file's ``size`` (as a git tree does) and records each read as a batch."""

    def __init__(self, files: Mapping[str, bytes], size: int) -> None:
        super().__init__(files, [])
        self.size = size
        self.batches: list[list[str]] = []

    def files(self) -> list[FileEntry]:
        return [replace(entry, size=self.size) for entry in super().files()]

    def read_many(self, shas: Sequence[str]) -> list[bytes]:
        self.batches.append(list(shas))
        return super().read_many(shas)


@dataclass
class _Fixed:
    """A reader whose snapshot is always the same one."""

    snapshot_: Snapshot

    def snapshot(self, branch: str | None = None) -> Snapshot:
        return self.snapshot_


def installed_jobs(app: JobCatalogApp, source: str = "ops") -> dict[str, dict[str, object]]:
    """The installed jobs of ``source`` and their source facts, read from the read model and the log."""
    rows = app.views.source_rows(source)
    return {row.key: app.get_job(row.id).facts() for row in rows if row.installed and not row.deleted}


class Forgetful(MemorySummaryStore):
    """A summary store that never has anything: every sync parses and decides the whole source."""

    def index(self, source: str, filters: str) -> SummaryIndex | None:
        return None


class Twin:
    """A second catalog that syncs every snapshot the first one syncs, always from scratch."""

    def __init__(self) -> None:
        self.app = memory_app(Forgetful())

    def check(self, app: JobCatalogApp, reader: DictReader, problems: list[Problem]) -> None:
        """The incremental sync just made reached what a full sync of the same history reaches."""
        summary = self.app.resync_source(SPEC, DictReader(reader.files), "alice", allow_mass_uninstall=True)
        assert installed_jobs(app) == installed_jobs(self.app)
        assert problems == summary.problems


class LoadCounter(MemorySummaryStore):
    """A summary store that remembers which stored summaries were read back."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def load(self, source: str, wanted: Mapping[str, str]) -> dict[str, ModuleSummary]:
        self.loaded += list(wanted)
        return super().load(source, wanted)


NAUTOBOT2 = {
    "jobs/__init__.py": "from nautobot.apps.jobs import register_jobs\n"
    "from .a import A\nfrom .b import B\n\nregister_jobs(A, B)\n",
    "jobs/a.py": module(job_text("A", "a")),
    "jobs/b.py": module(job_text("B", "b")),
    "jobs/helpers.py": module(job_text("NotRegistered")),
}


class TestRegisteredSources:
    """Sources that call register_jobs: a change re-resolves only what it can affect."""

    @pytest.fixture
    def store(self) -> LoadCounter:
        return LoadCounter()

    @pytest.fixture
    def started(self, app: JobCatalogApp) -> tuple[DictReader, Twin]:
        """NAUTOBOT2 synced once, with a twin that syncs the same history from scratch."""
        reader, twin = DictReader(NAUTOBOT2), Twin()
        app.resync_source(SPEC, reader, "alice")
        twin.check(app, reader, [])
        return reader, twin

    @pytest.fixture
    def app(self, store: LoadCounter) -> Iterator[JobCatalogApp]:
        opened = memory_app(store)
        try:
            yield opened
        finally:
            opened.close()

    def test_only_registered_classes_are_jobs(self, app: JobCatalogApp) -> None:
        """A job class nobody registers is not a job once any module calls register_jobs."""
        summary = app.resync_source(SPEC, DictReader(NAUTOBOT2), "alice")
        assert summary.added == ["ops:jobs.a.A", "ops:jobs.b.B"]

    def test_editing_a_registered_job_reuses_the_registration(
        self, app: JobCatalogApp, store: LoadCounter, started: tuple[DictReader, Twin]
    ) -> None:
        """A new description in one job's file changes that job, without reading the other job modules."""
        reader, twin = started
        store.loaded.clear()
        reader.files["jobs/b.py"] = module(job_text("B", "edited"))
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.changed == ["ops:jobs.b.B"] and not summary.added and not summary.uninstalled
        assert "jobs/a.py" not in store.loaded and "jobs/helpers.py" not in store.loaded
        twin.check(app, reader, summary.problems)

    def test_registering_and_unregistering(
        self, app: JobCatalogApp, started: tuple[DictReader, Twin]
    ) -> None:
        """A class added to register_jobs is added; one taken out of it is uninstalled."""
        reader, twin = started
        reader.files["jobs/__init__.py"] = (
            "from nautobot.apps.jobs import register_jobs\n"
            "from .a import A\nfrom .helpers import NotRegistered\n\nregister_jobs(A, NotRegistered)\n"
        )
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.added == ["ops:jobs.helpers.NotRegistered"]
        assert summary.uninstalled == ["ops:jobs.b.B"]
        twin.check(app, reader, summary.problems)

    def test_a_class_moved_behind_a_re_export_is_followed(
        self, app: JobCatalogApp, started: tuple[DictReader, Twin]
    ) -> None:
        """When the module a registered name comes from re-exports it from elsewhere, the job moves too."""
        reader, twin = started
        reader.files["jobs/b.py"] = "from .moved import B\n"
        reader.files["jobs/moved.py"] = module(job_text("B", "b"))
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.added == ["ops:jobs.moved.B"] and summary.uninstalled == ["ops:jobs.b.B"]
        twin.check(app, reader, summary.problems)

    def test_a_registered_class_that_stops_being_a_job(
        self, app: JobCatalogApp, started: tuple[DictReader, Twin]
    ) -> None:
        """A registered class whose base is no longer a Job is uninstalled, and the sync says why."""
        reader, twin = started
        reader.files["jobs/b.py"] = "class B:\n    pass\n"
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.uninstalled == ["ops:jobs.b.B"]
        assert any("not a job class" in p.reason for p in summary.problems)
        twin.check(app, reader, summary.problems)

    def test_dropping_register_jobs_goes_back_to_nautobot_1_rules(
        self, app: JobCatalogApp, started: tuple[DictReader, Twin]
    ) -> None:
        """Without any register_jobs call, every job class of every module is a job again."""
        reader, twin = started
        reader.files["jobs/__init__.py"] = ""
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.added == ["ops:jobs.helpers.NotRegistered"]
        twin.check(app, reader, summary.problems)

    def test_a_new_module_that_registers(self, app: JobCatalogApp, started: tuple[DictReader, Twin]) -> None:
        """A second registering module adds what it registers."""
        reader, twin = started
        reader.files["extra.py"] = (
            "from nautobot.apps.jobs import register_jobs\nfrom jobs.helpers import NotRegistered\n"
            "register_jobs(NotRegistered)\n"
        )
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.added == ["ops:jobs.helpers.NotRegistered"]
        twin.check(app, reader, summary.problems)


def sync_each_edit(app: JobCatalogApp, reader: DictReader, edits: list[dict[str, str | None]]) -> None:
    """Sync, then apply each edit (None deletes the file) and sync again, checking each against a twin.

    Random edits may well uninstall most jobs at once: the mass-uninstall guard is let through here.
    """
    twin = Twin()
    first = app.resync_source(SPEC, reader, "alice")
    twin.check(app, reader, first.problems)
    for edit in edits:
        for path, text in edit.items():
            if text is None:
                reader.files.pop(path, None)
            else:
                reader.files[path] = text
        summary = app.resync_source(SPEC, reader, "alice", allow_mass_uninstall=True)
        twin.check(app, reader, summary.problems)


class TestIncrementalEqualsFull:
    def test_a_series_of_edits_reaches_what_a_first_sync_reaches(self, app: JobCatalogApp) -> None:
        """Whatever the edits, each incremental sync ends where a sync from scratch would."""
        reader = DictReader(
            {
                "jobs/common.py": HEADER + "\nclass Base(Job):\n    class Meta:\n        abstract = True\n",
                "jobs/a.py": "from jobs.common import Base\n\nclass A(Base):\n    pass\n",
                "jobs/b.py": module(job_text("B")),
                "jobs/bad.py": "def (:\n",
            }
        )
        edits: list[dict[str, str | None]] = [
            {"jobs/common.py": HEADER + '\nclass Base(Job):\n    class Meta:\n        description = "d"\n'},
            {"jobs/bad.py": module(job_text("Fixed"))},
            {"jobs/b.py": None},
            {"jobs/c.py": "from jobs.a import A\n\nclass C(A):\n    class Meta:\n        name = 'A'\n"},
            {"jobs/common.py": "class Base:\n    pass\n"},
            {"jobs/b.py": module(job_text("B", "back"))},
        ]
        sync_each_edit(app, reader, edits)

    def test_a_series_of_edits_across_modules(self, app: JobCatalogApp) -> None:
        """Groupings, Meta chains, jobs lists, star imports and duplicate modules: incremental equals full."""
        reader = DictReader(
            {
                "jobs/base.py": HEADER + "\nclass Base(Job):\n    class Meta:\n        time_limit = 10\n",
                "jobs/mid.py": "from jobs.base import *\n\nclass Mid(Base):\n    class Meta(Base.Meta):\n        hidden = True\n",
                "jobs/leaf.py": "name = 'Leaves'\nfrom jobs.mid import Mid\n\nclass Leaf(Mid):\n    pass\n",
                "jobs/listed.py": HEADER + job_text("L1") + job_text("L2") + "\njobs = [L1]\n",
                "jobs/pkg.py": module(job_text("P")),
            }
        )
        edits: list[dict[str, str | None]] = [
            {"jobs/base.py": HEADER + "\nclass Base(Job):\n    class Meta:\n        time_limit = 20\n"},
            {
                "jobs/leaf.py": "name = 'Renamed group'\nfrom jobs.mid import Mid\n\nclass Leaf(Mid):\n    pass\n"
            },
            {"jobs/listed.py": HEADER + job_text("L1") + job_text("L2") + "\njobs = [L1, L2]\n"},
            {"jobs/pkg/__init__.py": module(job_text("Q"))},
            {"jobs/other.py": "from jobs.listed import L1\n\njobs = [L1]\n"},
            {"jobs/mid.py": "from jobs.base import Base\n\nclass Mid(Base):\n    pass\n"},
            {"jobs/leaf.py": "class (:\n"},
            {
                "jobs/leaf.py": "from jobs.base import Base\n\nclass Leaf(Base):\n    pass\n",
                "jobs/pkg/__init__.py": None,
            },
            {"jobs/base.py": None},
        ]
        sync_each_edit(app, reader, edits)

    def test_a_series_of_edits_to_a_registered_source(self, app: JobCatalogApp) -> None:
        """The same holds where register_jobs decides: reused or re-resolved, the outcome is a full sync's."""
        reader = DictReader(
            {
                **NAUTOBOT2,
                "jobs/base.py": HEADER + "\nclass Base(Job):\n    pass\n",
                "jobs/star.py": "from jobs.base import *\n\nclass S(Base):\n    pass\n",
            }
        )
        init = "from nautobot.apps.jobs import register_jobs\nfrom .a import A\nfrom .b import B\n{}\nregister_jobs({})\n"
        edits: list[dict[str, str | None]] = [
            {"jobs/__init__.py": init.format("from .star import S", "A, B, S")},
            {"jobs/base.py": "class Base:\n    pass\n"},
            {"jobs/base.py": HEADER + "\nclass Base(Job):\n    class Meta:\n        description = 'base'\n"},
            {
                "jobs/star.py": "from jobs.helpers import *\nfrom jobs.base import Base\n\nclass S(Base):\n    pass\n"
            },
            {"jobs/a.py": "from jobs.b import B as A\n"},
            {"jobs/b.py": None},
            {"jobs/b.py": "class (:\n"},
            {"jobs/b.py": module(job_text("B", "again"))},
            {"jobs/__init__.py": init.format("from .star import S", "*[A, S]")},
            {"jobs/__init__.py": init.format("JOBS = [B]", "*JOBS")},
        ]
        sync_each_edit(app, reader, edits)


class TestLinks:
    def test_links_are_reported_until_they_are_gone(self, app: JobCatalogApp) -> None:
        """A link that appears is reported, still reported by later syncs of other files, and dropped once removed."""
        reader = LinkedReader({"jobs/a.py": module(job_text("A"))})
        app.resync_source(SPEC, reader, "alice")
        reader.links = ["jobs/outside.py"]
        reader.files["jobs/touch.py"] = ""  # the folder changed: a new commit
        assert [p.file for p in app.resync_source(SPEC, reader, "alice").problems] == ["jobs/outside.py"]
        reader.files["jobs/a.py"] = module(job_text("A", "edited"))
        assert [p.file for p in app.resync_source(SPEC, reader, "alice").problems] == ["jobs/outside.py"]
        reader.links = []
        del reader.files["jobs/touch.py"]
        assert app.resync_source(SPEC, reader, "alice").problems == []


class ForgottenHistory(DictReader):
    """A reader whose snapshots cannot diff against earlier commits (a force-push, a re-cloned mirror)."""

    def snapshot(self, branch: str | None = None) -> DictSnapshot:
        snapshot = super().snapshot(branch)
        snapshot.changes_since = lambda old_commit, known: None  # type: ignore[method-assign]
        return snapshot


class TestSummaryStore:
    def test_a_full_read_replaces_what_the_store_knew(self, app: JobCatalogApp) -> None:
        """When a sync must read every file, files gone meanwhile leave nothing behind in the store."""
        reader = ForgottenHistory({"jobs/a.py": module(job_text("A")), "jobs/b.py": module(job_text("B"))})
        app.resync_source(SPEC, reader, "alice")
        del reader.files["jobs/b.py"]
        summary = app.resync_source(SPEC, reader, "alice")
        assert summary.uninstalled == ["ops:jobs.b.B"]
        index = app.summaries.index(SPEC.name, SPEC.filters)
        assert index is not None and set(index.entries) == {"jobs/a.py"}


#: Module texts that random edits pick from: jobs, bases across modules, star imports, re-exports,
#: jobs lists, register_jobs in several spellings, a syntax error, name collisions, a grouping,
#: constants that other modules import (directly, through a module, through another constant).
RANDOM_TEXTS: list[str | None] = [
    None,
    HEADER + "\nclass A(Job):\n    class Meta:\n        description = 'a1'\n",
    HEADER + "\nclass A(Job):\n    class Meta:\n        description = 'a2'\n        name = 'Same'\n",
    "from jobs.m0 import *\n\nclass B(A):\n    pass\n",
    "from jobs.m1 import A as Base\n\nclass C(Base):\n    class Meta:\n        name = 'Same'\n",
    "from .m2 import B\n",
    "class (:\n",
    HEADER + "\nclass D(Job):\n    class Meta:\n        abstract = True\n\nclass E(D):\n    pass\n",
    "from jobs.m3 import D\n\nclass F(D):\n    pass\n\njobs = [F]\n",
    "from nautobot.apps.jobs import register_jobs\nfrom jobs.m0 import A\nregister_jobs(A)\n",
    "from nautobot.apps.jobs import register_jobs\nfrom jobs.m2 import B\nfrom jobs.m4 import F\nregister_jobs(B, F)\n",
    "from nautobot.apps.jobs import register_jobs\nimport jobs.m1\nregister_jobs(jobs.m1.A)\n",
    "name = 'G'\nfrom jobs.m0 import A\n\nclass G(A):\n    pass\n",
    "from jobs.m5 import *\n",
    "T = 60\nG = 'g1'\n",
    "from .m0 import T as BASE\nT = BASE * 2\nG = 'g2'\n",
    "from jobs.m6 import T, G\nname = G\n" + HEADER + "\nclass H(Job):\n    soft_time_limit = T * 5\n",
    "from . import m5\n" + HEADER + "\nclass I(Job):\n    class Meta:\n        description = m5.G + '!'\n",
]
RANDOM_PATHS = [f"jobs/m{i}.py" for i in range(7)] + ["jobs/__init__.py"]


class TestRandomEdits:
    @pytest.mark.parametrize("seed", range(40))
    def test_random_edits_sync_as_a_full_read_would(self, app: JobCatalogApp, seed: int) -> None:
        """Random edits of 1-3 files at a time, 8 times over: every incremental sync equals a full one."""
        rnd = random.Random(seed)
        files = {path: text for path in RANDOM_PATHS if (text := rnd.choice(RANDOM_TEXTS)) is not None}
        edits: list[dict[str, str | None]] = [
            {path: rnd.choice(RANDOM_TEXTS) for path in rnd.sample(RANDOM_PATHS, rnd.randint(1, 3))}
            for _ in range(8)
        ]
        sync_each_edit(app, DictReader(files), edits)


class TestInterruptedSyncs:
    def test_a_sync_whose_process_ended_is_finished_by_the_next_one(self) -> None:
        """A sync left running by a process that died is ended ``errored`` (interrupted) by the next sync."""
        processes = Processes(("vm", 41))
        app = memory_app(processes=processes)
        try:
            reader = DictReader({"jobs/a.py": module(job_text("A"))})
            app.resync_source(SPEC, reader, "alice")
            crashed = app._start_sync_result(SPEC.name, "alice")  # as a process killed mid-fetch leaves it
            processes.now = ("vm", 42)
            app.resync_source(SPEC, reader, "alice")
            still: JobResult = app.repository.get(crashed)
            assert still.status == "running"  # its process (41) may still be working
            processes.ended.add(("vm", 41))
            app.poll_source(SPEC, reader, "daemon")
            ended: JobResult = app.repository.get(crashed)
            assert ended.status == "errored" and "interrupted" in str(ended.data)
        finally:
            app.close()

    def test_another_hosts_sync_is_left_alone(self) -> None:
        """A running sync of another host is not judged from here."""
        processes = Processes(("other", 7))
        app = memory_app(processes=processes)
        try:
            reader = DictReader({"jobs/a.py": module(job_text("A"))})
            running = app._start_sync_result(SPEC.name, "alice")
            processes.now = ("vm", 8)
            app.resync_source(SPEC, reader, "alice")
            result: JobResult = app.repository.get(running)
            assert result.status == "running"
        finally:
            app.close()


class TestMassUninstallGuard:
    def test_the_guard_refuses_before_anything_is_applied(self, app: JobCatalogApp) -> None:
        """A refused sync leaves the jobs and the source as they were; only its failed result is new."""
        reader = DictReader({"jobs/ops.py": module(*(job_text(f"J{i}") for i in range(6)))})
        app.resync_source(SPEC, reader, "alice")
        source_version = app.get_source(SPEC.name).version  # type: ignore[union-attr]
        reader.files["jobs/ops.py"] = module(job_text("J0"))
        with pytest.raises(MassUninstallError, match="5 of 6"):
            app.resync_source(SPEC, reader, "alice")
        assert app.views.installed_count(SPEC.name) == 6
        assert app.get_source(SPEC.name).version == source_version  # type: ignore[union-attr]
        summary = app.resync_source(SPEC, reader, "alice", allow_mass_uninstall=True)
        assert len(summary.uninstalled) == 5 and app.views.installed_count(SPEC.name) == 1
