"""How the CLI shows what it read: tables that fit the terminal, colour, a pager, JSON and YAML.

At a terminal output is for a person (fitted, coloured, paged when long); piped it is for a
program (whole cells, no colour, no pager), as gh and kubectl do. Imports stay light: this
module is loaded by every CLI call, so YAML and subprocess are imported only when used.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from io import TextIOBase
from typing import IO, Any, TextIO

import click

#: What ``-o`` accepts: ``wide`` is a table with more columns.
FORMATS = ("table", "wide", "json", "yaml")

#: The pager when neither $JOBSYNC_PAGER nor $PAGER says: quit at once if one screen is enough (-F),
#: pass colours (-R), leave the text on the screen afterwards (-X).
DEFAULT_PAGER = "less -FRX"

ELLIPSIS = "…"
GAP = "  "


class Output:
    """How a read command prints: its format, and for lists whether only refs or no headers.

    A plain class: a frozen dataclass costs about half a millisecond of every CLI call's start-up.
    """

    __slots__ = ("format", "headers", "quiet")

    def __init__(self, format: str = "table", quiet: bool = False, headers: bool = True) -> None:
        self.format = format
        self.quiet = quiet
        self.headers = headers

    @property
    def structured(self) -> bool:
        """JSON or YAML: a document for programs rather than text for people."""
        return self.format in ("json", "yaml")

    @property
    def wide(self) -> bool:
        return self.format == "wide"


# -- colour ---------------------------------------------------------------------------------------

#: Statuses, levels and problem kinds by colour: bad red, good green, in progress or doubtful yellow.
_COLOURS: Mapping[str, str] = {
    **dict.fromkeys(("failing", "failed", "errored", "error", "errors", "critical", "failure"), "red"),
    **dict.fromkeys(("ok", "completed", "success"), "green"),
    **dict.fromkeys(("running", "pending", "warning", "warnings", "will"), "yellow"),
    **dict.fromkeys(("note", "notes", "debug"), "bright_black"),
}


def colour_wanted(stream: IO[str] | None = None) -> bool:
    """Colour only for a terminal, and not when the user said no (``NO_COLOR``, ``TERM=dumb``)."""
    stream = stream if stream is not None else sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


def colour_of(text: str) -> str | None:
    """The colour of a status, level or kind, by its first word (``failing (no such ref)`` is red)."""
    words = text.split(maxsplit=1)
    return _COLOURS.get(words[0].strip(":;,.()").lower()) if words else None


def paint(text: str, word: str | None = None, stream: IO[str] | None = None) -> str:
    """``text`` coloured as ``word`` (default: its own first word) says, when colour is wanted on ``stream``."""
    return styled(text, word) if colour_wanted(stream) else text


def styled(text: str, word: str | None = None) -> str:
    """``text`` in the colour of ``word`` (default: its own first word), whatever the stream."""
    colour = colour_of(word if word is not None else text)
    if colour is None:
        return text
    return click.style(text, fg=colour, bold=True if colour == "red" else None)


# -- tables ---------------------------------------------------------------------------------------


def cell_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide characters two, combining marks none."""
    if text.isascii():
        return len(text)
    import unicodedata  # only for non-ASCII text

    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text
    )


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, ending in ``…`` when cut."""
    if cell_width(text) <= width:
        return text
    if width <= 0:
        return ""
    kept, used = [], 0
    for char in text:
        size = cell_width(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


def fit_widths(
    widths: Sequence[int], floors: Sequence[int], available: int, gap: int = len(GAP)
) -> list[int]:
    """Column widths whose row fits in ``available`` columns: the widest columns shrink first, to a
    common cap, none below its floor. Returns the floors when even they do not fit."""
    needed = gap * (len(widths) - 1)

    def capped(cap: int) -> list[int]:
        return [max(min(width, cap), floor) for width, floor in zip(widths, floors, strict=True)]

    if sum(widths) + needed <= available:
        return list(widths)
    low, high = 0, max(widths, default=0)  # the largest cap that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if sum(capped(middle)) + needed <= available:
            low = middle
        else:
            high = middle - 1
    return capped(low)


def table_lines(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    headers_shown: bool = True,
    coloured: Collection[str] = (),
    colour: bool = False,
) -> list[str]:
    """A table as lines: columns padded to their widest cell; with a ``width`` (a terminal's), cells
    of the widest columns cut with ``…`` so no line is longer than ``width``. Cells are printable text
    already (no newlines). With ``colour``, cells under the ``coloured`` headers are painted."""
    shown_rows = [list(headers), *rows] if headers_shown else [list(row) for row in rows]
    natural = [max(cell_width(c) for c in column) for column in zip(headers, *shown_rows, strict=True)]
    widths = natural
    if width is not None:
        header_floors = [min(w, max(len(h), 3)) for w, h in zip(natural, headers, strict=True)]
        widths = fit_widths(natural, header_floors, width)
        if sum(widths) + len(GAP) * (len(widths) - 1) > width:  # too narrow even for the headers
            widths = fit_widths(natural, [min(w, 1) for w in natural], width)
    painted = {i for i, header in enumerate(headers) if header in coloured} if colour else set()
    lines = []
    for number, row in enumerate(shown_rows):
        parts = []
        for index, (cell, size) in enumerate(zip(row, widths, strict=True)):
            text = clip(cell, size)
            padding = " " * (size - cell_width(text))
            is_header = headers_shown and number == 0
            parts.append((styled(text) if index in painted and not is_header else text) + padding)
        lines.append(GAP.join(parts).rstrip())
    return lines


def terminal_width(stream: IO[str] | None = None) -> int | None:
    """The terminal's width (``$COLUMNS`` wins) when ``stream`` is one; None for a pipe or file, whose
    reader gets whole cells."""
    stream = stream if stream is not None else sys.stdout
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    headers_shown: bool = True,
    coloured: Collection[str] = ("STATUS", "LEVEL", "KIND"),
) -> None:
    """A table on stdout, fitted to the terminal there is one; ``(none)`` for no rows (nothing at
    all without headers: a script reads no rows)."""
    if not rows:
        if headers_shown:
            click.echo("(none)")
        return
    for line in table_lines(headers, rows, terminal_width(), headers_shown, coloured, colour_wanted()):
        click.echo(line)


# -- documents ------------------------------------------------------------------------------------


def print_document(data: Any, format: str = "json") -> None:
    """``data`` (JSON-shaped) as JSON or YAML: indented for a person at a terminal, compact JSON
    (several times faster) for a program."""
    if format == "yaml":
        click.echo(yaml_text(data), nl=False)
    elif sys.stdout.isatty():
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(json.dumps(data, separators=(",", ":")))


def yaml_text(data: Any) -> str:
    """YAML in the key order of the JSON; PyYAML is imported here only, for ``-o yaml``."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


# -- the pager ------------------------------------------------------------------------------------


def pager_command(environ: Mapping[str, str] | None = None) -> str | None:
    """The pager to use: ``$JOBSYNC_PAGER``, else ``$PAGER``, else ``less -FRX`` when installed;
    None when the chosen one is empty or ``cat`` (the way to turn paging off)."""
    environ = environ if environ is not None else os.environ
    for name in ("JOBSYNC_PAGER", "PAGER"):
        if name in environ:
            command = environ[name].strip()
            return None if command in ("", "cat") else command
    return DEFAULT_PAGER if shutil.which("less") else None


class _PagingStdout(TextIOBase):
    """Stands in for stdout at a terminal: holds the first screenful; once the output is taller than
    the screen, starts the pager and sends everything to it. Shorter output goes to the terminal."""

    def __init__(self, real: TextIO, command: str, rows: int, columns: int) -> None:
        super().__init__()
        self.real = real
        self.command = command
        self.rows = rows
        self.columns = max(columns, 1)
        self.held: list[str] = []
        self.held_rows = 0
        self.pager: Any = None  # subprocess.Popen[str], once started
        self.through = False

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only here, as on a real stream
        return self.real.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.real.errors

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.real.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # click asks whether this is a binary stream: it is not
            raise TypeError("a text stream")
        if self.pager is not None:
            try:
                self.pager.stdin.write(text)
            except BrokenPipeError:  # the person quit the pager: the rest is not wanted
                raise SystemExit(0) from None
        elif self.through:
            self.real.write(text)
        else:
            self.held.append(text)
            self.held_rows += self._rows_of(text)
            if self.held_rows >= self.rows:
                self._start_pager()
        return len(text)

    def _rows_of(self, text: str) -> int:
        rows = text.count("\n")
        if len(text) > self.columns:  # a long line wraps (colour codes make this a slight overcount)
            rows += sum(len(line) // self.columns for line in text.split("\n"))
        return rows

    def _start_pager(self) -> None:
        import subprocess

        env = dict(os.environ)
        env.setdefault("LESS", "FRX")
        env.setdefault("LV", "-c")
        self.pager = subprocess.Popen(
            self.command,
            shell=True,  # a command line, as git and gh run $PAGER
            stdin=subprocess.PIPE,
            text=True,
            encoding=self.real.encoding,
            errors=self.real.errors or "strict",
            env=env,
        )
        self.write("".join(self.held))
        self.held.clear()

    def flush(self) -> None:
        try:
            if self.pager is not None:
                self.pager.stdin.flush()
            elif self.through:
                self.real.flush()
        except BrokenPipeError:
            raise SystemExit(0) from None

    def pass_through(self) -> None:
        """Stop holding output: what was held, and all that follows, goes to the terminal at once."""
        if self.pager is None and not self.through:
            self.through = True
            self.real.write("".join(self.held))
            self.real.flush()
            self.held.clear()

    def finish(self) -> None:
        """Print what is held, or let the pager show the end and wait until the person quits it."""
        if self.pager is None:
            self.pass_through()
            return
        with suppress(BrokenPipeError):  # the person quit the pager before the end
            self.pager.stdin.close()
        while True:
            try:
                self.pager.wait()
                return
            except KeyboardInterrupt:  # Ctrl-C is the pager's to handle (less stops a search)
                continue


@contextmanager
def paged(enabled: bool = True) -> Iterator[None]:
    """Send what the block prints through the pager when stdout is a terminal and the output is
    taller than it; never for a pipe or a file."""
    real = sys.stdout
    command = pager_command() if enabled and real is not None and real.isatty() else None
    if command is None:
        yield
        return
    size = shutil.get_terminal_size()
    stand_in = _PagingStdout(real, command, size.lines, size.columns)
    sys.stdout = stand_in
    try:
        yield
    finally:
        sys.stdout = real
        stand_in.finish()


def stop_paging() -> None:
    """Output from here on is a stream someone watches (``logs --follow``): no holding, no pager."""
    if isinstance(sys.stdout, _PagingStdout):
        sys.stdout.pass_through()
