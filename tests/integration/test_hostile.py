"""Hostile inputs (issue 8, item 5): each gives one clear line and loses nothing already in the store.

Every case starts from a source already synced (``Baseline``), adds the hostile input, syncs again
through a real Git repository (or a real folder), and checks three things: the problem is one line in
the sync's summary *and* in its result's log (or a one-line ``GitError`` for a sync that cannot run),
the jobs synced before are still there and unchanged, and a verified replay matches the read models.
Command-level cases (store files, config, overrides) are in tests/e2e/test_hostile_cli.py.

Covered in tests/integration/test_remotes.py, not repeated here: HTTP 401 (TestHttpCredentials, wrong
secret), HTTP 404 and HTTP 500 and a server that hangs (TestHttpFailures), a wrong SSH host key
(TestSsh.test_host_key_mismatch), and following tags / pinned commits (TestTagsAndPinnedCommits).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobsync import Catalog, GitError, Problem, StoreError, SyncSummary
from jobsync.records import JobRecord
from tests.conftest import run_sql
from tests.helpers import GitRepo

GOOD = """\
from nautobot.extras.jobs import Job

name = "Backups"


class Backup(Job):
    class Meta:
        description = "Back up"
        time_limit = 600


class Restore(Job):
    pass
"""
#: The same jobs, registered the Nautobot 2 way.
GOOD_REGISTERED = GOOD.replace("import Job\n", "import Job, register_jobs\n") + (
    "\n\nregister_jobs(Backup, Restore)\n"
)
BACKUP_REF = "netops:jobs.good.Backup"
RESTORE_REF = "netops:jobs.good.Restore"
HEADER = "from nautobot.extras.jobs import Job\n\n\n"


def job_module(*classes: str) -> str:
    """A module defining one empty job class per name."""
    return HEADER + "".join(f"class {name}(Job):\n    pass\n\n\n" for name in classes)


def meta_module(*meta_lines: str) -> str:
    """``jobs/m.py``-style module with one job ``M`` whose Meta body is ``meta_lines`` (Meta at line 5)."""
    body = "".join(f"        {line}\n" for line in meta_lines)
    return f"{HEADER}class M(Job):\n    class Meta:\n{body}"


@dataclass
class Baseline:
    """A source ``netops`` synced once with Backup and Restore; later syncs must not lose them."""

    catalog: Catalog
    root: Path
    repo: GitRepo | None = None
    commit: str = ""
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    def write(self, files: Mapping[str, str | bytes]) -> None:
        """Write files under the source root (text as UTF-8, bytes as they are)."""
        for relpath, text in files.items():
            target = self.root / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                target.write_bytes(text)
            else:
                target.write_text(text, encoding="utf-8")

    def sync(self, files: Mapping[str, str | bytes] | None = None) -> SyncSummary:
        """Write ``files``, commit them (git), and resync the source by its remembered name."""
        self.write(files or {})
        if self.repo is not None:
            self.repo.commit("hostile input")
        summary = self.catalog.resync("netops")
        assert summary.result is not None
        return summary

    def assert_nothing_lost(self) -> None:
        """Backup and Restore are installed and exactly as first synced; the read models replay."""
        for ref, before in self.jobs.items():
            assert self.catalog.job(ref) == before
        installed = {job["ref"] for job in self.catalog.jobs(source="netops")}
        assert {BACKUP_REF, RESTORE_REF} <= installed
        assert self.catalog.replay(verify=True).ok


def _snapshot(baseline: Baseline) -> Baseline:
    baseline.jobs = {ref: baseline.catalog.job(ref) for ref in (BACKUP_REF, RESTORE_REF)}
    assert baseline.jobs[BACKUP_REF]["description"] == "Back up"
    return baseline


@pytest.fixture
def baseline(repo: GitRepo, catalog: Catalog) -> Baseline:
    """A git source ``netops`` synced once, on each store."""
    repo.write("jobs/good.py", GOOD)
    commit = repo.commit("good jobs")
    catalog.resync(repo.url, name="netops")
    return _snapshot(Baseline(catalog, repo.path, repo, commit))


@pytest.fixture
def any_baseline(request: pytest.FixtureRequest, tmp_path: Path, catalog: Catalog) -> Baseline:
    """A ``netops`` source synced once: a git repository, or a plain folder (a ``local`` source).

    Parametrized indirectly with ``"git"`` or ``"local"``.
    """
    if request.param == "git":
        baseline: Baseline = request.getfixturevalue("baseline")
        return baseline
    folder = tmp_path / "local"
    (folder / "jobs").mkdir(parents=True)
    (folder / "jobs" / "good.py").write_text(GOOD, encoding="utf-8")
    catalog.resync(str(folder), name="netops")
    return _snapshot(Baseline(catalog, folder))


def assert_reported(summary: SyncSummary, catalog: Catalog, path: str, *fragments: str) -> Problem:
    """One problem names ``path`` and says ``fragments``, on one line, and the sync's log has it too."""
    matches = [p for p in summary.problems if p.file == path and all(f in p.reason for f in fragments)]
    assert matches, summary.problems
    problem = matches[0]
    assert "\n" not in problem.reason and "Traceback" not in problem.reason
    level = {"error": "error", "warning": "warning", "note": "info"}[problem.kind]  # a note is no warning
    logged = [entry["message"] for entry in catalog.logs(str(summary.result), level=level)]
    assert f"{problem.file}:{problem.line}: {problem.reason}" in logged
    return problem


