"""What the read commands print: fitted, coloured and paged at a terminal (a real pseudo-terminal),
whole and plain when piped, and as JSON, YAML, wide tables, bare refs or headless tables on request."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import yaml

from tests.helpers import Cli, GitRepo, assert_one_line_error

JOBS = """\
from nautobot.apps.jobs import Job


class BackupConfigs(Job):
    class Meta:
        description = "Back up the running configuration of every device in the inventory, nightly"


class VerifyInterfacesAcrossTheWholeNetwork(Job):
    class Meta:
        has_sensitive_variables = False


"""

MANY = 30  # more jobs than the terminal below is tall
LONG_REF = "netops:jobs.ops.VerifyInterfacesAcrossTheWholeNetwork"


@dataclass
class Screen:
    """What a command wrote to a terminal, and how it exited."""

    code: int
    text: str

    @property
    def lines(self) -> list[str]:
        """The text as the terminal shows it: colours removed, one entry a row."""
        return click.unstyle(self.text).replace("\r\n", "\n").rstrip("\n").split("\n")


def on_terminal(
    cli: Cli, *args: str, columns: int = 80, rows: int = 24, env: dict[str, str] | None = None
) -> Screen:
    """Run ``jobsync ARGS`` with stdout and stderr on a pseudo-terminal of the given size.

    ``env`` is added to a clean environment (no $COLUMNS, $LINES, $NO_COLOR, $PAGER), TERM=xterm.
    """
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "LINES", "NO_COLOR", "PAGER", "JOBSYNC_PAGER", "JOBSYNC_DEBUG", "LESS")
    }
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    command = [sys.executable, "-m", "jobsync", "--config", str(cli.config), "--actor", "alice", *args]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env={**base, "TERM": "xterm", **(env or {})},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return Screen(process.wait(timeout=60), b"".join(chunks).decode())


def piped(cli: Cli, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe and ``env`` added, as a script does."""
    command = [sys.executable, "-m", "jobsync", "--config", str(cli.config), "--actor", "alice", *args]
    base = {k: v for k, v in os.environ.items() if k not in ("JOBSYNC_DEBUG", "NO_COLOR")}
    return subprocess.run(command, capture_output=True, text=True, env={**base, **env}, timeout=60)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A catalog with 32 jobs, a failed run with an error entry, and a schedule; the tests only read it."""
    tmp_path = tmp_path_factory.mktemp("output")
    cli, repo = Cli(tmp_path), GitRepo(tmp_path / "netops")
    repo.write("jobs/ops.py", JOBS)
    repo.write(
        "jobs/many.py",
        "from nautobot.apps.jobs import Job\n"
        + "".join(f"\n\nclass Job{i:02}(Job):\n    pass\n" for i in range(MANY)),
    )
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    cli.ok("jobs", "enable", LONG_REF)
    failed = cli.ok("results", "record", LONG_REF).strip()
    cli.ok("results", "start", failed)
    cli.ok("results", "log", failed, "interface down", "--level", "error")
    cli.ok("results", "finish", failed, "--status", "failed")
    cli.ok("schedules", "add", LONG_REF, "--name", "nightly", "--every", "daily")
    return cli


def run_id(catalogue: Cli) -> str:
    """The id of the catalogue's failed run (the other results are syncs)."""
    [result] = catalogue.json("results", "list", "--job", LONG_REF)
    return str(result["id"])


