"""Fixtures shared by every test layer: real git repositories and a real SQLite catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsync import Catalog
from tests.helpers import GitRepo


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """An empty Git repository on branch ``main``."""
    return GitRepo(tmp_path / "netops")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def catalog(state_dir: Path) -> Iterator[Catalog]:
    """A catalog on a fresh SQLite file, acting as ``tester``."""
    with Catalog.open(state_dir=state_dir, actor="tester") as opened:
        yield opened
