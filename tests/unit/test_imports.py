"""The shape of the package: no import cycles (lazy ones included), and a domain without I/O."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "jobsync"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file: top level, in functions, under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the path around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for dependency in sorted(graph[module]):
            if state.get(dependency) == 1:
                return [*path[path.index(dependency) :], dependency]
            if dependency not in state and (found := visit(dependency)) is not None:
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


class TestPackageShape:
    def test_no_import_cycles(self) -> None:
        """No jobsync module imports one that imports it back, however lazily or conditionally."""
        assert _cycle(_graph()) is None

    def test_the_cycle_finder_finds_cycles(self) -> None:
        """The check above can fail: a two-module loop is reported as its path."""
        assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]

    def test_domain_imports_only_the_standard_library_and_eventsourcing_domain(self) -> None:
        """The domain does no I/O: nothing from adapters, click, dulwich, sqlite or the rest of jobsync."""
        allowed = set(sys.stdlib_module_names) - {"sqlite3", "subprocess", "socket", "multiprocessing"}
        for path in (PACKAGE / "domain").glob("*.py"):
            for module in _imports(path):
                top = module.split(".")[0]
                assert (
                    top in allowed
                    or module.startswith(("jobsync.domain", "eventsourcing.domain"))
                    or module.startswith("eventsourcing.utils")
                ), f"{path.name} imports {module}"
