"""Discovery reads job classes from source text only, following Nautobot's rules."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from jobsync.domain.discovery import (
    MAX_CLASS_CHAIN,
    MAX_FILE_SIZE,
    Discovery,
    ModuleSummary,
    Problem,
    affected_modules,
    is_candidate,
    module_entry,
    module_name_for,
    resolve_jobs,
    summarize_module,
)
from jobsync.domain.fields import OVERRIDABLE_DEFAULTS, JobFacts


def discover(files: dict[str, str | bytes]) -> Discovery:
    """Summarize every file (text is dedented) and resolve the whole source."""
    summaries = {}
    for path, content in files.items():
        data = content if isinstance(content, bytes) else textwrap.dedent(content).encode()
        summaries[path] = summarize_module(path, data)
    return resolve_jobs(summaries)


def keys(result: Discovery) -> list[str]:
    return [job.key for job in result.jobs]


def job(result: Discovery, key: str) -> JobFacts:
    return next(j for j in result.jobs if j.key == key)


def reasons(result: Discovery) -> list[str]:
    return [p.reason for p in result.problems]


SIMPLE = """\
from nautobot.apps.jobs import Job

class Backup(Job):
    pass
"""


class TestModuleNameFor:
    def test_file_becomes_dotted_path(self) -> None:
        """A file's module name is its path with slashes as dots and no .py."""
        assert module_name_for("jobs/backup.py") == "jobs.backup"

    def test_package_init_is_the_package(self) -> None:
        """An __init__.py is named after its folder."""
        assert module_name_for("jobs/__init__.py") == "jobs"
        assert module_name_for("a/b/__init__.py") == "a.b"

    def test_top_level_file(self) -> None:
        """A file at the source root is a top-level module."""
        assert module_name_for("backup.py") == "backup"


class TestIsCandidate:
    def test_python_files_only(self) -> None:
        """Only *.py files are scanned."""
        assert is_candidate("jobs/backup.py")
        assert not is_candidate("jobs/backup.txt")
        assert not is_candidate("jobs/backup.pyc")

    def test_hidden_paths_are_skipped(self) -> None:
        """Any path component starting with a dot hides the file."""
        assert not is_candidate(".venv/lib/x.py")
        assert not is_candidate("jobs/.hidden.py")
        assert not is_candidate("a/.git/b.py")

    def test_tests_folders_are_skipped(self) -> None:
        """Files under any folder named tests are skipped, but a file named tests.py is not."""
        assert not is_candidate("tests/test_a.py")
        assert not is_candidate("jobs/tests/test_a.py")
        assert is_candidate("jobs/tests.py")

    def test_migrations_folders_are_skipped(self) -> None:
        """An app's Django migrations hold no jobs and are not even reported: skipped like tests/."""
        assert not is_candidate("my_app/migrations/0001_initial.py")
        assert not is_candidate("migrations/0002_auto.py")
        assert not is_candidate("my_app/migrations/0001_initial.py", include=["my_app/*"])
        assert is_candidate("my_app/migrations.py")

    def test_top_level_setup_py_is_skipped(self) -> None:
        """Only the setup.py at the source root is skipped."""
        assert not is_candidate("setup.py")
        assert is_candidate("jobs/setup.py")

    def test_include_globs_narrow(self) -> None:
        """With include globs, a file must match one of them."""
        assert is_candidate("jobs/a.py", include=["jobs/*"])
        assert not is_candidate("lib/a.py", include=["jobs/*"])
        assert is_candidate("lib/a.py", include=["jobs/*", "lib/*.py"])

    def test_exclude_globs_remove(self) -> None:
        """A file matching any exclude glob is skipped, even when included."""
        assert not is_candidate("jobs/wip_a.py", include=["jobs/*"], exclude=["*/wip_*"])
        assert is_candidate("jobs/a.py", include=["jobs/*"], exclude=["*/wip_*"])


class TestImportSpellings:
    @pytest.mark.parametrize(
        ("imports", "base"),
        [
            ("from nautobot.apps.jobs import Job", "Job"),
            ("from nautobot.extras.jobs import Job", "Job"),
            ("from nautobot.extras.jobs import Job as J", "J"),
            ("from nautobot.apps import jobs", "jobs.Job"),
            ("from nautobot.extras import jobs as j", "j.Job"),
            ("import nautobot.extras.jobs as nj", "nj.Job"),
            ("import nautobot.apps.jobs", "nautobot.apps.jobs.Job"),
            ("from nautobot.apps.jobs import *", "Job"),
        ],
    )
    def test_every_spelling_of_job_is_recognised(self, imports: str, base: str) -> None:
        """Job imported from nautobot.extras.jobs or nautobot.apps.jobs is found under any spelling."""
        result = discover({"jobs/a.py": f"{imports}\n\nclass Backup({base}):\n    pass\n"})
        assert keys(result) == ["jobs.a.Backup"]

    def test_a_job_from_elsewhere_is_not_a_job(self) -> None:
        """A class named Job from another package does not make a job."""
        result = discover({"jobs/a.py": "from celery import Job\n\nclass Backup(Job):\n    pass\n"})
        assert result.jobs == ()

    def test_rebinding_after_the_class_does_not_change_its_base(self) -> None:
        """Names are resolved as they were when the class statement ran."""
        source = """\
        from nautobot.apps import jobs

        class Backup(jobs.Job):
            pass

        jobs = [Backup]
        """
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Backup"]


class TestBasesInOtherModules:
    BASE = """\
    from nautobot.apps.jobs import Job

    class MyBase(Job):
        class Meta:
            abstract = True
            description = "shared"
    """

    @pytest.mark.parametrize(
        ("imports", "base"),
        [
            ("from jobs.base import MyBase", "MyBase"),
            ("from .base import MyBase", "MyBase"),
            ("from . import base", "base.MyBase"),
            ("import jobs.base", "jobs.base.MyBase"),
            ("import jobs.base as b", "b.MyBase"),
        ],
    )
    def test_base_class_reached_through_imports(self, imports: str, base: str) -> None:
        """A class deriving from a source class that derives from Job is a job, however it is imported."""
        result = discover(
            {
                "jobs/__init__.py": "",
                "jobs/base.py": self.BASE,
                "jobs/backup.py": f"{imports}\n\nclass Backup({base}):\n    pass\n",
            }
        )
        assert keys(result) == ["jobs.backup.Backup"]
        assert job(result, "jobs.backup.Backup").values["description"] == "shared"

    def test_base_re_exported_by_a_package(self) -> None:
        """A base re-exported by a package __init__ resolves to its defining module."""
        result = discover(
            {
                "jobs/__init__.py": "from .base import MyBase\n",
                "jobs/base.py": self.BASE,
                "jobs/backup.py": "from jobs import MyBase\n\nclass Backup(MyBase):\n    pass\n",
            }
        )
        assert keys(result) == ["jobs.backup.Backup"]

    def test_circular_bases_are_a_problem_not_a_loop(self) -> None:
        """Classes whose bases form a cycle across modules are reported, not jobs, and do not hang."""
        result = discover(
            {
                "jobs/a.py": "from nautobot.apps.jobs import Job\nfrom jobs.b import B\n\nclass A(B, Job):\n    pass\n",
                "jobs/b.py": "from jobs.a import A\n\nclass B(A):\n    pass\n",
            }
        )
        assert result.jobs == ()
        assert any("circular chain of base classes" in r for r in reasons(result))

    def test_circular_imports_do_not_loop(self) -> None:
        """Two modules importing a name from each other leave it unresolved instead of looping."""
        result = discover(
            {
                "jobs/a.py": "from jobs.b import X\n\nclass A(X):\n    pass\n",
                "jobs/b.py": "from jobs.a import X\n",
            }
        )
        assert result.jobs == ()