class TestWidth:
    def test_a_table_fits_the_terminal_and_never_wraps(self, catalogue: Cli) -> None:
        """At 60 columns every line of ``jobs list`` fits; a long ref is cut with ``…``; one line a job."""
        screen = on_terminal(catalogue, "--no-pager", "jobs", "list", columns=60)
        assert screen.code == 0, screen.text
        assert all(len(line) <= 60 for line in screen.lines), screen.lines
        assert len(screen.lines) == 1 + MANY + 2
        [long_row] = [line for line in screen.lines if "Verify" in line]
        assert "…" in long_row and LONG_REF not in long_row

    def test_columns_in_the_environment_wins(self, catalogue: Cli) -> None:
        """$COLUMNS narrows the table as the terminal's own width does."""
        screen = on_terminal(catalogue, "--no-pager", "sources", "list", columns=200, env={"COLUMNS": "50"})
        assert screen.code == 0, screen.text
        assert all(len(line) <= 50 for line in screen.lines) and "…" in screen.text

    def test_a_wide_terminal_shows_whole_cells(self, catalogue: Cli) -> None:
        """Nothing is cut when the table fits."""
        screen = on_terminal(catalogue, "--no-pager", "jobs", "list", columns=200)
        assert LONG_REF in screen.text and "…" not in screen.text

    def test_piped_output_has_whole_cells_whatever_the_width(self, catalogue: Cli) -> None:
        """A script gets every cell whole, even with $COLUMNS set, and the same text as before fitting
        existed: columns padded to the widest cell, two spaces apart."""
        done = piped(catalogue, "jobs", "list", COLUMNS="30")
        assert done.returncode == 0, done.stderr
        assert "…" not in done.stdout and LONG_REF in done.stdout
        header, *rows = done.stdout.splitlines()
        assert header.split() == ["REF", "NAME", "GROUPING", "INSTALLED", "ENABLED", "OVERRIDES"]
        assert header.index("NAME") == len(LONG_REF) + 2
        assert len(rows) == MANY + 2


class TestColour:
    def test_statuses_are_coloured_at_a_terminal(self, catalogue: Cli) -> None:
        """A failed run is red, an ok source green, an error log entry red."""
        results = on_terminal(catalogue, "--no-pager", "results", "list", columns=200)
        assert re.search(r"\x1b\[31m(\x1b\[1m)?failed", results.text), results.text
        sources = on_terminal(catalogue, "sources", "list", columns=200)
        assert "\x1b[32mok" in sources.text
        logs = on_terminal(catalogue, "logs", run_id(catalogue))
        assert re.search(r"\x1b\[31m(\x1b\[1m)?error", logs.text), logs.text

    @pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
    def test_no_colour_when_the_user_says_so(self, catalogue: Cli, env: dict[str, str]) -> None:
        """NO_COLOR (any value) and TERM=dumb turn colour off at a terminal; tables are still fitted."""
        screen = on_terminal(catalogue, "--no-pager", "results", "list", columns=60, env=env)
        assert screen.code == 0 and "failed" in screen.text
        assert "\x1b[" not in screen.text
        assert all(len(line) <= 60 for line in screen.lines)

    def test_no_colour_when_piped(self, catalogue: Cli) -> None:
        """A pipe never gets escape sequences, whatever TERM says."""
        for args in (
            ("results", "list"),
            ("sources", "list"),
            ("logs", run_id(catalogue)),
        ):
            assert "\x1b" not in piped(catalogue, *args, TERM="xterm-256color").stdout

    def test_an_error_at_a_terminal_is_red_and_still_one_line(self, catalogue: Cli) -> None:
        """``error:`` is red on a terminal's stderr; the line says the same as piped."""
        screen = on_terminal(catalogue, "jobs", "show", "Nope")
        assert screen.code == 1
        assert screen.text.startswith("\x1b[31m")
        assert len(screen.lines) == 1 and screen.lines[0].startswith("error: no job matches 'Nope'")


