"""``python -m jobsync.manpage OUTDIR``: the jobsync(1) manual page, written from the CLI's own help.

The help texts, options and examples of the click commands are the one source, so the page
cannot drift from ``jobsync --help``. The roff is written here (man(7) macros only), without a
dependency; ``make man`` builds it into ``build/man/``.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

#: Variables jobsync reads besides the global options' own (those come from the options).
ENVIRONMENT = (
    (
        "JOBSYNC_CONFIG",
        "The config file, when --config is not given (default: /etc/jobsync/config.toml when it exists).",
    ),
    ("JOBSYNC_DEBUG", "Set to 1 to get a traceback instead of the one-line error of an unexpected failure."),
    (
        "STATE_DIRECTORY",
        "Set by systemd (StateDirectory=): the state folder, where the default catalog lives.",
    ),
    (
        "XDG_STATE_HOME",
        "A user's own state folder: the default catalog is $XDG_STATE_HOME/jobsync/jobsync.db.",
    ),
    ("TZ", "The time zone times are shown in (see --utc), and a new schedule's default zone."),
    ("PGPASSWORD", "The password of a postgresql:// store whose URL and password_file give none."),
    (
        "NO_COLOR",
        "When set, nothing is coloured: tables, errors, the daemon's console log (as with TERM=dumb).",
    ),
    (
        "JOBSYNC_PAGER",
        "The pager for output taller than the terminal (else $PAGER, else less -FRX); empty or cat: none.",
    ),
    ("PAGER", "The pager when $JOBSYNC_PAGER is not set."),
    ("COLUMNS", "The terminal width tables are fitted to (else the window's)."),
    ("JOURNAL_STREAM", "Set by systemd: the daemon writes JSON lines with journald priorities."),
    ("_JOBSYNC_COMPLETE", "Used by the completion scripts (see jobsync completion) to ask for completions."),
)

FILES = (
    ("/etc/jobsync/config.toml", "The default config file: store, state folder, sources, [http]."),
    (
        "/var/lib/jobsync/jobsync.db",
        "The service's catalog (its StateDirectory), read by root and the jobsync user.",
    ),
    ("~/.local/state/jobsync/jobsync.db", "A user's own catalog, when the service's folder is not theirs."),
)


@dataclass(frozen=True)
class CommandHelp:
    """One command as the page shows it: ``jobsync jobs show [OPTIONS] JOB``, its help and options."""

    path: str
    usage: str
    help: str
    options: list[tuple[str, str]]


def commands(cli: click.Group) -> Iterator[CommandHelp]:
    """Every command below ``cli``, depth first in the order ``--help`` lists them, hidden ones left out."""
    root = click.Context(cli, info_name="jobsync")
    yield from _commands(cli, root)


def _commands(group: click.Group, ctx: click.Context) -> Iterator[CommandHelp]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        if isinstance(command, click.Group):
            yield from _commands(command, sub)
            continue
        yield CommandHelp(
            path=sub.command_path,
            usage=" ".join(command.collect_usage_pieces(sub)),
            help=_help_text(command),
            options=_options(command, sub),
        )


def _help_text(command: click.Command) -> str:
    text = inspect.cleandoc(command.help or "")
    return text.split("\f")[0].strip()  # click shows nothing after a form feed


def _options(command: click.Command, ctx: click.Context) -> list[tuple[str, str]]:
    records = (
        param.get_help_record(ctx) for param in command.get_params(ctx) if isinstance(param, click.Option)
    )
    return [record for record in records if record is not None]


def examples(help_text: str) -> list[str]:
    """The command lines of the help's ``Example:`` block (each indented under it)."""
    found: list[str] = []
    lines = help_text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().rstrip(":") in ("Example", "Examples"):
            for following in lines[index + 1 :]:
                if not following.startswith((" ", "\t")) or not following.strip():
                    break
                found.append(following.strip())
    return found


