"""``explain_module`` says, for every class of one file, whether it is a job and why, as the resolver decided."""

from __future__ import annotations

import textwrap

import pytest

from jobsync.domain.discovery import (
    ClassExplanation,
    ModuleSummary,
    explain_module,
    is_candidate,
    module_entry,
    resolve_jobs,
    skip_reason,
    summarize_module,
)


def summaries_of(files: dict[str, str]) -> dict[str, ModuleSummary]:
    return {path: summarize_module(path, textwrap.dedent(text).encode()) for path, text in files.items()}


def explain(files: dict[str, str], path: str) -> dict[str, ClassExplanation]:
    """Explain ``path`` of a source of these files (dedented), by class name."""
    summaries = summaries_of(files)
    entries = {p: module_entry(s, "") for p, s in summaries.items()}
    return {e.class_name or "": e for e in explain_module(path, summaries, entries)}


BASES = """\
from nautobot.apps.jobs import Job


class Base(Job):
    description = "Shared description"

    class Meta:
        abstract = True
        time_limit = 600
"""

V1 = """\
from nautobot.extras.jobs import Job

name = "Operations"


class Helper:
    pass


class Listed(Job):
    name = "Listed job"

    class Meta:
        description = "From Meta"
        soft_time_limit = 60 * 5


class Unlisted(Job):
    pass


jobs = [Listed]
"""


class TestWhyOrWhyNot:
    def test_a_job_says_where_each_value_came_from(self) -> None:
        """A job's metadata names its origin: own Meta, own class attribute, inherited, module name, default."""
        found = explain(
            {
                "jobs/__init__.py": "",
                "jobs/base.py": BASES,
                "jobs/backup.py": """\
                    from nautobot.apps.jobs import register_jobs
                    from jobs.base import Base


                    class Backup(Base):
                        name = "Back up configs"

                        class Meta:
                            has_sensitive_variables = False


                    register_jobs(Backup)
                """,
            },
            "jobs/backup.py",
        )
        backup = found["Backup"]
        assert backup.job and backup.line == 5
        assert "register_jobs" in backup.reason
        meta = backup.metadata
        assert (meta["name"].value, meta["name"].origin) == ("Back up configs", "class attribute")
        assert (meta["has_sensitive_variables"].value, meta["has_sensitive_variables"].origin) == (
            False,
            "Meta",
        )
        assert meta["description"].value == "Shared description"
        assert meta["description"].origin == "inherited from class Base (class attribute)"
        assert meta["description"].file == "jobs/base.py" and meta["description"].line == 5
        # A subclass's own Meta replaces its parent's: Base's time_limit does not reach Backup.
        assert (meta["time_limit"].value, meta["time_limit"].origin) == (0, "default")
        assert (meta["grouping"].value, meta["grouping"].origin) == (
            "jobs.backup",
            "default (the module name)",
        )
        assert meta["task_queues"].value == [] and meta["task_queues"].origin == "default"

    def test_an_inherited_meta_is_named_with_its_class(self) -> None:
        """A value from the nearest Meta in the MRO says which class's Meta it is."""
        found = explain(
            {
                "jobs/base.py": BASES,
                "jobs/child.py": """\
                    from jobs.base import Base


                    class Child(Base):
                        pass
                """,
            },
            "jobs/child.py",
        )
        child = found["Child"]
        assert child.job
        assert (child.metadata["time_limit"].value, child.metadata["time_limit"].origin) == (
            600,
            "inherited from class Base (Meta)",
        )

    def test_an_abstract_base_is_not_a_job(self) -> None:
        """A class whose own Meta says abstract is not a job, and the reason says so."""
        found = explain({"jobs/base.py": BASES}, "jobs/base.py")
        assert not found["Base"].job
        assert "abstract" in found["Base"].reason
        assert found["Base"].metadata == {}

    def test_an_unregistered_class_is_not_a_job_where_the_source_registers(self) -> None:
        """In a source that calls register_jobs, a job class no call names is not a job."""
        found = explain(
            {
                "jobs/__init__.py": """\
                    from nautobot.apps.jobs import register_jobs
                    from jobs.ops import Registered

                    register_jobs(Registered)
                """,
                "jobs/ops.py": """\
                    from nautobot.apps.jobs import Job


                    class Registered(Job):
                        pass


                    class Forgotten(Job):
                        pass
                """,
            },
            "jobs/ops.py",
        )
        assert found["Registered"].job
        assert not found["Forgotten"].job
        assert "not registered" in found["Forgotten"].reason
        assert "jobs/__init__.py" in found["Forgotten"].reason

    def test_a_class_missing_from_the_jobs_list_is_not_a_job(self) -> None:
        """Nautobot 1: a module's ``jobs`` list decides; a job class it leaves out is not a job."""
        found = explain({"jobs/ops.py": V1}, "jobs/ops.py")
        assert found["Listed"].job and "jobs list" in found["Listed"].reason
        assert not found["Unlisted"].job
        assert "not in the jobs list" in found["Unlisted"].reason and "line 22" in found["Unlisted"].reason
        listed = found["Listed"].metadata
        assert (listed["soft_time_limit"].value, listed["soft_time_limit"].origin) == (300, "Meta")
        assert (listed["grouping"].value, listed["grouping"].origin) == ("Operations", "module-level name")

    def test_a_plain_class_is_not_a_job(self) -> None:
        """A class that does not derive from a Job base says so, naming bases from outside the source."""
        found = explain(
            {
                "jobs/ops.py": """\
                    from somewhere import Mixin
                    from nautobot.extras.jobs import Job


                    class Plain:
                        pass


                    class Mixed(Mixin):
                        pass
                """,
            },
            "jobs/ops.py",
        )
        assert not found["Plain"].job and "does not derive from" in found["Plain"].reason
        assert "somewhere.Mixin" in found["Mixed"].reason

    def test_both_receivers_is_not_a_job(self) -> None:
        """A class deriving from both receivers is refused, in the resolver's own words."""
        found = explain(
            {
                "jobs/hooks.py": """\
                    from nautobot.apps.jobs import JobButtonReceiver, JobHookReceiver


                    class Both(JobHookReceiver, JobButtonReceiver):
                        pass
                """,
            },
            "jobs/hooks.py",
        )
        assert not found["Both"].job
        assert "both JobHookReceiver and JobButtonReceiver" in found["Both"].reason

    def test_a_file_that_does_not_parse_is_one_entry(self) -> None:
        """An unparseable file is one entry, without a class, saying at which line it fails."""
        found = explain({"jobs/broken.py": "x = 1\nclass (:\n"}, "jobs/broken.py")
        [entry] = found.values()
        assert entry.class_name is None and not entry.job
        assert entry.line == 2 and "does not parse at line 2" in entry.reason

    def test_a_module_python_never_imports_is_skipped(self) -> None:
        """``jobs.py`` beside a ``jobs/`` package is never imported: its one entry says which file wins."""
        source = {
            "jobs/__init__.py": "",
            "jobs.py": "from nautobot.apps.jobs import Job\n\nclass A(Job):\n    pass\n",
        }
        [entry] = explain(source, "jobs.py").values()
        assert entry.class_name is None and not entry.job
        assert "file skipped" in entry.reason and "jobs/__init__.py" in entry.reason

    def test_a_metadata_warning_is_shown_with_the_job(self) -> None:
        """A value that fell back to its default keeps the resolver's warning next to the job."""
        found = explain(
            {
                "jobs/ops.py": """\
                    from nautobot.apps.jobs import Job


                    class Odd(Job):
                        class Meta:
                            time_limit = compute()
                """,
            },
            "jobs/ops.py",
        )
        odd = found["Odd"]
        assert odd.job and odd.metadata["time_limit"].origin == "default"
        assert any("not a constant expression" in p.reason for p in odd.problems)


