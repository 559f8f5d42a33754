"""Text no store can keep (a NUL, a lone surrogate) never reaches an event: made safe or refused, on both stores."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from jobsync import (
    Catalog,
    FieldError,
    JobNotFoundError,
    JobSyncError,
    ResultError,
    SourceConflictError,
    SourceReadError,
    SourceSpec,
)
from jobsync.cli import shown
from tests.helpers import GitRepo

REF = "netops:jobs.backup.Backup"
OTHER = "netops:jobs.other.Other"


def job_file(class_name: str, meta: str) -> str:
    return f"from nautobot.apps.jobs import Job\n\n\nclass {class_name}(Job):\n    class Meta:\n{meta}"


@pytest.fixture
def synced(catalog: Catalog, repo: GitRepo) -> Catalog:
    repo.write("jobs/backup.py", job_file("Backup", "        has_sensitive_variables = False\n"))
    repo.write("jobs/other.py", job_file("Other", "        description = 'fine'\n"))
    repo.commit()
    catalog.resync(repo.url, name="netops")
    catalog.enable(REF)
    return catalog


class TestDiscoveredText:
    def test_a_nul_in_a_description_costs_only_that_character(self, synced: Catalog, repo: GitRepo) -> None:
        """A Python escape for NUL in Meta.description syncs, shown as U+FFFD with a warning."""
        repo.write("jobs/backup.py", job_file("Backup", '        description = "see\\x00this"\n'))
        repo.commit()
        summary = synced.resync("netops")
        assert summary.changed == [REF]
        assert synced.job(REF)["description"] == "see\ufffdthis"
        assert any("NUL or a lone surrogate" in p.reason for p in summary.problems)
        assert len(synced.jobs()) == 2 and synced.replay(verify=True).ok

    def test_a_lone_surrogate_in_a_name_blocks_nothing(self, synced: Catalog, repo: GitRepo) -> None:
        """``name = "bad\\ud800name"`` syncs, with the rest of the source, on either store."""
        repo.write("jobs/backup.py", job_file("Backup", '        name = "bad\\ud800name"\n'))
        repo.write("jobs/other.py", job_file("Other", "        description = 'changed'\n"))
        repo.commit()
        summary = synced.resync("netops")
        assert summary.changed == [REF, OTHER]
        assert synced.job(REF)["name"] == "bad\ufffdname"
        assert synced.job(OTHER)["description"] == "changed"

    def test_a_nul_in_a_module_grouping(self, synced: Catalog, repo: GitRepo) -> None:
        """The module-level ``name`` (the grouping) is made storable too."""
        repo.write("jobs/backup.py", 'name = "ops\\x00"\n' + job_file("Backup", "        pass\n"))
        repo.commit()
        synced.resync("netops")
        assert synced.job(REF)["grouping"] == "ops\ufffd"

    def test_a_file_name_that_is_not_utf8_in_a_folder(self, catalog: Catalog, tmp_path: Path) -> None:
        """A local folder holding ``caf\\xe9.py`` (latin-1 bytes) syncs; the name is escaped as git's reader does.

        It made every sync of the folder fail with UnicodeEncodeError (found by syncing ``/``).
        """
        root = tmp_path / "src"
        (root / "jobs").mkdir(parents=True)
        (root / "jobs" / "backup.py").write_text(job_file("Backup", "        pass\n"))
        Path(os.fsdecode(bytes(root) + b"/jobs/caf\xe9.py")).write_text(job_file("Cafe", "        pass\n"))
        Path(os.fsdecode(bytes(root) + b"/d\xe9r")).mkdir()
        summary = catalog.resync(str(root), name="src")
        assert summary.added == ["src:jobs.backup.Backup"]
        assert {p.file for p in summary.problems} == {"jobs/caf\\xe9.py"}
        assert catalog.resync("src").up_to_date and catalog.replay(verify=True).ok


class TestOperatorInput:
    def test_an_override_with_a_nul_is_refused(self, synced: Catalog) -> None:
        """An operator's value no store can keep is refused in one line, and nothing is saved."""
        before = synced.event_count()
        with pytest.raises(FieldError, match="NUL character") as caught:
            synced.override(REF, "description", "a\x00b")
        assert "\n" not in str(caught.value) and synced.event_count() == before

    def test_the_use_case_checks_a_name_before_looking_it_up(self, synced: Catalog) -> None:
        """Through the application itself (no Catalog checks before it): a name no store keeps is a
        FieldError, never the database driver's encoding error from the name lookup."""
        with pytest.raises(FieldError, match="lone surrogate"):
            synced._app.override_field(synced.resolve(REF), "name", "bad\ud800", "tester")

    def test_args_with_a_lone_surrogate_are_refused(self, synced: Catalog) -> None:
        """Run arguments must be storable text, keys included."""
        with pytest.raises(ResultError, match="lone surrogate"):
            synced.record_result(REF, args={"device": "r\ud800"})
        with pytest.raises(ResultError, match="in a key"):
            synced.record_result(REF, args={"k\x00": 1})

    def test_an_actor_with_a_nul_is_refused(self, synced: Catalog) -> None:
        """Every event records its actor: an unstorable one is refused before anything is written."""
        with pytest.raises(JobSyncError, match="actor"):
            synced.enable(OTHER, actor="eve\x00")

    def test_a_source_name_with_a_nul_is_refused(self, catalog: Catalog, repo: GitRepo) -> None:
        """A source named with a NUL is refused, not half-synced."""
        repo.write("jobs/backup.py", job_file("Backup", "        pass\n"))
        repo.commit()
        with pytest.raises(SourceConflictError, match="NUL"):
            catalog.resync(repo.url, name="net\x00ops")
        assert catalog.sources() == []

    def test_lookups_with_a_nul_find_nothing(self, synced: Catalog) -> None:
        """A job reference or a filter with a NUL is answered, not sent to a store that cannot take it."""
        with pytest.raises(JobNotFoundError):
            synced.job("net\x00ops:jobs.backup.Backup")
        with pytest.raises(JobSyncError, match="search"):
            synced.jobs(search="\x00")