class TestReceivers:
    def test_hook_receiver(self) -> None:
        """A JobHookReceiver subclass is a job marked as a hook receiver."""
        source = "from nautobot.apps.jobs import JobHookReceiver\n\nclass Hook(JobHookReceiver):\n    pass\n"
        facts = discover({"jobs/a.py": source}).jobs[0]
        assert facts.is_job_hook_receiver
        assert not facts.is_job_button_receiver

    def test_button_receiver(self) -> None:
        """A JobButtonReceiver subclass is a job marked as a button receiver."""
        source = (
            "from nautobot.extras.jobs import JobButtonReceiver\n\nclass Btn(JobButtonReceiver):\n    pass\n"
        )
        facts = discover({"jobs/a.py": source}).jobs[0]
        assert facts.is_job_button_receiver
        assert not facts.is_job_hook_receiver

    def test_both_receivers_is_a_problem(self) -> None:
        """A class deriving from both receivers is refused with a problem at its line."""
        source = """\
        from nautobot.apps.jobs import JobButtonReceiver, JobHookReceiver

        class Both(JobHookReceiver, JobButtonReceiver):
            pass
        """
        result = discover({"jobs/a.py": source})
        assert result.jobs == ()
        assert result.problems[0].line == 3
        assert "both JobHookReceiver and JobButtonReceiver" in result.problems[0].reason


class TestNautobot2Registration:
    def test_only_registered_classes_are_jobs(self) -> None:
        """Once any module calls register_jobs, unregistered job classes are not jobs."""
        source = """\
        from nautobot.apps.jobs import Job, register_jobs

        class A(Job):
            pass

        class B(Job):
            pass

        register_jobs(A)
        """
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.A"]

    def test_registration_in_package_init_belongs_to_defining_module(self) -> None:
        """jobs/__init__.py registering submodule classes makes jobs of the defining modules."""
        result = discover(
            {
                "jobs/__init__.py": """\
                from nautobot.apps.jobs import register_jobs
                from .backup import BackupConfigs
                from . import audit

                register_jobs(BackupConfigs, audit.Audit)
                """,
                "jobs/backup.py": SIMPLE.replace("Backup(", "BackupConfigs("),
                "jobs/audit.py": SIMPLE.replace("Backup(", "Audit(") + "\nclass Unused(Job):\n    pass\n",
            }
        )
        assert keys(result) == ["jobs.audit.Audit", "jobs.backup.BackupConfigs"]
        assert job(result, "jobs.backup.BackupConfigs").file == "jobs/backup.py"
        assert result.problems == ()

    @pytest.mark.parametrize(
        "spelling",
        [
            "from nautobot.apps.jobs import register_jobs as reg\nreg(A)",
            "from nautobot.extras import jobs\njobs.register_jobs(A)",
            "import nautobot.apps.jobs as nj\nnj.register_jobs(A)",
            "from nautobot.core.celery import register_jobs\nregister_jobs(A)",
        ],
    )
    def test_register_jobs_spellings(self, spelling: str) -> None:
        """register_jobs is recognised under any import spelling."""
        source = f"from nautobot.apps.jobs import Job\n\nclass A(Job):\n    pass\n\nclass B(Job):\n    pass\n\n{spelling}\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.A"]

    def test_local_function_named_register_jobs_is_not_registration(self) -> None:
        """A source's own register_jobs function does not switch to Nautobot 2 rules."""
        source = SIMPLE + "\ndef register_jobs(*classes):\n    pass\n\nregister_jobs()\n"
        source += "\nclass Other(Job):\n    pass\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Backup", "jobs.a.Other"]

    def test_call_inside_if_block_counts(self) -> None:
        """A register_jobs call inside a module-level if block is read."""
        source = (
            SIMPLE + "\nfrom nautobot.apps.jobs import register_jobs\n\nif True:\n    register_jobs(Backup)\n"
        )
        source += "\nclass Other(Job):\n    pass\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Backup"]

    def test_call_inside_a_function_is_ignored(self) -> None:
        """Function bodies are never read, so a register_jobs call there does not count."""
        source = (
            SIMPLE + "\nfrom nautobot.apps.jobs import register_jobs\n\ndef f():\n    register_jobs(Backup)\n"
        )
        source += "\nclass Other(Job):\n    pass\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Backup", "jobs.a.Other"]

    def test_first_registration_wins(self) -> None:
        """A class registered twice, in one module or two, is one job."""
        result = discover(
            {
                "jobs/__init__.py": "from nautobot.apps.jobs import register_jobs\nfrom .a import Backup\n"
                "register_jobs(Backup)\n",
                "jobs/a.py": SIMPLE
                + "\nfrom nautobot.apps.jobs import register_jobs\nregister_jobs(Backup, Backup)\n",
            }
        )
        assert keys(result) == ["jobs.a.Backup"]
        assert result.problems == ()

    def test_unresolvable_name_is_a_problem_at_the_call(self) -> None:
        """A register_jobs argument that names no job class of the source is reported at the call's line."""
        source = (
            SIMPLE
            + "\nfrom nautobot.apps.jobs import register_jobs\nimport os\n\nregister_jobs(Backup, Missing, os)\n"
        )
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup"]
        assert [(p.file, p.line) for p in result.problems] == [("jobs/a.py", 9), ("jobs/a.py", 9)]
        assert any("Missing does not name a class of this source" in r for r in reasons(result))

    def test_registered_class_that_is_not_a_job_is_a_problem(self) -> None:
        """Registering a class that does not derive from Job is reported."""
        source = (
            SIMPLE
            + "\nfrom nautobot.apps.jobs import register_jobs\n\nclass Plain:\n    pass\n\nregister_jobs(Plain)\n"
        )
        result = discover({"jobs/a.py": source})
        assert result.jobs == ()
        assert reasons(result) == ["register_jobs argument Plain is not a job class of this source"]

    def test_starred_and_computed_arguments_are_problems(self) -> None:
        """Arguments that need running code to know are reported, the rest still register."""
        source = (
            SIMPLE
            + "\nfrom nautobot.apps.jobs import register_jobs\n\nregister_jobs(Backup, *get_jobs(), make())\n"
        )
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup"]
        assert reasons(result) == [
            "cannot resolve register_jobs argument *get_jobs() without running code; "
            "jobs it may register keep their last known state",
            "cannot resolve register_jobs argument make() without running code; "
            "jobs it may register keep their last known state",
        ]
        assert result.unreadable_modules == {"jobs.a"}  # so no job of it is uninstalled

    def test_starred_literal_list_is_expanded(self) -> None:
        """register_jobs(*jobs) over a literal list, as Nautobot's docs show, registers the listed classes."""
        source = SIMPLE + "\nclass Other(Job):\n    pass\n\nfrom nautobot.apps.jobs import register_jobs\n"
        source += "jobs = [Backup]\njobs.append(Other)\nregister_jobs(*jobs)\n"
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup", "jobs.a.Other"]
        assert result.problems == ()


