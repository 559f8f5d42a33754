"""Shared test helpers: real Git repositories made with the git CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Keep the developer's ~/.gitconfig and /etc/gitconfig (signing, hooks, templates) out of tests.
_GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def job_module(*classes: str, description: str = "plain") -> str:
    """A job file: each class a Job whose Meta sets ``description``."""
    lines = ["from nautobot.apps.jobs import Job", ""]
    for name in classes:
        lines += ["", f"class {name}(Job):", "    class Meta:", f'        description = "{description}"', ""]
    return "\n".join(lines)


class GitRepo:
    """A real Git repository made with the git CLI, for tests."""

    def __init__(self, path: Path, branch: str = "main") -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", branch)
        self.git("config", "user.name", "Test Author")
        self.git("config", "user.email", "author@example.com")
        self.git("config", "commit.gpgsign", "false")

    @property
    def url(self) -> str:
        """The repository as a ``file://`` URL."""
        return "file://" + str(self.path.resolve())

    def git(self, *args: str) -> str:
        """Run git in the repository and return its stripped stdout; a failure fails the test."""
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            check=True,
            capture_output=True,
            text=True,
            env=_GIT_ENV,
        )
        return done.stdout.strip()

    def write(self, relpath: str, text: str | bytes) -> None:
        """Write a file in the work tree, creating its folders; text is written as UTF-8 with ``\\n``."""
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8", newline="")

    def remove(self, relpath: str) -> None:
        """Delete a file from the work tree (the next commit records it)."""
        (self.path / relpath).unlink()

    def commit(self, message: str = "change", author: str | None = None, committer: str | None = None) -> str:
        """Stage everything and commit (even when nothing changed); return the new HEAD sha.

        ``author`` and ``committer`` read ``Name <email>``; by default both are the test author.
        """
        self.git("add", "-A")
        who: list[str] = []
        if committer is not None:
            name, _, email = committer.partition(" <")
            who = ["-c", f"user.name={name}", "-c", f"user.email={email.rstrip('>')}"]
        self.git(
            *who, "commit", "-q", "--allow-empty", "-m", message, *([f"--author={author}"] if author else [])
        )
        return self.git("rev-parse", "HEAD")


class Cli:
    """Runs ``python -m jobsync`` as a user would, with a config that points at a private state folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.state = tmp_path / "state"
        self.config = tmp_path / "config.toml"
        self.config.write_text(f'state_dir = "{self.state}"\n', encoding="utf-8")
        #: The ``TZ`` the command runs with (None: the test process's own).
        self.tz: str | None = None

    def run(self, *args: str, actor: str = "alice") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "JOBSYNC_DEBUG"}
        if self.tz is not None:
            env["TZ"] = self.tz
        return subprocess.run(
            [sys.executable, "-m", "jobsync", "--config", str(self.config), "--actor", actor, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    def ok(self, *args: str, actor: str = "alice") -> str:
        """Run and require exit code 0; its stdout."""
        done = self.run(*args, actor=actor)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def refs(self, *args: str) -> list[str]:
        """The refs ``jobs list`` prints (as JSON) for these options, in its order."""
        return [record["ref"] for record in self.json("jobs", "list", *args)]


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    """The command failed with ``code`` and said why in exactly one ``error:`` line, no traceback."""
    assert done.returncode == code, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert text in lines[0]
    assert "Traceback" not in done.stderr


def bench_make_repo() -> Callable[[Path, int, int], Path]:
    """``make_repo`` of bench/resync.py (``bench`` is not a package, so it is loaded by path)."""
    path = Path(__file__).resolve().parent.parent / "bench" / "resync.py"
    spec = importlib.util.spec_from_file_location("bench_resync", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    make_repo: Callable[[Path, int, int], Path] = module.make_repo
    return make_repo