class TestWorkerLogs:
    def test_a_device_nul_in_a_log_message_is_kept_safely(self, synced: Catalog) -> None:
        """A worker relaying device output never fails: the NUL becomes U+FFFD and the entry says so."""
        run = synced.record_result(REF, args={})
        synced.start_result(run)
        synced.log(run, "device said \x00 hello", object="r\ud8001")
        [entry] = synced.logs(run)
        assert entry["message"].startswith("device said \ufffd hello")
        assert "2 unstorable characters shown as U+FFFD" in entry["message"]
        assert entry["object"] == "r\ufffd1"
        assert [j["ref"] for j in synced.jobs()] == [REF, OTHER]  # the catalog still answers
        assert synced.replay(verify=True).ok


class TestOneLineMessages:
    """Found by test_text_properties.py: a message quoting a line break was not one line."""

    def test_an_error_quoting_a_line_break_stays_one_line(self, synced: Catalog) -> None:
        """A key with a record separator (U+001E) in refused data is quoted escaped, in one line."""
        run = synced.record_result(REF)
        with pytest.raises(ResultError) as caught:
            synced.finish_result(run, "completed", {"\x1e": "\ud800"})
        assert str(caught.value).splitlines() == [str(caught.value)] and "\\x1e" in str(caught.value)

    def test_a_path_with_a_line_break_fails_in_one_line(self, catalog: Catalog, tmp_path: Path) -> None:
        """``resync /tmp/x/0\\n`` (no such repository) says so in one line."""
        with pytest.raises(JobSyncError) as caught:
            catalog.resync(f"{tmp_path}/0\n")
        assert len(str(caught.value).splitlines()) == 1 and "0\\n" in str(caught.value)