def assert_failed_sync(catalog: Catalog, exc: GitError, source: str, reason: str, *fragments: str) -> None:
    """The error is one classified line, and the source's failed sync result logs that same line."""
    message = str(exc)
    assert exc.reason == reason, message
    assert "\n" not in message and "Traceback" not in message
    for fragment in fragments:
        assert fragment in message
    [result] = [r for r in catalog.results() if r["job_name"] == f"Sync {source}"][:1]
    assert result["status"] == "failed"
    assert message in [entry["message"] for entry in catalog.logs(result["id"])]


# -- files that cannot be read ---------------------------------------------------------------------


class TestUnreadableFiles:
    def test_syntax_error_keeps_the_modules_jobs(self, baseline: Baseline) -> None:
        """A module broken by a syntax error is reported with its line, and its jobs keep their state."""
        summary = baseline.sync({"jobs/good.py": GOOD + "\n\ndef broken(:\n    pass\n"})
        problem = assert_reported(summary, baseline.catalog, "jobs/good.py", "syntax error")
        assert problem.line == GOOD.count("\n") + 3
        assert summary.uninstalled == []
        baseline.assert_nothing_lost()

    def test_invalid_utf8_names_the_byte_and_line(self, baseline: Baseline) -> None:
        """Bytes that are not UTF-8 are reported with the byte and its line; the jobs keep their state."""
        summary = baseline.sync({"jobs/good.py": GOOD.encode() + b"note = '\xff'\n"})
        problem = assert_reported(summary, baseline.catalog, "jobs/good.py", "not valid utf-8", "0xff")
        assert problem.line == GOOD.count("\n") + 1
        baseline.assert_nothing_lost()

    def test_nul_byte_is_reported(self, baseline: Baseline) -> None:
        """A NUL byte makes the file unreadable, said in one line; the jobs keep their state."""
        summary = baseline.sync({"jobs/good.py": GOOD.encode() + b"x = 1\x00\n"})
        problem = assert_reported(summary, baseline.catalog, "jobs/good.py", "NUL byte")
        assert problem.line == GOOD.count("\n") + 1
        baseline.assert_nothing_lost()

    def test_fifty_megabyte_file_is_skipped_quickly(self, baseline: Baseline) -> None:
        """A 50 MB file (one long comment line) is reported as too large and skipped, in seconds."""
        huge = "# " + "x" * (50 * 1024 * 1024) + "\n" + GOOD
        baseline.write({"jobs/good.py": huge})
        assert baseline.repo is not None
        baseline.repo.commit("50 MB")
        started = time.monotonic()
        summary = baseline.catalog.resync("netops")
        elapsed = time.monotonic() - started
        assert_reported(summary, baseline.catalog, "jobs/good.py", f"{len(huge)} bytes", "limit; skipped")
        assert elapsed < 20, f"a 50 MB file took {elapsed:.1f}s to skip"
        baseline.assert_nothing_lost()

    @pytest.mark.parametrize(
        ("expression", "says"),
        [
            ("(" * 5000 + "1" + ")" * 5000, "nested parentheses"),
            ("-" * 5000 + "1", "nested too deeply"),
        ],
        ids=["parentheses", "unary-operators"],
    )
    def test_five_thousand_levels_of_nesting(self, baseline: Baseline, expression: str, says: str) -> None:
        """A 5,000-level nested expression is one problem (not a RecursionError); the jobs keep their state."""
        summary = baseline.sync({"jobs/good.py": GOOD + f"deep = {expression}\n"})
        assert_reported(summary, baseline.catalog, "jobs/good.py", says)
        baseline.assert_nothing_lost()

    def test_integer_literal_over_pythons_digit_limit(self, baseline: Baseline) -> None:
        """A 5,000-digit Meta integer (over Python's 4,300-digit limit) makes the file unreadable, not the sync."""
        summary = baseline.sync({"jobs/big.py": meta_module("time_limit = " + "9" * 5000)})
        assert_reported(summary, baseline.catalog, "jobs/big.py", "4300 digits")
        assert summary.added == []
        baseline.assert_nothing_lost()


