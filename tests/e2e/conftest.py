"""Fixtures every end-to-end test of the ``jobsync`` command shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The command as a user runs it, with a private state folder under ``tmp_path``."""
    return Cli(tmp_path)