def manual_page(cli: click.Group, date: datetime | None = None) -> str:
    """The roff text of jobsync(1)."""
    when = (date or _build_date()).strftime("%Y-%m-%d")
    root = click.Context(cli, info_name="jobsync")
    listed = list(commands(cli))
    out = [
        f'.TH JOBSYNC 1 "{when}" "jobsync {_version()}" "User Commands"',
        ".SH NAME",
        "jobsync \\- " + _escape(_first_sentence(cli.help or "")),
        ".SH SYNOPSIS",
        ".B jobsync",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        *_paragraphs(_help_text(cli)),
        ".PP",
        "Every command takes \\fB\\-\\-help\\fR. Usage errors exit 2, other failures"
        " exit 1 with one line on standard error that starts with \\(lqerror:\\(rq.",
        ".SH OPTIONS",
        *_option_list(_options(cli, root)),
        ".SH COMMANDS",
    ]
    for command in listed:
        heading = _escape(f"{command.path} {command.usage}").replace('"', "\\(dq")
        out += [f'.SS "{heading}"', *_paragraphs(command.help)]
        out += _option_list([option for option in command.options if option[0] != "--help"])
    every_example = [line for command in listed for line in examples(command.help)]
    if every_example:
        out += [".SH EXAMPLES", ".nf", *(_escape_line(line) for line in every_example), ".fi"]
    out.append(".SH ENVIRONMENT")
    for name, text in (*_option_envvars(cli, root), *ENVIRONMENT):
        out += [".TP", f"\\fB{_escape(name)}\\fR", _escape_line(text)]
    out.append(".SH FILES")
    for path, text in FILES:
        out += [".TP", f"\\fI{_escape(path)}\\fR", _escape_line(text)]
    out += [
        ".SH EXIT STATUS",
        "0 on success (also when the reader of standard output goes away), 1 on a failure, 2 on a"
        " usage error, 3 when \\fBresults claim\\fR finds no run waiting.",
        ".SH SEE ALSO",
        "The README and docs/design.md of the jobsync repository.",
    ]
    return "\n".join(out) + "\n"


def _option_envvars(cli: click.Group, ctx: click.Context) -> Iterator[tuple[str, str]]:
    for param in cli.get_params(ctx):
        if isinstance(param, click.Option) and isinstance(param.envvar, str):
            yield param.envvar, f"The default of {param.opts[-1]}: {param.help or ''}"


def _option_list(options: list[tuple[str, str]]) -> list[str]:
    lines: list[str] = []
    for names, text in options:
        lines += [".TP", _option_names(names), _escape_line(" ".join(text.split()))]
    return lines


def _option_names(names: str) -> str:
    """``-v, --verbose`` or ``--enabled / --disabled`` in bold, a value (``TIME``, ``[a|b]``) in italics."""
    words = names.split(" ")
    flags = [word for word in words if word.startswith("-") or word == "/"]
    value = " ".join(words[len(flags) :])
    shown = f"\\fB{_escape(' '.join(flags))}\\fR"
    return shown + (f" \\fI{_escape(value)}\\fR" if value else "")


def _paragraphs(text: str) -> list[str]:
    """Click's help paragraphs as roff: wrapped ones filled, ``\\b`` ones kept line by line."""
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        if not paragraph.strip():
            continue
        if paragraph.startswith("\b"):
            kept = paragraph.split("\n")[1:]
            lines += [".PP", ".nf", *(_escape_line(line) for line in kept), ".fi"]
        else:
            lines += [".PP", _escape_line(" ".join(paragraph.split()))]
    return lines


def _first_sentence(text: str) -> str:
    summary = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    return summary.split(": ", 1)[-1] if summary.startswith("jobsync:") else summary


def _escape(text: str) -> str:
    """Text safe inside a roff line: backslashes printed, minus signs as minus (copy-pasteable)."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def _escape_line(text: str) -> str:
    """A whole text line: also one that starts with a dot or quote is not taken for a request."""
    escaped = _escape(text)
    return "\\&" + escaped if escaped.startswith((".", "'")) else escaped


def _version() -> str:
    try:
        return version("jobsync")
    except PackageNotFoundError:
        return "(not installed)"


def _build_date() -> datetime:
    """``$SOURCE_DATE_EPOCH`` when set, for reproducible builds; else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    return datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)


def write_pages(folder: Path) -> list[Path]:
    """Write jobsync.1 into ``folder`` (made if missing); the paths written."""
    from jobsync.cli import cli

    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "jobsync.1"
    page.write_text(manual_page(cli), encoding="utf-8")
    return [page]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m jobsync.manpage OUTDIR", file=sys.stderr)
        raise SystemExit(2)
    for path in write_pages(Path(args[0])):
        print(path)


if __name__ == "__main__":
    main()
