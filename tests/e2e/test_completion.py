"""Shell completion and the manual page, as a shell and ``make man`` use them: real subprocesses."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from jobsync.cli import cli as jobsync_cli
from jobsync.domain.result import LOG_LEVELS
from tests.helpers import Cli, GitRepo

JOBS = """\
from nautobot.apps.jobs import Job


class Backup(Job):
    class Meta:
        name = "Nightly backup"
        has_sensitive_variables = False


class Restore(Job):
    pass
"""

BACKUP = "netops:jobs.ops.Backup"
RESTORE = "netops:jobs.ops.Restore"
#: Where the ``jobsync`` console script of this environment is, for the shell scripts to call.
VENV_BIN = str(Path(sys.executable).parent)


def complete(
    cli: Cli, line: str, shell: str = "bash", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Ask jobsync to complete the last word of ``jobsync --config FILE <line>`` by Click's protocol.

    ``COMP_WORDS`` is the command line and ``COMP_CWORD`` the index of the word being completed
    (one past the last word when ``line`` ends with a space), as Click's bash and zsh scripts send.
    """
    words = f"jobsync --config {cli.config} {line}"
    index = len(words.split()) - (0 if words.endswith(" ") else 1)
    environ = {k: v for k, v in os.environ.items() if k not in ("JOBSYNC_CONFIG", "JOBSYNC_STORE")}
    environ.update(_JOBSYNC_COMPLETE=f"{shell}_complete", COMP_WORDS=words, COMP_CWORD=str(index))
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jobsync"], capture_output=True, text=True, env=environ, timeout=60
    )


def offered(cli: Cli, line: str, env: dict[str, str] | None = None) -> list[str]:
    """The plain words a bash completion of ``line`` offers; it must succeed and say nothing on stderr."""
    done = complete(cli, line, env=env)
    assert done.returncode == 0 and done.stderr == "", (done.returncode, done.stderr)
    return [item.split(",", 1)[1] for item in done.stdout.splitlines() if item.startswith("plain,")]


@pytest.fixture
def synced(cli: Cli, repo: GitRepo) -> Cli:
    repo.write("jobs/ops.py", JOBS)
    repo.commit("jobs")
    cli.ok("resync", repo.url, "--name", "netops")
    return cli


