"""Find Nautobot job classes in source files by reading their syntax tree; repository code never runs."""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import textwrap
import tokenize
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from jobsync.domain.errors import FieldError
from jobsync.domain.fields import (
    OVERRIDABLE_DEFAULTS,
    FieldValue,
    JobFacts,
    limits_conflict,
    validate_field_value,
)
from jobsync.domain.text import storable

MAX_FILE_SIZE = 1024 * 1024
#: Bump when summarize_module's output for the same file changes, so stored summaries are not reused.
SUMMARY_VERSION = 7

#: A Meta value as kept in a summary: task queues become a tuple so summaries stay immutable.
SummaryValue = str | int | float | bool | tuple[str, ...]
#: What a constant expression evaluates to; a list or tuple becomes a tuple (of such values).
ConstValue = str | int | float | bool | tuple[Any, ...]
#: A constant expression whose value waits for names looked up when the whole source is known, as
#: nested tuples (JSON-able): ``("v", value)``, ``("ref", targets, text)`` (a name: its absolute
#: dotted candidates and its spelling), ``("op", "+", left, right)``, ``("neg" | "pos", operand)``,
#: ``("seq", items)``.
ConstExpr = tuple[Any, ...]

_JOB_MODULES = ("nautobot.extras.jobs", "nautobot.apps.jobs")
_JOB_BASES = ("Job", "JobHookReceiver", "JobButtonReceiver")
#: Absolute dotted name -> the Nautobot symbol it denotes (``register_jobs`` is defined in nautobot.core.celery).
_NAUTOBOT_SYMBOLS: dict[str, str] = {
    **{f"{module}.{name}": name for module in _JOB_MODULES for name in (*_JOB_BASES, "register_jobs")},
    "nautobot.core.celery.register_jobs": "register_jobs",
}
_NAUTOBOT = "<nautobot>"
_EXTERNAL = "<external>"
_UNREADABLE = "<unreadable>"
_JOB_NODE = (_NAUTOBOT, "Job")
_HOOK_NODE = (_NAUTOBOT, "JobHookReceiver")
_BUTTON_NODE = (_NAUTOBOT, "JobButtonReceiver")
_BASEJOB_NODE = (_NAUTOBOT, "BaseJob")
#: Nautobot's own classes as they sit in a job's MRO; BaseJob defines the (empty) default Meta.
_NAUTOBOT_MROS: dict[str, tuple[tuple[str, str], ...]] = {
    "Job": (_JOB_NODE, _BASEJOB_NODE),
    "JobHookReceiver": (_HOOK_NODE, _JOB_NODE, _BASEJOB_NODE),
    "JobButtonReceiver": (_BUTTON_NODE, _JOB_NODE, _BASEJOB_NODE),
}

_META_BOOLS = ("read_only", "commit_default", "abstract")
_META_KEYS = frozenset((*(key for key in OVERRIDABLE_DEFAULTS if key != "grouping"), *_META_BOOLS))
#: Class attributes that shadow Nautobot's class properties of the same name. Nautobot reads every
#: field as ``job_class.<field>`` (extras/utils.py refresh_job_model_from_job_class, 1.6 and 2.4), and
#: a ``classproperty`` (marked ``@final`` for type checkers only) loses to a class attribute found
#: earlier in the MRO. ``abstract`` is no property: only Meta says it.
_ATTRIBUTE_KEYS = frozenset((*OVERRIDABLE_DEFAULTS, "read_only", "commit_default"))
_MAX_DEPTH = 64
#: Constant expressions nest at most this deep, and a name may stand for one bound to another name
#: at most this many times over: enough for real code, and every evaluation stays small and bounded.
_MAX_NESTING = 64
_MAX_NAME_CHAIN = 32
#: Bounds on what a constant expression may build: a chain of ``A = B + B`` doubles at each step.
_MAX_TEXT = MAX_FILE_SIZE
_MAX_ITEMS = 1000
_MAX_INT_BITS = 64
#: A class whose chain of base classes is longer than this is not read as a job (a warning says so):
#: real job hierarchies are a few classes deep, and every longer chain costs memory as its square.
MAX_CLASS_CHAIN = 256
_MAX_REASON = 200


#: What a reported item is (docs/design.md §4), kept apart everywhere: a file that could not be read or
#: parsed (its jobs keep their state); a value that fell back to a default, a registration that
#: could not be resolved, a name that collided; a file skipped on purpose.
ERROR, WARNING, NOTE = "error", "warning", "note"
PROBLEM_KINDS = (ERROR, WARNING, NOTE)


@dataclass(frozen=True)
class Problem:
    """Something discovery could not read, had to correct, or skipped, with where it is."""

    file: str
    line: int
    reason: str
    kind: str = WARNING


@dataclass(frozen=True)
class NameRef:
    """A name used as a value (a register_jobs argument, a list entry), resolved as far as one file allows.

    ``targets`` are absolute dotted candidates (several only after star imports); empty when the
    expression is not a plain or dotted name, or names nothing this file binds.
    """

    text: str
    targets: tuple[str, ...]
    is_name: bool
    starred: bool = False


@dataclass(frozen=True)
class MetaEntry:
    """One recognised ``class Meta`` key or metadata class attribute.

    ``value`` is None when it was unusable (see ``warning``) or waits for ``expr``: a constant
    expression naming other modules' constants, evaluated when the whole source is resolved.
    """

    key: str
    value: SummaryValue | None
    line: int
    warning: str | None = None
    expr: ConstExpr | None = None


@dataclass(frozen=True)
class MetaView:
    """Effective Meta values (defaults not filled in), computed once so resolving thousands of jobs is cheap."""

    values: tuple[tuple[str, str | int | float | bool], ...]
    queues: tuple[str, ...]
    read_only: bool
    warnings: tuple[Problem, ...]


_EMPTY_VIEW = MetaView((), (), False, ())


@dataclass(frozen=True)
class MetaSummary:
    """A class's own ``class Meta``: checked literal values and its bases (``class Meta(Base.Meta)``).

    ``view`` is this Meta alone; resolve_jobs merges in the Metas named as bases when there are any.
    """

    line: int
    entries: tuple[MetaEntry, ...]
    bases: tuple[tuple[str, ...], ...]
    view: MetaView = _EMPTY_VIEW

    @property
    def deferred(self) -> bool:
        """True when a value waits for a constant of another module (``view`` leaves it out)."""
        return any(e.expr is not None for e in self.entries)


@dataclass(frozen=True)
class ClassSummary:
    """A module-level class: its bases as absolute dotted candidates, its own Meta if any, and the
    metadata fields its body binds as plain class attributes (they win over any Meta)."""

    name: str
    line: int
    bases: tuple[tuple[str, ...], ...]
    meta: MetaSummary | None
    attributes: tuple[MetaEntry, ...] = ()


@dataclass(frozen=True)
class Binding:
    """What a module-level name is bound to when the module finishes: a class, an import, a list or other."""

    name: str
    kind: str  # "class" | "import" | "list" | "other"
    line: int
    targets: tuple[str, ...] = ()
    items: tuple[NameRef, ...] = ()
    #: A list built in code (changed in an ``if``/``else`` branch or a loop): ``items`` is every
    #: class it may hold, and which it holds depends on run-time settings.
    computed: bool = False


@dataclass(frozen=True)
class RegisterCall:
    """A module-level call that looks like ``register_jobs(...)``; resolve_jobs checks where it comes from."""

    line: int
    func: tuple[str, ...]
    args: tuple[NameRef, ...]


@dataclass(frozen=True)
class ModuleSummary:
    """Everything discovery needs from one file, computed once per file content (picklable)."""

    path: str
    module_name: str
    error: Problem | None = None
    classes: tuple[ClassSummary, ...] = ()
    bindings: tuple[Binding, ...] = ()
    star_imports: tuple[str, ...] = ()
    register_calls: tuple[RegisterCall, ...] = ()
    grouping: str | None = None
    grouping_warning: Problem | None = None
    #: The raw bytes mention register_jobs: for an unreadable file, registration cannot be ruled out.
    mentions_register_jobs: bool = False
    #: The module-level name when it waits for another module's constant (key "grouping").
    grouping_expr: MetaEntry | None = None
    #: Module-level names bound exactly once, by an assignment of a constant expression.
    constants: tuple[tuple[str, ConstExpr], ...] = ()
    #: Module-level names bound more than once, with how often: none of them is a constant.
    rebound: tuple[tuple[str, int], ...] = ()

    @property
    def imports(self) -> dict[str, tuple[str, ...]]:
        """Local name -> absolute dotted targets, for the names bound by imports."""
        return {b.name: b.targets for b in self.bindings if b.kind == "import"}


class ModuleEntry(NamedTuple):
    """What a sync needs to know about one file without reading its summary: an index entry.

    A NamedTuple rather than a frozen dataclass: every sync reads one per file of the source, and
    building a tuple costs half as much.

    ``refs`` holds every absolute dotted name the module may look up, with all its prefixes (and
    ``*pkg`` for ``from pkg import *``), so the modules that depend on a changed one are found
    without loading any summary. ``foreign_jobs``: its ``jobs`` list may name classes of other
    modules, so its selection reaches beyond its own file.
    """

    path: str
    module_name: str
    sha: str
    error: Problem | None
    registers: bool
    mentions_register_jobs: bool
    foreign_jobs: bool
    refs: frozenset[str]
    #: Whether the module defines any class: a resolution lists a module's classes without
    #: reading its summary when it defines none (a package ``__init__`` importing hundreds of jobs).
    defines_classes: bool = True


def module_entry(summary: ModuleSummary, sha: str) -> ModuleEntry:
    """The index entry of a summary of the file whose content is ``sha``."""
    targets: list[str] = []
    for binding in summary.bindings:
        targets += binding.targets
        for item in binding.items:
            targets += item.targets
    exprs: list[ConstExpr | None] = [expr for _, expr in summary.constants]
    if summary.grouping_expr is not None:
        exprs.append(summary.grouping_expr.expr)
    for cls in summary.classes:
        for base in cls.bases:
            targets += base
        exprs += [entry.expr for entry in cls.attributes]
        if cls.meta is not None:
            for base in cls.meta.bases:
                targets += base
            exprs += [entry.expr for entry in cls.meta.entries]
    for expr in exprs:
        if expr is not None:
            targets += _expr_targets(expr)
    for call in summary.register_calls:
        targets += call.func
        for arg in call.args:
            targets += arg.targets
    refs: set[str] = set()
    for target in (*targets, *summary.star_imports):
        parts = target.split(".")
        refs.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    refs.update(f"*{star}" for star in summary.star_imports)
    return ModuleEntry(
        path=summary.path,
        module_name=summary.module_name,
        sha=sha,
        error=summary.error,
        registers=bool(summary.register_calls),
        mentions_register_jobs=summary.mentions_register_jobs,
        foreign_jobs=_has_foreign_jobs(summary),
        refs=frozenset(refs),
        defines_classes=bool(summary.classes),
    )


def _expr_targets(expr: ConstExpr) -> Iterator[str]:
    """Every absolute dotted name a constant expression may look up (another module's constants)."""
    kind = expr[0]
    if kind == "ref":
        yield from expr[1]
    elif kind == "op":
        yield from _expr_targets(expr[2])
        yield from _expr_targets(expr[3])
    elif kind in ("neg", "pos"):
        yield from _expr_targets(expr[1])
    elif kind == "seq":
        for item in expr[1]:
            yield from _expr_targets(item)