class TestNautobot1Selection:
    def test_every_job_class_the_module_defines(self) -> None:
        """Without register_jobs and a jobs list, each job class a module defines is a job, not imported ones."""
        result = discover(
            {
                "jobs/a.py": SIMPLE,
                "jobs/b.py": "from jobs.a import Backup\nfrom nautobot.apps.jobs import Job\n\nclass Audit(Job):\n    pass\n",
            }
        )
        assert keys(result) == ["jobs.a.Backup", "jobs.b.Audit"]

    def test_abstract_classes_are_skipped(self) -> None:
        """A class whose own Meta says abstract = True is not a job."""
        source = SIMPLE + "\nclass Base(Job):\n    class Meta:\n        abstract = True\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Backup"]

    def test_abstract_is_not_inherited(self) -> None:
        """A subclass of an abstract base without its own abstract = True is a job, as in Django."""
        source = """\
        from nautobot.apps.jobs import Job

        class Base(Job):
            class Meta:
                abstract = True
                description = "from base"

        class Concrete(Base):
            pass
        """
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Concrete"]
        assert job(result, "jobs.a.Concrete").values["description"] == "from base"

    def test_jobs_list_selects(self) -> None:
        """A literal jobs list selects the module's jobs, abstract or not."""
        source = (
            SIMPLE
            + "\nclass Other(Job):\n    pass\n\nclass Base(Job):\n    class Meta:\n        abstract = True\n"
        )
        source += "\njobs = (Other, Base)\n"
        assert keys(discover({"jobs/a.py": source})) == ["jobs.a.Base", "jobs.a.Other"]

    def test_jobs_list_entry_that_is_not_a_job_is_a_problem(self) -> None:
        """A jobs list entry naming no job class is reported at the list's line."""
        source = SIMPLE + "\njobs = [Backup, Nothing]\n"
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup"]
        assert result.problems == (
            Problem("jobs/a.py", 6, "jobs list entry Nothing does not name a class of this source"),
        )

    def test_non_literal_jobs_is_a_problem_and_keeps_known_jobs(self) -> None:
        """jobs = f() cannot be read: no jobs from that module, a problem, and its known jobs are kept."""
        source = SIMPLE + "\ndef build():\n    return [Backup]\n\njobs = build()\n"
        result = discover({"jobs/a.py": source, "jobs/b.py": SIMPLE})
        assert keys(result) == ["jobs.b.Backup"]
        assert result.problems[0].line == 9
        assert "not a literal list" in result.problems[0].reason
        assert "jobs.a" in result.unreadable_modules

    def test_nautobot_jobs_module_named_jobs_is_not_a_list(self) -> None:
        """from nautobot.extras import jobs binds a module, not a jobs list."""
        source = "from nautobot.extras import jobs\n\nclass Backup(jobs.Job):\n    pass\n"
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup"]
        assert result.problems == ()


class TestMeta:
    def test_defaults_fill_every_field(self) -> None:
        """A job without Meta gets Nautobot's defaults, its class name and its module as grouping."""
        facts = discover({"jobs/a.py": SIMPLE}).jobs[0]
        expected = dict(OVERRIDABLE_DEFAULTS, name="Backup", grouping="jobs.a")
        assert dict(facts.values) == expected
        assert facts.file == "jobs/a.py"
        assert facts.line == 3
        assert facts.read_only is False

    def test_literal_values_are_read(self) -> None:
        """Literal Meta values become the job's fields; queues become a list of strings."""
        source = """\
        from nautobot.apps.jobs import Job

        class Backup(Job):
            class Meta:
                name = "Backup " "configs"
                description = '''
                    Saves configs.
                    '''
                approval_required = True
                dryrun_default = True
                hidden = True
                has_sensitive_variables = False
                soft_time_limit = 30
                time_limit = 60.5
                task_queues = ("fast", "slow")
                is_singleton = True
                read_only = True
                unknown_key = object()
        """
        result = discover({"jobs/a.py": source})
        facts = result.jobs[0]
        assert dict(facts.values) == {
            "grouping": "jobs.a",
            "name": "Backup configs",
            "description": "Saves configs.",
            "approval_required": True,
            "dryrun_default": True,
            "hidden": True,
            "has_sensitive_variables": False,
            "soft_time_limit": 30,
            "time_limit": 60.5,
            "task_queues": ["fast", "slow"],
            "is_singleton": True,
        }
        assert facts.read_only is True
        assert result.problems == ()

    def test_docstring_is_not_the_description(self) -> None:
        """The class docstring never becomes the description."""
        source = 'from nautobot.apps.jobs import Job\n\nclass A(Job):\n    """Docstring."""\n'
        assert discover({"jobs/a.py": source}).jobs[0].values["description"] == ""

    def test_commit_default_means_not_dryrun(self) -> None:
        """Nautobot 1's commit_default = False means dryrun_default = True."""
        source = SIMPLE.replace("pass", "class Meta:\n        commit_default = False")
        assert discover({"jobs/a.py": source}).jobs[0].values["dryrun_default"] is True

    def test_explicit_dryrun_default_wins_over_commit_default(self) -> None:
        """An explicit dryrun_default wins over commit_default."""
        meta = "class Meta:\n        commit_default = False\n        dryrun_default = False"
        assert discover({"jobs/a.py": SIMPLE.replace("pass", meta)}).jobs[0].values["dryrun_default"] is False

    def test_meta_is_inherited_from_the_nearest_class(self) -> None:
        """A subclass without Meta uses its nearest parent's Meta; its own Meta replaces it entirely."""
        source = """\
        from nautobot.apps.jobs import Job

        class Parent(Job):
            class Meta:
                description = "parent"
                hidden = True

        class Child(Parent):
            pass

        class Own(Parent):
            class Meta:
                description = "own"
        """
        result = discover({"jobs/a.py": source})
        assert job(result, "jobs.a.Child").values["description"] == "parent"
        assert job(result, "jobs.a.Child").values["hidden"] is True
        assert job(result, "jobs.a.Child").values["name"] == "Child"
        assert job(result, "jobs.a.Own").values["hidden"] is False

    def test_meta_deriving_from_parent_meta_merges(self) -> None:
        """class Meta(Parent.Meta) inherits the keys it does not set, as Python attribute lookup does."""
        source = """\
        from nautobot.apps.jobs import Job

        class Parent(Job):
            class Meta:
                description = "parent"
                hidden = True

        class Child(Parent):
            class Meta(Parent.Meta):
                description = "child"
        """
        values = job(discover({"jobs/a.py": source}), "jobs.a.Child").values
        assert (values["description"], values["hidden"]) == ("child", True)

    def test_mixin_before_job_provides_meta(self) -> None:
        """The nearest Meta follows Python's MRO: a mixin listed before Job supplies it."""
        source = """\
        from nautobot.apps.jobs import Job

        class Mixin:
            class Meta:
                description = "mixin"

        class First(Mixin, Job):
            pass

        class Last(Job, Mixin):
            pass
        """
        result = discover({"jobs/a.py": source})
        assert job(result, "jobs.a.First").values["description"] == "mixin"
        assert job(result, "jobs.a.Last").values["description"] == ""

    @pytest.mark.parametrize(
        ("line", "field", "expected"),
        [
            ('description = f"v{1}"', "description", "is not a constant expression (an f-string"),
            ("time_limit = compute()", "time_limit", "is not a constant expression (a call)"),
            ("hidden = HIDDEN", "hidden", "is not a constant expression (HIDDEN is not defined)"),
            ("time_limit = 99999999999999999999999", "time_limit", "maximum"),
            ("soft_time_limit = -5", "soft_time_limit", ">= 0"),
            ('hidden = "yes"', "hidden", "true or false"),
            ("task_queues = ['a', 1]", "task_queues", "list of strings"),
            ("name = '" + "x" * 101 + "'", "name", "at most 100"),
            ("name = ''", "name", "must not be empty"),
        ],
    )
    def test_bad_values_get_the_default_and_a_warning(self, line: str, field: str, expected: str) -> None:
        """A non-constant or invalid Meta value falls back to the default with a warning naming file and line."""
        source = SIMPLE.replace("pass", f"class Meta:\n        {line}")
        result = discover({"jobs/a.py": source})
        facts = result.jobs[0]
        default = "Backup" if field == "name" else OVERRIDABLE_DEFAULTS[field]
        assert facts.values[field] == default
        assert len(result.problems) == 1
        problem = result.problems[0]
        assert (problem.file, problem.line) == ("jobs/a.py", 5)
        assert problem.reason.startswith(f"Meta.{field} of Backup ")
        assert expected in problem.reason
        assert facts.warnings == (problem.reason,)

    def test_soft_limit_not_below_hard_limit_warns_and_keeps_values(self) -> None:
        """soft_time_limit >= time_limit (both set) keeps both values and warns."""
        source = SIMPLE.replace("pass", "class Meta:\n        soft_time_limit = 60\n        time_limit = 60")
        result = discover({"jobs/a.py": source})
        facts = result.jobs[0]
        assert (facts.values["soft_time_limit"], facts.values["time_limit"]) == (60, 60)
        assert "is not below Meta.time_limit" in result.problems[0].reason
        assert facts.warnings == (result.problems[0].reason,)

    def test_soft_limit_alone_does_not_warn(self) -> None:
        """A soft limit with the default hard limit is fine."""
        source = SIMPLE.replace("pass", "class Meta:\n        soft_time_limit = 60")
        assert discover({"jobs/a.py": source}).problems == ()

    def test_inherited_meta_warning_is_reported_once(self) -> None:
        """A bad value in a shared Meta is one problem at its own line, and a warning on each job."""
        source = """\
        from nautobot.apps.jobs import Job

        class Parent(Job):
            class Meta:
                time_limit = limit()

        class Child(Parent):
            pass
        """
        result = discover({"jobs/a.py": source})
        assert len(result.jobs) == 2
        assert result.problems == (
            Problem(
                "jobs/a.py",
                5,
                "Meta.time_limit of Parent is not a constant expression (a call); using the default",
            ),
        )
        assert all(j.warnings == (result.problems[0].reason,) for j in result.jobs)


