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
