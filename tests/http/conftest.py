"""Fixtures of the HTTP tests: a catalog with jobs, served by the real uvicorn on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jobsync import Catalog
from jobsync.http.auth import Tokens
from jobsync.http.context import HttpContext
from jobsync.http.metrics import Metrics
from jobsync.http.server import HttpServer
from tests.helpers import GitRepo, job_module

#: The token the tests' tokens file holds, and its label.
TOKEN = "s3cret-token-for-tests"
LABEL = "tester"


@dataclass
class Served:
    """A running server over ``catalog``: ``client`` carries the token, ``anonymous`` does not."""

    catalog: Catalog
    server: HttpServer
    repo: GitRepo
    client: httpx.Client
    anonymous: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def write_tokens(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(["# label token", *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def synced_repo(repo: GitRepo) -> GitRepo:
    """A repository with two job modules, committed."""
    repo.write("jobs/backup.py", job_module("Backup", "Restore", description="configs"))
    repo.write("jobs/audit.py", job_module("Audit", description="compliance"))
    repo.commit("first jobs")
    return repo


@pytest.fixture
def served(tmp_path: Path, state_dir: Path, synced_repo: GitRepo) -> Iterator[Served]:
    """An SQLite catalog that synced ``synced_repo`` as ``netops``, served with a tokens file."""
    tokens = write_tokens(tmp_path / "tokens", f"{LABEL} {TOKEN}")
    with Catalog.open(state_dir=state_dir, actor="tester") as catalog:
        catalog.resync(synced_repo.url, name="netops")
        context = HttpContext(catalog, Tokens.load(tokens), Metrics(catalog))
        server = HttpServer(context, "127.0.0.1", 0)
        server.start()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            with (
                httpx.Client(base_url=server.url, headers=headers, timeout=10) as client,
                httpx.Client(base_url=server.url, timeout=10) as anonymous,
            ):
                yield Served(catalog, server, synced_repo, client, anonymous)
        finally:
            server.stop()