class TestGrouping:
    def test_module_level_name_is_the_grouping(self) -> None:
        """A module-level name = "..." literal is the grouping of its jobs."""
        facts = discover({"jobs/a.py": 'name = "Backups"\n' + SIMPLE}).jobs[0]
        assert facts.values["grouping"] == "Backups"

    def test_non_literal_name_warns_and_uses_module_name(self) -> None:
        """A computed module-level name falls back to the module name with a warning."""
        result = discover({"jobs/a.py": "name = compute()\n" + SIMPLE})
        assert result.jobs[0].values["grouping"] == "jobs.a"
        assert result.problems[0].line == 1
        assert "is not a constant expression (a call)" in result.problems[0].reason

    def test_grouping_of_registered_job_is_its_defining_module(self) -> None:
        """A job registered elsewhere takes the grouping of the module that defines it."""
        result = discover(
            {
                "jobs/__init__.py": 'name = "Init"\nfrom nautobot.apps.jobs import register_jobs\n'
                "from .a import Backup\nregister_jobs(Backup)\n",
                "jobs/a.py": 'name = "Defining"\n' + SIMPLE,
            }
        )
        assert result.jobs[0].values["grouping"] == "Defining"


class TestUnreadableFiles:
    def test_syntax_error(self) -> None:
        """A syntax error is reported with its line; the module's jobs keep their state; others sync."""
        result = discover({"jobs/a.py": SIMPLE + "\ndef broken(:\n", "jobs/b.py": SIMPLE})
        assert keys(result) == ["jobs.b.Backup"]
        assert result.problems[0].file == "jobs/a.py"
        assert result.problems[0].line == 6
        assert result.problems[0].reason.startswith("syntax error:")
        assert result.unreadable_modules == frozenset({"jobs.a"})

    def test_invalid_utf8(self) -> None:
        """Bytes that are not UTF-8 are reported with the line they are on."""
        summary = summarize_module("jobs/a.py", b"x = 1\ny = '\xff'\n")
        assert summary.error is not None
        assert summary.error.line == 2
        assert "not valid utf-8" in summary.error.reason

    def test_coding_cookie_is_honoured(self) -> None:
        """A PEP 263 coding declaration decodes the file as Python would."""
        data = b"# -*- coding: latin-1 -*-\n" + SIMPLE.replace(
            "pass", "class Meta:\n        name = 'Caf\xe9'"
        ).encode("latin-1")
        summary = summarize_module("jobs/a.py", data)
        assert summary.error is None
        assert resolve_jobs({"jobs/a.py": summary}).jobs[0].values["name"] == "Caf\xe9"

    def test_bom_is_accepted(self) -> None:
        """A UTF-8 byte order mark is accepted."""
        assert keys(discover({"jobs/a.py": b"\xef\xbb\xbf" + SIMPLE.encode()})) == ["jobs.a.Backup"]

    def test_nul_byte(self) -> None:
        """A NUL byte is reported with its line instead of raising."""
        summary = summarize_module("jobs/a.py", b"x = 1\n\x00\n")
        assert summary.error == Problem("jobs/a.py", 2, "file contains a NUL byte", "error")

    def test_too_deep(self) -> None:
        """A 5,000-level nested expression is reported, not a crash."""
        data = ("x = " + "(" * 5000 + "1" + ")" * 5000 + "\n").encode()
        summary = summarize_module("jobs/a.py", data)
        assert summary.error == Problem("jobs/a.py", 1, "syntax error: too many nested parentheses", "error")

    def test_too_deep_without_parentheses(self) -> None:
        """Deep nesting the tokenizer accepts (5,000 unary operators) is reported as too deep, not a crash."""
        summary = summarize_module("jobs/a.py", ("x = " + "-" * 5000 + "1\n").encode())
        assert summary.error == Problem("jobs/a.py", 0, "code is nested too deeply to parse", "error")

    def test_too_large(self) -> None:
        """A file over the size limit is skipped with a problem naming its size."""
        data = b"#" * (MAX_FILE_SIZE + 1)
        summary = summarize_module("jobs/a.py", data)
        assert summary.error is not None
        assert summary.error.reason == (
            f"file is {MAX_FILE_SIZE + 1} bytes, over the {MAX_FILE_SIZE}-byte limit; skipped"
        )
        assert summarize_module("jobs/a.py", SIMPLE.encode(), max_size=10).error is not None

    def test_base_in_unreadable_file_keeps_dependent_module(self) -> None:
        """A class whose base is in an unreadable file is undetermined: its module keeps its jobs."""
        result = discover(
            {
                "jobs/base.py": "class MyBase(:\n",
                "jobs/a.py": "from jobs.base import MyBase\n\nclass Backup(MyBase):\n    pass\n",
            }
        )
        assert result.jobs == ()
        assert result.unreadable_modules == frozenset({"jobs.base", "jobs.a"})
        assert any("cannot tell whether Backup is a job" in r for r in reasons(result))

    def test_unreadable_file_mentioning_register_jobs_keeps_all_jobs(self) -> None:
        """If an unreadable file may call register_jobs, no module's jobs are uninstalled."""
        result = discover(
            {
                "jobs/__init__.py": "from nautobot.apps.jobs import register_jobs\nregister_jobs(\n",
                "jobs/a.py": SIMPLE,
            }
        )
        assert result.jobs == ()
        assert result.unreadable_modules == frozenset({"jobs", "jobs.a"})

    def test_summarize_never_raises(self) -> None:
        """Arbitrary bytes give a summary, never an exception."""
        for data in (b"\x80\x81", b"def f(:", b"\x00", b"# coding: nope\n", b"class A(" * 300):
            assert isinstance(summarize_module("jobs/x.py", data), ModuleSummary)


