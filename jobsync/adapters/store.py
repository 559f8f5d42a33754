"""Store URLs -> eventsourcing persistence settings: one SQLite file, or a shared PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from eventsourcing.persistence import InfrastructureFactory

from jobsync.domain.errors import StoreError
from jobsync.projections import CatalogViews, SQLiteCatalogViews, SQLiteScratchViews

if TYPE_CHECKING:
    import psycopg  # imported at run time only when a PostgreSQL store is used

#: Several processes (CLI, daemon) may share one SQLite file: wait for the lock, don't fail fast.
SQLITE_LOCK_TIMEOUT_SECONDS = 30


def default_store_url(state_dir: Path) -> str:
    return f"sqlite:///{state_dir / 'jobsync.db'}"


def store_settings(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
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
            # Saves write the read models in their own transaction (projections.py).
            "APPLICATION_RECORDER_TOPIC": "jobsync.projections:ProjectingSQLiteRecorder",
        }
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres_settings(url, environ if environ is not None else os.environ)
    raise StoreError(f"unknown store URL {redact_password(url)!r}; use sqlite:///PATH or postgresql://...")


#: Query parameters a PostgreSQL store URL may carry, and the eventsourcing setting each fills.
_PG_OPTIONS = {
    "schema": "POSTGRES_SCHEMA",
    "pool_size": "POSTGRES_POOL_SIZE",
    "max_overflow": "POSTGRES_MAX_OVERFLOW",
    "connect_timeout": "POSTGRES_CONNECT_TIMEOUT",
    "lock_timeout": "POSTGRES_LOCK_TIMEOUT",
}


#: A schema name every layer takes as it is: eventsourcing looks its types up by the unquoted name.
_PLAIN_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _postgres_settings(url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``postgresql://user[:password]@host[:port]/db?schema=s&pool_size=n&password_file=f``.

    The password comes from the URL, else ``password_file`` (a path, or a name under systemd's
    ``$CREDENTIALS_DIRECTORY``), else ``$PGPASSWORD``. Large syncs stay one transaction through
    eventsourcing's database functions (its default insert path hangs on saves of ~2,500 events).
    """
    if find_spec("psycopg") is None:
        raise StoreError("a postgresql:// store needs the PostgreSQL driver: pip install 'jobsync[postgres]'")
    parts = urlsplit(url)
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - set(_PG_OPTIONS) - {"password_file"})
    if unknown:
        raise StoreError(
            f"store URL option {unknown[0]!r} is unknown; known: password_file, {', '.join(_PG_OPTIONS)}"
        )
    database = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not database or not parts.username:
        raise StoreError(f"store URL {redact_password(url)} needs a user, a host and a database name")
    try:
        port = parts.port or 5432
    except ValueError:
        raise StoreError(f"store URL {redact_password(url)} has a bad port") from None
    password = unquote(parts.password) if parts.password else _password_from_file(options, environ)
    password = password or environ.get("PGPASSWORD", "")
    settings = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database,
        "POSTGRES_HOST": parts.hostname,
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username),
        "POSTGRES_PASSWORD": password,
        "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
        # Imported only when a PostgreSQL store is used (jobsync/postgres.py).
        "APPLICATION_RECORDER_TOPIC": "jobsync.postgres:SerialPostgresApplicationRecorder",
        "POSTGRES_CONNECT_TIMEOUT": "10",
    }
    for key, setting in _PG_OPTIONS.items():
        if key in options:
            value = options[key][-1]
            if key == "schema" and not _PLAIN_SCHEMA.fullmatch(value):
                raise StoreError(
                    f"store URL option schema must be a plain lower-case name (letters, digits, _), not {value!r}"
                )
            if key != "schema" and not value.isdigit():
                raise StoreError(f"store URL option {key} must be a whole number, not {value!r}")
            settings[setting] = value
    return settings


def read_models(
    settings: Mapping[str, str],
) -> tuple[
    Callable[[InfrastructureFactory[Any]], CatalogViews], Callable[[InfrastructureFactory[Any]], CatalogViews]
]:
    """Makers of the live read models and of replay's scratch set, in the SQL of the store's database."""
    if settings.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        from jobsync.postgres import PostgresCatalogViews, PostgresScratchViews  # only for PostgreSQL stores

        live: type[CatalogViews] = PostgresCatalogViews
        scratch: type[CatalogViews] = PostgresScratchViews
    else:
        live, scratch = SQLiteCatalogViews, SQLiteScratchViews

    def maker(views: type[CatalogViews]) -> Callable[[InfrastructureFactory[Any]], CatalogViews]:
        def make(factory: InfrastructureFactory[Any]) -> CatalogViews:
            made: CatalogViews = factory.tracking_recorder(views)
            return made

        return make

    return maker(live), maker(scratch)


@contextmanager
def opening(url: str, settings: Mapping[str, str]) -> Iterator[None]:
    """Hold the store's set-up lock while an application creates its tables and functions.

    For PostgreSQL: connect once first, so a wrong password or a down server gives its real reason
    in one line at once (the pool would only say it timed out), then take an advisory lock, so
    daemons started together do not race on ``CREATE TABLE`` / ``CREATE OR REPLACE FUNCTION``.
    For SQLite: a file made here is private (it holds run arguments and operator names); SQLite
    gives its -wal and -shm files the same mode.
    """
    if settings.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        db_file = Path(settings["SQLITE_DBNAME"])
        created = not db_file.exists()
        yield
        if created and db_file.exists():
            db_file.chmod(0o600)
        return
    import psycopg
    from psycopg.sql import SQL, Identifier

    with connect_postgres(url, settings) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            schema = settings.get("POSTGRES_SCHEMA", "public")
            if (
                connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
                is None
            ):
                try:
                    connection.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(schema)))
                except psycopg.Error as exc:
                    raise StoreError(
                        f"cannot create schema {schema!r} in {redact_password(url)}: {' '.join(str(exc).split())}"
                    ) from None
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


def connect_postgres(url: str, settings: Mapping[str, str]) -> psycopg.Connection[Any]:
    """One autocommit connection to the store's server; a failure is one StoreError line with its real reason."""
    import psycopg

    try:
        return psycopg.connect(
            dbname=settings["POSTGRES_DBNAME"],
            host=settings["POSTGRES_HOST"],
            port=int(settings["POSTGRES_PORT"]),
            user=settings["POSTGRES_USER"],
            password=settings["POSTGRES_PASSWORD"],
            connect_timeout=int(settings.get("POSTGRES_CONNECT_TIMEOUT", "10")),
            autocommit=True,
        )
    except psycopg.Error as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = next(
            (line for line in reversed(lines) if "FATAL" in line or "failed" in line),
            lines[-1] if lines else "",
        )
        reason = (
            reason.replace(settings["POSTGRES_PASSWORD"], "***") if settings["POSTGRES_PASSWORD"] else reason
        )
        raise StoreError(f"cannot connect to {redact_password(url)}: {reason}") from None


#: The advisory lock key that serialises table and function creation ("jobsync" in ASCII).
_SETUP_LOCK = int.from_bytes(b"jobsync", "big")


def _password_from_file(options: Mapping[str, list[str]], environ: Mapping[str, str]) -> str:
    if "password_file" not in options:
        return ""
    name = options["password_file"][-1]
    path = Path(name)
    if not path.is_absolute() and environ.get("CREDENTIALS_DIRECTORY"):
        path = Path(environ["CREDENTIALS_DIRECTORY"]) / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise StoreError(f"cannot read the store password file {path}: {exc.strerror}") from None


def redact_password(url: str) -> str:
    """A store URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