class TestCompletionProtocol:
    def test_commands_and_subcommands(self, cli: Cli) -> None:
        """A command name completes from its prefix, also with no catalog at all."""
        assert offered(cli, "jo") == ["jobs"]
        assert set(offered(cli, "")) >= {"jobs", "sources", "results", "schedules", "logs", "completion"}
        assert offered(cli, "jobs sh") == ["show"]

    def test_options(self, cli: Cli) -> None:
        """An option completes from its prefix."""
        assert set(offered(cli, "jobs list --s")) == {"--source", "--search", "--sort"}

    def test_choices(self, cli: Cli) -> None:
        """A choice option offers its values: statuses, levels, shells."""
        assert offered(cli, "results list --status f") == ["failed"]
        assert offered(cli, "logs 1234 --level ") == list(LOG_LEVELS)
        assert offered(cli, "completion ") == ["bash", "zsh", "fish"]

    def test_source_names(self, synced: Cli) -> None:
        """A SOURCE argument, ``--source`` and ``sources show`` offer the catalog's source names."""
        assert offered(synced, "sources show n") == ["netops"]
        assert offered(synced, "jobs list --source ") == ["netops"]
        assert offered(synced, "explain ") == ["netops"]
        assert offered(synced, "resync net") == ["netops"]
        assert offered(synced, "sources show x") == []

    def test_job_refs_by_prefix(self, synced: Cli) -> None:
        """A JOB argument or ``--job`` offers the refs starting with what was typed."""
        assert offered(synced, "jobs show ") == [BACKUP, RESTORE]
        assert offered(synced, "jobs show netops:jobs.ops.B") == [BACKUP]
        assert offered(synced, "results list --job netops:jobs.ops.R") == [RESTORE]
        assert offered(synced, "jobs show other:") == []

    def test_job_names_are_the_help_where_the_shell_shows_help(self, synced: Cli) -> None:
        """zsh gets each ref with the job's name beside it (its colon escaped for ``_describe``)."""
        done = complete(synced, "jobs show netops:jobs.ops.B", shell="zsh")
        assert done.stdout.splitlines() == ["plain", BACKUP.replace(":", "\\:"), "Nightly backup"]

    def test_control_characters_of_a_name_are_escaped(self, cli: Cli, repo: GitRepo) -> None:
        """A job name with an escape sequence and a line break reaches the shell escaped, one line."""
        repo.write("jobs/ops.py", JOBS.replace('"Nightly backup"', '"Wipe\\x1b[2J\\nall"'))
        repo.commit("jobs")
        cli.ok("resync", repo.url, "--name", "netops")
        done = complete(cli, "jobs show netops:jobs.ops.B", shell="zsh")
        assert done.stdout.splitlines() == ["plain", BACKUP.replace(":", "\\:"), "Wipe\\x1b[2J\\nall"]

    def test_fish_protocol(self, synced: Cli) -> None:
        """fish sends the whole line and the word typed; it gets the ref with its name after a tab."""
        environ = {k: v for k, v in os.environ.items() if k != "JOBSYNC_CONFIG"}
        environ.update(
            _JOBSYNC_COMPLETE="fish_complete",
            COMP_WORDS=f"jobsync --config {synced.config} jobs show netops:jobs.ops.B",
            COMP_CWORD="netops:jobs.ops.B",
        )
        done = subprocess.run([sys.executable, "-m", "jobsync"], capture_output=True, text=True, env=environ)
        assert done.stdout.splitlines() == [f"plain,{BACKUP}\tNightly backup"]

    def test_result_ids(self, synced: Cli) -> None:
        """A RESULT argument offers result ids starting with what was typed."""
        synced.ok("jobs", "enable", BACKUP)
        result = synced.ok("results", "record", BACKUP).strip()
        assert result in offered(synced, "logs ")
        assert offered(synced, f"results show {result[:6]}") == [result]
        assert offered(synced, "results start zzz") == []

    def test_schedule_names(self, synced: Cli) -> None:
        """``schedules show`` offers the schedules' names."""
        synced.ok("jobs", "enable", BACKUP)
        synced.ok("schedules", "add", BACKUP, "--name", "nightly", "--every", "daily")
        assert offered(synced, "schedules show n") == ["nightly"]
        assert offered(synced, "schedules delete ") == ["nightly"]

    def test_file_options_leave_it_to_the_shell(self, cli: Cli) -> None:
        """``--config FILE`` answers ``file``, so the shell completes file names itself."""
        words = "jobsync --config "
        environ = {**os.environ, "_JOBSYNC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "2"}
        done = subprocess.run([sys.executable, "-m", "jobsync"], capture_output=True, text=True, env=environ)
        assert done.stdout.strip() == "file,"

    def test_store_of_the_command_line_and_environment(
        self, cli: Cli, repo: GitRepo, store_url: str, tmp_path: Path
    ) -> None:
        """``--store`` and ``$JOBSYNC_STORE`` choose the catalog completed from, SQLite or PostgreSQL."""
        repo.write("jobs/ops.py", JOBS)
        repo.commit("jobs")
        cli.ok("--store", store_url, "resync", repo.url, "--name", "netops")
        assert offered(cli, f"--store {store_url} jobs show netops:jobs.ops.B") == [BACKUP]
        assert offered(cli, "jobs show netops:jobs.ops.R", env={"JOBSYNC_STORE": store_url}) == [RESTORE]

    def test_no_catalog_yet_completes_nothing_and_creates_nothing(self, cli: Cli) -> None:
        """Before the first sync a TAB offers no job, prints nothing else, and makes no store file."""
        assert offered(cli, "jobs show ") == []
        assert offered(cli, "sources show ") == []
        assert not cli.state.exists()

    def test_a_broken_config_completes_nothing_silently(self, synced: Cli) -> None:
        """With a config jobsync refuses, the catalog's words are not offered, without a word on stderr;
        commands still complete."""
        synced.config.write_text("state_dir = [\n", encoding="utf-8")
        assert offered(synced, "jobs show ") == []
        assert offered(synced, "jobs li") == ["list"]
        synced.config.write_text('stor = "x"\n', encoding="utf-8")
        assert offered(synced, "sources show ") == []

    def test_odd_input_is_silent(self, synced: Cli) -> None:
        """Unknown commands, an open quote, a bad store URL: no error reaches the shell, and the quote still completes."""
        offered(synced, "nope ")
        offered(synced, "jobs show --at ")
        assert offered(synced, "jobs show 'netops:jobs") == [BACKUP, RESTORE]  # inside an open quote
        assert offered(synced, "--store bogus:// jobs show ") == []
        assert offered(synced, "--store sqlite:///no/such/folder/x.db jobs show ") == []


class TestScripts:
    def test_bash_script(self, cli: Cli) -> None:
        """``completion bash`` prints a script bash accepts, registering jobsync's function without sorting."""
        script = cli.ok("completion", "bash")
        assert "complete -o nosort -F _jobsync_completion jobsync" in script
        assert "_JOBSYNC_COMPLETE=bash_complete" in script
        checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr

    def test_zsh_and_fish_scripts(self, cli: Cli) -> None:
        """``completion zsh`` and ``completion fish`` print the scripts of those shells for jobsync."""
        zsh = cli.ok("completion", "zsh")
        assert zsh.startswith("#compdef jobsync") and "_JOBSYNC_COMPLETE=zsh_complete" in zsh
        assert "compdef _jobsync_completion jobsync" in zsh
        fish = cli.ok("completion", "fish")
        assert "_JOBSYNC_COMPLETE=fish_complete" in fish
        assert 'complete --no-files --command jobsync --arguments "(_jobsync_completion)"' in fish

    def test_unknown_shell_is_a_usage_error(self, cli: Cli) -> None:
        """``completion tcsh`` exits 2, naming the shells there are."""
        done = cli.run("completion", "tcsh")
        assert done.returncode == 2 and "bash" in done.stderr and "Traceback" not in done.stderr

    def test_bash_keeps_a_job_ref_whole(self, synced: Cli) -> None:
        """In real bash, which splits words at ':', the script completes a ref after its colon."""
        script = synced.ok("completion", "bash")
        probe = script + (
            "probe() {\n"
            '  COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$2"; COMP_CWORD=$3\n'
            "  COMPREPLY=(); _jobsync_completion jobsync; printf '%s\\n' \"${COMPREPLY[@]}\"; echo ---\n"
            "}\n"
            'probe "jobsync jobs show netops:jobs.ops.B" "jobsync jobs show netops : jobs.ops.B" 5\n'
            'probe "jobsync jobs show netops:" "jobsync jobs show netops :" 4\n'
            'probe "jobsync jobs show n" "jobsync jobs show n" 3\n'
            'probe "jobsync sources sh" "jobsync sources sh" 2\n'
        )
        environ = {
            **os.environ,
            "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "JOBSYNC_CONFIG": str(synced.config),
        }
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=environ, timeout=60)
        assert done.stderr == ""
        replies = [block.split() for block in done.stdout.split("---")[:-1]]
        assert replies == [
            ["jobs.ops.Backup"],
            ["jobs.ops.Backup", "jobs.ops.Restore"],
            [BACKUP, RESTORE],
            ["show"],
        ]


