"""Fixtures shared by every test layer: real git repositories, and a real store of each kind.

Every test that takes ``catalog`` (or ``store_url``) runs twice: on an SQLite file and on a
PostgreSQL database of a server this test session starts itself (tests/postgres.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobsync import Catalog
from tests.helpers import GitRepo
from tests.postgres import PostgresServer


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    """An empty Git repository on branch ``main``."""
    return GitRepo(tmp_path / "netops")


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server per test process (each xdist worker starts its own)."""
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, state_dir: Path) -> str:
    """A fresh, empty store: an SQLite file in the state folder, or a new PostgreSQL database."""
    if request.param == "sqlite":
        state_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{state_dir / 'jobsync.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())


@pytest.fixture
def catalog(state_dir: Path, store_url: str) -> Iterator[Catalog]:
    """A catalog on a fresh store, acting as ``tester``."""
    with Catalog.open(store=store_url, state_dir=state_dir, actor="tester") as opened:
        yield opened


def run_sql(catalog: Catalog, statement: str, params: tuple[object, ...] = ()) -> None:
    """Change the read models behind the catalog's back (``{jobs}``-style table names, ``?`` marks)."""
    views = catalog._views
    with views.datastore.transaction(commit=True) as cursor:
        cursor.execute(views.sql(statement), params)