class TestPager:
    def test_long_output_at_a_terminal_goes_through_the_pager(self, catalogue: Cli) -> None:
        """Output taller than the terminal is handed to $JOBSYNC_PAGER (``cat -n`` numbers its lines)."""
        screen = on_terminal(catalogue, "jobs", "list", rows=10, env={"JOBSYNC_PAGER": "cat -n"})
        assert screen.code == 0, screen.text
        assert len(screen.lines) == 1 + MANY + 2
        assert [line.split("\t")[0].strip() for line in screen.lines] == [
            str(n) for n in range(1, len(screen.lines) + 1)
        ]

    def test_pager_from_pager_when_jobsync_pager_is_unset(self, catalogue: Cli) -> None:
        """$PAGER is the pager when $JOBSYNC_PAGER is not set."""
        screen = on_terminal(catalogue, "audit", rows=10, env={"PAGER": "cat -n"})
        assert screen.lines[0].split("\t")[0].strip() == "1"

    def test_short_output_is_not_paged(self, catalogue: Cli) -> None:
        """What fits on the screen is printed straight away."""
        screen = on_terminal(catalogue, "sources", "list", rows=10, env={"JOBSYNC_PAGER": "cat -n"})
        assert screen.code == 0 and screen.lines[0].startswith("NAME")

    @pytest.mark.parametrize(
        ("args", "env"),
        [
            (("--no-pager", "jobs", "list"), {"JOBSYNC_PAGER": "cat -n"}),
            (("jobs", "list"), {"JOBSYNC_PAGER": "", "PAGER": "cat -n"}),
            (("jobs", "list"), {"JOBSYNC_PAGER": "cat", "PAGER": "cat -n"}),
        ],
    )
    def test_paging_turned_off(self, catalogue: Cli, args: tuple[str, ...], env: dict[str, str]) -> None:
        """--no-pager, or JOBSYNC_PAGER empty or ``cat``, prints long output directly."""
        screen = on_terminal(catalogue, *args, rows=10, env=env)
        assert screen.code == 0 and screen.lines[0].startswith("REF")
        assert len(screen.lines) == 1 + MANY + 2

    def test_never_paged_when_piped(self, catalogue: Cli) -> None:
        """A pipe gets the output itself, however long, even with a pager configured."""
        done = piped(catalogue, "jobs", "list", JOBSYNC_PAGER="cat -n", LINES="5")
        assert done.returncode == 0 and done.stdout.startswith("REF")

    def test_quitting_the_pager_early_is_no_failure(self, catalogue: Cli) -> None:
        """A pager that stops reading (the person pressed q) ends the command quietly, exit 0."""
        screen = on_terminal(catalogue, "jobs", "list", rows=10, env={"JOBSYNC_PAGER": "head -n 3"})
        assert screen.code == 0, screen.text
        assert len(screen.lines) == 3 and "Error" not in screen.text and "error" not in screen.text

    def test_a_followed_log_is_not_paged(self, catalogue: Cli) -> None:
        """``logs --follow`` streams (here a finished run: it prints and ends with the run's status)."""
        screen = on_terminal(
            catalogue, "logs", run_id(catalogue), "--follow", rows=3, env={"JOBSYNC_PAGER": "cat -n"}
        )
        assert screen.code == 1
        assert "interface down" in screen.lines[0] and "\t" not in screen.text

    def test_the_demo_is_never_paged(self, cli: Cli, tmp_path: Path) -> None:
        """``jobsync demo`` at a small terminal tells its story straight through: no pager stops it halfway."""
        screen = on_terminal(
            cli, "demo", "--dir", str(tmp_path / "demo"), rows=5, env={"JOBSYNC_PAGER": "cat -n"}
        )
        assert screen.code == 0, screen.text
        assert "already up to date" in screen.text and "\t" not in screen.text


#: Every read command with -o, and its arguments in the catalogue above ({result}, {ref} filled in).
READ_COMMANDS = [
    ("jobs", "list", "--all"),
    ("jobs", "show", "BackupConfigs"),
    ("jobs", "history", "BackupConfigs"),
    ("jobs", "diff", "BackupConfigs", "v1"),
    ("sources", "list"),
    ("sources", "show", "netops"),
    ("results", "list"),
    ("results", "show", "{result}"),
    ("logs", "{result}"),
    ("schedules", "list"),
    ("schedules", "show", "nightly"),
    ("audit",),
    ("explain", "netops", "jobs/ops.py"),
]


