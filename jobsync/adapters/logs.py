"""structlog set-up for the entry points: JSON lines for journald, a readable console on a TTY."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import structlog


def choose_format(configured: str | None, stream: TextIO = sys.stdout) -> str:
    """The config's choice, else JSON under systemd or when piped, console on a terminal."""
    if configured:
        return configured
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        return "json"
    return "console" if stream.isatty() else "json"


def configure_logging(log_format: str, stream: TextIO = sys.stdout) -> None:
    """Configure structlog once, in the entry point (library code only calls ``get_logger``)."""
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
