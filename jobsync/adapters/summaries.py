"""Per-file discovery summaries kept in an SQLite file under the state dir, as JSON (never pickle).

Nothing read back from here can run code: a summary is plain lists, strings and numbers, decoded
into the domain's frozen dataclasses. The file is derived data: deleting it costs one full parse.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from jobsync.domain.discovery import (
    SUMMARY_VERSION,
    Binding,
    ClassSummary,
    MetaEntry,
    MetaSummary,
    MetaView,
    ModuleEntry,
    ModuleSummary,
    NameRef,
    Problem,
    RegisterCall,
    Registration,
)
from jobsync.ports import KeepRegistration, SummaryIndex

T = TypeVar("T")

#: Seconds a writer waits for another process (the daemon, a CLI call) holding the file.
_LOCK_TIMEOUT = 30.0
#: Bump when the tables change shape: a file of another format is emptied and rebuilt (it is derived).
_FORMAT = 6
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS summary_sources (source TEXT PRIMARY KEY, filters TEXT NOT NULL, "
    "version INTEGER NOT NULL, commit_id TEXT NOT NULL, problems TEXT NOT NULL, registration TEXT)",
    # An index entry is plain columns (refs space-separated): every sync reads all of a source's.
    "CREATE TABLE IF NOT EXISTS summary_files (source TEXT NOT NULL, path TEXT NOT NULL, "
    "sha TEXT NOT NULL, module_name TEXT NOT NULL, error TEXT, flags INTEGER NOT NULL, "
    "refs TEXT NOT NULL, summary TEXT NOT NULL, PRIMARY KEY (source, path))",
    "CREATE TABLE IF NOT EXISTS summary_registration_facts (source TEXT NOT NULL, module TEXT NOT NULL, "
    "facts TEXT NOT NULL, PRIMARY KEY (source, module))",
)


class SQLiteSummaryStore:
    """The summary store of one host: ``state_dir/summaries.db``, shared by its CLI calls and daemon."""

    def __init__(self, path: Path, lock_timeout: float = _LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._db: sqlite3.Connection | None = None
        # One connection, used by whichever thread asks (the daemon's loop, an HTTP worker's explain),
        # one at a time.
        self._lock = threading.RLock()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            created = not self.path.exists()
            db = sqlite3.connect(
                self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False
            )
            if created:
                self.path.chmod(0o600)  # it describes private code; SQLite's -wal and -shm follow
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # derived data: a lost write costs a re-parse
            db.execute("BEGIN IMMEDIATE")
            if db.execute("PRAGMA user_version").fetchone()[0] != _FORMAT:
                db.execute("DROP TABLE IF EXISTS summary_sources")
                db.execute("DROP TABLE IF EXISTS summary_files")
                db.execute("DROP TABLE IF EXISTS summary_registration_facts")
                db.execute(f"PRAGMA user_version = {_FORMAT}")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("COMMIT")
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _guarded(self, operation: Callable[[sqlite3.Connection], T], fallback: T) -> T:
        """Run ``operation``; a file that fails is derived data, so the sync goes on without it.

        A damaged file (not a database, malformed) is deleted and starts afresh next time; a locked,
        read-only or full one is left alone. Either way the sync reads what it cannot trust again.
        """
        with self._lock:
            try:
                return operation(self._connection())
            except sqlite3.Error as exc:
                self.close()
                if not isinstance(exc, sqlite3.OperationalError):
                    for path in (
                        self.path,
                        *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm")),
                    ):
                        path.unlink(missing_ok=True)
                return fallback

    def index(self, source: str, filters: str) -> SummaryIndex | None:
        return self._guarded(lambda db: self._index(db, source, filters), None)

    def load(self, source: str, wanted: Mapping[str, str]) -> dict[str, ModuleSummary]:
        return self._guarded(lambda db: self._load(db, source, wanted), {})

    def save(
        self,
        source: str,
        filters: str,
        commit: str,
        changed: Sequence[tuple[ModuleEntry, ModuleSummary]],
        removed: Collection[str],
        problems: Sequence[Problem],
        registration: Registration | KeepRegistration | None,
        based_on: str | None,
    ) -> None:
        def save(db: sqlite3.Connection) -> None:
            self._save(db, source, filters, commit, changed, removed, problems, registration, based_on)

        self._guarded(save, None)

    def registration_facts(
        self, source: str, modules: Collection[str]
    ) -> tuple[tuple[str, str, str, str], ...] | None:
        return self._guarded(lambda db: self._registration_facts(db, source, modules), None)

    def _index(self, db: sqlite3.Connection, source: str, filters: str) -> SummaryIndex | None:
        row = db.execute(
            "SELECT filters, version, commit_id, problems, registration FROM summary_sources WHERE source = ?",
            (source,),
        ).fetchone()
        if row is None or row[0] != filters or row[1] != SUMMARY_VERSION:
            return None
        entries = {
            row[0]: _entry_from_row(*row)
            for row in db.execute(
                "SELECT path, sha, module_name, error, flags, refs FROM summary_files WHERE source = ?",
                (source,),
            ).fetchall()
        }
        problems = tuple(p for p in map(_problem, json.loads(row[3])) if p is not None)
        registration = _registration(json.loads(row[4])) if row[4] else None
        return SummaryIndex(commit=row[2], entries=entries, problems=problems, registration=registration)

    def _load(
        self, db: sqlite3.Connection, source: str, wanted: Mapping[str, str]
    ) -> dict[str, ModuleSummary]:
        paths = list(wanted)
        found: dict[str, ModuleSummary] = {}
        for start in range(0, len(paths), 500):
            chunk = paths[start : start + 500]
            rows = db.execute(
                "SELECT path, sha, summary FROM summary_files WHERE source = ? AND path IN "
                f"({','.join('?' * len(chunk))})",
                (source, *chunk),
            ).fetchall()
            found.update((path, decode_summary(text)) for path, sha, text in rows if wanted[path] == sha)
        return found

    def _save(
        self,
        db: sqlite3.Connection,
        source: str,
        filters: str,
        commit: str,
        changed: Sequence[tuple[ModuleEntry, ModuleSummary]],
        removed: Collection[str],
        problems: Sequence[Problem],
        registration: Registration | KeepRegistration | None,
        based_on: str | None,
    ) -> None:
        rows = [(source, *_entry_row(entry), encode_summary(summary)) for entry, summary in changed]
        db.execute("BEGIN IMMEDIATE")
        try:
            if based_on is not None:
                stored = db.execute(
                    "SELECT commit_id FROM summary_sources WHERE source = ?", (source,)
                ).fetchone()
                if stored is None or stored[0] != based_on:
                    db.execute("ROLLBACK")  # another process moved them on: its update stands
                    return
            if based_on is None:
                db.execute("DELETE FROM summary_files WHERE source = ?", (source,))
            else:
                db.executemany(
                    "DELETE FROM summary_files WHERE source = ? AND path = ?", [(source, p) for p in removed]
                )
            db.executemany("INSERT OR REPLACE INTO summary_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if isinstance(registration, KeepRegistration):
                kept = db.execute(
                    "SELECT registration FROM summary_sources WHERE source = ?", (source,)
                ).fetchone()
                registered = kept[0] if kept else None
            else:
                registered = None if registration is None else json.dumps(_registration_plain(registration))
                db.execute("DELETE FROM summary_registration_facts WHERE source = ?", (source,))
                if registration is not None:
                    by_module: dict[str, list[tuple[str, str, str]]] = {}
                    for kind, module, name, fingerprint in registration.looked_at:
                        by_module.setdefault(module, []).append((kind, name, fingerprint))
                    db.executemany(
                        "INSERT INTO summary_registration_facts VALUES (?, ?, ?)",
                        [(source, module, json.dumps(facts)) for module, facts in by_module.items()],
                    )
            db.execute(
                "INSERT OR REPLACE INTO summary_sources VALUES (?, ?, ?, ?, ?, ?)",
                (
                    source,
                    filters,
                    SUMMARY_VERSION,
                    commit,
                    json.dumps([_problem_plain(p) for p in problems]),
                    registered,
                ),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _registration_facts(
        self, db: sqlite3.Connection, source: str, modules: Collection[str]
    ) -> tuple[tuple[str, str, str, str], ...]:
        wanted = sorted(modules)
        found: list[tuple[str, str, str, str]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = db.execute(
                "SELECT module, facts FROM summary_registration_facts WHERE source = ? AND module IN "
                f"({','.join('?' * len(chunk))})",
                (source, *chunk),
            ).fetchall()
            found += [
                (kind, module, name, fp) for module, facts in rows for kind, name, fp in json.loads(facts)
            ]
        return tuple(found)


# -- JSON form ----------------------------------------------------------------------------------------
# Positional lists keep the file small and the decoding a few tuple() calls per object.

_Plain = list[Any]


def encode_summary(summary: ModuleSummary) -> str:
    """A summary as compact JSON text."""
    return json.dumps(_summary_plain(summary), separators=(",", ":"))


def decode_summary(text: str) -> ModuleSummary:
    """The summary ``encode_summary`` wrote."""
    return _summary_from_plain(json.loads(text))


def _problem_plain(problem: Problem | None) -> _Plain | None:
    return None if problem is None else [problem.file, problem.line, problem.reason, problem.kind]


def _problem(plain: _Plain | None) -> Problem | None:
    return None if plain is None else Problem(plain[0], plain[1], plain[2], plain[3])


def _refs_plain(refs: Sequence[NameRef]) -> _Plain:
    return [[r.text, r.targets, r.is_name, r.starred] for r in refs]


def _refs(plain: _Plain) -> tuple[NameRef, ...]:
    return tuple(NameRef(text, tuple(targets), is_name, starred) for text, targets, is_name, starred in plain)


def _bases(plain: _Plain) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(base) for base in plain)


def _summary_plain(s: ModuleSummary) -> _Plain:
    return [
        s.path,
        s.module_name,
        _problem_plain(s.error),
        [_class_plain(c) for c in s.classes],
        [[b.name, b.kind, b.line, b.targets, _refs_plain(b.items), b.computed] for b in s.bindings],
        s.star_imports,
        [[c.line, c.func, _refs_plain(c.args)] for c in s.register_calls],
        s.grouping,
        _problem_plain(s.grouping_warning),
        s.mentions_register_jobs,
        None if s.grouping_expr is None else _entry_plain(s.grouping_expr),
        s.constants,
        s.rebound,
    ]


def _summary_from_plain(p: _Plain) -> ModuleSummary:
    return ModuleSummary(
        path=p[0],
        module_name=p[1],
        error=_problem(p[2]),
        classes=tuple(_class_from_plain(c) for c in p[3]),
        bindings=tuple(
            Binding(n, k, line, tuple(t), _refs(items), computed) for n, k, line, t, items, computed in p[4]
        ),
        star_imports=tuple(p[5]),
        register_calls=tuple(RegisterCall(line, tuple(func), _refs(args)) for line, func, args in p[6]),
        grouping=p[7],
        grouping_warning=_problem(p[8]),
        mentions_register_jobs=p[9],
        grouping_expr=None if p[10] is None else _entry(p[10]),
        constants=tuple((name, _tupled(expr)) for name, expr in p[11]),
        rebound=tuple((name, count) for name, count in p[12]),
    )


def _tupled(plain: Any) -> Any:
    """JSON lists back into the tuples that constant expressions and their values are made of."""
    return tuple(map(_tupled, plain)) if isinstance(plain, list) else plain


def _entry_plain(e: MetaEntry) -> _Plain:
    return [e.key, e.value, e.line, e.warning, e.expr]


def _entry(p: _Plain) -> MetaEntry:
    key, value, line, warning, expr = p
    return MetaEntry(key, tuple(value) if isinstance(value, list) else value, line, warning, _tupled(expr))


def _class_plain(c: ClassSummary) -> _Plain:
    meta = None
    if c.meta is not None:
        m, v = c.meta, c.meta.view
        meta = [
            m.line,
            [_entry_plain(e) for e in m.entries],
            m.bases,
            [v.values, v.queues, v.read_only, [_problem_plain(w) for w in v.warnings]],
        ]
    return [c.name, c.line, c.bases, meta, [_entry_plain(e) for e in c.attributes]]


def _class_from_plain(p: _Plain) -> ClassSummary:
    meta = None
    if p[3] is not None:
        line, entries, bases, (values, queues, read_only, warnings) = p[3]
        view = MetaView(
            tuple((key, value) for key, value in values),
            tuple(queues),
            read_only,
            tuple(w for w in map(_problem, warnings) if w is not None),
        )
        meta = MetaSummary(line, tuple(map(_entry, entries)), _bases(bases), view)
    return ClassSummary(p[0], p[1], _bases(p[2]), meta, tuple(map(_entry, p[4])))


def _registration_plain(r: Registration) -> _Plain:
    """Without what it looked at: that is kept per module, read only for the modules a sync changed."""
    return [
        r.registering,
        r.selected,
        r.unknown,
        sorted(r.undetermined),
        [_problem_plain(p) for p in r.problems],
    ]


def _registration(p: _Plain) -> Registration:
    return Registration(
        registering=tuple(p[0]),
        selected=tuple((module, name) for module, name in p[1]),
        unknown=p[2],
        undetermined=frozenset(p[3]),
        problems=tuple(x for x in map(_problem, p[4]) if x is not None),
        looked_at=(),
    )


_REGISTERS, _MENTIONS, _FOREIGN_JOBS, _DEFINES_CLASSES = 1, 2, 4, 8


def _entry_row(entry: ModuleEntry) -> tuple[str, str, str, str | None, int, str]:
    flags = (
        _REGISTERS * entry.registers
        | _MENTIONS * entry.mentions_register_jobs
        | _FOREIGN_JOBS * entry.foreign_jobs
        | _DEFINES_CLASSES * entry.defines_classes
    )
    error = None if entry.error is None else json.dumps(_problem_plain(entry.error))
    return (entry.path, entry.sha, entry.module_name, error, flags, " ".join(sorted(entry.refs)))


def _entry_from_row(
    path: str, sha: str, module_name: str, error: str | None, flags: int, refs: str
) -> ModuleEntry:
    return ModuleEntry(
        path=path,
        module_name=module_name,
        sha=sha,
        error=None if error is None else _problem(json.loads(error)),
        registers=bool(flags & _REGISTERS),
        mentions_register_jobs=bool(flags & _MENTIONS),
        foreign_jobs=bool(flags & _FOREIGN_JOBS),
        refs=frozenset(refs.split()),
        defines_classes=bool(flags & _DEFINES_CLASSES),
    )


class MemorySummaryStore:
    """Summaries kept in this process only: for a catalog that never syncs twice, and for tests."""

    def __init__(self) -> None:
        self._indexes: dict[str, tuple[str, SummaryIndex]] = {}
        self._summaries: dict[tuple[str, str], tuple[str, ModuleSummary]] = {}
        self._facts: dict[str, tuple[tuple[str, str, str, str], ...]] = {}

    def index(self, source: str, filters: str) -> SummaryIndex | None:
        stored = self._indexes.get(source)
        return stored[1] if stored is not None and stored[0] == filters else None

    def load(self, source: str, wanted: Mapping[str, str]) -> dict[str, ModuleSummary]:
        found = {path: self._summaries.get((source, path)) for path in wanted}
        return {path: item[1] for path, item in found.items() if item is not None and item[0] == wanted[path]}

    def save(
        self,
        source: str,
        filters: str,
        commit: str,
        changed: Sequence[tuple[ModuleEntry, ModuleSummary]],
        removed: Collection[str],
        problems: Sequence[Problem],
        registration: Registration | KeepRegistration | None,
        based_on: str | None,
    ) -> None:
        old = self._indexes.get(source)
        if based_on is not None and (old is None or old[1].commit != based_on):
            return
        if isinstance(registration, KeepRegistration):
            registration = old[1].registration if old is not None else None
        else:
            self._facts[source] = registration.looked_at if registration is not None else ()
        entries = {} if based_on is None or old is None else dict(old[1].entries)
        for path in removed:
            entries.pop(path, None)
            self._summaries.pop((source, path), None)
        for entry, summary in changed:
            entries[entry.path] = entry
            self._summaries[(source, entry.path)] = (entry.sha, summary)
        self._indexes[source] = (filters, SummaryIndex(commit, entries, tuple(problems), registration))

    def registration_facts(
        self, source: str, modules: Collection[str]
    ) -> tuple[tuple[str, str, str, str], ...]:
        return tuple(fact for fact in self._facts.get(source, ()) if fact[1] in modules)

    def close(self) -> None:
        """Nothing to let go of."""
