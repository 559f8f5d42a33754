"""What every bench script does around its measurements: a work folder, and the report's output."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def work_folder(parser: argparse.ArgumentParser, workdir: Path | None) -> Iterator[Path]:
    """``--workdir`` (kept afterwards, must be empty) or a temporary folder removed at the end."""
    with tempfile.TemporaryDirectory(prefix="jobsync-bench-") as tmp:
        work = workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            parser.error(f"--workdir {work} is not empty")
        yield work


def emit(
    result: dict[str, Any], args: argparse.Namespace, print_table: Callable[[dict[str, Any], Any], None]
) -> None:
    """One JSON document with ``--json``, else the script's table."""
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result, args)


def run_bench(
    parser: argparse.ArgumentParser,
    run: Callable[[argparse.Namespace, Path], dict[str, Any]],
    print_table: Callable[[dict[str, Any], Any], None],
) -> dict[str, Any]:
    """A bench's main: add ``--workdir`` and ``--json``, run in the work folder, print; the result."""
    parser.add_argument("--workdir", type=Path, help="keep the work here (an empty folder)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args()
    with work_folder(parser, args.workdir) as work:
        result = run(args, work)
    emit(result, args, print_table)
    return result
