"""Shared test helpers: real Git repositories made with the git CLI."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Keep the developer's ~/.gitconfig and /etc/gitconfig (signing, hooks, templates) out of tests.
_GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


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

    def commit(self, message: str = "change") -> str:
        """Stage everything and commit (even when nothing changed); return the new HEAD sha."""
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")