# -- what the tree holds: links, submodules, odd names ---------------------------------------------

_OUTSIDE_JOB = job_module("Evil")


def _link(baseline: Baseline, kind: str, tmp_path: Path) -> list[str]:
    """Make one kind of hostile symlink in the source; returns the source-relative link paths."""
    root = baseline.root
    if kind == "etc-passwd":
        (root / "jobs" / "passwd.py").symlink_to("/etc/passwd")
        return ["jobs/passwd.py"]
    if kind == "loop":
        (root / "jobs" / "loop.py").symlink_to("loop.py")
        (root / "jobs" / "ping.py").symlink_to("pong.py")
        (root / "jobs" / "pong.py").symlink_to("ping.py")
        return ["jobs/loop.py", "jobs/ping.py", "jobs/pong.py"]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text(_OUTSIDE_JOB, encoding="utf-8")
    (root / "jobs" / "ext").symlink_to(outside, target_is_directory=True)
    return ["jobs/ext"]


class TestTreeEntries:
    @pytest.mark.parametrize(
        ("any_baseline", "kind"),
        [
            ("git", "etc-passwd"),
            ("local", "etc-passwd"),
            ("git", "loop"),
            pytest.param("local", "loop"),
            ("git", "outside-folder"),
            ("local", "outside-folder"),
        ],
        indirect=["any_baseline"],
    )
    def test_symlinks_are_not_followed(self, any_baseline: Baseline, kind: str, tmp_path: Path) -> None:
        """A link to /etc/passwd, a link loop, or a link to a folder outside the root is never read as a job file."""
        links = _link(any_baseline, kind, tmp_path)
        summary = any_baseline.sync()
        modules = {job["module_name"] for job in any_baseline.catalog.jobs(installed=None)}
        assert modules == {"jobs.good"}
        unreadable = [p for p in summary.problems if any(p.file.startswith(link) for link in links)]
        assert not [p for p in unreadable if "syntax error" in p.reason or "cannot parse" in p.reason]
        assert summary.added == [] and summary.uninstalled == []
        any_baseline.assert_nothing_lost()

    @pytest.mark.parametrize("kind", ["etc-passwd", "loop", "outside-folder"])
    def test_symlinks_that_are_not_followed_are_reported(
        self, baseline: Baseline, kind: str, tmp_path: Path
    ) -> None:
        """Each skipped symlink is named in the sync's log, so a user knows why its jobs are missing."""
        links = _link(baseline, kind, tmp_path)
        summary = baseline.sync()
        for link in links:
            assert_reported(summary, baseline.catalog, link, "link")
        baseline.assert_nothing_lost()

    def test_submodule_entry_is_skipped(self, baseline: Baseline, tmp_path: Path) -> None:
        """A gitlink (submodule) whose commit is not in the repository is skipped, as Nautobot skips it."""
        other = GitRepo(tmp_path / "vendored")
        other.write("jobs/vendored.py", job_module("Vendored"))
        sha = other.commit("vendored jobs")
        assert baseline.repo is not None
        baseline.repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},jobs/vendored")
        baseline.repo.git("commit", "-q", "-m", "submodule")
        assert baseline.repo.git("ls-tree", "HEAD", "jobs/vendored").startswith("160000 commit")
        summary = baseline.catalog.resync("netops")
        assert summary.commit == baseline.repo.git("rev-parse", "HEAD")
        assert summary.problems == [] and summary.added == []
        assert {job["module_name"] for job in baseline.catalog.jobs(installed=None)} == {"jobs.good"}
        baseline.assert_nothing_lost()

    def test_file_named_with_non_utf8_bytes(self, baseline: Baseline) -> None:
        """A file name that is not UTF-8 cannot be imported as a module: it is reported and skipped."""
        assert baseline.repo is not None
        raw = os.fsencode(baseline.root) + b"/jobs/caf\xe9.py"
        with open(raw, "wb") as handle:
            handle.write(job_module("Cafe").encode())
        baseline.repo.commit("latin-1 file name")
        listed = subprocess.run(
            ["git", "-C", str(baseline.root), "ls-files", "-z"], check=True, capture_output=True
        ).stdout
        assert b"jobs/caf\xe9.py" in listed.split(b"\0")
        summary = baseline.catalog.resync("netops")
        assert summary.added == [] and summary.uninstalled == []
        assert_reported(summary, baseline.catalog, "jobs/caf\\xe9.py", "not an importable module name")
        baseline.assert_nothing_lost()

    def test_dot_dot_paths_are_never_job_modules(self, baseline: Baseline) -> None:
        """``..x/``, ``jobs/..foo.py`` and a crafted ``jobs/..`` tree entry (git refuses to stage ``..``) are skipped."""
        repo = baseline.repo
        assert repo is not None
        refused = subprocess.run(
            [
                "git",
                "-C",
                str(repo.path),
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{'0' * 40},x/../y.py",
            ],
            capture_output=True,
            text=True,
        )
        assert refused.returncode != 0 and "Invalid path" in refused.stderr
        baseline.write({"jobs/..foo.py": job_module("Hidden"), "..x/job.py": job_module("HiddenFolder")})
        repo.commit("dot-dot names git allows")
        # A remote can still serve a tree with a ``..`` entry (git mktree writes it; only fsck warns).
        blob = repo.git("hash-object", "-w", "--", "jobs/..foo.py")
        inner = _mktree(repo, f"100644 blob {blob}\tescaped.py\n")
        jobs_tree = _mktree(repo, repo.git("ls-tree", "HEAD:jobs") + f"\n040000 tree {inner}\t..\n")
        root_tree = _mktree(
            repo, repo.git("ls-tree", "HEAD").replace(repo.git("rev-parse", "HEAD:jobs"), jobs_tree)
        )
        commit = repo.git("commit-tree", root_tree, "-p", "HEAD", "-m", "crafted ..")
        repo.git("update-ref", "refs/heads/main", commit)
        assert "jobs/../escaped.py" in repo.git("ls-tree", "-r", "--name-only", "HEAD")
        summary = baseline.catalog.resync("netops")
        assert summary.commit == commit
        assert summary.added == [] and summary.problems == []
        assert {job["module_name"] for job in baseline.catalog.jobs(installed=None)} == {"jobs.good"}
        baseline.assert_nothing_lost()

    def test_file_names_that_are_not_module_names_are_reported(self, baseline: Baseline) -> None:
        """``jobs/foo..bar.py`` and ``jobs/a..py`` are not modules: no job comes from them, and the log says why."""
        summary = baseline.sync(
            {"jobs/foo..bar.py": job_module("Dotted"), "jobs/a..py": job_module("Trailing")}
        )
        modules = {job["module_name"] for job in baseline.catalog.jobs(installed=None)}
        assert all("" not in module.split(".") for module in modules), modules
        assert_reported(summary, baseline.catalog, "jobs/foo..bar.py", "module")
        assert_reported(summary, baseline.catalog, "jobs/a..py", "module")
        baseline.assert_nothing_lost()