class TestSummaries:
    def test_summary_pickles(self) -> None:
        """Summaries survive pickling unchanged (they cross process pools and the disk cache)."""
        source = (
            'name = "G"\n'
            + SIMPLE
            + "\nfrom nautobot.apps.jobs import register_jobs\nregister_jobs(Backup)\n"
        )
        summary = summarize_module(
            "jobs/a.py", source.replace("pass", "class Meta:\n        task_queues = ['q']").encode()
        )
        assert pickle.loads(pickle.dumps(summary)) == summary
        assert summary.imports["register_jobs"] == ("nautobot.apps.jobs.register_jobs",)

    def test_resolution_at_benchmark_scale(self) -> None:
        """2,000 modules of 5 jobs resolve to 10,000 distinct jobs (speed is measured in bench/)."""
        summaries = {}
        for i in range(2000):
            body = "from nautobot.apps.jobs import Job\n" + "".join(
                f"class J{k}(Job):\n    class Meta:\n        name = 'J{i}.{k}'\n" for k in range(5)
            )
            summaries[f"jobs/m{i}.py"] = summarize_module(f"jobs/m{i}.py", body.encode())
        result = resolve_jobs(summaries)
        assert len(result.jobs) == 10_000
        assert len({job.key for job in result.jobs}) == 10_000


class TestNeverRunsCode:
    def test_canary(self, tmp_path: Path) -> None:
        """A module with side effects at import time is discovered, and the side effects never happen."""
        canary, canary2 = tmp_path / "canary", tmp_path / "canary2"
        source = (
            "import os\n"
            f"open({str(canary)!r}, 'w').write('ran')\n"
            f"os.system('touch {canary2}')\n"
            "from nautobot.apps.jobs import Job\n\n"
            "class Canary(Job):\n    pass\n"
        )
        result = discover({"jobs/canary.py": source})
        assert keys(result) == ["jobs.canary.Canary"]
        assert not canary.exists()
        assert not canary2.exists()


_DEEP_CHAIN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # a regression fails here, not the machine
from jobsync.domain.discovery import MAX_FILE_SIZE, resolve_jobs, summarize_module
lines = ["from nautobot.apps.jobs import Job", "class B0(Job): pass"]
size, n = sum(len(line) + 1 for line in lines), 1
while size < MAX_FILE_SIZE - 64:
    lines.append(f"class B{n}(B{n - 1}): pass")
    size += len(lines[-1]) + 1
    n += 1
summary = summarize_module("jobs/deep.py", "\\n".join(lines).encode())
discovery = resolve_jobs({"jobs/deep.py": summary})
print(n, len(discovery.jobs), len(discovery.problems))
"""


class TestHostileShapes:
    def test_a_megabyte_of_inheritance_chain_stays_linear(self) -> None:
        """A 1 MiB file of ``class B1(B0)``, ``class B2(B1)``… resolves in under 1 GiB, with one warning."""
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, "-c", _DEEP_CHAIN], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-500:]
        classes, jobs, problems = map(int, done.stdout.split())
        assert classes > 35_000
        assert jobs == MAX_CLASS_CHAIN - 2  # Job and BaseJob count in the chain
        assert problems == 1


class TestProblemKinds:
    def test_errors_warnings_and_notes_are_kept_apart(self) -> None:
        """A file that does not parse is an error, a default used is a warning, a skipped file a note."""
        result = discover(
            {
                "jobs/broken.py": "class (:\n",
                "jobs/meta.py": """\
                    from nautobot.apps.jobs import Job

                    class Timed(Job):
                        class Meta:
                            time_limit = compute()
                    """,
                "jobs/not-a-module.py": SIMPLE,
            }
        )
        kinds = {p.file: p.kind for p in result.problems}
        assert kinds == {"jobs/broken.py": "error", "jobs/meta.py": "warning", "jobs/not-a-module.py": "note"}

    def test_an_oversized_file_is_a_note(self) -> None:
        summary = summarize_module("jobs/big.py", b"#" * (MAX_FILE_SIZE + 1))
        assert summary.error is not None and summary.error.kind == "note"


class TestImportsThatFail:
    """An import Nautobot would fail on, in a package or a registering module, is a warning."""

    REGISTERED = "from nautobot.apps.jobs import Job, register_jobs\n\nclass Present(Job):\n    pass\n"

    def test_a_relative_import_of_a_missing_file_in_the_package_is_a_warning(self) -> None:
        result = discover(
            {
                "jobs/__init__.py": "from . import hello_world\nfrom . import present\n",
                "jobs/present.py": SIMPLE,
            }
        )
        [problem] = result.problems
        assert (problem.file, problem.line, problem.kind) == ("jobs/__init__.py", 1, "warning")
        assert "jobs.hello_world names no file of the source" in problem.reason
        assert keys(result) == ["jobs.present.Backup"]  # §4: a warning; still listed

    def test_a_missing_module_in_a_registering_module_is_a_warning(self) -> None:
        result = discover(
            {
                "jobs/registry.py": "from .present import Present\nfrom .absent import Absent\n"
                "from nautobot.apps.jobs import register_jobs\nregister_jobs(Present)\n",
                "jobs/present.py": self.REGISTERED,
            }
        )
        assert [(p.file, p.line) for p in result.problems if "jobs.absent.Absent" in p.reason] == [
            ("jobs/registry.py", 2)
        ]

    def test_imports_that_resolve_are_not_reported(self) -> None:
        """A file, a subpackage, a name the module binds, or anything under a star import."""
        result = discover(
            {
                "jobs/__init__.py": "from . import present, sub\nfrom .present import Present\n"
                "from .starred import Anything\nimport os\nfrom nautobot.apps.jobs import Job\n",
                "jobs/present.py": self.REGISTERED,
                "jobs/sub/__init__.py": "",
                "jobs/starred.py": "from os.path import *\n",
            }
        )
        assert result.problems == ()

    def test_a_plain_module_is_not_checked(self) -> None:
        """Only packages and registering modules: elsewhere Nautobot's import failure costs that module."""
        result = discover({"jobs/a.py": "from .missing import X\n" + SIMPLE})
        assert result.problems == ()


def values_of(files: dict[str, str | bytes], key: str) -> dict[str, object]:
    return dict(job(discover(files), key).values)