def _has_foreign_jobs(summary: ModuleSummary) -> bool:
    """Whether the module's ``jobs`` is imported, or lists anything but classes defined in the module."""
    binding = next((b for b in summary.bindings if b.name == "jobs"), None)
    if binding is None or binding.kind == "other":
        return False
    if binding.kind != "list":
        return True
    own = {f"{summary.module_name}.{cls.name}" for cls in summary.classes}
    return any(
        item.starred or (item.targets and (len(item.targets) > 1 or item.targets[0] not in own))
        for item in binding.items
    )


def affected_modules(
    entries: Mapping[str, ModuleEntry],
    old_entries: Mapping[str, ModuleEntry],
    changed: Iterable[str],
) -> frozenset[str] | None:
    """The modules whose jobs a change of the ``changed`` paths may affect; None means "all of them".

    That is the changed modules and, transitively, every module that looks a name up in one of
    them. Whether ``register_jobs`` calls still register the same classes is resolve_jobs' to say.
    Where an unreadable file may call ``register_jobs``, or a touched ``jobs`` list names other
    modules' classes, which classes are jobs depends on the whole source: None, decide them all.
    """
    if any(
        e.error is not None and e.mentions_register_jobs for e in (*entries.values(), *old_entries.values())
    ):
        return None
    affected = {module_name_for(path) for path in changed}
    frontier = set(affected)
    while frontier:
        keys: set[str] = set()
        for module in frontier:
            keys.add(module)
            parts = module.split(".")
            keys.update(f"*{'.'.join(parts[:i])}" for i in range(1, len(parts) + 1))
        frontier = {
            entry.module_name
            for entry in entries.values()
            if entry.module_name not in affected and not entry.refs.isdisjoint(keys)
        }
        affected |= frontier
    touched = [e for e in entries.values() if e.module_name in affected] + [
        e for e in old_entries.values() if e.module_name in affected
    ]
    if any(entry.foreign_jobs for entry in touched):
        return None
    return frozenset(affected)


@dataclass(frozen=True)
class Discovery:
    """The jobs of one source and every problem met on the way."""

    jobs: tuple[JobFacts, ...]
    problems: tuple[Problem, ...]
    #: Modules whose jobs could not be determined (their file, or a file their classes depend on, is
    #: unreadable, or their ``jobs`` is not a literal list): the sync keeps their jobs' last known state.
    unreadable_modules: frozenset[str]
    #: Every module of the source (readable or not), so sync can say why a job vanished.
    modules: frozenset[str] = frozenset()
    #: The modules whose jobs were decided (None: all): a sync plans only the jobs of these.
    scope: frozenset[str] | None = None
    #: What ``register_jobs`` registered, kept so the next sync can tell whether it must look again.
    registration: Registration | None = None


@dataclass(frozen=True)
class Registration:
    """The outcome of a source's ``register_jobs`` calls, and exactly what deciding it looked at.

    ``looked_at`` maps each consulted fact -- ``(kind, module, name)``: whether a name is a module
    (``exists``), a module-level binding, a star-import list, a class's bases, a module's register
    calls -- to a fingerprint of what it was. While none of those facts changes, neither does the
    outcome, so a sync that changed other files reuses it instead of resolving every registration.
    """

    registering: tuple[str, ...]
    selected: tuple[tuple[str, str], ...]
    unknown: bool
    undetermined: frozenset[str]
    problems: tuple[Problem, ...]
    looked_at: tuple[tuple[str, str, str, str], ...]


# --- files -------------------------------------------------------------------------------------------


def module_name_for(path: str) -> str:
    """Dotted module name of a source-relative POSIX path: ``jobs/backup.py`` -> ``jobs.backup``."""
    parts = path.removesuffix(".py").split("/")
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _package_of(path: str, module_name: str) -> str:
    """The package relative imports start from; an ``__init__.py`` is its own package."""
    if path.rsplit("/", 1)[-1] == "__init__.py":
        return "" if "/" not in path else module_name
    return module_name.rpartition(".")[0]


#: Folders whose files are never scanned, whatever ``include`` says (as hidden folders).
_SKIPPED_FOLDERS = frozenset(("tests", "migrations"))


