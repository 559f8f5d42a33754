"""Work locks (the WorkLocks port): PostgreSQL advisory locks for a shared store, lock files beside an SQLite one."""

from __future__ import annotations

import fcntl
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobsync.adapters.store import connect_postgres, store_settings
from jobsync.domain.errors import StoreError
from jobsync.ports import WorkLocks

if TYPE_CHECKING:
    import psycopg  # imported at run time only when a PostgreSQL store is used

#: A waiting holder of a lock file tries again this often (flock itself cannot wait with a deadline).
_FILE_RETRY = 0.05


def work_locks(url: str) -> WorkLocks:
    """The locks every process on the store at ``url`` shares; nothing is opened before the first use."""
    settings = store_settings(url)
    if settings["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        return PostgresWorkLocks(url, settings)
    database = Path(settings["SQLITE_DBNAME"])
    # Not ``jobsync.db-*``: that is where SQLite's own -wal and -journal files are looked for.
    return FileWorkLocks(database.with_name(f"{database.stem}.locks"))


def lock_key(namespace: str, work: str) -> int:
    """The advisory lock key of ``work``: a stable 64-bit hash, signed as PostgreSQL's bigint is.

    ``namespace`` (the store's schema) keeps two catalogs in one database apart; the hash's own
    personalisation keeps jobsync's keys apart from other programs' and from the set-up lock.
    """
    digest = hashlib.blake2b(f"{namespace}\0{work}".encode(), digest_size=8, person=b"jobsync-work").digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresWorkLocks:
    """Session advisory locks on one connection of this process's own, opened at the first use.

    The server lets go of a session's locks when its connection ends, so a daemon that dies (or
    loses its connection) never keeps a source. Should that happen mid-sync, another daemon may
    start the same sync: the versioned save still keeps the log free of duplicates (docs/design.md §5).
    """

    def __init__(self, url: str, settings: dict[str, str]) -> None:
        self._url = url
        self._settings = settings
        self._namespace = settings.get("POSTGRES_SCHEMA") or "public"
        self._connection: psycopg.Connection[Any] | None = None
        self._held: set[str] = set()
        self._guard = threading.Lock()

    @contextmanager
    def holding(self, work: str, wait: float = 0.0) -> Iterator[bool]:
        with self._guard:
            # A session's advisory locks nest: without this, a second holder in this process would get it too.
            mine = work not in self._held
            self._held.add(work)
        if not mine:
            yield False
            return
        try:
            key = lock_key(self._namespace, work)
            held = self._acquire(key, wait)
            try:
                yield held
            finally:
                if held:
                    self._release(key)
        finally:
            with self._guard:
                self._held.discard(work)

    def _acquire(self, key: int, wait: float) -> bool:
        import psycopg

        reused = self._connection is not None and not self._connection.closed
        try:
            return _advisory_lock(self._session(), key, wait)
        except psycopg.Error as exc:
            self.close()
            if not (reused and isinstance(exc, psycopg.OperationalError)):
                raise _lock_error(exc) from None
        # The kept connection was dropped while idle (a server restart, a proxy's timeout): it held
        # no lock any more, so a new one asks afresh, once.
        try:
            return _advisory_lock(self._session(), key, wait)
        except psycopg.Error as exc:
            self.close()
            raise _lock_error(exc) from None

    def _release(self, key: int) -> None:
        import psycopg

        try:
            if self._connection is not None:
                self._connection.execute("SELECT pg_advisory_unlock(%s)", (key,))
        except psycopg.Error:
            self.close()  # the session, and every lock it held, is gone with the connection

    def _session(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = connect_postgres(self._url, self._settings)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _advisory_lock(connection: psycopg.Connection[Any], key: int, wait: float) -> bool:
    """Take the session lock ``key``: at once or not at all, or waiting up to ``wait`` seconds."""
    import psycopg

    if wait <= 0:
        row = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])
    # A real wait, in the server's queue: a person's resync comes before the daemons' next tries.
    timeout = f"{max(1, round(wait * 1000))}ms"
    connection.execute("SELECT set_config('lock_timeout', %s, false)", (timeout,))
    try:
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
    except psycopg.errors.LockNotAvailable:
        return False
    finally:
        connection.execute("SELECT set_config('lock_timeout', '0', false)")
    return True


def _lock_error(exc: Exception) -> StoreError:
    return StoreError(f"cannot take a work lock: {' '.join(str(exc).split())}")


class FileWorkLocks:
    """One lock file per piece of work in a folder beside the SQLite database, held with ``flock``.

    Every process that uses the database file -- the CLI and the daemon of its host -- finds the
    same folder; the kernel lets go of a lock when its holder's file is closed, or its holder dies.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def holding(self, work: str, wait: float = 0.0) -> Iterator[bool]:
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            handle = open(self.folder / f"{hashlib.sha256(work.encode()).hexdigest()[:32]}.lock", "a")  # noqa: SIM115
        except OSError as exc:
            raise StoreError(f"cannot take a work lock in {self.folder}: {exc.strerror}") from None
        with handle:
            yield _flock(handle.fileno(), wait)

    def close(self) -> None:
        """Nothing stays open between holds."""


def _flock(descriptor: int, wait: float) -> bool:
    """Take an exclusive lock on the open file, trying until ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(_FILE_RETRY)
        else:
            return True