class TestClassAttributes:
    def test_a_class_attribute_wins_over_meta(self) -> None:
        """name and description written in the class body shadow Nautobot's class properties, so Meta loses."""
        source = """\
        from nautobot.apps.jobs import Job

        class Report(Job):
            name = "Hardware report"
            description = "Every notice"

            class Meta:
                name = "Meta name"
                description = "Meta description"
                has_sensitive_variables = False
        """
        result = discover({"jobs/a.py": source})
        values = result.jobs[0].values
        assert (values["name"], values["description"]) == ("Hardware report", "Every notice")
        assert values["has_sensitive_variables"] is False
        assert result.problems == ()

    def test_every_metadata_field_is_shadowed(self) -> None:
        """Each field Nautobot reads as a class property can be set as a plain class attribute."""
        source = """\
        name = "Module grouping"
        from nautobot.apps.jobs import Job

        class Report(Job):
            grouping = "Reports"
            approval_required = True
            dryrun_default = True
            hidden = True
            has_sensitive_variables = False
            soft_time_limit = 30
            time_limit = 60
            task_queues = ["fast"]
            is_singleton = True
            read_only = True
        """
        facts = discover({"jobs/a.py": source}).jobs[0]
        assert dict(facts.values) == dict(
            OVERRIDABLE_DEFAULTS,
            name="Report",
            grouping="Reports",
            approval_required=True,
            dryrun_default=True,
            hidden=True,
            has_sensitive_variables=False,
            soft_time_limit=30,
            time_limit=60,
            task_queues=["fast"],
            is_singleton=True,
        )
        assert facts.read_only is True

    def test_commit_default_as_a_class_attribute(self) -> None:
        """Nautobot 1's commit_default class property is shadowed too: False means dryrun_default True."""
        source = SIMPLE.replace("pass", "commit_default = False")
        assert discover({"jobs/a.py": source}).jobs[0].values["dryrun_default"] is True

    def test_an_inherited_class_attribute_wins_over_the_subclass_meta(self) -> None:
        """Attribute lookup finds a base class's attribute before BaseJob's property, whatever Meta says."""
        source = """\
        from nautobot.apps.jobs import Job

        class Base(Job):
            description = "from the base"

        class Child(Base):
            class Meta:
                description = "from Meta"
                hidden = True
        """
        values = values_of({"jobs/a.py": source}, "jobs.a.Child")
        assert (values["description"], values["hidden"]) == ("from the base", True)

    def test_an_inherited_class_attribute_from_another_module(self) -> None:
        """A base class of the source in another module contributes its class attributes."""
        files: dict[str, str | bytes] = {
            "jobs/base.py": "from nautobot.apps.jobs import Job\n\nclass Base(Job):\n    time_limit = 90\n",
            "jobs/a.py": "from .base import Base\n\nclass Child(Base):\n    pass\n",
        }
        assert values_of(files, "jobs.a.Child")["time_limit"] == 90

    def test_the_nearest_class_in_the_mro_wins(self) -> None:
        """A subclass's attribute wins over its base's, and a mixin listed first wins over a later base."""
        source = """\
        from nautobot.apps.jobs import Job

        class Base(Job):
            name = "base"

        class Child(Base):
            name = "child"

        class Mixin:
            description = "mixin"

        class Mixed(Mixin, Base):
            pass
        """
        result = discover({"jobs/a.py": source})
        assert job(result, "jobs.a.Child").values["name"] == "child"
        assert job(result, "jobs.a.Mixed").values["name"] == "base"
        assert job(result, "jobs.a.Mixed").values["description"] == "mixin"

    def test_a_class_attribute_description_is_kept_as_written(self) -> None:
        """Nautobot dedents only the Meta description (inside its property); an attribute shadows that too."""
        source = """\
        from nautobot.apps.jobs import Job

        class Attribute(Job):
            description = "  Saves configs.  "

        class InMeta(Job):
            class Meta:
                description = '''
                    Saves configs.
                    '''
        """
        result = discover({"jobs/a.py": source})
        assert job(result, "jobs.a.Attribute").values["description"] == "  Saves configs.  "
        assert job(result, "jobs.a.InMeta").values["description"] == "Saves configs."

    def test_a_bad_class_attribute_gets_the_default_and_a_warning(self) -> None:
        """An invalid or non-constant class attribute falls back to the default, warned at its line."""
        source = SIMPLE.replace("pass", "soft_time_limit = -1\n    description = build()")
        result = discover({"jobs/a.py": source})
        values = result.jobs[0].values
        assert (values["soft_time_limit"], values["description"]) == (0, "")
        assert [(p.file, p.line) for p in result.problems] == [("jobs/a.py", 4), ("jobs/a.py", 5)]
        assert result.problems[0].reason.startswith("class attribute soft_time_limit of Backup is invalid")
        assert "not a constant expression" in result.problems[1].reason

    def test_a_method_named_like_a_field_is_not_a_value(self) -> None:
        """A def named like a field shadows the property with a function: the default, and a warning."""
        source = SIMPLE.replace("pass", "def description(self):\n        return 'x'")
        result = discover({"jobs/a.py": source})
        assert result.jobs[0].values["description"] == ""
        assert "description of Backup is not a constant expression" in result.problems[0].reason

    def test_other_class_attributes_are_ignored(self) -> None:
        """Variables, abstract and unknown names in the class body are no metadata."""
        source = SIMPLE.replace("pass", "abstract = True\n    device = ObjectVar()\n    other = 1")
        result = discover({"jobs/a.py": source})
        assert keys(result) == ["jobs.a.Backup"] and result.problems == ()