def _mktree(repo: GitRepo, listing: str) -> str:
    """Write a tree object from ``git ls-tree`` lines, without git's path checks."""
    done = subprocess.run(
        ["git", "-C", str(repo.path), "mktree"],
        input=listing.strip() + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


# -- classes and registration ----------------------------------------------------------------------


class TestClasses:
    def test_ten_thousand_job_classes_in_one_module(self, baseline: Baseline) -> None:
        """A generated module with 10,000 job classes syncs them all in one save."""
        text = HEADER + "".join(f"class Job{n:05d}(Job):\n    pass\n\n\n" for n in range(10_000))
        summary = baseline.sync({"jobs/many.py": text})
        assert len(summary.added) == 10_000 and summary.problems == []
        assert summary.added[0] == "netops:jobs.many.Job00000"
        assert len(baseline.catalog.jobs(source="netops", grouping="jobs.many")) == 10_000
        logged = [entry["message"] for entry in baseline.catalog.logs(str(summary.result), level="success")]
        assert logged == [
            f"synced {summary.commit}: 10000 added, 0 changed, 0 uninstalled, 0 reinstalled, 0 errors, 0 warnings, 0 notes"
        ]
        baseline.assert_nothing_lost()

    def test_duplicate_class_names_in_one_module(self, baseline: Baseline) -> None:
        """Two classes of one name in a module give one job, the later definition, as Python binds it."""
        text = HEADER + (
            "class Twice(Job):\n    class Meta:\n        description = 'first'\n\n\n"
            "class Twice(Job):\n    class Meta:\n        description = 'second'\n"
        )
        summary = baseline.sync({"jobs/twice.py": text})
        assert summary.added == ["netops:jobs.twice.Twice"]
        job = baseline.catalog.job("netops:jobs.twice.Twice")
        assert job["description"] == "second" and job["line"] == 9
        baseline.assert_nothing_lost()

    def test_class_inheriting_from_both_receivers(self, baseline: Baseline) -> None:
        """A class deriving from JobHookReceiver and JobButtonReceiver is refused, in one line."""
        text = (
            "from nautobot.apps.jobs import JobButtonReceiver, JobHookReceiver\n\n\n"
            "class Both(JobHookReceiver, JobButtonReceiver):\n    pass\n"
        )
        summary = baseline.sync({"jobs/both.py": text})
        problem = assert_reported(
            summary, baseline.catalog, "jobs/both.py", "both JobHookReceiver and JobButtonReceiver"
        )
        assert problem.line == 4 and summary.added == []
        baseline.assert_nothing_lost()

    def test_circular_base_classes_across_modules(self, baseline: Baseline) -> None:
        """Classes whose bases form a cycle across two modules are reported, without looping."""
        summary = baseline.sync(
            {
                "jobs/ping.py": HEADER + "from jobs.pong import Pong\n\n\nclass Ping(Pong, Job):\n    pass\n",
                "jobs/pong.py": HEADER + "from jobs.ping import Ping\n\n\nclass Pong(Ping):\n    pass\n",
            }
        )
        assert_reported(summary, baseline.catalog, "jobs/ping.py", "circular chain of base classes")
        assert_reported(summary, baseline.catalog, "jobs/pong.py", "circular chain of base classes")
        assert summary.added == []
        baseline.assert_nothing_lost()


class TestRegistration:
    def test_register_jobs_of_an_undefined_name(self, baseline: Baseline) -> None:
        """``register_jobs(Backup, Restore, Missing)`` reports Missing at the call; the real jobs stay."""
        summary = baseline.sync({"jobs/good.py": GOOD_REGISTERED.replace("Restore)", "Restore, Missing)")})
        problem = assert_reported(summary, baseline.catalog, "jobs/good.py", "Missing does not name a class")
        assert problem.line == GOOD_REGISTERED.count("\n")
        assert summary.uninstalled == []
        baseline.assert_nothing_lost()

    def test_register_jobs_of_a_computed_list(self, baseline: Baseline) -> None:
        """``register_jobs(*some_list)`` of a computed list is reported, and the source's jobs keep their state."""
        text = GOOD.replace("import Job\n", "import Job, register_jobs\n") + (
            "\n\nsome_list = build_job_list()\nregister_jobs(*some_list)\n"
        )
        summary = baseline.sync({"jobs/good.py": text})
        assert_reported(summary, baseline.catalog, "jobs/good.py", "*some_list", "without running code")
        assert summary.uninstalled == []
        baseline.assert_nothing_lost()

    def test_jobs_assigned_from_a_function_call(self, baseline: Baseline) -> None:
        """``jobs = some_function()`` is reported, and the module's known jobs keep their state."""
        summary = baseline.sync({"jobs/good.py": GOOD + "\n\njobs = some_function()\n"})
        problem = assert_reported(summary, baseline.catalog, "jobs/good.py", "not a literal list")
        assert problem.line == GOOD.count("\n") + 3
        assert summary.uninstalled == []
        baseline.assert_nothing_lost()


# -- Meta values and names -------------------------------------------------------------------------


class TestMeta:
    @pytest.mark.parametrize(
        ("lines", "field_name", "default", "says"),
        [
            (("description = f'v{1 + 1}'",), "description", "", "not a constant expression (an f-string"),
            (("time_limit = compute_limit()",), "time_limit", 0, "not a constant expression (a call)"),
            (("hidden = 'yes'",), "hidden", False, "takes true or false"),
            (("task_queues = 'default'",), "task_queues", [], "list of strings"),
            (("time_limit = " + "9" * 40,), "time_limit", 0, "over the 2147483647-second maximum"),
            (("soft_time_limit = -5",), "soft_time_limit", 0, ">= 0"),
            (("time_limit = -1.5",), "time_limit", 0, ">= 0"),
        ],
        ids=[
            "f-string",
            "call",
            "wrong-type-bool",
            "wrong-type-list",
            "huge-int",
            "negative-int",
            "negative-float",
        ],
    )
    def test_unusable_meta_value_gets_the_default_and_a_warning(
        self, baseline: Baseline, lines: tuple[str, ...], field_name: str, default: object, says: str
    ) -> None:
        """A Meta value that is not a usable constant gets the default and a warning naming file and line."""
        summary = baseline.sync({"jobs/m.py": meta_module(*lines)})
        problem = assert_reported(summary, baseline.catalog, "jobs/m.py", f"Meta.{field_name} of M", says)
        assert problem.line == 6
        assert summary.added == ["netops:jobs.m.M"]
        assert dict(baseline.catalog.job("netops:jobs.m.M"))[field_name] == default
        baseline.assert_nothing_lost()

    def test_soft_limit_not_below_hard_limit_warns_and_keeps_values(self, baseline: Baseline) -> None:
        """soft_time_limit >= time_limit in source is a warning; the job keeps both values as written."""
        summary = baseline.sync({"jobs/m.py": meta_module("soft_time_limit = 30", "time_limit = 20")})
        assert_reported(summary, baseline.catalog, "jobs/m.py", "soft_time_limit (30)", "time_limit (20)")
        job = baseline.catalog.job("netops:jobs.m.M")
        assert (job["soft_time_limit"], job["time_limit"]) == (30, 20)
        baseline.assert_nothing_lost()

    def test_name_over_100_characters(self, baseline: Baseline) -> None:
        """A Meta.name over 100 characters is refused with a warning; the job takes its class name."""
        summary = baseline.sync({"jobs/m.py": meta_module(f"name = '{'n' * 101}'")})
        assert_reported(summary, baseline.catalog, "jobs/m.py", "101 characters", "at most 100")
        assert baseline.catalog.job("netops:jobs.m.M")["name"] == "M"
        baseline.assert_nothing_lost()


class TestDuplicateNames:
    def test_duplicate_job_names_across_modules(self, baseline: Baseline) -> None:
        """A second module's Backup is named ``Backup (2)`` and the sync says so; the first keeps its name."""
        summary = baseline.sync({"jobs/other.py": job_module("Backup")})
        assert_reported(
            summary, baseline.catalog, "jobs/other.py", "'Backup' is already used", "'Backup (2)'"
        )
        assert baseline.catalog.job("netops:jobs.other.Backup")["name"] == "Backup (2)"
        baseline.assert_nothing_lost()

    def test_duplicate_job_names_across_sources(self, baseline: Baseline, tmp_path: Path) -> None:
        """Another source's Backup is named ``Backup (2)`` and its sync says so; netops' Backup is untouched."""
        other = GitRepo(tmp_path / "other")
        other.write("jobs/good.py", job_module("Backup"))
        other.commit("same name")
        summary = baseline.catalog.resync(other.url, name="other")
        assert summary.added == ["other:jobs.good.Backup"]
        assert_reported(summary, baseline.catalog, "jobs/good.py", "'Backup' is already used", "'Backup (2)'")
        assert baseline.catalog.job("other:jobs.good.Backup")["name"] == "Backup (2)"
        baseline.assert_nothing_lost()


# -- refs and remotes ------------------------------------------------------------------------------


class TestRefs:
    def test_empty_repository(self, baseline: Baseline, tmp_path: Path) -> None:
        """A repository without commits is a one-line BadRef error; nothing else changes."""
        empty = GitRepo(tmp_path / "empty")
        with pytest.raises(GitError) as caught:
            baseline.catalog.resync(empty.url, name="empty")
        assert_failed_sync(baseline.catalog, caught.value, "empty", "BadRef", "has no commits")
        baseline.assert_nothing_lost()

    def test_branch_without_commits(self, baseline: Baseline) -> None:
        """``--branch`` of a branch that does not exist is a one-line BadRef naming the real branches."""
        assert baseline.repo is not None
        with pytest.raises(GitError) as caught:
            baseline.catalog.resync(baseline.repo.url, name="nobranch", branch="nope")
        assert_failed_sync(
            baseline.catalog, caught.value, "nobranch", "BadRef", "'nope' not found", "(branches: main)"
        )
        baseline.assert_nothing_lost()

    def test_branch_deleted_upstream(self, baseline: Baseline) -> None:
        """A followed branch deleted upstream fails the next sync in one line; its jobs stay as they were."""
        repo = baseline.repo
        assert repo is not None
        repo.git("checkout", "-q", "-b", "feature")
        repo.write("jobs/feature.py", job_module("Feature"))
        commit = repo.commit("feature job")
        first = baseline.catalog.resync(repo.url, name="feat", branch="feature")
        assert "feat:jobs.feature.Feature" in first.added
        before = baseline.catalog.job("feat:jobs.feature.Feature")
        repo.git("checkout", "-q", "main")
        repo.git("branch", "-D", "feature")
        with pytest.raises(GitError) as caught:
            baseline.catalog.resync("feat")
        assert_failed_sync(baseline.catalog, caught.value, "feat", "BadRef", "'feature' not found")
        assert baseline.catalog.job("feat:jobs.feature.Feature") == before
        assert baseline.catalog.source("feat")["last_commit"] == commit
        baseline.assert_nothing_lost()

    def test_force_push_that_rewrites_history(self, baseline: Baseline) -> None:
        """After history is rewritten (old commits gone upstream), the catalog follows the new tree."""
        repo = baseline.repo
        assert repo is not None
        repo.git("checkout", "-q", "--orphan", "rewritten")
        repo.git("rm", "-q", "-r", "--cached", ".")
        repo.write(
            "jobs/good.py", GOOD.replace("class Restore(Job):\n    pass\n", "") + job_module("Rebuilt")
        )
        repo.commit("rewritten history")
        repo.git("branch", "-M", "rewritten", "main")
        repo.git("reflog", "expire", "--expire=now", "--all")
        repo.git("gc", "-q", "--prune=now")
        gone = subprocess.run(
            ["git", "-C", str(repo.path), "cat-file", "-e", baseline.commit], capture_output=True
        )
        assert gone.returncode != 0, "the old commit should be gone upstream"
        summary = baseline.catalog.resync("netops")
        assert summary.commit == repo.git("rev-parse", "HEAD")
        assert summary.added == ["netops:jobs.good.Rebuilt"]
        assert summary.uninstalled == [RESTORE_REF]
        assert baseline.catalog.job(BACKUP_REF) == baseline.jobs[BACKUP_REF]
        restore = baseline.catalog.job(RESTORE_REF)
        assert restore["installed"] is False and restore["deleted"] is False
        assert baseline.catalog.replay(verify=True).ok

    def test_tag_instead_of_a_branch(self, baseline: Baseline) -> None:
        """``--branch v1`` naming a tag: jobsync either follows the tag's commit or refuses in one BadRef line."""
        repo = baseline.repo
        assert repo is not None
        repo.git("tag", "v1")
        tagged = repo.git("rev-parse", "v1^{commit}")
        repo.write("jobs/later.py", job_module("Later"))
        repo.commit("after the tag")
        try:
            summary = baseline.catalog.resync(repo.url, name="tagged", branch="v1")
        except (
            GitError
        ) as exc:  # today: a tag is not a branch (tests/integration/test_remotes.py covers tags)
            assert_failed_sync(
                baseline.catalog, exc, "tagged", "BadRef", "'v1' not found", "(branches: main)"
            )
        else:
            assert summary.commit == tagged
            assert "tagged:jobs.later.Later" not in summary.added
        baseline.assert_nothing_lost()

    def test_shallow_remote(self, baseline: Baseline, tmp_path: Path) -> None:
        """A ``git clone --depth 1 --bare`` used as the source syncs its tip's jobs."""
        repo = baseline.repo
        assert repo is not None
        repo.write("jobs/more.py", job_module("More"))
        tip = repo.commit("second commit")
        shallow = tmp_path / "shallow.git"
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--bare", repo.url, str(shallow)], check=True)
        assert (shallow / "shallow").read_text().strip() == tip
        try:
            summary = baseline.catalog.resync(f"file://{shallow}", name="shallow")
        except GitError as exc:
            assert "\n" not in str(exc)  # at least one line, even while it fails
            raise
        assert summary.commit == tip
        assert "shallow:jobs.more.More" in summary.added
        baseline.assert_nothing_lost()

    def test_unreachable_host(self, baseline: Baseline) -> None:
        """A refused connection is a one-line Unreachable error naming the host."""
        with pytest.raises(GitError) as caught:
            baseline.catalog.resync("http://127.0.0.1:1/x.git", name="unreachable")
        assert_failed_sync(baseline.catalog, caught.value, "unreachable", "Unreachable", "127.0.0.1:1")
        baseline.assert_nothing_lost()

    def test_dns_failure(self, baseline: Baseline) -> None:
        """A host name that does not resolve is a one-line Unreachable error naming the host."""
        with pytest.raises(GitError) as caught:
            baseline.catalog.resync("http://nonexistent.invalid/x.git", name="nodns")
        assert_failed_sync(baseline.catalog, caught.value, "nodns", "Unreachable", "nonexistent.invalid")
        baseline.assert_nothing_lost()


# -- the store file itself (SQLite only) ------------------------------------------------------------


class TestStoreFile:
    def test_store_file_that_is_not_a_database(self, tmp_path: Path) -> None:
        """Random bytes in jobsync.db give a one-line StoreError, and the file is left as it was."""
        state = tmp_path / "state"
        state.mkdir()
        garbage = os.urandom(64 * 1024)
        (state / "jobsync.db").write_bytes(garbage)
        with pytest.raises(StoreError) as caught:
            Catalog.open(state_dir=state, actor="tester").close()
        assert "not a database" in str(caught.value) and "\n" not in str(caught.value)
        assert (state / "jobsync.db").read_bytes() == garbage


class TestStoreErrorsInTheLibrary:
    """Issue 12, item 5 in part: a library caller sees only JobSyncError subclasses."""

    def test_a_store_failure_is_a_store_error(self, catalog: Catalog, repo: GitRepo) -> None:
        """A read model dropped behind the catalog's back gives one StoreError line, not sqlite3 or psycopg errors."""
        repo.write("jobs/backup.py", "from nautobot.apps.jobs import Job\n\nclass Backup(Job):\n    pass\n")
        repo.commit()
        catalog.resync(repo.url, name="netops")
        run_sql(catalog, "DROP TABLE {jobs}")
        with pytest.raises(StoreError, match="the store refused the operation") as caught:
            catalog.jobs()
        assert "\n" not in str(caught.value)
        assert "nothing was saved" not in str(caught.value)  # a write may have committed before