def is_candidate(path: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> bool:
    """Whether a source-relative file is scanned: ``*.py``, not hidden, not setup.py, not under
    ``tests/`` or ``migrations/`` (an app's Django migrations hold no jobs)."""
    return skip_reason(path, include, exclude) is None


def skip_reason(path: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> str | None:
    """Why a source-relative file is not scanned (see ``is_candidate``), or None when it is."""
    if not path.endswith(".py"):
        return "not a Python file (*.py); only those are scanned"
    if path == "setup.py":
        return "setup.py is never scanned"
    parts = path.split("/")
    hidden = next((part for part in parts if part.startswith(".")), None)
    if hidden is not None:
        return f"{hidden} is hidden; hidden files and folders are never scanned"
    folder = next((part for part in parts[:-1] if part in _SKIPPED_FOLDERS), None)
    if folder is not None:
        return f"files under {folder}/ are never scanned"
    if include and not any(fnmatchcase(path, pattern) for pattern in include):
        return f"matches none of the source's include globs ({', '.join(include)})"
    excluded = next((pattern for pattern in exclude if fnmatchcase(path, pattern)), None)
    if excluded is not None:
        return f"matches the source's exclude glob {excluded}"
    return None


# --- one file ----------------------------------------------------------------------------------------


def summarize_oversized(path: str, size: int, *, max_size: int = MAX_FILE_SIZE) -> ModuleSummary | None:
    """The summary of a file too large to read (known from its size alone), or None if it is not."""
    module_name = module_name_for(path)
    if not all(part.isidentifier() for part in module_name.split(".")):
        # Nautobot imports job files; Python cannot import this one, so it holds no jobs (and its
        # register_jobs, if any, never runs).
        return _failed(
            path, module_name, 0, f"{module_name!r} is not an importable module name; skipped", False, NOTE
        )
    if size > max_size:
        return _failed(
            path,
            module_name,
            0,
            f"file is {size} bytes, over the {max_size}-byte limit; skipped",
            False,
            NOTE,
        )
    return None


def summarize_module(path: str, data: bytes, *, max_size: int = MAX_FILE_SIZE) -> ModuleSummary:
    """Read one file's jobs-relevant facts from its syntax tree; never raises, never runs the code."""
    module_name = module_name_for(path)
    skipped = summarize_oversized(path, len(data), max_size=max_size)
    if skipped is not None:  # what a reader that knows only the size says too: nothing of its text counts
        return skipped
    mentions = b"register_jobs" in data
    try:
        text, problem = _decode(path, data)
        if problem is not None:
            return ModuleSummary(path, module_name, error=problem, mentions_register_jobs=mentions)
        tree = ast.parse(text, filename=path)
        walker = _ModuleWalker(path, module_name, _package_of(path, module_name), text)
        walker.walk(tree.body)
        return walker.summary(mentions)
    except SyntaxError as exc:
        return _failed(path, module_name, exc.lineno or 0, f"syntax error: {exc.msg}", mentions)
    except (RecursionError, MemoryError):
        return _failed(path, module_name, 0, "code is nested too deeply to parse", mentions)
    except ValueError as exc:
        return _failed(path, module_name, 0, f"cannot parse: {exc}", mentions)
    except Exception as exc:  # a bug here must cost one file, not the whole sync
        return _failed(
            path, module_name, 0, f"internal error while reading: {type(exc).__name__}: {exc}", mentions
        )


def _failed(
    path: str, module_name: str, line: int, reason: str, mentions: bool, kind: str = ERROR
) -> ModuleSummary:
    problem = Problem(path, line, _one_line(reason), kind)
    return ModuleSummary(path, module_name, error=problem, mentions_register_jobs=mentions)


def _decode(path: str, data: bytes) -> tuple[str, Problem | None]:
    """Decode as Python does (BOM, PEP 263 cookie, else UTF-8), with a line number on failure."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        return "", Problem(path, 1, _one_line(f"bad encoding declaration: {exc}"), ERROR)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        return "", Problem(
            path, line, f"not valid {encoding}: byte 0x{bad} cannot be decoded ({exc.reason})", ERROR
        )
    except LookupError as exc:
        return "", Problem(path, 1, _one_line(f"unknown encoding: {exc}"), ERROR)
    nul = text.find("\x00")
    if nul >= 0:
        return "", Problem(path, text.count("\n", 0, nul) + 1, "file contains a NUL byte", ERROR)
    return text.removeprefix("\ufeff"), None


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (iterative: chains can be long)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix and name else prefix or name


class _ModuleWalker:
    """Walks module-level statements in order, tracking what each name means at each point."""

    def __init__(self, path: str, module_name: str, package: str, text: str) -> None:
        self.path = path
        self.module_name = module_name
        self.package = package
        self.text = text
        self.namespace: dict[str, Binding] = {}
        self.classes: dict[str, _PendingClass] = {}
        self.stars: list[str] = []
        self.calls: list[RegisterCall] = []
        #: How often each module-level name is bound, and the assignment of those whose last binding is one.
        self.counts: dict[str, int] = {}
        self._branches = 0  # how deep in if/else branches and loops the walk is
        self.assigned: dict[str, tuple[int, ast.expr]] = {}

    def summary(self, mentions: bool) -> ModuleSummary:
        """The module's summary; names in constant expressions are linked now that all bindings are known."""
        constants = []
        for name, (_, value) in self.assigned.items():
            if self.counts[name] == 1:
                expr = self._constant(value, _module_scope)
                if not isinstance(expr, _NotConstant):
                    constants.append((name, expr))
        grouping, grouping_warning, grouping_expr = self._grouping()
        return ModuleSummary(
            path=self.path,
            module_name=self.module_name,
            classes=tuple(self._class_summary(pending) for pending in self.classes.values()),
            bindings=tuple(self.namespace.values()),
            star_imports=tuple(self.stars),
            register_calls=tuple(self.calls),
            grouping=grouping,
            grouping_warning=grouping_warning,
            mentions_register_jobs=mentions,
            grouping_expr=grouping_expr,
            constants=tuple(constants),
            rebound=tuple((name, count) for name, count in self.counts.items() if count > 1),
        )

    # Only module-level statements and the blocks that run at import time are visited; function
    # bodies never are, so a file costs one parse plus a walk over its top level.
    def walk(self, body: Iterable[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Import):
                self._import(stmt)
            elif isinstance(stmt, ast.ImportFrom):
                self._import_from(stmt)
            elif isinstance(stmt, ast.ClassDef):
                self._class(stmt)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                self._bind(Binding(stmt.name, "other", stmt.lineno))
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    self._assign(target, stmt.value, stmt.lineno)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self._assign(stmt.target, stmt.value, stmt.lineno)
            elif isinstance(stmt, ast.AugAssign):
                self._augment(stmt)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self._call(stmt.value, stmt.lineno)
            elif isinstance(stmt, ast.If):
                # The ``if`` branch is walked last so its bindings win, as on the usual path; a list
                # changed in either branch holds what both may put in it.
                self._branches += 1
                self.walk(stmt.orelse)
                self.walk(stmt.body)
                self._branches -= 1
            elif isinstance(stmt, ast.Try | ast.TryStar):
                # Handlers first: the ``try`` body is the path normally taken, so its bindings win.
                for handler in stmt.handlers:
                    if handler.name:
                        self._count(handler.name)
                    self.walk(handler.body)
                self.walk(stmt.body)
                self.walk(stmt.orelse)
                self.walk(stmt.finalbody)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        self._count(*_bound_names(item.optional_vars))
                self.walk(stmt.body)
            elif isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.Match | ast.Delete):
                # Not followed for jobs, but what they bind is no constant ...
                self._count(*_bound_names(stmt))
                if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
                    self._grow_in_loop(stmt)  # ... except the classes a loop appends to a list

    def _count(self, *names: str) -> None:
        for name in names:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.assigned.pop(name, None)

    def _bind(self, binding: Binding) -> None:
        self.namespace.pop(binding.name, None)  # re-insert so the final order follows the source
        self.namespace[binding.name] = binding
        self._count(binding.name)

    def _import(self, stmt: ast.Import) -> None:
        for alias in stmt.names:
            if alias.asname:
                self._bind(Binding(alias.asname, "import", stmt.lineno, (alias.name,)))
            else:
                head = alias.name.split(".", 1)[0]
                self._bind(Binding(head, "import", stmt.lineno, (head,)))

    def _import_from(self, stmt: ast.ImportFrom) -> None:
        base = self._absolute(stmt.module or "", stmt.level)
        for alias in stmt.names:
            if alias.name == "*":
                if base:
                    self.stars.append(base)
                continue
            targets = (_join(base, alias.name),) if base is not None else ()
            self._bind(Binding(alias.asname or alias.name, "import", stmt.lineno, targets))

    def _absolute(self, module: str, level: int) -> str | None:
        """Absolute module of an import; relative levels count from this module's package."""
        if level == 0:
            return module
        parts = self.package.split(".") if self.package else []
        up = level - 1
        if up > len(parts):
            return None
        return _join(".".join(parts[: len(parts) - up]), module)

    def translate(self, dotted: str) -> tuple[str, ...]:
        """Absolute candidates for a dotted name as this module sees it at this point."""
        head, _, rest = dotted.partition(".")
        binding = self.namespace.get(head)
        if binding is None:
            return tuple(f"{star}.{dotted}" for star in reversed(self.stars))
        if binding.kind in ("class", "list"):
            return (_join(self.module_name, dotted),)
        if binding.kind == "import":
            return tuple(_join(t, rest) if rest else t for t in binding.targets)
        return ()

    def name_ref(self, node: ast.expr) -> NameRef:
        starred = isinstance(node, ast.Starred)
        inner = node.value if isinstance(node, ast.Starred) else node
        dotted = _dotted(inner)
        if dotted is None:
            text = ast.get_source_segment(self.text, node) or type(node).__name__
            return NameRef(_one_line(text)[:80], (), is_name=False, starred=starred)
        return NameRef(
            ("*" if starred else "") + dotted, self.translate(dotted), is_name=True, starred=starred
        )

    def _bases(self, nodes: Iterable[ast.expr]) -> tuple[tuple[str, ...], ...]:
        return tuple(self.translate(d) if (d := _dotted(n)) else () for n in nodes)

    def _class(self, stmt: ast.ClassDef) -> None:
        attributes, meta_def = self._class_body(stmt.body, _ATTRIBUTE_KEYS, stmt.name)
        meta = None
        if meta_def is not None:
            entries, _ = self._class_body(meta_def.body, _META_KEYS, f"{stmt.name}.Meta")
            meta = _PendingMeta(meta_def.lineno, entries, self._bases(meta_def.bases))
        pending = _PendingClass(stmt.name, stmt.lineno, self._bases(stmt.bases), meta, attributes)
        self._bind(Binding(stmt.name, "class", stmt.lineno))
        self.classes.pop(stmt.name, None)
        self.classes[stmt.name] = pending

    def _class_body(
        self, body: Sequence[ast.stmt], keys: frozenset[str], owner: str
    ) -> tuple[list[_RawEntry], ast.ClassDef | None]:
        """The metadata a class body binds (the last binding of each key wins), and its ``class Meta``.

        A name bound once in the body stands for its value further down, as Python's class scope
        does; a name not (yet) bound there is the module's. Class scopes do not nest: a Meta body
        sees its own names and the module's, not the enclosing class's.
        """
        local: dict[str, ConstExpr | _NotConstant | None] = {}  # None: bound by some other statement
        counts: dict[str, int] = {}

        def scope(dotted: str) -> ConstExpr:
            head, dot, _ = dotted.partition(".")
            if head not in local:
                return ("name", dotted)
            if not counts:  # counted only when a class-level name is used: seldom
                for item in body:
                    for name in _statement_names(item):
                        counts[name] = counts.get(name, 0) + 1
            if counts[head] > 1:
                raise _NotConstant(f"{head} is bound {counts[head]} times in {owner}")
            found = local[head]
            if dot:
                raise _NotConstant(f"{dotted} is an attribute of a value")
            if found is None:
                raise _NotConstant(f"{head} is not bound to a constant expression in {owner}")
            if isinstance(found, _NotConstant):
                raise found
            if found[0] != "v":
                _check_size(found)
            return found

        entries: dict[str, _RawEntry] = {}
        meta: ast.ClassDef | None = None
        for item in body:
            value: ast.expr | None = None
            names: list[str] = []
            if type(item) is ast.Assign:  # the usual statements first, tested cheaply: this runs per class
                targets = item.targets
                if len(targets) == 1 and type(targets[0]) is ast.Name:
                    value, names = item.value, [targets[0].id]
                elif all(isinstance(t, ast.Name) for t in targets):
                    value, names = item.value, [t.id for t in targets if isinstance(t, ast.Name)]
            elif type(item) is ast.FunctionDef or type(item) is ast.Expr:
                if type(item) is ast.FunctionDef:
                    local[item.name] = None
                    if item.name in keys:
                        entries.pop(item.name, None)
                        entries[item.name] = (item.name, item.lineno, _NotConstant("a function"))
                continue
            elif (
                isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and item.value is not None
            ):
                value, names = item.value, [item.target.id]
            if value is not None:
                if type(value) is ast.Constant and type(value.value) in (str, int, float, bool):
                    found: ConstExpr | _NotConstant = ("v", value.value)
                else:
                    found = self._constant(value, scope)
                for name in names:
                    if name in keys:
                        entries.pop(name, None)
                        entries[name] = (name, item.lineno, found)
                    local[name] = found
                continue
            if isinstance(item, ast.ClassDef) and item.name == "Meta":
                meta = item
            for name in _statement_names(item):
                local[name] = None
                if name in keys:
                    entries.pop(name, None)
                    what = _STATEMENT_KINDS.get(type(item), "bound by a statement")
                    entries[name] = (name, item.lineno, _NotConstant(what))
        return list(entries.values()), meta

    def _constant(self, node: ast.expr, scope: Callable[[str], ConstExpr]) -> ConstExpr | _NotConstant:
        """A constant expression with its names linked: a value, or an expression that waits for names."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float):
            return ("v", node.value)  # the common case, at once
        try:
            expr = self._link(_convert(node, scope, 0))
            if not _has_refs(expr):
                return ("v", _fold(expr, _no_names))
            return expr
        except _NotConstant as exc:
            return exc

    def _link(self, expr: ConstExpr) -> ConstExpr:
        """Each module-level name becomes the absolute names it may denote (its own module's, if bound here)."""
        kind = expr[0]
        if kind == "name":
            dotted = expr[1]
            head = dotted.partition(".")[0]
            binding = self.namespace.get(head)
            if (binding is None and head not in self.counts) or (
                binding is not None and binding.kind == "import"
            ):
                if self.counts.get(head, 0) > 1:
                    raise _NotConstant(f"{head} is bound {self.counts[head]} times in {self.module_name}")
                targets = self.translate(dotted)  # for an unbound name: the star-imported candidates
                if not targets:
                    raise _NotConstant(f"{dotted} is not defined")
                return ("ref", targets, dotted)
            return ("ref", (_join(self.module_name, dotted),), dotted)
        if kind == "op":
            return (kind, expr[1], self._link(expr[2]), self._link(expr[3]))
        if kind in ("neg", "pos"):
            return (kind, self._link(expr[1]))
        if kind == "seq":
            return (kind, tuple(self._link(item) for item in expr[1]))
        return expr

    def _class_summary(self, pending: _PendingClass) -> ClassSummary:
        owner = pending.name
        attributes: tuple[MetaEntry, ...] = ()
        if pending.attributes:
            attributes = tuple(
                [_entry(k, found, line, owner, _ATTRIBUTE) for k, line, found in pending.attributes]
            )
        if pending.meta is None:
            return ClassSummary(owner, pending.line, pending.bases, None, attributes)
        found: dict[str, _Found] = {}
        entries = []
        for key, line, value in pending.meta.entries:
            entry = _entry(key, value, line, owner, _IN_META)
            entries.append(entry)
            found[key] = (entry, self.path, owner, True)
        deferred = any(entry.expr is not None for entry in entries)
        view = _EMPTY_VIEW if deferred else _view(found, self.path, pending.meta.line)
        meta = MetaSummary(pending.meta.line, tuple(entries), pending.meta.bases, view)
        return ClassSummary(owner, pending.line, pending.bases, meta, attributes)

    def _grouping(self) -> tuple[str | None, Problem | None, MetaEntry | None]:
        """The module-level ``name`` that Nautobot's ``grouping`` reads: now, later, or with a warning."""
        binding = self.namespace.get("name")
        if binding is None:
            return None, None, None
        if "name" in self.assigned:
            line, node = self.assigned["name"]
            entry = _entry("grouping", self._constant(node, _module_scope), line, self.module_name, _MODULE)
        elif binding.kind == "import":
            entry = MetaEntry("grouping", None, binding.line, None, ("ref", binding.targets, "name"))
        else:
            what = "a class" if binding.kind == "class" else "bound by a statement"
            entry = _entry("grouping", _NotConstant(what), binding.line, self.module_name, _MODULE)
        if entry.expr is not None:
            return None, None, entry
        warning = None if entry.warning is None else Problem(self.path, entry.line, entry.warning)
        return (entry.value if isinstance(entry.value, str) else None), warning, None

    def _assign(self, target: ast.expr, value: ast.expr, line: int) -> None:
        if isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for name in _bound_names(target):
                self._bind(Binding(name, "other", line))
            return
        if not isinstance(target, ast.Name):
            return
        if isinstance(value, ast.List | ast.Tuple):
            items = tuple(self.name_ref(e) for e in value.elts)
            current = self.namespace.get(target.id)
            if self._branches and current is not None and current.kind == "list":
                # Assigned in a branch: the other branch's (or the earlier) list may be the one kept.
                self._bind(
                    Binding(target.id, "list", current.line, items=current.items + items, computed=True)
                )
            else:
                self._bind(Binding(target.id, "list", line, items=items))
        else:
            self._bind(Binding(target.id, "other", line))
        self.assigned[target.id] = (line, value)

    def _augment(self, stmt: ast.AugAssign) -> None:
        if not isinstance(stmt.target, ast.Name):
            return
        current = self.namespace.get(stmt.target.id)
        extra = self._list_items(stmt.value)
        if (
            current is not None
            and current.kind == "list"
            and isinstance(stmt.op, ast.Add)
            and extra is not None
        ):
            self._grown(current, extra)
        else:
            self._bind(Binding(stmt.target.id, "other", stmt.lineno))

    def _list_items(self, node: ast.expr) -> tuple[NameRef, ...] | None:
        """What ``jobs += X`` / ``jobs.extend(X)`` adds: a literal list's items, or another list by name."""
        if isinstance(node, ast.List | ast.Tuple):
            return tuple(self.name_ref(e) for e in node.elts)
        if _dotted(node) is not None:
            return (self.name_ref(ast.Starred(value=node, ctx=ast.Load())),)  # opened up when resolved
        return None

    def _grown(self, current: Binding, extra: tuple[NameRef, ...]) -> None:
        """The list with ``extra`` added: built in code when that happens in a branch or a loop."""
        computed = current.computed or self._branches > 0
        self._bind(
            Binding(current.name, "list", current.line, items=current.items + extra, computed=computed)
        )

    def _grow_in_loop(self, loop: ast.For | ast.AsyncFor | ast.While) -> None:
        """``for cls in (A, B): jobs.append(cls)``: a loop adding classes to a list adds each it names.

        Only calls that grow a known list are followed, with the loop variable standing for every
        item of a literal list (or a list by name) it runs over; nothing else in the loop is.
        """
        loop_items: tuple[NameRef, ...] | None = None
        variable = None
        if isinstance(loop, ast.For | ast.AsyncFor) and isinstance(loop.target, ast.Name):
            variable, loop_items = loop.target.id, self._list_items(loop.iter)
        self._branches += 1
        for stmt in ast.walk(ast.Module(body=loop.body, type_ignores=[])):
            if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
                continue
            call = stmt.value
            func = _dotted(call.func)
            head, _, method = (func or "").rpartition(".")
            current = self.namespace.get(head)
            if current is None or current.kind != "list" or method not in ("append", "extend"):
                continue
            if (
                method == "append"
                and len(call.args) == 1
                and isinstance(call.args[0], ast.Name)
                and call.args[0].id == variable
                and loop_items is not None
            ):
                self._grown(current, loop_items)
            else:
                self._grow_list(current, method, call)
        self._branches -= 1

    def _call(self, call: ast.Call, line: int) -> None:
        func = _dotted(call.func)
        if func is None:
            return
        head, _, method = func.rpartition(".")
        current = self.namespace.get(head)
        if current is not None and current.kind == "list" and method in ("append", "extend"):
            self._grow_list(current, method, call)
            return
        targets = self.translate(func)
        if any(t.rpartition(".")[2] == "register_jobs" for t in targets):
            self.calls.append(RegisterCall(line, targets, tuple(self.name_ref(a) for a in call.args)))

    def _grow_list(self, current: Binding, method: str, call: ast.Call) -> None:
        """``jobs.append(X)`` / ``jobs.extend([X, Y])`` / ``jobs.extend(more)`` keep a jobs list readable."""
        extra: tuple[NameRef, ...] | None = None
        if method == "append" and len(call.args) == 1:
            extra = (self.name_ref(call.args[0]),)
        elif method == "extend" and len(call.args) == 1:
            extra = self._list_items(call.args[0])
        if extra is None:
            self._bind(Binding(current.name, "other", call.lineno))
            return
        self._grown(current, extra)


# --- constant expressions ----------------------------------------------------------------------------


class _NotConstant(Exception):
    """Not a constant expression, or not a usable one; the message says why."""


class _Unbound(_NotConstant):
    """A name is not bound where it was looked up: another star-import candidate may bind it."""


class _ChainTooLong(_NotConstant):
    """A chain of names too long to follow; never remembered, as it depends on where the chain began."""


#: A metadata binding as walked: key, line, and its linked expression or why it is none.
_RawEntry = tuple[str, int, "ConstExpr | _NotConstant"]


class _PendingMeta(NamedTuple):
    line: int
    entries: list[_RawEntry]
    bases: tuple[tuple[str, ...], ...]


class _PendingClass(NamedTuple):
    """A class as walked; it becomes a ClassSummary once every module-level name is known."""

    name: str
    line: int
    bases: tuple[tuple[str, ...], ...]
    meta: _PendingMeta | None
    attributes: list[_RawEntry]


_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "**": lambda a, b: a**b,
}
_EXPRESSION_KINDS: dict[type[ast.expr], str] = {
    ast.Call: "a call",
    ast.Subscript: "a subscript",
    ast.IfExp: "a conditional expression",
    ast.BoolOp: "a boolean operation",
    ast.Compare: "a comparison",
    ast.Lambda: "a lambda",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.NamedExpr: "an assignment expression",
    ast.Starred: "a starred item",
    ast.JoinedStr: "an f-string with values",
    ast.Attribute: "an attribute of a computed value",
    ast.UnaryOp: "a unary operator other than - and +",
    ast.BinOp: "an operator other than + - * / // % **",
}
_STATEMENT_KINDS: dict[type[ast.stmt], str] = {
    ast.FunctionDef: "a function",
    ast.AsyncFunctionDef: "a function",
    ast.ClassDef: "a class",
    ast.Import: "an import",
    ast.ImportFrom: "an import",
    ast.AugAssign: "an augmented assignment",
    ast.Assign: "an unpacking assignment",
    ast.If: "bound inside a block",
    ast.For: "bound inside a block",
    ast.While: "bound inside a block",
    ast.Try: "bound inside a block",
    ast.With: "bound inside a block",
    ast.Match: "bound inside a block",
}
_MAX_NODES = 10_000


def _module_scope(dotted: str) -> ConstExpr:
    return ("name", dotted)


def _convert(node: ast.expr, scope: Callable[[str], ConstExpr], depth: int) -> ConstExpr:
    """The constant expression ``node`` is, names as ``scope`` gives them; raises _NotConstant."""
    if depth > _MAX_NESTING:
        raise _NotConstant("nested too deeply")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str | int | float):
            return ("v", node.value)
        raise _NotConstant("None" if node.value is None else f"a {type(node.value).__name__} literal")
    if isinstance(node, ast.JoinedStr) and all(
        isinstance(part, ast.Constant) and isinstance(part.value, str) for part in node.values
    ):
        return ("v", "".join(str(part.value) for part in node.values if isinstance(part, ast.Constant)))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _convert(node.left, scope, depth + 1)
        return ("op", _OPERATORS[type(node.op)], left, _convert(node.right, scope, depth + 1))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return ("neg" if isinstance(node.op, ast.USub) else "pos", _convert(node.operand, scope, depth + 1))
    if isinstance(node, ast.Tuple | ast.List):
        if len(node.elts) > _MAX_ITEMS:
            raise _NotConstant(f"more than {_MAX_ITEMS} items")
        return ("seq", tuple(_convert(item, scope, depth + 1) for item in node.elts))
    if isinstance(node, ast.Name | ast.Attribute) and (dotted := _dotted(node)) is not None:
        found: ConstExpr = scope(dotted)
        return found
    raise _NotConstant(_EXPRESSION_KINDS.get(type(node), "an expression that is not constant"))


def _children(expr: ConstExpr) -> tuple[ConstExpr, ...]:
    kind = expr[0]
    if kind == "op":
        return (expr[2], expr[3])
    if kind in ("neg", "pos"):
        return (expr[1],)
    if kind == "seq":
        return tuple(expr[1])
    return ()


def _has_refs(expr: ConstExpr) -> bool:
    return expr[0] == "ref" or any(_has_refs(child) for child in _children(expr))


def _check_size(expr: ConstExpr) -> None:
    """Refuse an expression too deep or too large to evaluate (names standing for names can build one)."""
    pending, count = [(expr, 0)], 0
    while pending:
        node, depth = pending.pop()
        count += 1
        if depth > _MAX_NESTING or count > _MAX_NODES:
            raise _NotConstant("nested too deeply or too large")
        pending += [(child, depth + 1) for child in _children(node)]


def _no_names(expr: ConstExpr) -> ConstValue:
    raise _NotConstant(f"{expr[2]} is not known here")


def _fold(expr: ConstExpr, lookup: Callable[[ConstExpr], ConstValue]) -> ConstValue:
    """The value of a constant expression; ``lookup`` gives the value of each ``("ref", ...)``.

    Iterative: a name's value may take a chain of lookups, each of which folds another expression,
    and the stack must not grow with the nesting of every expression on the chain.
    """
    values: list[ConstValue] = []
    pending: list[tuple[ConstExpr, bool]] = [(expr, False)]
    while pending:
        node, ready = pending.pop()
        kind = node[0]
        if kind == "v":
            values.append(node[1])
        elif kind == "ref":
            values.append(lookup(node))
        elif not ready:
            pending.append((node, True))
            pending += [(child, False) for child in reversed(_children(node))]
        elif kind == "seq":
            count = len(node[1])
            items = tuple(values[len(values) - count :])
            del values[len(values) - count :]
            values.append(_checked_value(items))
        elif kind in ("neg", "pos"):
            operand = values.pop()
            if not isinstance(operand, int | float):
                sign = "-" if kind == "neg" else "+"
                raise _NotConstant(f"cannot apply unary {sign} to {type(operand).__name__}")
            values.append(_checked_value(-operand if kind == "neg" else +operand))
        else:
            right = values.pop()
            values.append(_apply(node[1], values.pop(), right))
    return values[0]


def _apply(op: str, left: ConstValue, right: ConstValue) -> ConstValue:
    """Numeric arithmetic, and ``+`` joining two texts or two sequences; nothing else."""
    if isinstance(left, int | float) and isinstance(right, int | float):
        if op == "**" and abs(right) > _MAX_INT_BITS:
            raise _NotConstant("a number too large")
        try:
            result = _ARITHMETIC[op](left, right)
        except ZeroDivisionError:
            raise _NotConstant("division by zero") from None
        except OverflowError:
            raise _NotConstant("a number too large") from None
        if not isinstance(result, int | float):  # (-8) ** 0.5 is complex
            raise _NotConstant(f"{left!r} {op} {right!r} is not a real number")
        return _checked_value(result)
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return _checked_value(left + right)
    if op == "+" and isinstance(left, tuple) and isinstance(right, tuple):
        return _checked_value(left + right)
    raise _NotConstant(f"cannot apply {op} to {type(left).__name__} and {type(right).__name__}")


def _checked_value(value: ConstValue) -> ConstValue:
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise _NotConstant("a number too large")
    if isinstance(value, float) and value != value:  # NaN: equal to nothing, not even in a summary
        raise _NotConstant("not a number")
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        raise _NotConstant("a text too long")
    if isinstance(value, tuple) and len(value) > _MAX_ITEMS:
        raise _NotConstant(f"more than {_MAX_ITEMS} items")
    return value


def _statement_names(stmt: ast.stmt) -> list[str]:
    """``_bound_names`` of one statement of a class body, quick for the usual ones.

    An assignment's value is not searched: a walrus in it is not followed.
    """
    if isinstance(stmt, ast.Assign):
        if all(isinstance(target, ast.Name) for target in stmt.targets):
            return [target.id for target in stmt.targets if isinstance(target, ast.Name)]
        return _bound_names(*stmt.targets)
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    if isinstance(stmt, ast.Expr | ast.Pass):
        return []
    return _bound_names(stmt)


def _bound_names(*nodes: ast.AST) -> list[str]:
    """The names statements (or assignment targets) bind or delete, without entering nested scopes."""
    names: list[str] = []
    pending = [n for n in nodes if not (isinstance(n, ast.AnnAssign) and n.value is None)]
    while pending:
        sub = pending.pop()
        if isinstance(sub, ast.Name):
            if not isinstance(sub.ctx, ast.Load):
                names.append(sub.id)
            continue
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(sub.name)
            continue
        if isinstance(sub, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            continue
        if isinstance(sub, ast.alias) and sub.name != "*":
            names.append(sub.asname or sub.name.split(".")[0])
        elif isinstance(sub, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and sub.name:
            names.append(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            names.append(sub.rest)
        pending += ast.iter_child_nodes(sub)
    return names


_IN_META = "Meta.{key} of {owner}"
_ATTRIBUTE = "class attribute {key} of {owner}"
_MODULE = "module-level name of {owner}"


def _entry(key: str, found: ConstExpr | _NotConstant, line: int, owner: str, where: str) -> MetaEntry:
    """A metadata entry from its expression: checked now when it is a value, else kept to evaluate later.

    ``where`` (_IN_META, _ATTRIBUTE or _MODULE, filled in with ``key`` and ``owner``) names it in a
    warning. Only a Meta description is dedented, as Nautobot does inside its ``description`` property.
    """
    if isinstance(found, _NotConstant):
        reason = f"is not a constant expression ({found})"
    elif found[0] != "v":
        return MetaEntry(key, None, line, None, found)
    else:
        value, replaced = _storable_literal(found[1])
        try:
            checked = _check_meta_value(key, value, where is _IN_META)
        except FieldError as exc:
            reason = f"is invalid ({exc})"
        else:
            if not replaced:
                return MetaEntry(key, checked, line)
            label = where.format(key=key, owner=owner)
            warning = f"{label} holds a NUL or a lone surrogate, which no store keeps; shown as U+FFFD"
            return MetaEntry(key, checked, line, warning)
    fallback = "the module name is used as grouping" if where is _MODULE else "using the default"
    return MetaEntry(key, None, line, _one_line(f"{where.format(key=key, owner=owner)} {reason}; {fallback}"))


def _storable_literal(value: object) -> tuple[object, int]:
    """A literal's text (or list of texts) made storable, and how many characters that replaced."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        made = [storable(item) for item in value]
        return [text for text, _ in made], sum(count for _, count in made)
    return value, 0


def _check_meta_value(key: str, value: object, dedent: bool) -> SummaryValue:
    if key in _META_BOOLS:
        if not isinstance(value, bool):
            raise FieldError(f"takes true or false, not {value!r}")
        return value
    checked = validate_field_value(key, value)
    if isinstance(checked, list):
        return tuple(checked)
    if dedent and key == "description" and isinstance(checked, str):
        return textwrap.dedent(checked).strip()  # what Nautobot shows
    return checked


#: Where a field's value was found -- (entry, file, class, whether in its Meta rather than a class
#: attribute) -- so a value can say where it came from. A plain tuple: the walker makes one per entry.
_Found = tuple[MetaEntry, str, str, bool]


def _found_label(found: _Found) -> str:
    return f"{'Meta.' if found[3] else 'class attribute '}{found[0].key}"


def _view(found: Mapping[str, _Found], path: str, line: int) -> MetaView:
    """Turn the entries that won (each with where it was found) into effective values and warnings."""
    values: dict[str, str | int | float | bool] = {}
    queues: tuple[str, ...] = ()
    warnings: list[Problem] = []
    for key, (entry, entry_path, _, _) in found.items():
        if entry.warning is not None:
            warnings.append(Problem(entry_path, entry.line, entry.warning))
        if entry.value is None:
            continue
        if isinstance(entry.value, tuple):
            queues = entry.value
        else:
            values[key] = entry.value
    commit = values.pop("commit_default", None)
    if "dryrun_default" not in found and isinstance(commit, bool):
        values["dryrun_default"] = not commit  # Nautobot 1: commit_default = X means dryrun_default = not X
    read_only = values.pop("read_only", False) is True
    values.pop("abstract", None)
    soft, hard = values.get("soft_time_limit", 0), values.get("time_limit", 0)
    if limits_conflict(soft, hard):
        first, second = found["soft_time_limit"], found["time_limit"]
        of_second = "" if second[2] == first[2] else f" of {second[2]}"
        reason = (
            f"{_found_label(first)} ({soft}) of {first[2]} is not below {_found_label(second)} ({hard}){of_second}; "
            "the job will be stopped at the hard limit without the soft warning"
        )
        warnings.append(Problem(path, line, reason))
    return MetaView(tuple(values.items()), queues, read_only, tuple(warnings))


# --- the whole source --------------------------------------------------------------------------------

_Node = tuple[str, str]  # (module, class) for a source class; (_NAUTOBOT | _EXTERNAL | _UNREADABLE, name)
_Symbol = tuple[str, str, str]  # (kind, module, name); kind: class, list, module, nautobot, unreadable
_REGISTER_JOBS: _Symbol = ("nautobot", "", "register_jobs")


class _CycleError(Exception):
    """A class is (or derives from) a class in a circular chain of base classes."""


class _TooDeepError(Exception):
    """A class's chain of base classes is longer than MAX_CLASS_CHAIN."""


def resolve_jobs(
    summaries: Mapping[str, ModuleSummary],
    *,
    entries: Mapping[str, ModuleEntry] | None = None,
    scope: Collection[str] | None = None,
    changed: Collection[str] = (),
    registration: Registration | None = None,
) -> Discovery:
    """Decide which classes of a source are jobs, as Nautobot would, from the summaries of its files.

    ``summaries`` may load lazily: only the modules a lookup reaches are read, given ``entries``
    (every file's index entry). With ``scope`` (see ``affected_modules``) only the jobs of those
    modules are decided; the rest of the source is consulted only where they look names up. In a
    source that registers its jobs, the previous ``registration`` is reused unless one of the facts
    it looked at lies in a ``changed`` module; registering anew widens the scope by every job whose
    registration came or went, and without a previous one everything is decided.
    """
    if entries is None:
        entries = {path: module_entry(summary, "") for path, summary in summaries.items()}
    return _Resolver(summaries, entries, scope).run(frozenset(changed), registration)


class _Modules(dict[str, ModuleSummary]):
    """Module name -> summary, read from the (possibly lazy) summaries only when first asked for."""

    def __init__(self, paths: Mapping[str, str], summaries: Mapping[str, ModuleSummary]) -> None:
        super().__init__()
        self.paths = paths
        self.summaries = summaries

    def __missing__(self, module: str) -> ModuleSummary:
        summary = self[module] = self.summaries[self.paths[module]]
        return summary

    def __contains__(self, module: object) -> bool:
        return module in self.paths


class _Namespaces(dict[str, dict[str, Binding]]):
    """Module name -> its bindings by name, built when first asked for."""

    def __init__(self, modules: _Modules) -> None:
        super().__init__()
        self.modules = modules

    def __missing__(self, module: str) -> dict[str, Binding]:
        namespace = self[module] = {b.name: b for b in self.modules[module].bindings}
        return namespace


class _Classes:
    """(module, class name) -> class summary, reading each module's classes when first asked for."""

    def __init__(self, modules: _Modules, entries: Mapping[str, ModuleEntry]) -> None:
        self.modules = modules
        self.entries = entries
        self._by_module: dict[str, dict[str, ClassSummary]] = {}

    def _of(self, module: str) -> dict[str, ClassSummary]:
        found = self._by_module.get(module)
        if found is None:
            entry = self.entries.get(module)
            defines = module in self.modules and (entry is None or entry.defines_classes)
            classes = self.modules[module].classes if defines else ()
            found = self._by_module[module] = {cls.name: cls for cls in classes}
        return found

    def __getitem__(self, node: tuple[str, str]) -> ClassSummary:
        return self._of(node[0])[node[1]]

    def __contains__(self, node: tuple[str, str]) -> bool:
        return node[1] in self._of(node[0])

    def get(self, node: tuple[str, str]) -> ClassSummary | None:
        return self._of(node[0]).get(node[1])

    def of(self, module: str) -> list[tuple[str, str]]:
        """The classes a module defines, in source order."""
        return [(module, name) for name in self._of(module)]


class _Resolver:
    """One resolution over one source; every lookup is memoised because sources can be large."""

    def __init__(
        self,
        summaries: Mapping[str, ModuleSummary],
        entries: Mapping[str, ModuleEntry],
        scope: Collection[str] | None,
    ) -> None:
        self.problems: set[Problem] = set()
        self.undetermined: set[str] = set()
        paths: dict[str, str] = {}
        self.broken: dict[str, ModuleEntry] = {}
        for path in sorted(entries, key=_package_first):
            entry = entries[path]
            name = entry.module_name
            if name in paths or name in self.broken:
                winner = paths[name] if name in paths else self.broken[name].path
                self.problems.add(
                    Problem(path, 0, f"module {name} is also {winner}, which Python imports; skipped", NOTE)
                )
            elif entry.error is not None:
                self.broken[name] = entry
                self.problems.add(entry.error)
            else:
                paths[name] = path
        self.entries = {entries[path].module_name: entries[path] for path in paths.values()}
        self._all_entries = entries
        #: The modules whose jobs this resolution decides (None: all of them).
        self.decided: set[str] | None = None if scope is None else set(scope)
        #: Facts consulted so far, with their fingerprints; recorded only while registering.
        self.looked_at: dict[tuple[str, str, str], str] | None = None
        self.modules = _Modules(paths, summaries)
        self.namespaces = _Namespaces(self.modules)
        self.classes = _Classes(self.modules, self.entries)
        self.scope: list[str] = []
        self._symbols: dict[str, _Symbol | None] = {
            name: ("nautobot", "", symbol) for name, symbol in _NAUTOBOT_SYMBOLS.items()
        }
        self._resolving: set[str] = set()
        self._mros: dict[_Node, tuple[_Node, ...] | None] = {}
        self._visiting: set[_Node] = set()
        self._too_deep: set[_Node] = set()
        self._deep_modules: set[str] = set()
        self._metas: dict[_Node, MetaView] = {}
        #: Constant expressions: values by absolute name, each module's table, evaluated entries.
        self._constants: dict[str, ConstValue | _NotConstant] = {}
        self._evaluating: set[str] = set()
        self._tables: dict[str, dict[str, ConstExpr]] = {}
        self._evaluated: dict[tuple[_Node, bool], tuple[MetaEntry, ...]] = {}
        self._groupings: dict[str, tuple[str | None, Problem | None]] = {}
        self._jobness: dict[_Node, bool] = {}
        self.registration_unknown = False

    def run(self, changed: frozenset[str], previous: Registration | None) -> Discovery:
        registering = tuple(sorted(e.path for e in self.entries.values() if e.registers))
        registration = None
        if registering:
            registration = previous
            if previous is None or not self._still_holds(previous, registering, changed):
                registration = self._register(registering)
                if previous is None:
                    self.decided = None
                elif self.decided is not None:  # jobs whose registration came or went are decided too
                    moved = set(registration.selected) ^ set(previous.selected)
                    self.decided |= {module for module, _ in moved}
        elif previous is not None:
            self.decided = None  # registration was dropped: Nautobot 1 rules again, everywhere
        if self.decided is None:
            self.scope = sorted(self.modules.paths)
        else:
            self.scope = sorted(m for m in self.decided if m in self.modules)
        job_classes = [
            node for module in self.scope for node in self.classes.of(module) if self._is_job_class(node)
        ]
        unsure = sorted(e.path for e in self.broken.values() if e.mentions_register_jobs)
        in_scope = set(self.scope)
        if registration is not None:
            selected = [node for node in registration.selected if node[0] in in_scope]
            self.problems.update(registration.problems)
            self.undetermined.update(registration.undetermined)
            if registration.unknown:
                self.undetermined.update(module for module, _ in job_classes)
        elif unsure:
            selected = []
        else:
            selected = self._nautobot1_selection(job_classes)
        if unsure:
            # A file that cannot be read may call register_jobs: which classes are jobs is unknown.
            affected = sorted({module for module, _ in job_classes})
            self.undetermined.update(affected)
            reason = (
                "this unreadable file may call register_jobs, so the jobs of "
                f"{', '.join(affected) or 'no other module'} keep their last known state"
            )
            self.problems.update(Problem(path, 0, _one_line(reason)) for path in unsure)
        for module in self.scope:
            entry = self.entries[module]
            if entry.registers or entry.path.endswith("__init__.py"):
                self.problems.update(self._missing_imports(module))
        jobs = [facts for node in selected if (facts := self._facts(node)) is not None]
        jobs.sort(key=lambda f: (f.module_name, f.job_class_name))
        return Discovery(
            jobs=tuple(jobs),
            problems=tuple(sorted(self.problems, key=lambda p: (p.file, p.line, p.reason))),
            unreadable_modules=frozenset(self.broken) | frozenset(self.undetermined),
            modules=frozenset(self.modules.paths) | frozenset(self.broken),
            scope=None if self.decided is None else frozenset(self.decided),
            registration=registration,
        )

    @functools.cached_property
    def _packages(self) -> frozenset[str]:
        """Every module of the source and every package above one (folders, with or without __init__)."""
        names = set(self.modules.paths) | set(self.broken)
        return frozenset(
            ".".join(parts[:i])
            for name in names
            for parts in [name.split(".")]
            for i in range(1, len(parts) + 1)
        )

    def _missing_imports(self, module: str) -> Iterator[Problem]:
        """Imports of a package or a registering module that name no file of the source.

        Nautobot imports such a module to load its jobs; one import that fails fails them all (a
        ``jobs/__init__.py`` importing a file that is not there loads none of the repository's jobs).
        """
        summary = self.modules[module]
        for binding in summary.bindings:
            if binding.kind != "import" or len(binding.targets) != 1:
                continue
            target = binding.targets[0]
            parts = target.split(".")
            known = next(
                (i for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in self._packages),
                None,
            )
            if known is None or known == len(parts) or ".".join(parts[:known]) in self.broken:
                continue  # not the source's, or a module of it: Python finds it
            owner, name = ".".join(parts[:known]), parts[known]
            if f"{owner}.{name}" in self.broken:
                continue  # the file is there but unreadable: reported already
            # A folder without __init__.py (a namespace package) binds nothing but its modules.
            if owner in self.modules:
                if owner != module:
                    # A name another module may define is not looked up: that would read its
                    # summary, and a sync reads only what its change reaches.
                    continue
                defined = self.namespaces[owner].get(name)
                if (defined is not None and defined.targets != (target,)) or summary.star_imports:
                    continue  # bound here (the import binding itself is no definition)
            yield Problem(
                summary.path,
                binding.line,
                _one_line(
                    f"import of {target} names no file of the source and nothing {owner} defines; "
                    f"Nautobot cannot import {module}, so it would load none of its jobs"
                ),
            )

    # - registration, and what deciding it looked at -

    def _register(self, registering: tuple[str, ...]) -> Registration:
        """Resolve every register_jobs call afresh, noting each fact the resolution consults."""
        fresh = _Resolver(self.modules.summaries, self._all_entries, None)
        fresh.looked_at = {}
        before = set(fresh.problems)
        calls = []
        for module, entry in sorted(fresh.entries.items()):
            if entry.registers:
                fresh._note("calls", module, "")
                for call in fresh.modules[module].register_calls:
                    if _REGISTER_JOBS in map(fresh._resolve, call.func):
                        calls.append((fresh.modules[module], call))
        selected = fresh._registered(calls)
        return Registration(
            registering=registering,
            selected=tuple(selected),
            unknown=fresh.registration_unknown,
            undetermined=frozenset(fresh.undetermined),
            problems=tuple(sorted(fresh.problems - before, key=lambda p: (p.file, p.line, p.reason))),
            looked_at=tuple(sorted((k, m, n, sig) for (k, m, n), sig in fresh.looked_at.items())),
        )

    def _still_holds(
        self, previous: Registration, registering: tuple[str, ...], changed: frozenset[str]
    ) -> bool:
        """Whether every fact the previous registration looked at is as it was (checked in changed modules)."""
        if previous.registering != registering:
            return False
        return all(
            self._fingerprint(kind, module, name) == fingerprint
            for kind, module, name, fingerprint in previous.looked_at
            if module in changed
        )

    def _note(self, kind: str, module: str, name: str) -> None:
        if self.looked_at is not None and (kind, module, name) not in self.looked_at:
            self.looked_at[(kind, module, name)] = self._fingerprint(kind, module, name)

    def _fingerprint(self, kind: str, module: str, name: str) -> str:
        """What a consulted fact is now, in a short comparable form."""
        if kind == "exists":
            return "module" if module in self.modules else "broken" if module in self.broken else "absent"
        if module not in self.modules:
            return "absent"
        summary = self.modules[module]
        if kind == "binding":
            binding = self.namespaces[module].get(name)
            fact: object = (
                None if binding is None else (binding.kind, binding.targets, _plain_refs(binding.items))
            )
        elif kind == "stars":
            fact = summary.star_imports
        elif kind == "class":
            cls = self.classes.get((module, name))
            fact = None if cls is None else cls.bases
        else:  # "calls"
            fact = [(call.func, _plain_refs(call.args)) for call in summary.register_calls]
        return hashlib.sha1(repr(fact).encode(), usedforsecurity=False).hexdigest()[:16]

    # - names -

    def _resolve(self, dotted: str) -> _Symbol | None:
        """What an absolute dotted name denotes in this source (or in Nautobot), following imports."""
        if dotted in self._symbols:
            return self._symbols[dotted]
        if dotted in self._resolving or len(self._resolving) > _MAX_DEPTH:
            return None  # circular imports: unresolvable, not an endless loop
        self._resolving.add(dotted)
        try:
            symbol = self._lookup(dotted)
        finally:
            self._resolving.discard(dotted)
        self._symbols[dotted] = symbol
        return symbol

    def _lookup(self, dotted: str) -> _Symbol | None:
        """The longest module prefix of ``dotted`` decides; the rest is looked up in that module."""
        self._note("exists", dotted, "")
        if dotted in self.modules:
            return ("module", dotted, "")
        cut = len(dotted)
        while (cut := dotted.rfind(".", 0, cut)) > 0:
            prefix = dotted[:cut]
            self._note("exists", prefix, "")
            if prefix in self.modules:
                return self._member(prefix, dotted[cut + 1 :].split("."))
            if prefix in self.broken:
                return ("unreadable", prefix, "")
        return ("unreadable", dotted, "") if dotted in self.broken else None

    def _member(self, module: str, rest: list[str]) -> _Symbol | None:
        self._note("binding", module, rest[0])
        binding = self.namespaces[module].get(rest[0])
        if binding is None:
            self._note("stars", module, "")
            for star in reversed(self.modules[module].star_imports):
                if (symbol := self._resolve(_join(star, ".".join(rest)))) is not None:
                    return symbol
            return None
        if binding.kind in ("class", "list"):
            return (binding.kind, module, rest[0]) if len(rest) == 1 else None
        if binding.kind == "import":
            tail = ".".join(rest[1:])
            return self._first(tuple(_join(t, tail) if tail else t for t in binding.targets))
        return None

    def _first(self, targets: Iterable[str]) -> _Symbol | None:
        for target in targets:
            if (symbol := self._resolve(target)) is not None:
                return symbol
        return None

    # - classes -

    def _base_node(self, targets: tuple[str, ...]) -> _Node:
        symbol = self._first(targets)
        if symbol is None:
            return (_EXTERNAL, targets[0] if targets else "?")
        kind, module, name = symbol
        if kind == "class":
            return (module, name)
        if kind == "nautobot" and name in _NAUTOBOT_MROS:
            return (_NAUTOBOT, name)
        if kind == "unreadable":
            return (_UNREADABLE, module)
        return (_EXTERNAL, targets[0])

    def _mro(self, node: _Node) -> tuple[_Node, ...]:
        """Python's method resolution order over source classes; Nautobot's own classes are known."""
        cached = self._mros.get(node, ())
        if cached:
            return cached
        if cached is None:
            raise _CycleError
        if node[0] == _NAUTOBOT:
            return _NAUTOBOT_MROS[node[1]]
        if node not in self.classes:
            return (node,)
        self._note("class", node[0], node[1])
        if node in self._visiting:
            raise _CycleError
        if node in self._too_deep or len(self._visiting) >= MAX_CLASS_CHAIN:
            raise _TooDeepError  # also bounds this recursion, whatever order classes come in
        self._visiting.add(node)
        try:
            bases = [self._base_node(targets) for targets in self.classes[node].bases]
            base_mros = [self._mro(base) for base in bases]
        except _CycleError:
            self._mros[node] = None
            raise
        except _TooDeepError:
            self._too_deep.add(node)
            raise
        finally:
            self._visiting.discard(node)
        if not base_mros:
            mro: tuple[_Node, ...] = (node,)
        elif len(base_mros) == 1:
            mro = (node, *base_mros[0])
        else:
            mro = (node, *_c3([*map(list, base_mros), bases]))
        if len(mro) > MAX_CLASS_CHAIN:
            self._too_deep.add(node)
            raise _TooDeepError
        self._mros[node] = mro
        return mro

    def _is_job_class(self, node: _Node) -> bool:
        known = self._jobness.get(node)
        if known is None:
            known = self._jobness[node] = self._check_job_class(node)
        return known

    def _check_job_class(self, node: _Node) -> bool:
        try:
            mro = self._mro(node)
        except _CycleError:
            self.problems.add(
                self._problem(node, f"class {node[1]} has a circular chain of base classes; not a job")
            )
            return False
        except _TooDeepError:
            if node[0] not in self._deep_modules:  # once per module: a long chain is many classes
                self._deep_modules.add(node[0])
                reason = (
                    f"class {node[1]} (and any class of {node[0]} deriving from it) has a chain of more "
                    f"than {MAX_CLASS_CHAIN} base classes; not read as a job"
                )
                self.problems.add(self._problem(node, reason))
            return False
        if self.broken and any(n[0] == _UNREADABLE for n in mro):
            unreadable = ", ".join(sorted({self.broken[n[1]].path for n in mro if n[0] == _UNREADABLE}))
            self.undetermined.add(node[0])
            reason = (
                f"cannot tell whether {node[1]} is a job: a base class is in {unreadable}, which could not "
                f"be read; the jobs of {node[0]} keep their last known state"
            )
            self.problems.add(self._problem(node, reason))
            return False
        return _JOB_NODE in mro

    def _problem(self, node: _Node, reason: str) -> Problem:
        return Problem(self.modules[node[0]].path, self.classes[node].line, _one_line(reason))

    # - which classes are jobs -

    def _expand(self, refs: Iterable[NameRef], depth: int = 0) -> Iterator[tuple[NameRef, _Symbol | None]]:
        """Each reference with what it denotes; ``*name`` of a literal list is opened up."""
        for ref in refs:
            symbol = self._first(ref.targets)
            if ref.starred and symbol is not None and symbol[0] == "list" and depth < _MAX_DEPTH:
                yield from self._expand(self.namespaces[symbol[1]][symbol[2]].items, depth + 1)
            else:
                yield ref, symbol

    def _select(
        self, summary: ModuleSummary, line: int, what: str, refs: Iterable[NameRef]
    ) -> Iterator[_Node]:
        """The job classes a list of references names; anything else is reported at ``line``.

        A class registered explicitly whose bases leave the source (``nautobot_ssot``'s
        ``DataSource``, Design Builder's ``DesignJob``) is a job too, as Nautobot registers it.
        """
        refs = list(refs)
        self._note_computed(summary, line, what, refs)
        for ref, symbol in self._expand(refs):
            if not ref.is_name or ref.starred:
                reason = f"cannot resolve {what} {ref.text} without running code"
                if what == "register_jobs argument":
                    # Which classes it registers is unknown: no job of this source may be uninstalled.
                    self.registration_unknown = True
                    reason += "; jobs it may register keep their last known state"
            elif symbol is None:
                reason = f"{what} {ref.text} does not name a class of this source"
            elif symbol[0] == "unreadable":
                continue  # its file is reported as unreadable and its jobs keep their state
            elif symbol[0] == "class" and self._is_job_class((symbol[1], symbol[2])):
                yield (symbol[1], symbol[2])
                continue
            elif symbol[0] == "class" and (outside := self._outside_base((symbol[1], symbol[2]))):
                reason = (
                    f"{ref.text} derives from {outside}, from outside this source: registered as Nautobot "
                    "does, but what it inherits from there (Meta, attributes) is unknown"
                )
                self.problems.add(Problem(summary.path, line, _one_line(reason), NOTE))
                yield (symbol[1], symbol[2])
                continue
            elif symbol[0] == "class" and symbol[1] in self.undetermined:
                continue  # already reported: it depends on an unreadable file
            else:
                reason = f"{what} {ref.text} is not a job class of this source"
            self.problems.add(Problem(summary.path, line, _one_line(reason)))

    def _outside_base(self, node: _Node) -> str | None:
        """The first base of ``node`` imported from outside the source, when it is not a job class here."""
        try:
            mro = self._mro(node)
        except (_CycleError, _TooDeepError):
            return None
        return next((n[1] for n in mro if n[0] == _EXTERNAL and "." in n[1]), None)

    def _note_computed(self, summary: ModuleSummary, line: int, what: str, refs: list[NameRef]) -> None:
        """Say so when a registration list was built in code: every class it may hold is taken."""
        for ref in refs:
            symbol = self._first(ref.targets) if ref.starred else None
            if symbol is not None and symbol[0] == "list" and self.namespaces[symbol[1]][symbol[2]].computed:
                reason = (
                    f"{what} {ref.text} is a list built in code (branches, loops, appends): every class it "
                    "may hold is taken, though which it holds depends on run-time settings"
                )
                self.problems.add(Problem(summary.path, line, _one_line(reason), NOTE))

    def _registered(self, calls: list[tuple[ModuleSummary, RegisterCall]]) -> list[_Node]:
        """Nautobot 2: only registered classes are jobs; the first registration wins."""
        selected: dict[_Node, None] = {}
        for summary, call in sorted(calls, key=lambda sc: (sc[0].path, sc[1].line)):
            for node in self._select(summary, call.line, "register_jobs argument", call.args):
                selected.setdefault(node, None)
        return list(selected)

    def _nautobot1_selection(self, job_classes: list[_Node]) -> list[_Node]:
        """Nautobot 1: a module's literal ``jobs`` list, else every non-abstract job class it defines."""
        selected: dict[_Node, None] = {}
        by_module: dict[str, list[_Node]] = {}
        for node in job_classes:
            by_module.setdefault(node[0], []).append(node)
        for module in self.scope:
            summary = self.modules[module]
            binding = self.namespaces[module].get("jobs")
            listed = self._jobs_list(binding)
            if listed is not None:
                if listed.computed:
                    reason = (
                        f"jobs in {module} is a list built in code (branches, loops, appends): every class it "
                        "may hold is taken, though which it holds depends on run-time settings"
                    )
                    self.problems.add(Problem(summary.path, listed.line, reason, NOTE))
                for node in self._select(summary, listed.line, "jobs list entry", listed.items):
                    selected.setdefault(node, None)
            elif binding is not None and binding.kind != "import":
                self.undetermined.add(module)
                reason = (
                    f"jobs in {module} is not a literal list of job classes and cannot be read without running "
                    "code; no jobs are taken from this module and its known jobs keep their last state"
                )
                self.problems.add(Problem(summary.path, binding.line, reason))
            else:
                for node in by_module.get(module, ()):
                    if not self._is_abstract(node):
                        selected.setdefault(node, None)
        return list(selected)

    def _jobs_list(self, binding: Binding | None) -> Binding | None:
        if binding is None or binding.kind == "list":
            return binding
        if binding.kind == "import":  # ``from .common import jobs``; a Nautobot module is no list
            symbol = self._first(binding.targets)
            if symbol is not None and symbol[0] == "list":
                found = self.namespaces[symbol[1]][symbol[2]]
                return Binding(binding.name, "list", binding.line, items=found.items, computed=found.computed)
        return None

    # - facts -

    def _facts(self, node: _Node) -> JobFacts | None:
        mro = self._mro(node)
        hook, button = _HOOK_NODE in mro, _BUTTON_NODE in mro
        if hook and button:
            reason = (
                f"class {node[1]} derives from both JobHookReceiver and JobButtonReceiver, "
                "which Nautobot refuses; not a job"
            )
            self.problems.add(self._problem(node, reason))
            return None
        summary, cls = self.modules[node[0]], self.classes[node]
        found = self._metadata(node, mro)
        view = found if isinstance(found, MetaView) else _view(found, summary.path, cls.line)
        values: dict[str, FieldValue] = dict(OVERRIDABLE_DEFAULTS)
        values["name"] = node[1]
        if summary.grouping_expr is None:
            grouping, grouping_warning = summary.grouping, summary.grouping_warning
        else:
            grouping, grouping_warning = self._grouping(node[0])
        values["grouping"] = node[0] if grouping is None else grouping
        values.update(view.values)
        values["task_queues"] = list(view.queues)  # a fresh list: facts never share a mutable value
        warnings = view.warnings
        if grouping_warning is not None:
            warnings = (*warnings, grouping_warning)
        if warnings:
            self.problems.update(warnings)
        # Positional arguments: this runs once per job and keyword passing is measurably slower.
        return JobFacts(
            node[0],
            node[1],
            summary.path,
            cls.line,
            values,
            view.read_only,
            hook,
            button,
            tuple([w.reason for w in warnings]) if warnings else (),
        )

    def _metadata(self, node: _Node, mro: tuple[_Node, ...]) -> MetaView | dict[str, _Found]:
        """Each field as Nautobot reads ``job_class.<field>``: a class attribute of the nearest class in
        the MRO that binds one, else the nearest Meta's value (BaseJob's Meta, empty, ends the search).

        Returns the nearest Meta's view when no class attribute takes part (the common case, cheap).
        """
        attributes, meta_owner, meta = self._winners(mro)
        if meta_owner is None or meta is None:
            return attributes or _EMPTY_VIEW
        if not attributes:
            return self._meta_view(meta_owner, meta)
        return {**self._meta_found(meta_owner), **attributes}

    def _winners(self, mro: tuple[_Node, ...]) -> tuple[dict[str, _Found], _Node | None, MetaSummary | None]:
        """The class attributes that win (each from the nearest class binding it) and the nearest Meta."""
        attributes: dict[str, _Found] = {}
        meta_owner: _Node | None = None
        meta: MetaSummary | None = None
        for owner in mro:
            if owner[0] == _NAUTOBOT:
                break
            cls = self.classes.get(owner)
            if cls is None:
                continue
            if meta is None and cls.meta is not None:
                meta_owner, meta = owner, cls.meta
            if cls.attributes:
                path = self.modules[owner[0]].path
                for entry in self._resolved(owner, cls.attributes, in_meta=False):
                    if entry.key not in attributes:
                        attributes[entry.key] = (entry, path, owner[1], False)
        return attributes, meta_owner, meta

    def _meta_view(self, owner: _Node, meta: MetaSummary) -> MetaView:
        """The view of ``owner``'s Meta, merged with its own bases (``class Meta(Base.Meta)``) when it has any."""
        if not meta.bases and not meta.deferred:
            return meta.view
        if owner not in self._metas:
            self._metas[owner] = _view(self._meta_found(owner), self.modules[owner[0]].path, meta.line)
        return self._metas[owner]

    def _meta_found(self, owner: _Node) -> dict[str, _Found]:
        """The entries of ``owner``'s Meta, then those its Meta inherits (``class Meta(Base.Meta)``)."""
        found: dict[str, _Found] = {}
        for meta_owner, entries in self._meta_chain(owner):
            path = self.modules[meta_owner[0]].path
            for entry in entries:
                if entry.key not in found:
                    found[entry.key] = (entry, path, meta_owner[1], True)
        return found

    def _meta_chain(self, owner: _Node) -> list[tuple[_Node, tuple[MetaEntry, ...]]]:
        """Metas consulted, in lookup order: the owner's, then its Meta's bases (``class Meta(Base.Meta)``)."""
        chain: list[tuple[_Node, tuple[MetaEntry, ...]]] = []
        seen: set[_Node] = set()
        pending = [owner]
        while pending and len(chain) < _MAX_DEPTH:
            node = pending.pop(0)
            cls = self.classes.get(node)
            meta = cls.meta if cls is not None else None
            if node in seen or meta is None:
                continue
            seen.add(node)
            chain.append((node, self._resolved(node, meta.entries, in_meta=True)))
            for targets in meta.bases:
                symbol = self._first(t.removesuffix(".Meta") for t in targets if t.endswith(".Meta"))
                if symbol is not None and symbol[0] == "class":
                    pending.append((symbol[1], symbol[2]))
        return chain

    def _is_abstract(self, node: _Node) -> bool:
        """Whether the class's own Meta says ``abstract = True`` (not inherited, as in Nautobot 1)."""
        meta = self.classes[node].meta
        if meta is None:
            return False
        for entry in meta.entries:
            if entry.key == "abstract":
                if entry.expr is not None:
                    entry = next(
                        e for e in self._resolved(node, meta.entries, in_meta=True) if e.key == "abstract"
                    )
                return entry.value is True
        return False

    # - constant expressions -

    def _resolved(
        self, owner: _Node, entries: tuple[MetaEntry, ...], *, in_meta: bool
    ) -> tuple[MetaEntry, ...]:
        """``entries`` with every expression that waited for other modules' constants evaluated."""
        if all(entry.expr is None for entry in entries):
            return entries
        key = (owner, in_meta)
        if key not in self._evaluated:
            self._evaluated[key] = tuple(
                entry
                if entry.expr is None
                else _entry(
                    entry.key,
                    self._evaluate(entry.expr),
                    entry.line,
                    owner[1],
                    _IN_META if in_meta else _ATTRIBUTE,
                )
                for entry in entries
            )
        return self._evaluated[key]

    def _grouping(self, module: str) -> tuple[str | None, Problem | None]:
        """The module-level name of ``module`` as Nautobot reads it, and the warning that goes with it."""
        summary = self.modules[module]
        pending = summary.grouping_expr
        if pending is None or pending.expr is None:
            return summary.grouping, summary.grouping_warning
        if module not in self._groupings:
            entry = _entry("grouping", self._evaluate(pending.expr), pending.line, module, _MODULE)
            warning = None if entry.warning is None else Problem(summary.path, entry.line, entry.warning)
            self._groupings[module] = (entry.value if isinstance(entry.value, str) else None, warning)
        return self._groupings[module]

    def _evaluate(self, expr: ConstExpr, depth: int = 0) -> ConstExpr | _NotConstant:
        """The value of an expression whose names are looked up across the source, or why it has none."""
        try:
            return ("v", _fold(expr, lambda ref: self._reference(ref, depth)))
        except _NotConstant as exc:
            return exc

    def _reference(self, ref: ConstExpr, depth: int) -> ConstValue:
        """The value a name denotes: the first of its candidates (several after star imports) that binds it."""
        _, targets, text = ref
        first: _NotConstant | None = None
        for target in targets:
            try:
                return self._constant(target, depth + 1)
            except _Unbound as exc:
                first = first or exc
        raise first or _NotConstant(f"{text} is not defined")

    def _constant(self, target: str, depth: int) -> ConstValue:
        """The value of the constant an absolute dotted name denotes; memoised, cycles and long chains refused."""
        known = self._constants.get(target)
        if known is not None:
            if isinstance(known, _NotConstant):
                raise known
            return known
        if target in self._evaluating:
            raise _NotConstant(f"{target} is defined in terms of itself (circular)")
        if depth > _MAX_NAME_CHAIN:
            raise _ChainTooLong(f"too long a chain of names at {target}")
        self._evaluating.add(target)
        try:
            value = self._lookup_constant(target, depth)
        except _ChainTooLong:
            raise
        except _NotConstant as exc:
            self._constants[target] = exc
            raise
        finally:
            self._evaluating.discard(target)
        self._constants[target] = value
        return value

    def _lookup_constant(self, target: str, depth: int) -> ConstValue:
        owner, _, name = target.rpartition(".")
        symbol = self._resolve(owner) if owner else None
        if symbol is None or symbol[0] not in ("module", "unreadable"):
            raise _Unbound(f"{target} is not a constant of this source")
        if symbol[0] == "unreadable":
            raise _NotConstant(f"{target} is in {self.broken[symbol[1]].path}, which could not be read")
        module = symbol[1]
        summary = self.modules[module]
        table = self._tables.get(module)
        if table is None:
            table = self._tables[module] = dict(summary.constants)
        if name in table:
            found = self._evaluate(table[name], depth)
            if isinstance(found, _NotConstant):
                raise found
            value: ConstValue = found[1]
            return value
        rebound = dict(summary.rebound).get(name)
        if rebound is not None:
            raise _NotConstant(f"{module}.{name} is bound {rebound} times")
        binding = self.namespaces[module].get(name)
        if binding is None:
            for star in reversed(summary.star_imports):
                try:
                    return self._constant(_join(star, name), depth + 1)
                except _Unbound:
                    continue
            raise _Unbound(f"{module}.{name} is not defined")
        if binding.kind == "import":
            return self._reference(("ref", binding.targets, name), depth)
        raise _NotConstant(f"{module}.{name} is not bound to a constant expression")


def _plain_refs(refs: Iterable[NameRef]) -> list[tuple[str, tuple[str, ...], bool, bool]]:
    return [(r.text, r.targets, r.is_name, r.starred) for r in refs]


def _package_first(path: str) -> tuple[bool, str]:
    """``a/b/__init__.py`` sorts before ``a/b.py``: Python imports the package when both exist."""
    return (not path.endswith("__init__.py"), path)


def _c3(sequences: list[list[_Node]]) -> list[_Node]:
    """C3 linearisation; a left-to-right walk stands in when the bases cannot be ordered."""
    result: list[_Node] = []
    pending = [list(s) for s in sequences if s]
    while pending:
        for sequence in pending:
            head = sequence[0]
            if not any(head in other[1:] for other in pending):
                break
        else:
            flat = [n for s in sequences for n in s]
            return result + [n for i, n in enumerate(flat) if n not in flat[:i] and n not in result]
        result.append(head)
        pending = [s[1:] if s[0] == head else s for s in pending]
        pending = [s for s in pending if s]
    return result


# --- explaining one file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldOrigin:
    """A job's value of one metadata field, and where it came from (``file``/``line`` unless a default)."""

    value: FieldValue
    origin: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class ClassExplanation:
    """Whether one class of a file is a job, why or why not, and where each of a job's values came from.

    ``class_name`` is None for the one entry about a whole file that is skipped or does not parse.
    ``problems`` are what the resolver reported about this class (and, for a job, its warnings).
    """

    class_name: str | None
    line: int
    job: bool
    reason: str
    metadata: Mapping[str, FieldOrigin] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


#: The metadata fields an explanation shows, in the order docs/design.md §3 lists them.
EXPLAINED_FIELDS = (*OVERRIDABLE_DEFAULTS, "read_only")


def skipped_file(reason: str) -> ClassExplanation:
    """The answer for a file discovery never reads (a glob, a default rule): skipped, and why."""
    return ClassExplanation(None, 0, False, _one_line(f"file skipped: {reason}"))


def explain_module(
    path: str,
    summaries: Mapping[str, ModuleSummary],
    entries: Mapping[str, ModuleEntry],
    *,
    registration: Registration | None = None,
    changed: Collection[str] = (),
) -> list[ClassExplanation]:
    """For each module-level class of ``path``: is it a job, why or why not, and where its metadata came from.

    The answer is read off a resolution of the same source, so it cannot disagree with a sync: a class
    is a job exactly when ``resolve_jobs`` finds it. Arguments are ``resolve_jobs``'s: with a stored
    ``registration`` still holding (nothing it looked at lies in a ``changed`` module), only this
    module is decided, and only the summaries its lookups reach are read.
    """
    entry = entries[path]
    if entry.error is not None:
        return [_unread_file(entry.error)]
    module = entry.module_name
    # A Nautobot 1 ``jobs`` list may pick classes of other modules: then the whole source is decided.
    foreign = any(e.foreign_jobs for e in entries.values())
    resolver = _Resolver(summaries, entries, None if foreign else {module})
    discovery = resolver.run(frozenset(changed), registration)
    if resolver.modules.paths.get(module) != path:
        why = next((p.reason for p in discovery.problems if p.file == path), f"module {module} is elsewhere")
        return [skipped_file(why)]
    jobs = {facts.job_class_name: facts for facts in discovery.jobs if facts.module_name == module}
    return [
        _explain_class(resolver, discovery, (module, cls.name), jobs.get(cls.name))
        for cls in resolver.modules[module].classes
    ]


def _unread_file(error: Problem) -> ClassExplanation:
    if error.kind == NOTE:
        return ClassExplanation(None, error.line, False, _one_line(f"file skipped: {error.reason}"))
    reason = f"file does not parse at line {error.line}: {error.reason}; no class of it is read"
    return ClassExplanation(None, error.line, False, _one_line(reason), problems=(error,))


def _explain_class(
    resolver: _Resolver, discovery: Discovery, node: _Node, facts: JobFacts | None
) -> ClassExplanation:
    """One class, in the resolver's own words where it had any (its problems on the class's line)."""
    module, name = node
    path, cls = resolver.modules[module].path, resolver.classes[node]
    own = tuple(p for p in discovery.problems if p.file == path and p.line == cls.line)
    if facts is not None:
        warnings = set(facts.warnings)
        problems = own + tuple(p for p in discovery.problems if p.reason in warnings and p not in own)
        return ClassExplanation(
            name,
            cls.line,
            True,
            _why_job(resolver, discovery, node),
            _origins(resolver, node, facts),
            problems,
        )
    if not resolver._is_job_class(node):
        reason = own[0].reason if own else _not_derived(resolver._mro(node))
    elif own:
        reason = own[0].reason  # both receivers, and whatever else the resolver refused it for
    elif module in discovery.unreadable_modules:
        reason = (
            f"cannot be told without running code or reading a file that could not be read: the jobs of "
            f"{module} keep their last known state (see the source's problems)"
        )
    elif discovery.registration is not None:
        reason = (
            f"not registered: the source calls register_jobs ({', '.join(discovery.registration.registering)}) "
            f"and no call names {name}; Nautobot 2 loads only registered classes"
        )
        if resolver._is_abstract(node):
            reason += " (it is abstract too: its own Meta sets abstract = True)"
    elif (listed := resolver._jobs_list(resolver.namespaces[module].get("jobs"))) is not None:
        reason = f"not in the jobs list of {module} (line {listed.line}); Nautobot 1 loads only the classes it lists"
    elif resolver._is_abstract(node):
        reason = "abstract: its own Meta sets abstract = True, so it is a base for other jobs, not a job"
    else:  # pragma: no cover - every way the resolver leaves a job class out is named above
        reason = "not selected as a job"
    return ClassExplanation(name, cls.line, False, _one_line(reason), problems=own)


def _why_job(resolver: _Resolver, discovery: Discovery, node: _Node) -> str:
    mro = resolver._mro(node)
    nautobot = next((n[1] for n in mro if n[0] == _NAUTOBOT), None)
    through = [n[1] for n in mro[1:] if n[0] not in (_NAUTOBOT, _EXTERNAL, _UNREADABLE)]
    if nautobot is not None:
        lineage = f"derives from {nautobot}" + (f" through {', '.join(through)}" if through else "")
    else:
        outside = [n[1] for n in mro if n[0] == _EXTERNAL]
        lineage = f"its base {', '.join(outside) or '?'} comes from outside the source"
    if discovery.registration is not None:
        how = "registered with register_jobs"
    elif (listed := resolver._jobs_list(resolver.namespaces[node[0]].get("jobs"))) is not None:
        how = f"listed in the jobs list of {node[0]} (line {listed.line})"
    else:
        how = f"{node[0]} has no jobs list, so every job class it defines that is not abstract is a job"
    return _one_line(f"a job: {lineage}; {how}")


def _not_derived(mro: tuple[_Node, ...]) -> str:
    outside = [n[1] for n in mro if n[0] == _EXTERNAL]
    reason = (
        "not a job class: it does not derive from Job, JobHookReceiver or JobButtonReceiver "
        "of nautobot.extras.jobs or nautobot.apps.jobs"
    )
    if outside:
        reason += f" (bases from outside the source: {', '.join(outside)})"
    return _one_line(reason)


def _origins(resolver: _Resolver, node: _Node, facts: JobFacts) -> dict[str, FieldOrigin]:
    """Each field's value as the sync has it, with the Meta, class attribute or default it came from."""
    attributes, meta_owner, _ = resolver._winners(resolver._mro(node))
    found = {**(resolver._meta_found(meta_owner) if meta_owner is not None else {}), **attributes}
    summary = resolver.modules[node[0]]
    origins: dict[str, FieldOrigin] = {}
    for key in EXPLAINED_FIELDS:
        value: FieldValue = facts.read_only if key == "read_only" else facts.values[key]
        winner = found.get(key)
        if key == "dryrun_default" and winner is None:
            winner = found.get("commit_default")  # Nautobot 1: dryrun_default = not commit_default
        if winner is not None and winner[0].value is not None:
            entry, where, owner, in_meta = winner
            label = "Meta" if in_meta else "class attribute"
            if entry.key != key:
                label += f" {entry.key} (Nautobot 1: dryrun_default = not commit_default)"
            if (where, owner) != (summary.path, node[1]):
                label = f"inherited from class {owner} ({label})"
            origins[key] = FieldOrigin(value, label, where, entry.line)
        elif key == "grouping" and resolver._grouping(node[0])[0] is not None:
            line = resolver.namespaces[node[0]]["name"].line
            origins[key] = FieldOrigin(value, "module-level name", summary.path, line)
        elif key in ("name", "grouping"):
            origins[key] = FieldOrigin(value, f"default (the {'class' if key == 'name' else 'module'} name)")
        else:
            origins[key] = FieldOrigin(value, "default")
    return origins