def _command_paths(group: click.Group, prefix: str = "jobsync") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            paths += _command_paths(command, f"{prefix} {name}")
        else:
            paths.append(f"{prefix} {name}")
    return paths


class TestManPage:
    @pytest.fixture
    def page(self, tmp_path: Path) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "jobsync.manpage", str(tmp_path / "man")],
            capture_output=True,
            text=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"},
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(tmp_path / "man" / "jobsync.1")
        return (tmp_path / "man" / "jobsync.1").read_text(encoding="utf-8")

    def test_every_command_has_its_section(self, page: str) -> None:
        """Each command of the CLI, groups' subcommands too, has a subsection with its usage and help."""
        for path in _command_paths(jobsync_cli):
            escaped = path.replace("-", "\\-")
            assert f'.SS "{escaped} ' in page, path
        assert '.SS "jobsync jobs show [OPTIONS] JOB"' in page
        assert "Show one job, its overrides beside the source" in page

    def test_the_roff_structure(self, page: str) -> None:
        """The page has the title line and the usual sections, in order, with options as tagged paragraphs."""
        assert page.startswith('.TH JOBSYNC 1 "2026-01-01" "jobsync ')
        sections = [line for line in page.splitlines() if line.startswith(".SH ")]
        assert sections == [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH COMMANDS",
            ".SH EXAMPLES",
            ".SH ENVIRONMENT",
            ".SH FILES",
            ".SH EXIT STATUS",
            ".SH SEE ALSO",
        ]
        assert ".TP\n\\fB\\-\\-store\\fR \\fIURL\\fR\n" in page
        assert "\n\\fBJOBSYNC_STORE\\fR\n" in page and "\n\\fBJOBSYNC_CONFIG\\fR\n" in page

    def test_examples_come_from_the_help(self, page: str) -> None:
        """The help's examples are gathered under EXAMPLES, minus signs as roff minus."""
        examples = page.split(".SH EXAMPLES\n", 1)[1].split(".SH ", 1)[0]
        assert "jobsync logs 3f2a9c1e \\-\\-follow \\-\\-level warning" in examples
        assert 'jobsync completion zsh > "${fpath[1]}/_jobsync"' in examples

    @pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
    def test_groff_renders_it_without_warnings(self, page: str, tmp_path: Path) -> None:
        """groff formats the page with every warning on and none given; the text shows the commands."""
        done = subprocess.run(
            ["groff", "-man", "-Tutf8", "-ww"], input=page, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        text = re.sub(".\b", "", done.stdout)  # bold and underline are overstruck characters
        assert "jobsync schedules add [OPTIONS] JOB" in text
        assert "EXAMPLES" in text and "jobsync serve --listen 127.0.0.1:8642" in text
