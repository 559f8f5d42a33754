"""The SQLite summary store: what a sync keeps of each file between syncs, in a file that runs no code."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsync import Catalog
from jobsync.adapters.summaries import SQLiteSummaryStore, decode_summary, encode_summary
from jobsync.domain.discovery import (
    ModuleEntry,
    ModuleSummary,
    Problem,
    Registration,
    module_entry,
    summarize_module,
)
from jobsync.ports import KeepRegistration
from tests.helpers import GitRepo

JOB = b"from nautobot.apps.jobs import Job\n\nclass A(Job):\n    class Meta:\n        description = 'a'\n"
REGISTERS = b"from nautobot.apps.jobs import register_jobs\nfrom .a import A\nregister_jobs(A)\n"
FILTERS = "[[], []]"


def parsed(path: str, data: bytes, sha: str = "1" * 40) -> tuple[ModuleEntry, ModuleSummary]:
    summary = summarize_module(path, data)
    return module_entry(summary, sha), summary


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteSummaryStore]:
    opened = SQLiteSummaryStore(tmp_path / "summaries.db")
    yield opened
    opened.close()


REGISTRATION = Registration(
    registering=("jobs/__init__.py",),
    selected=(("jobs.a", "A"),),
    unknown=False,
    undetermined=frozenset(),
    problems=(Problem("jobs/__init__.py", 3, "a problem"),),
    looked_at=(("binding", "jobs.a", "A", "f1"), ("exists", "jobs.b", "", "absent")),
)


class TestSQLiteSummaryStore:
    def test_summaries_read_back_equal(self, store: SQLiteSummaryStore) -> None:
        """Entries, summaries, problems and the registration come back as they were saved."""
        a, init = parsed("jobs/a.py", JOB), parsed("jobs/__init__.py", REGISTERS, "2" * 40)
        problems = [Problem("jobs/x.py", 1, "syntax error")]
        store.save("ops", FILTERS, "c1", [a, init], [], problems, REGISTRATION, based_on=None)
        index = store.index("ops", FILTERS)
        assert index is not None and index.commit == "c1"
        assert index.entries == {"jobs/a.py": a[0], "jobs/__init__.py": init[0]}
        assert list(index.problems) == problems
        assert index.registration is not None and index.registration.selected == (("jobs.a", "A"),)
        assert store.load("ops", {"jobs/a.py": "1" * 40}) == {"jobs/a.py": a[1]}
        assert store.registration_facts("ops", {"jobs.b"}) == (("exists", "jobs.b", "", "absent"),)

    def test_a_summary_of_other_content_is_not_read(self, store: SQLiteSummaryStore) -> None:
        """Asking for a file at another content id finds nothing: it must be parsed again."""
        store.save("ops", FILTERS, "c1", [parsed("jobs/a.py", JOB)], [], [], None, based_on=None)
        assert store.load("ops", {"jobs/a.py": "9" * 40}) == {}

    def test_other_filters_find_nothing(self, store: SQLiteSummaryStore) -> None:
        """Summaries made under other include/exclude globs are not reused."""
        store.save("ops", FILTERS, "c1", [parsed("jobs/a.py", JOB)], [], [], None, based_on=None)
        assert store.index("ops", '[["jobs/*"], []]') is None

    def test_an_update_made_from_an_older_state_is_not_written(self, store: SQLiteSummaryStore) -> None:
        """When another process moved the summaries on, an update diffed from the old commit is dropped."""
        store.save("ops", FILTERS, "c1", [parsed("jobs/a.py", JOB)], [], [], None, based_on=None)
        store.save("ops", FILTERS, "c2", [], ["jobs/a.py"], [], None, based_on="c1")
        store.save("ops", FILTERS, "c3", [parsed("jobs/b.py", JOB)], [], [], None, based_on="c1")
        index = store.index("ops", FILTERS)
        assert index is not None and index.commit == "c2" and index.entries == {}

    def test_a_kept_registration_keeps_what_it_looked_at(self, store: SQLiteSummaryStore) -> None:
        """KeepRegistration leaves the stored registration and its facts as they are."""
        store.save("ops", FILTERS, "c1", [], [], [], REGISTRATION, based_on=None)
        store.save("ops", FILTERS, "c2", [], [], [], KeepRegistration(), based_on="c1")
        index = store.index("ops", FILTERS)
        assert index is not None and index.registration is not None
        assert index.registration.problems == REGISTRATION.problems
        assert store.registration_facts("ops", {"jobs.a"}) == (("binding", "jobs.a", "A", "f1"),)

    def test_a_file_of_another_format_is_emptied(self, tmp_path: Path) -> None:
        """A summaries file written by another version is rebuilt, not misread."""
        path = tmp_path / "summaries.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE summary_sources (source TEXT, junk TEXT)")
            db.execute("INSERT INTO summary_sources VALUES ('ops', 'x')")
            db.execute("PRAGMA user_version = 1")
        store = SQLiteSummaryStore(path)
        try:
            assert store.index("ops", FILTERS) is None
            store.save("ops", FILTERS, "c1", [], [], [], None, based_on=None)
            assert store.index("ops", FILTERS) is not None
        finally:
            store.close()

    def test_the_json_form_holds_no_code(self) -> None:
        """A summary is stored as JSON text: decoding it builds plain data, never runs anything."""
        summary = summarize_module("jobs/a.py", JOB)
        text = encode_summary(summary)
        assert text.startswith("[") and decode_summary(text) == summary

    def test_constants_and_class_attributes_read_back_equal(self) -> None:
        """Module constants, class attributes and expressions that wait for another module round-trip."""
        source = (
            "from .common import T\nfrom nautobot.apps.jobs import Job\nLOCAL = (1, 'a', 2.5, True)\n"
            "name = T + 'x'\n\nclass A(Job):\n    time_limit = T * 2\n    description = 'd'\n"
            "    hidden = call()\n\n    class Meta:\n        description = T\n        task_queues = ['q']\n"
        )
        summary = summarize_module("jobs/a.py", source.encode())
        assert summary.constants and summary.classes[0].attributes
        assert decode_summary(encode_summary(summary)) == summary


class TestDamagedStore:
    def test_a_damaged_file_is_replaced_and_the_sync_goes_on(self, tmp_path: Path, repo: GitRepo) -> None:
        """Summaries are derived: garbage in summaries.db costs a full parse, never a failed sync."""
        repo.write("jobs/a.py", JOB.decode())
        repo.commit()
        state = tmp_path / "state"
        with Catalog.open(state_dir=state, actor="tester") as catalog:
            catalog.resync(repo.url, name="ops")
        (state / "summaries.db").write_bytes(b"this is not a database" * 100)
        for extra in ("summaries.db-wal", "summaries.db-shm"):
            (state / extra).unlink(missing_ok=True)
        repo.write("jobs/a.py", JOB.decode().replace("'a'", "'edited'"))
        repo.commit()
        with Catalog.open(state_dir=state, actor="tester") as catalog:
            summary = catalog.resync("ops")
            assert summary.changed == ["ops:jobs.a.A"]
            repo.write("jobs/b.py", JOB.decode().replace("class A", "class B"))
            repo.commit()
            assert catalog.resync("ops").added == ["ops:jobs.b.B"]  # the file was rebuilt and works
        rebuilt = SQLiteSummaryStore(state / "summaries.db")
        try:
            index = rebuilt.index("ops", FILTERS)
            assert index is not None and set(index.entries) == {"jobs/a.py", "jobs/b.py"}
        finally:
            rebuilt.close()

    def test_a_locked_file_is_left_alone(self, tmp_path: Path) -> None:
        """A file another process holds locked is not deleted: the store answers as if empty."""
        path = tmp_path / "summaries.db"
        SQLiteSummaryStore(path).save("ops", FILTERS, "c1", [parsed("jobs/a.py", JOB)], [], [], None, None)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            store = SQLiteSummaryStore(path, lock_timeout=0.1)
            try:
                assert store.index("ops", FILTERS) is None
            finally:
                store.close()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert path.exists()
        reopened = SQLiteSummaryStore(path)
        try:
            assert reopened.index("ops", FILTERS) is not None
        finally:
            reopened.close()
