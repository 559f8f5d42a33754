"""Worker processes for the shared-store tests: each opens its own catalog, waits at a start line, works, reports.

Run as ``python -m tests.concurrency KIND ...`` from the project root; the last line of stdout is one
JSON report. The test side starts them with :class:`Workers`, which releases them together (so they
race for real) and kills whatever is still running when the test ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: How long anything in these tests may take before it counts as hung.
PATIENCE = 120.0


def _wait_at_start_line(go: Path, name: str) -> None:
    """Say ready, then wait for the test to release every worker at once."""
    (go.parent / f"{go.name}.{name}.ready").touch()
    deadline = time.monotonic() + PATIENCE
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: never released")
        time.sleep(0.002)


def _error(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Override ``description`` of the given jobs in turn, as fast as possible; say which were accepted."""
    from jobsync import Catalog, ConflictError

    accepted: list[dict[str, str]] = []
    unchanged: list[dict[str, str]] = []
    refused: list[dict[str, str]] = []
    errors: list[dict[str, str]] = []
    with Catalog.open(store=args.store, state_dir=args.state, actor=args.name) as catalog:
        _wait_at_start_line(args.go, args.name)
        for i in range(args.count):
            ref = args.refs[i % len(args.refs)]
            value = f"{args.name}-{i}"
            try:
                changed = catalog.override(ref, "description", value)
            except ConflictError as exc:
                refused.append({"ref": ref, "value": value, "error": str(exc)})
            except Exception as exc:  # anything else is a bug the test reports
                errors.append({"ref": ref, "value": value, **_error(exc)})
            else:
                (accepted if changed else unchanged).append({"ref": ref, "value": value})
    return {"accepted": accepted, "unchanged": unchanged, "refused": refused, "errors": errors}


def _catch_up(args: argparse.Namespace) -> dict[str, Any]:
    """Project the log into the shared read models until they reach ``--until``."""
    from jobsync.adapters.summaries import MemorySummaryStore
    from jobsync.catalog import open_app

    app, _ = open_app(args.store, MemorySummaryStore())
    calls: list[int] = []
    errors: list[dict[str, str]] = []
    try:
        _wait_at_start_line(args.go, args.name)
        time.sleep(args.delay)
        deadline = time.monotonic() + PATIENCE
        while app.views.position() < args.until and time.monotonic() < deadline:
            try:
                calls.append(app.catch_up())
            except Exception as exc:  # an escaping IntegrityError (or deadlock) is what the test looks for
                errors.append(_error(exc))
        return {"applied": sum(calls), "calls": calls, "position": app.views.position(), "errors": errors}
    finally:
        app.close()


def _append_logs(args: argparse.Namespace) -> dict[str, Any]:
    """Append ``--batches`` small batches of log entries to a running result (each save projects too)."""
    from jobsync import Catalog, LogEntry

    errors: list[dict[str, str]] = []
    appended = 0
    with Catalog.open(store=args.store, state_dir=args.state, actor=args.name) as catalog:
        _wait_at_start_line(args.go, args.name)
        for batch in range(args.batches):
            entries = [LogEntry(f"{args.name} {batch}.{i}") for i in range(args.size)]
            try:
                catalog.log_many(args.result, entries)
            except Exception as exc:
                errors.append(_error(exc))
            else:
                appended += len(entries)
    return {"appended": appended, "errors": errors}


def _fire(args: argparse.Namespace) -> dict[str, Any]:
    """Fire the due schedules at ``--now`` again and again, as racing daemons would; say which results it saved."""
    from datetime import datetime

    from jobsync import Catalog

    fired: list[str] = []
    errors: list[dict[str, str]] = []
    with Catalog.open(store=args.store, state_dir=args.state, actor=args.name) as catalog:
        _wait_at_start_line(args.go, args.name)
        for _ in range(args.rounds):
            try:
                fired += [
                    str(ident) for ident in catalog.fire_due_schedules(datetime.fromisoformat(args.now))
                ]
            except Exception as exc:
                errors.append(_error(exc))
    return {"fired": fired, "errors": errors}


def _open(args: argparse.Namespace) -> dict[str, Any]:
    """Open the store (creating its tables if this is the first process to), then close it."""
    from jobsync import Catalog, JobSyncError

    _wait_at_start_line(args.go, args.name)
    try:
        with Catalog.open(store=args.store, state_dir=args.state, actor=args.name):
            pass
    except JobSyncError as exc:
        return {"errors": [_error(exc)]}
    return {"errors": []}


