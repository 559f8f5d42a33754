"""``jobsync explain`` as a user runs it: why each class of a file is or is not a job, end to end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Cli, GitRepo, assert_one_line_error

PACKAGE = """\
from nautobot.apps.jobs import register_jobs

from .backup import Backup

register_jobs(Backup)
"""

BACKUP = """\
from nautobot.apps.jobs import Job

from jobs.common import Base


class Backup(Base):
    name = "Back up configs"

    class Meta:
        has_sensitive_variables = False


class Unregistered(Job):
    pass
"""

COMMON = """\
from nautobot.apps.jobs import Job


class Base(Job):
    description = "Shared by every job"

    class Meta:
        abstract = True
"""

NAUTOBOT1 = """\
from nautobot.extras.jobs import Job


class Listed(Job):
    pass


class Left(Job):
    pass


jobs = [Listed]
"""


@pytest.fixture
def synced(cli: Cli, repo: GitRepo) -> Cli:
    """A Nautobot 2 source (registering its jobs) synced as ``netops``."""
    repo.write("jobs/__init__.py", PACKAGE)
    repo.write("jobs/backup.py", BACKUP)
    repo.write("jobs/common.py", COMMON)
    repo.write("jobs/broken.py", "x = 1\n\nclass Broken(:\n")
    repo.write("jobs/tests/test_backup.py", "")
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    return cli


def by_class(data: Any) -> dict[str, Any]:
    assert isinstance(data, list)
    return {entry["class"]: entry for entry in data}


class TestExplain:
    def test_a_job_with_where_each_value_came_from(self, synced: Cli) -> None:
        """A registered job: its reason, and each field's value with its origin (attribute, Meta, inherited, default)."""
        found = by_class(synced.json("explain", "netops", "jobs/backup.py"))
        backup = found["Backup"]
        assert set(backup) == {"class", "line", "job", "reason", "metadata", "problems"}
        assert backup["job"] is True and backup["line"] == 6
        assert "registered with register_jobs" in backup["reason"]
        meta = backup["metadata"]
        assert meta["name"] == {
            "value": "Back up configs",
            "origin": "class attribute",
            "file": "jobs/backup.py",
            "line": 7,
        }
        assert (meta["has_sensitive_variables"]["value"], meta["has_sensitive_variables"]["origin"]) == (
            False,
            "Meta",
        )
        assert meta["description"]["value"] == "Shared by every job"
        assert meta["description"]["origin"] == "inherited from class Base (class attribute)"
        assert meta["description"]["file"] == "jobs/common.py"
        assert meta["time_limit"] == {"value": 0, "origin": "default", "file": None, "line": None}
        shown = synced.json("jobs", "show", "netops:jobs.backup.Backup")
        assert all(shown[key] == found["value"] for key, found in meta.items())

    def test_an_unregistered_class(self, synced: Cli) -> None:
        """In a source that calls register_jobs, a job class no call names is not a job, and says so."""
        unregistered = by_class(synced.json("explain", "netops", "jobs/backup.py"))["Unregistered"]
        assert unregistered["job"] is False and unregistered["metadata"] == {}
        assert "not registered" in unregistered["reason"] and "jobs/__init__.py" in unregistered["reason"]

    def test_an_abstract_base(self, cli: Cli, repo: GitRepo) -> None:
        """Nautobot 1: a base whose own Meta says abstract is not a job; a class left out of ``jobs`` is not either."""
        repo.write("jobs/common.py", COMMON)
        repo.write("jobs/old.py", NAUTOBOT1)
        repo.commit("jobs")
        cli.ok("resync", repo.url, "--name", "netops")
        [base] = cli.json("explain", "netops", "jobs/common.py")
        assert base["class"] == "Base" and base["job"] is False
        assert base["reason"].startswith("abstract")
        found = by_class(cli.json("explain", "netops", "jobs/old.py"))
        assert found["Listed"]["job"] is True
        assert found["Left"]["job"] is False
        assert "not in the jobs list of jobs.old (line 12)" in found["Left"]["reason"]

    def test_a_file_that_does_not_parse(self, synced: Cli) -> None:
        """A file that does not parse is one entry: no class, the line it fails at, and why."""
        [entry] = synced.json("explain", "netops", "jobs/broken.py")
        assert entry["class"] is None and entry["job"] is False and entry["line"] == 3
        assert "does not parse at line 3" in entry["reason"]
        text = synced.ok("explain", "netops", "jobs/broken.py")
        assert text.startswith("jobs/broken.py: file does not parse at line 3")

    def test_a_skipped_path_is_an_answer(self, synced: Cli) -> None:
        """A file the default rules skip is answered with the rule, exit code 0."""
        [entry] = synced.json("explain", "netops", "jobs/tests/test_backup.py")
        assert entry["class"] is None and "files under tests/ are never scanned" in entry["reason"]

    def test_a_path_not_in_the_source_is_one_error(self, synced: Cli) -> None:
        """A path that is no file of the source fails with one error line and exit code 1."""
        assert_one_line_error(
            synced.run("explain", "netops", "jobs/nothing.py"), 1, "has no file 'jobs/nothing.py'"
        )

    def test_an_unknown_source_is_the_usual_error(self, synced: Cli) -> None:
        """An unknown source fails as every command does: one error line, exit code 1."""
        assert_one_line_error(
            synced.run("explain", "nosuch", "jobs/backup.py"), 1, "no source named 'nosuch'"
        )

    def test_the_text_lists_each_class_and_each_origin(self, synced: Cli) -> None:
        """People get each class with its verdict and reason, and a job's fields with their origins."""
        out = synced.ok("explain", "netops", "jobs/backup.py")
        assert "Backup (line 6): job" in out
        assert "Unregistered (line 13): not a job" in out
        assert "inherited from class Base (class attribute)  at jobs/common.py:5" in out
        assert "default (the module name)" in out

    def test_repository_text_is_escaped_in_the_text_output(self, cli: Cli, repo: GitRepo) -> None:
        """A control character in a job's name is shown escaped, never sent to the terminal."""
        repo.write(
            "jobs.py", 'from nautobot.apps.jobs import Job\n\nclass Odd(Job):\n    name = "a\\x1b[2Jb"\n'
        )
        repo.commit("odd")
        cli.ok("resync", repo.url, "--name", "netops")
        out = cli.ok("explain", "netops", "jobs.py")
        assert "\x1b" not in out and "a\\x1b[2Jb" in out

    def test_help_shows_an_example(self, cli: Cli) -> None:
        """``explain --help`` says what it answers and gives an example."""
        out = cli.ok("explain", "--help")
        assert "jobsync explain netops jobs/backup.py" in out
