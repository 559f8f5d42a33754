"""The daemon's log set-up: levels, journald priorities, colour only where it is wanted."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest
import structlog

from jobsync.adapters.logs import configure_logging, reads_journal, wants_colour


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[TextIO]:
    with (tmp_path / "log").open("w+", encoding="utf-8") as opened:
        yield opened
    structlog.reset_defaults()


def written(stream: TextIO) -> list[str]:
    stream.flush()
    stream.seek(0)
    return stream.read().splitlines()


def journal_of(stream: TextIO) -> str:
    found = os.fstat(stream.fileno())
    return f"{found.st_dev}:{found.st_ino}"


def test_lines_below_the_level_are_dropped(stream: TextIO) -> None:
    configure_logging("json", stream, level="warning", environ={})
    log = structlog.get_logger("test")
    log.info("quiet")
    log.warning("loud", file="jobs/x.py")
    lines = [json.loads(line) for line in written(stream)]
    assert [(line["event"], line["level"], line["file"]) for line in lines] == [
        ("loud", "warning", "jobs/x.py")
    ]


def test_the_journal_gets_a_priority_on_every_line(stream: TextIO) -> None:
    configure_logging("json", stream, level="debug", environ={"JOURNAL_STREAM": journal_of(stream)})
    log = structlog.get_logger("test")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    lines = written(stream)
    assert [line[:4] for line in lines] == ["<7>{", "<6>{", "<4>{", "<3>{"]
    assert json.loads(lines[2][3:])["event"] == "w"


def test_another_streams_journal_is_not_this_one(stream: TextIO) -> None:
    assert not reads_journal(stream, {"JOURNAL_STREAM": "1:2"})
    assert not reads_journal(stream, {})
    configure_logging("json", stream, environ={"JOURNAL_STREAM": "1:2"})
    structlog.get_logger("test").warning("w")
    assert written(stream)[0].startswith("{")


@pytest.mark.parametrize(
    ("environ", "coloured"),
    [({}, True), ({"NO_COLOR": "1"}, False), ({"TERM": "dumb"}, False), ({"TERM": "xterm"}, True)],
)
def test_colour_only_on_a_terminal_that_wants_it(environ: dict[str, str], coloured: bool) -> None:
    leader, follower = os.openpty()
    with open(follower, "w", encoding="utf-8") as terminal:
        assert wants_colour(terminal, environ) is coloured
        configure_logging("console", terminal, environ=environ)
        structlog.get_logger("test").warning("look")
        terminal.flush()
        shown = os.read(leader, 4096).decode()
    os.close(leader)
    structlog.reset_defaults()
    assert "look" in shown
    assert ("\x1b[" in shown) is coloured


def test_a_file_is_never_coloured(stream: TextIO) -> None:
    assert not wants_colour(stream, {})