def _filled(catalogue: Cli, args: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(run_id(catalogue) if a == "{result}" else a for a in args)


class TestFormats:
    def test_output_json_is_json_and_yaml_parses_back_to_the_same(self, catalogue: Cli) -> None:
        """For every read command ``-o json`` prints what ``--json`` prints, and ``-o yaml`` the same data."""
        for command in READ_COMMANDS:
            args = _filled(catalogue, command)
            as_json = catalogue.ok(*args, "--json")
            assert catalogue.ok(*args, "-o", "json") == as_json, args
            assert catalogue.ok(*args, "--output", "json", "--json") == as_json, args
            document = yaml.safe_load(catalogue.ok(*args, "-o", "yaml"))
            assert document == json.loads(as_json), args
            assert catalogue.ok(*args, "-o", "table") == catalogue.ok(*args), args

    def test_wide_adds_columns(self, catalogue: Cli) -> None:
        """``-o wide`` adds columns: jobs get source, module, last update, description; results their full id."""
        header, *rows = catalogue.ok("jobs", "list", "-o", "wide").splitlines()
        assert header.split()[-5:] == ["SOURCE", "MODULE", "LAST", "UPDATED", "DESCRIPTION"]
        [backup] = [row for row in rows if row.startswith("netops:jobs.ops.BackupConfigs ")]
        assert backup.endswith("Back up the running configuration of every device in the inventory, nightly")
        header, row = catalogue.ok("results", "list", "--job", LONG_REF, "-o", "wide").splitlines()
        assert row.split()[0] == run_id(catalogue) and "QUEUES" in header.split()
        assert (
            catalogue.ok("results", "list", "--job", LONG_REF).splitlines()[1].split()[0]
            == row.split()[0][:8]
        )
        header, row = catalogue.ok("schedules", "list", "-o", "wide").splitlines()
        assert catalogue.json("schedules", "list")[0]["id"] in row.split()

    def test_quiet_prints_only_refs_ids_and_names(self, catalogue: Cli) -> None:
        """``-q`` prints one ref (jobs), id (results, schedules) or name (sources) a line, nothing else."""
        assert catalogue.ok("jobs", "list", "-q").splitlines() == catalogue.refs()
        assert catalogue.ok("jobs", "list", "--quiet", "--enabled").splitlines() == [LONG_REF]
        assert catalogue.ok("results", "list", "-q").splitlines() == [
            r["id"] for r in catalogue.json("results", "list")
        ]
        assert catalogue.ok("schedules", "list", "-q").splitlines() == [
            s["id"] for s in catalogue.json("schedules", "list")
        ]
        assert catalogue.ok("sources", "list", "-q") == "netops\n"

    def test_no_headers(self, catalogue: Cli) -> None:
        """``--no-headers`` prints the same rows without the header line."""
        for command in (("jobs", "list"), ("results", "list"), ("sources", "list"), ("schedules", "list")):
            with_headers = catalogue.ok(*command).splitlines()
            assert catalogue.ok(*command, "--no-headers").splitlines() == with_headers[1:], command

    def test_an_empty_list_for_scripts_is_empty(self, catalogue: Cli) -> None:
        """With -q or --no-headers an empty list prints nothing (not ``(none)``, which reads as a row)."""
        assert catalogue.ok("jobs", "list", "--uninstalled") == "(none)\n"
        assert catalogue.ok("jobs", "list", "--uninstalled", "-q") == ""
        assert catalogue.ok("jobs", "list", "--uninstalled", "--no-headers") == ""

    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (("jobs", "list", "-q", "-o", "json"), "-q prints names only"),
            (("jobs", "list", "--json", "-o", "yaml"), "--json and -o yaml exclude each other"),
            (("jobs", "list", "-o", "xml"), "'xml' is not one of 'table'"),
        ],
    )
    def test_conflicting_or_unknown_formats_are_usage_errors(
        self, catalogue: Cli, args: tuple[str, ...], text: str
    ) -> None:
        """A format that is no format, or two that disagree: one line, exit 2."""
        assert_one_line_error(catalogue.run(*args), 2, text)


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("args", "text"),
        [
            (("schedules", "add", "BackupConfigs", "--name", "n", "--at", "soon"), "soon"),
            (
                ("schedules", "add", "BackupConfigs", "--name", "n", "--every", "monthly"),
                "'monthly' is not one",
            ),
            (("schedules", "add", "BackupConfigs", "--name", "n", "--cron", "every day"), "every day"),
            (
                ("schedules", "add", "BackupConfigs", "--name", "n", "--every", "daily", "--tz", "Mars/Base"),
                "Mars",
            ),
            (
                ("schedules", "add", LONG_REF, "--name", "n", "--every", "daily", "--args", "{x"),
                "not valid JSON",
            ),
            (("audit", "--since", "x"), "cannot read time"),
            (("jobs", "history", "BackupConfigs", "--until", "whenever"), "cannot read time"),
            (("jobs", "show", "BackupConfigs", "--at", "soon"), "cannot read time"),
            (("jobs", "diff", "BackupConfigs", "someday"), "cannot read time"),
            (("jobs", "list", "--sort", "colour"), "colour"),
            (("jobs", "list", "--limit", "0"), "0"),
            (("results", "list", "--status", "done"), "'done' is not one of"),
            (("results", "finish", "f" * 8, "--status", "done"), "'done' is not one of"),
            (("results", "finish", "f" * 8, "--status", "completed", "--data", "[1,"), "not valid JSON"),
            (("logs", "f" * 8, "--level", "warn"), "'warn' is not one of"),
            (("daemon", "--log-level", "loud"), "'loud' is not one of"),
        ],
    )
    def test_bad_option_values_exit_2(self, catalogue: Cli, args: tuple[str, ...], text: str) -> None:
        """Every option value jobsync reads itself (times, points, crontabs, zones, JSON, choices) is a
        usage error when it cannot be read: one line, exit 2, nothing changed."""
        events = catalogue.json("audit")
        assert_one_line_error(catalogue.run(*args), 2, text)
        assert catalogue.json("audit") == events


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group`` (groups included), with its path."""
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


class TestHelp:
    def test_dash_h_is_help(self, cli: Cli) -> None:
        """``-h`` prints what ``--help`` prints, for the program, a group and a command."""
        for args in ((), ("jobs",), ("jobs", "list"), ("results", "finish")):
            assert cli.ok(*args, "-h") == cli.ok(*args, "--help"), args
            assert "Usage: jobsync" in cli.ok(*args, "-h")

    def test_no_command_list_cuts_a_description_short(self, cli: Cli) -> None:
        """At 80 columns each command's one-line description in ``--help`` is whole (no ``...``)."""
        from jobsync.cli import cli as program

        groups = [path for path, command in _commands(program) if isinstance(command, click.Group)]
        for path in [(), *groups]:
            done = piped(cli, *path, "--help", COLUMNS="80")
            assert done.returncode == 0, (path, done.stderr)
            listing = done.stdout.partition("Commands:")[2]
            assert listing.strip() and "..." not in listing, (path, listing)

    def test_every_command_has_an_example(self) -> None:
        """Every command's help ends with an example a person can type, starting with ``jobsync``."""
        from jobsync.cli import cli as program

        commands = [(path, c) for path, c in _commands(program) if not isinstance(c, click.Group)]
        assert len(commands) > 30
        for path, command in commands:
            example = (command.help or "").partition("Example:")[2].strip().splitlines()
            assert example, path
            assert all(line.strip().startswith("jobsync ") for line in example if line.strip()), path


class TestStartUp:
    def test_yaml_is_imported_only_for_yaml(self, catalogue: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
        """A plain ``jobs list`` (or one with -o json) loads neither PyYAML nor subprocess; ``-o yaml`` loads PyYAML."""
        monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")

        def imported(*args: str) -> set[str]:
            done = catalogue.run(*args)
            assert done.returncode == 0, done.stderr
            return {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}

        plain = imported("jobs", "list")
        assert "jobsync.output" in plain
        assert "yaml" not in plain and "unicodedata" not in plain
        assert "yaml" not in imported("jobs", "list", "-o", "json")
        assert "yaml" in imported("jobs", "list", "-o", "yaml")
