"""Store URLs -> eventsourcing persistence settings (SQLite file now, PostgreSQL later)."""

from __future__ import annotations

from pathlib import Path

from jobsync.domain.errors import StoreError

#: Several processes (CLI, daemon) may share one SQLite file: wait for the lock, don't fail fast.
SQLITE_LOCK_TIMEOUT_SECONDS = 30


def default_store_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'jobsync.db'}"


def store_settings(url: str) -> dict[str, str]:
    """The eventsourcing environment for a store URL; a bad URL is refused in one line."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if path.startswith("//"):
            path = path[1:]
        if not path or path == "/":
            raise StoreError(f"store URL {url!r} names no file; use sqlite:///path/to/jobsync.db")
        db_file = Path(path)
        if db_file.is_dir():
            raise StoreError(f"store {db_file} is a folder, not a database file")
        if not db_file.parent.is_dir():
            raise StoreError(f"store folder {db_file.parent} does not exist")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(db_file),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_SECONDS),
        }
    if url.startswith(("postgresql://", "postgres://")):
        raise StoreError("PostgreSQL stores are not supported yet; use sqlite:///PATH")
    raise StoreError(f"unknown store URL {url!r}; use sqlite:///PATH")
