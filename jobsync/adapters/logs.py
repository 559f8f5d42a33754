"""structlog set-up for the entry points: JSON lines for journald, a readable console on a TTY."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

#: syslog priorities journald reads from a ``<N>`` prefix (``journalctl -p warning`` filters on them).
_PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "exception": 3, "critical": 2}


def choose_format(configured: str | None, stream: TextIO = sys.stdout) -> str:
    """The config's choice, else JSON under systemd or when piped, console on a terminal."""
    if configured:
        return configured
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        return "json"
    return "console" if stream.isatty() else "json"


def configure_logging(
    log_format: str,
    stream: TextIO = sys.stdout,
    level: str = "info",
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure structlog once, in the entry point (library code only calls ``get_logger``).

    Lines below ``level`` are dropped before they are formatted. On a stream journald reads
    (``$JOURNAL_STREAM`` names it), each line starts with its syslog priority, ``<4>`` for a
    warning, which journald strips and stores. The console is coloured only on a terminal, and
    not with ``NO_COLOR`` set or ``TERM=dumb``.
    """
    env = os.environ if environ is None else environ
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=wants_colour(stream, env))
    if reads_journal(stream, env):
        renderer = _with_priority(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def wants_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` (https://no-color.org) or ``TERM=dumb`` says no."""
    return stream.isatty() and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def reads_journal(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether ``stream`` is the journal's: ``$JOURNAL_STREAM`` is ``DEVICE:INODE`` of that very file."""
    expected = environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        found = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{found.st_dev}:{found.st_ino}"


def _with_priority(renderer: structlog.typing.Processor) -> structlog.typing.Processor:
    def render(logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
        priority = _PRIORITY.get(str(event.get("level", "info")), 6)
        line = renderer(logger, name, event)
        return f"<{priority}>{line.decode() if isinstance(line, bytes) else line}"

    return render