class TestConstantExpressions:
    @pytest.mark.parametrize(
        ("line", "field", "value"),
        [
            ("soft_time_limit = 60 * 5", "soft_time_limit", 300),
            ("time_limit = (60 + 30) * 2 - 10 // 3 % 2", "time_limit", 179),
            ("time_limit = 1.5 * 2", "time_limit", 3.0),
            ("time_limit = -(-5)", "time_limit", 5),
            ("time_limit = 2 ** 10", "time_limit", 1024),
            ('description = "Saves " + "configs" " daily"', "description", "Saves configs daily"),
            ('description = f"no names"', "description", "no names"),
            ('task_queues = ("a", "b") + ("c",)', "task_queues", ["a", "b", "c"]),
            ('task_queues = ["a"] + ["b"]', "task_queues", ["a", "b"]),
        ],
    )
    def test_constant_expressions_are_evaluated(self, line: str, field: str, value: object) -> None:
        """Literals, arithmetic on numbers, concatenation and sequences of them are evaluated."""
        for where in (f"class Meta:\n        {line}", line):  # in Meta and as a class attribute
            result = discover({"jobs/a.py": SIMPLE.replace("pass", where)})
            assert result.jobs[0].values[field] == value
            assert result.problems == ()

    def test_names_bound_once_in_the_module_or_class(self) -> None:
        """Module, class and Meta constants, and names bound to them, stand for their values."""
        source = """\
        from nautobot.apps.jobs import Job

        MINUTE = 60
        TIMEOUT = 5 * MINUTE
        PREFIX = "Back up"
        QUEUES = ["fast", "slow"]

        class Backup(Job):
            LIMIT = TIMEOUT * 2
            time_limit = LIMIT

            class Meta:
                SUFFIX = " configs"
                description = PREFIX + SUFFIX
                soft_time_limit = TIMEOUT
                task_queues = QUEUES
        """
        values = discover({"jobs/a.py": source}).jobs[0].values
        assert (values["time_limit"], values["soft_time_limit"]) == (600, 300)
        assert (values["description"], values["task_queues"]) == ("Back up configs", ["fast", "slow"])

    def test_a_module_constant_is_the_grouping(self) -> None:
        """The module-level name may be a constant expression too."""
        source = 'TEAM = "Net"\nname = TEAM + " ops"\n' + SIMPLE
        assert discover({"jobs/a.py": source}).jobs[0].values["grouping"] == "Net ops"

    @pytest.mark.parametrize(
        ("files", "module"),
        [
            ({"jobs/a.py": "from .common import GROUPING, TIMEOUT\n"}, "jobs.a"),
            (
                {"jobs/a.py": "from . import common\nGROUPING = common.GROUPING\nTIMEOUT = common.TIMEOUT\n"},
                "jobs.a",
            ),
            (
                {
                    "jobs/a.py": "import jobs.common\nGROUPING = jobs.common.GROUPING\nTIMEOUT = jobs.common.TIMEOUT\n"
                },
                "jobs.a",
            ),
            ({"jobs/a.py": "from jobs.common import *\n"}, "jobs.a"),
            (
                {
                    "jobs/__init__.py": "from .common import GROUPING\nfrom .common import TIMEOUT as LIMIT\n",
                    "jobs/a.py": "from . import GROUPING, LIMIT as TIMEOUT\n",
                },
                "jobs.a",
            ),
        ],
    )
    def test_a_constant_from_another_module_of_the_source(self, files: dict[str, str], module: str) -> None:
        """Names imported from another module of the source (any spelling, re-exports) give its constants."""
        common = 'GROUPING = "Shared"\nTIMEOUT = 60 * 5\n'
        use = SIMPLE.replace("pass", "soft_time_limit = TIMEOUT")
        sources: dict[str, str | bytes] = {"jobs/common.py": common}
        for path, text in files.items():
            sources[path] = text + ("name = GROUPING\n" + use if path == "jobs/a.py" else "")
        values = values_of(sources, f"{module}.Backup")
        assert (values["grouping"], values["soft_time_limit"]) == ("Shared", 300)

    def test_a_chain_of_constants_across_modules(self) -> None:
        """A constant defined from another module's constant is followed through both."""
        files: dict[str, str | bytes] = {
            "jobs/base.py": "MINUTES = 5\n",
            "jobs/common.py": "from .base import MINUTES\nTIMEOUT = MINUTES * 60\n",
            "jobs/a.py": "from .common import TIMEOUT\n" + SIMPLE.replace("pass", "time_limit = TIMEOUT + 1"),
        }
        assert values_of(files, "jobs.a.Backup")["time_limit"] == 301

    @pytest.mark.parametrize(
        ("prelude", "line", "expected"),
        [
            ("", "description = describe()", "a call"),
            ("X = 1\n", 'description = f"v{X}"', "f-string"),
            ("", "description = settings.TEXT", "settings.TEXT is not defined"),
            ("import os\n", "description = os.sep", "os.sep is not a constant of this source"),
            ("", "description = TEXTS[0]", "a subscript"),
            ("", "description = UNDEFINED", "UNDEFINED is not defined"),
            ('TEXT = "a"\nTEXT = "b"\n', "description = TEXT", "TEXT is bound 2 times"),
            ('TEXT = "a"\nTEXT += "b"\n', "description = TEXT", "TEXT is bound 2 times"),
            (
                'if flag:\n    TEXT = "a"\nelse:\n    TEXT = "b"\n',
                "description = TEXT",
                "TEXT is bound 2 times",
            ),
            ('for TEXT in "ab":\n    pass\nTEXT = "c"\n', "description = TEXT", "TEXT is bound 2 times"),
            ("TEXT = load()\n", "description = TEXT", "TEXT is not bound to a constant expression"),
            ("A = B\nB = A\n", "description = A", "circular"),
            ("", 'description = "x" * 3', "cannot apply"),
            ("", 'time_limit = "1" + 1', "cannot apply"),
            ("", "time_limit = 1 / 0", "division by zero"),
            ("", "time_limit = 1e999 - 1e999", "not a number"),
            ("", "time_limit = 10 ** 100", "too large"),
            ("", "time_limit = True if x else False", "a conditional expression"),
        ],
    )
    def test_anything_else_gets_the_default_and_a_warning(
        self, prelude: str, line: str, expected: str
    ) -> None:
        """Calls, f-strings with values, attributes of unknown objects and rebound names are not evaluated."""
        source = prelude + SIMPLE.replace("pass", f"class Meta:\n        {line}")
        result = discover({"jobs/a.py": source})
        field = line.split(" ")[0]
        assert result.jobs[0].values[field] == OVERRIDABLE_DEFAULTS[field]
        assert len(result.problems) == 1, result.problems
        problem = result.problems[0]
        assert (problem.file, problem.line) == ("jobs/a.py", prelude.count("\n") + 5)
        assert problem.reason.startswith(f"Meta.{field} of Backup is not a constant expression")
        assert expected in problem.reason

    def test_a_missing_constant_in_another_module_is_a_warning(self) -> None:
        """A name imported from a module of the source that binds no such constant gets the default."""
        files: dict[str, str | bytes] = {
            "jobs/common.py": "TIMEOUT = compute()\n",
            "jobs/a.py": "from .common import TIMEOUT, MISSING\n"
            + SIMPLE.replace("pass", "time_limit = TIMEOUT\n    soft_time_limit = MISSING"),
        }
        result = discover(files)
        assert (result.jobs[0].values["time_limit"], result.jobs[0].values["soft_time_limit"]) == (0, 0)
        assert [(p.line, p.reason.split(" (")[0]) for p in result.problems] == [
            (5, "class attribute time_limit of Backup is not a constant expression"),
            (6, "class attribute soft_time_limit of Backup is not a constant expression"),
        ]
        assert "jobs.common.TIMEOUT" in result.problems[0].reason

    def test_a_circular_import_of_constants_is_a_warning(self) -> None:
        """``A = B`` in one module and ``B = A`` in another end with the default, not a loop."""
        files: dict[str, str | bytes] = {
            "jobs/b.py": "from .a import A\nB = A\n",
            "jobs/a.py": "from .b import B\nA = B\n" + SIMPLE.replace("pass", "time_limit = A"),
        }
        result = discover(files)
        assert result.jobs[0].values["time_limit"] == 0
        assert "circular" in result.problems[0].reason

    def test_an_abstract_flag_may_be_a_constant(self) -> None:
        """Meta.abstract is read through constants like every other key."""
        source = "ABSTRACT = True\n" + SIMPLE.replace("pass", "class Meta:\n        abstract = ABSTRACT")
        assert keys(discover({"jobs/a.py": source})) == []

    def test_a_long_chain_of_names_is_bounded(self) -> None:
        """A chain of 50,000 names, each bound to the previous one, ends in the default and one warning."""
        chain = "A0 = 1\n" + "".join(f"A{i} = A{i - 1}\n" for i in range(1, 50_000))
        source = chain + SIMPLE.replace("pass", "time_limit = A49999\n    soft_time_limit = A5")
        result = discover({"jobs/a.py": source})
        assert result.jobs[0].values["time_limit"] == 0
        assert result.jobs[0].values["soft_time_limit"] == 1
        assert len(result.problems) == 1 and "too long a chain" in result.problems[0].reason

    def test_deep_nesting_is_bounded(self) -> None:
        """An expression nested deeper than the limit is refused, not evaluated recursively."""
        source = SIMPLE.replace("pass", "time_limit = " + "(" * 80 + "1" + " + 1)" * 80)
        result = discover({"jobs/a.py": source})
        assert result.jobs[0].values["time_limit"] == 0
        assert "nested too deeply" in result.problems[0].reason

    def test_deep_expressions_chained_across_modules_do_not_exhaust_the_stack(self) -> None:
        """Thirty modules, each nesting the previous one's constant 60 levels deep, give a value or a warning."""
        files: dict[str, str | bytes] = {"jobs/m0.py": "X = 0\n"}
        for i in range(1, 30):
            files[f"jobs/m{i}.py"] = (
                f"from .m{i - 1} import X as P\nX = " + "(" * 60 + "P" + " + 1)" * 60 + "\n"
            )
        files["jobs/a.py"] = "from .m29 import X\n" + SIMPLE.replace("pass", "time_limit = X")
        result = discover(files)
        assert result.jobs[0].values["time_limit"] == 29 * 60

    def test_names_that_double_a_value_stay_bounded(self) -> None:
        """``B = A + A``, ``C = B + B``… in a class body are refused once too large, not built."""
        lines = ["A0 = 'x'"] + [f"A{i} = A{i - 1} + A{i - 1}" for i in range(1, 80)]
        body = "\n    ".join([*lines, "description = A79", "name = A3"])
        result = discover({"jobs/a.py": SIMPLE.replace("pass", body)})
        assert result.jobs[0].values["name"] == "x" * 8
        assert result.jobs[0].values["description"] == ""
        assert "too long" in result.problems[0].reason or "too large" in result.problems[0].reason

    def test_a_constant_from_another_module_is_a_dependency(self) -> None:
        """The module using an imported constant lists the constant's module among its refs."""
        summary = summarize_module(
            "ops/a.py", b"import ops.common\n" + SIMPLE.replace("pass", "time_limit = ops.common.T").encode()
        )
        entry = module_entry(summary, "")
        assert {"ops.common", "ops.common.T"} <= entry.refs
        common = module_entry(summarize_module("ops/common.py", b"T = 5\n"), "")
        affected = affected_modules({"ops/a.py": entry, "ops/common.py": common}, {}, ["ops/common.py"])
        assert affected == frozenset({"ops.a", "ops.common"})

    def test_summaries_with_constants_pickle(self) -> None:
        """Deferred expressions and module constants survive pickling unchanged."""
        source = "from .common import T\nLOCAL = (1, 'a', 2.5, True)\nname = T + 'x'\n" + SIMPLE.replace(
            "pass", "time_limit = T * 2\n    class Meta:\n        description = T"
        )
        summary = summarize_module("jobs/a.py", source.encode())
        assert pickle.loads(pickle.dumps(summary)) == summary