SOURCES: dict[str, dict[str, str]] = {
    "nautobot1": {"jobs/ops.py": V1, "jobs/base.py": BASES},
    "registering": {
        "jobs/__init__.py": "from nautobot.apps.jobs import register_jobs\nfrom .ops import A\nregister_jobs(A)\n",
        "jobs/ops.py": "from nautobot.apps.jobs import Job\n\nclass A(Job):\n    pass\n\nclass B(Job):\n    pass\n",
        "jobs/base.py": BASES,
    },
    "foreign list": {
        "jobs/ops.py": "from nautobot.extras.jobs import Job\n\nclass A(Job):\n    pass\n\nclass B(A):\n    pass\n",
        "jobs/menu.py": "from jobs.ops import A, B\n\njobs = [A]\n",
        "jobs/base.py": BASES,
    },
}


class TestAgreesWithSync:
    @pytest.mark.parametrize("name", sorted(SOURCES))
    def test_explain_says_job_exactly_for_the_jobs_a_sync_finds(self, name: str) -> None:
        """For every class of every file, ``job`` is true exactly when resolve_jobs finds that job."""
        summaries = summaries_of(SOURCES[name])
        entries = {p: module_entry(s, "") for p, s in summaries.items()}
        synced = {job.key for job in resolve_jobs(summaries).jobs}
        explained = {
            f"{summary.module_name}.{e.class_name}"
            for path, summary in summaries.items()
            for e in explain_module(path, summaries, entries)
            if e.job
        }
        assert explained == synced


class TestSkippedFiles:
    @pytest.mark.parametrize(
        ("path", "include", "exclude", "says"),
        [
            ("README.md", (), (), "not a Python file"),
            ("setup.py", (), (), "setup.py"),
            (".github/jobs.py", (), (), ".github is hidden"),
            ("jobs/tests/test_ops.py", (), (), "under tests/"),
            ("app/migrations/0001_initial.py", (), (), "under migrations/"),
            ("scripts/ops.py", ("jobs/*",), (), "include globs (jobs/*)"),
            ("jobs/old.py", (), ("jobs/old*",), "exclude glob jobs/old*"),
        ],
    )
    def test_a_skipped_path_says_which_rule_skipped_it(
        self, path: str, include: tuple[str, ...], exclude: tuple[str, ...], says: str
    ) -> None:
        """skip_reason names the default or glob that keeps a file out; is_candidate agrees."""
        reason = skip_reason(path, include, exclude)
        assert reason is not None and says in reason
        assert not is_candidate(path, include, exclude)

    def test_a_scanned_path_has_no_skip_reason(self) -> None:
        """A file discovery reads has no reason to be skipped."""
        assert skip_reason("jobs/ops.py", ("jobs/*",), ("jobs/old*",)) is None

    def test_a_nautobot1_commit_default_is_the_origin_of_dryrun_default(self) -> None:
        """``commit_default = False`` gives dryrun_default true, and the explanation says it came from there."""
        found = explain(
            {
                "jobs/ops.py": """\
                    from nautobot.extras.jobs import Job


                    class Old(Job):
                        class Meta:
                            commit_default = False
                """,
            },
            "jobs/ops.py",
        )
        dryrun = found["Old"].metadata["dryrun_default"]
        assert dryrun.value is True and dryrun.origin.startswith("Meta commit_default")