class TestControls:
    """Found by test_text_properties.py: U+061C, U+2028/9 and lone surrogates were not treated as controls."""

    @pytest.mark.parametrize("char", ["\u061c", "\u2028", "\u2029"])
    def test_an_arabic_letter_mark_or_a_line_separator_is_a_control(self, synced: Catalog, char: str) -> None:
        """U+061C reorders text like the other bidi marks; U+2028/U+2029 end a line: no name holds them."""
        with pytest.raises(FieldError, match="control character"):
            synced.override(REF, "name", f"a{char}b")

    @pytest.mark.parametrize(
        ("text", "shown_as"),
        [("\ud800", "\\ud800"), ("a\u061cb", "a\\u061cb"), ("a\u2028b\u2029", "a\\u2028b\\u2029")],
    )
    def test_plain_output_escapes_what_it_missed(self, text: str, shown_as: str) -> None:
        """A lone surrogate (which no terminal can be sent), U+061C and the separators are shown escaped."""
        assert shown(text) == shown_as


class TestInputChecks:
    """Found by test_text_properties.py: text that reached a store, a path or an id before it was checked."""

    def test_a_scheduled_job_name_with_a_nul_is_refused(self, synced: Catalog) -> None:
        """``scheduled_job`` enters the result's first event: unstorable, it is refused in one line, unsaved."""
        before = synced.event_count()
        for bad in ("\x00", "\ud800"):
            with pytest.raises(ResultError, match="scheduled job"):
                synced.record_result(REF, scheduled_job=bad)
        assert synced.event_count() == before and synced.results(job=REF) == []

    def test_a_name_override_with_a_lone_surrogate_is_refused_before_the_store_is_asked(
        self, synced: Catalog
    ) -> None:
        """The check that a name is free queried the store with the bad name; the value is checked first."""
        with pytest.raises(FieldError, match="lone surrogate"):
            synced.override(REF, "name", "\ud800")

    def test_a_search_holding_a_line_break_is_refused(self, synced: Catalog) -> None:
        """``search="\\n"`` matched every job: name and description are searched as one text joined by it."""
        with pytest.raises(JobSyncError, match="control character"):
            synced.jobs(search="\n")

    def test_a_status_filter_is_one_of_the_statuses(self, synced: Catalog) -> None:
        """``results(status=...)`` went to the store as given, where a lone surrogate raised UnicodeEncodeError."""
        with pytest.raises(ResultError, match="status must be one of"):
            synced.results(status="\ud800")
        assert synced.results(status="pending") == []

    @pytest.mark.parametrize("target", ["\ud800", "./a\x00b", "/tmp/\udcff"])
    def test_a_location_no_store_keeps_is_refused_before_it_is_used(
        self, catalog: Catalog, target: str
    ) -> None:
        """A path with a NUL or a lone surrogate was handed to pathlib, which raised ValueError."""
        with pytest.raises(SourceConflictError, match="cannot be stored"):
            catalog.resync(target)

    def test_a_home_folder_of_no_such_user_is_one_line(self, catalog: Catalog) -> None:
        """``resync ~nosuchuser/jobs`` raised RuntimeError from pathlib's expanduser."""
        with pytest.raises(SourceReadError, match="cannot find '~nosuchuser/jobs'"):
            catalog.resync("~nosuchuser/jobs")

    def test_a_git_spec_with_an_unstorable_name_is_refused_before_its_mirror(
        self, catalog: Catalog, repo: GitRepo
    ) -> None:
        """A SourceSpec given directly reaches no mirror path or id until its name is checked."""
        with pytest.raises(SourceConflictError, match="lone surrogate"):
            catalog.resync_spec(SourceSpec(name="net\ud800ops", url=repo.url))

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("a\x1f", "control character \\x1f"),
            ("a:b", "':'"),
            ("  ", "needs a name"),
            ("x\u2028y", "\\u2028"),
        ],
    )
    def test_a_new_source_name_is_an_operator_name(
        self, catalog: Catalog, repo: GitRepo, name: str, reason: str
    ) -> None:
        """``resync PATH --name N`` refuses controls, ':' and a blank name, as the config file does."""
        repo.write("jobs/backup.py", job_file("Backup", "        pass\n"))
        repo.commit()
        with pytest.raises(SourceConflictError, match=re.escape(reason)):
            catalog.resync(repo.url, name=name)
        assert catalog.sources() == []