class TestRegisteredFromOutside:
    """A class registered explicitly whose bases leave the source is a job, as Nautobot registers it."""

    SSOT = """\
        from nautobot.apps.jobs import register_jobs
        from nautobot_ssot.jobs.base import DataSource
        import nautobot_design_builder.design_job as design

        class Onboard(DataSource):
            name = "Onboard devices"

            class Meta:
                description = "Sync from the inventory"

        class Build(design.DesignJob):
            pass

        class NotRegistered(DataSource):
            pass

        register_jobs(Onboard, Build)
        """

    def test_registered_classes_with_outside_bases_are_jobs_with_a_note(self) -> None:
        result = discover({"jobs/__init__.py": self.SSOT})
        assert keys(result) == ["jobs.Build", "jobs.Onboard"]
        onboard = job(result, "jobs.Onboard")
        assert (onboard.values["name"], onboard.values["description"]) == (
            "Onboard devices",
            "Sync from the inventory",
        )
        notes = {p.reason.split(" ")[0]: p for p in result.problems}
        assert (
            notes["Onboard"].kind == "note"
            and "nautobot_ssot.jobs.base.DataSource" in notes["Onboard"].reason
        )
        assert "nautobot_design_builder.design_job.DesignJob" in notes["Build"].reason

    def test_an_unregistered_class_with_an_outside_base_is_not_a_job(self) -> None:
        result = discover({"jobs/__init__.py": self.SSOT})
        assert "jobs.NotRegistered" not in keys(result)

    def test_a_nautobot_1_jobs_list_registers_them_too(self) -> None:
        result = discover(
            {
                "jobs/sync.py": """\
                    from nautobot_ssot.jobs.base import DataTarget

                    class Export(DataTarget):
                        pass

                    jobs = [Export]
                    """
            }
        )
        assert keys(result) == ["jobs.sync.Export"]
        assert [p.kind for p in result.problems] == ["note"]

    def test_a_registered_class_without_any_job_base_is_still_refused(self) -> None:
        result = discover(
            {
                "jobs/__init__.py": """\
                    from nautobot.apps.jobs import register_jobs

                    class Helper:
                        pass

                    register_jobs(Helper)
                    """
            }
        )
        assert keys(result) == []
        assert [(p.kind, p.reason) for p in result.problems] == [
            ("warning", "register_jobs argument Helper is not a job class of this source")
        ]


class TestRegistrationBuiltInCode:
    """``jobs = [...]`` changed in branches and loops, then ``register_jobs(*jobs)``: every class it may hold."""

    CLASSES = "from nautobot.apps.jobs import Job\n" + "".join(
        f"\nclass {name}(Job):\n    pass\n" for name in ("A", "B", "C", "D", "E", "F")
    )

    def registered(self, init: str) -> Discovery:
        return discover({"jobs/__init__.py": init, "jobs/parts.py": self.CLASSES})

    def test_branches_loops_appends_and_extends_are_a_union(self) -> None:
        result = self.registered(
            """\
            from django.conf import settings
            from nautobot.apps.jobs import register_jobs
            from .parts import A, B, C, D, E, F

            EXTRA = [F]
            if settings.DEBUG:
                jobs = [A, B]
            else:
                jobs = [A]
            for integration in (C, D):
                jobs.append(integration)
            jobs += [E]
            jobs.extend(EXTRA)
            register_jobs(*jobs)
            """
        )
        assert keys(result) == [f"jobs.parts.{name}" for name in "ABCDEF"]
        [note] = result.problems
        assert note.kind == "note" and "depends on run-time settings" in note.reason and note.line == 14

    def test_a_plain_literal_list_is_no_note(self) -> None:
        result = self.registered(
            "from nautobot.apps.jobs import register_jobs\nfrom .parts import A, B\n\n"
            "jobs = [A]\njobs.append(B)\nregister_jobs(*jobs)\n"
        )
        assert keys(result) == ["jobs.parts.A", "jobs.parts.B"]
        assert result.problems == ()

    def test_a_loop_appending_what_only_running_code_knows_keeps_the_jobs_state(self) -> None:
        result = self.registered(
            """\
            import importlib
            from nautobot.apps.jobs import register_jobs
            from .parts import A

            jobs = [A]
            for name in ("x", "y"):
                jobs.append(importlib.import_module(name).Job)
            register_jobs(*jobs)
            """
        )
        assert "cannot resolve" in " ".join(p.reason for p in result.problems)
        assert result.unreadable_modules  # which classes are registered is unknown: none is uninstalled