def _poll(args: argparse.Namespace) -> dict[str, Any]:
    """Count a source's jobs (through the catalog, as any reader would) until the stop file appears."""
    from jobsync import Catalog

    counts: dict[int, int] = {}
    errors: list[dict[str, str]] = []
    with Catalog.open(store=args.store, state_dir=args.state, actor=args.name) as catalog:
        _wait_at_start_line(args.go, args.name)
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            stopping = args.stop.exists()
            try:
                seen = len(catalog.jobs(source=args.source, installed=None))
            except Exception as exc:
                errors.append(_error(exc))
            else:
                counts[seen] = counts.get(seen, 0) + 1
            if stopping:
                break
    return {"counts": {str(k): v for k, v in counts.items()}, "errors": errors}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.concurrency")
    kinds = parser.add_subparsers(dest="kind", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", required=True)
    common.add_argument("--name", required=True)
    common.add_argument("--state", type=Path)
    common.add_argument("--go", type=Path)
    overrides = kinds.add_parser("overrides", parents=[common])
    overrides.add_argument("--count", type=int, required=True)
    overrides.add_argument("refs", nargs="+")
    catch_up = kinds.add_parser("catch-up", parents=[common])
    catch_up.add_argument("--until", type=int, required=True)
    catch_up.add_argument("--delay", type=float, default=0.0)
    append = kinds.add_parser("append-logs", parents=[common])
    append.add_argument("--result", required=True)
    append.add_argument("--batches", type=int, required=True)
    append.add_argument("--size", type=int, required=True)
    kinds.add_parser("open", parents=[common])
    fire = kinds.add_parser("fire", parents=[common])
    fire.add_argument("--now", required=True)
    fire.add_argument("--rounds", type=int, default=3)
    poll = kinds.add_parser("poll", parents=[common])
    poll.add_argument("--source", required=True)
    poll.add_argument("--stop", type=Path, required=True)
    return parser


_KINDS = {
    "overrides": _overrides,
    "catch-up": _catch_up,
    "append-logs": _append_logs,
    "open": _open,
    "fire": _fire,
    "poll": _poll,
}


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    report = _KINDS[args.kind](args)
    print(json.dumps(report), flush=True)


# -- the test side -------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """The environment for a child: the project importable, no systemd sockets inherited."""
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def start(command: Sequence[str], stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """Start ``python COMMAND`` in its own process group (so a kill takes its workers too)."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, *command],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=child_env(),
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group this test started, if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


class Workers:
    """Worker processes of this module, released together; any still running at exit are killed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.go = folder / "go"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, kind: str, name: str, *args: str, settle: bool = True) -> None:
        """Start a worker; with ``settle``, wait until it has opened the store and reached the start line.

        Settling one by one keeps the workers' opens apart: two processes opening a PostgreSQL store at
        the same moment can fail (see TestFirstOpen in tests/integration/test_shared_store.py).
        """
        command = ["-m", "tests.concurrency", kind, "--name", name, "--go", str(self.go), *args]
        self.processes[name] = start(command, self.folder / f"{name}.out", self.folder / f"{name}.err")
        if settle:
            self._wait_ready([name])

    def release(self) -> None:
        """Wait until every worker is at the start line, then let them all go at once."""
        self._wait_ready(list(self.processes))
        self.go.touch()

    def _wait_ready(self, waiting: list[str]) -> None:
        deadline = time.monotonic() + PATIENCE
        while not all((self.folder / f"go.{name}.ready").exists() for name in waiting):
            for name in waiting:
                if self.processes[name].poll() is not None:
                    raise AssertionError(f"worker {name} ended before the start: {self.stderr(name)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"workers {waiting} never reached the start line")
            time.sleep(0.01)

    def report(self, name: str, timeout: float = PATIENCE) -> dict[str, Any]:
        """Wait for one worker to finish and return its JSON report (failing with its stderr if it crashed)."""
        process = self.processes[name]
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            raise AssertionError(
                f"worker {name} still running after {timeout} s: {self.stderr(name)}"
            ) from None
        lines = (self.folder / f"{name}.out").read_text().splitlines()
        if code != 0 or not lines:
            raise AssertionError(f"worker {name} exited {code}: {self.stderr(name)}")
        report: dict[str, Any] = json.loads(lines[-1])
        return report

    def stderr(self, name: str) -> str:
        return (self.folder / f"{name}.err").read_text(errors="replace")[-3000:]

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                kill_group(process)
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
