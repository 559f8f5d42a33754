"""Shell completion: the words a TAB offers, read straight from the read model and never written.

Click's own machinery (``_JOBSYNC_COMPLETE``) resolves commands, options and choices; this module
adds the catalog's words -- source names, job refs, result ids, schedule names -- by attaching a
``shell_complete`` callback to each parameter that takes one, found by its name or metavar. A
completion runs on every TAB, so it opens no application: one read-only query of the read-model
tables (SQLite opened ``mode=ro``, PostgreSQL in a read-only transaction). Whatever goes wrong
(no catalog yet, a bad config, a store that is down) completes nothing, silently.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.shell_completion import (
    BashComplete,
    CompletionItem,
    FishComplete,
    ShellComplete,
    ZshComplete,
    add_completion_class,
    split_arg_string,
)

from jobsync.domain.text import CONTROLS, escaped

#: The shells ``jobsync completion`` writes a script for.
SHELLS = ("bash", "zsh", "fish")
#: The environment variable Click's completion protocol reads (``_{PROG}_COMPLETE``).
COMPLETE_VAR = "_JOBSYNC_COMPLETE"
#: Result ids offered for one TAB, newest first: a catalog keeps every run ever made.
MOST_RESULTS = 200
#: How long a completion waits for a locked SQLite file (seconds); a PostgreSQL server gets one
#: second to answer (libpq's shortest connect timeout) and one to run the query.
STORE_WAIT = 0.5

#: Past every character a name may hold: ``prefix <= word < prefix + _AFTER_ALL`` is "starts with prefix".
_AFTER_ALL = "\U0010ffff"


@dataclass(frozen=True)
class _Words:
    """One kind of catalog word: the query listing those that start with a prefix, and their help."""

    sql: str
    help: Callable[[Sequence[Any]], str | None]


_JOB_REFS = _Words(
    "SELECT ref, name FROM {jobs} WHERE deleted = 0 AND ref >= ? AND ref < ? ORDER BY ref",
    lambda row: row[1],
)
_SOURCE_NAMES = _Words(
    "SELECT name FROM {sources} WHERE name >= ? AND name < ? ORDER BY name",
    lambda row: None,
)
_RESULT_IDS = _Words(
    "SELECT id, status, job_ref, task FROM {results} WHERE id >= ? AND id < ? "
    f"ORDER BY created DESC LIMIT {MOST_RESULTS}",
    lambda row: f"{row[1]} {row[2] or row[3]}",
)
_SCHEDULE_NAMES = _Words(
    "SELECT name, job_ref FROM {schedules} WHERE deleted = 0 AND name >= ? AND name < ? ORDER BY name",
    lambda row: row[1],
)

_TABLES = {
    "jobs": "jobs_view",
    "sources": "sources_view",
    "results": "results_view",
    "schedules": "schedules_view",
}


def attach_completions(cli: click.Group) -> None:
    """Give every parameter of the command tree that names a catalog thing its completion.

    Parameters are recognised by name or metavar, so a new command with a ``JOB`` argument or a
    ``--source`` option completes without a word here. Also installs the bash script that keeps
    job refs (``source:module.Class``) whole.
    """
    add_completion_class(_JobsyncBash)
    for group, command in _walk(cli):
        for param in command.params:
            complete = _completion_for(group, param)
            if complete is not None:
                # Click keeps the constructor's ``shell_complete=`` here; setting it after the
                # decorators ran is the only way to add one to commands defined elsewhere.
                param._custom_shell_complete = complete


def completion_script(cli: click.Command, shell: str) -> str:
    """The script that makes ``shell`` ask jobsync for completions (``jobsync completion SHELL``)."""
    shells: dict[str, type[ShellComplete]] = {"bash": _JobsyncBash, "zsh": ZshComplete, "fish": FishComplete}
    return shells[shell](cli, {}, "jobsync", COMPLETE_VAR).source()


def _walk(group: click.Group) -> Iterator[tuple[str, click.Command]]:
    """Every command of the tree (groups too, for their own options) with its group's name."""
    yield group.name or "", group
    for command in group.commands.values():
        if isinstance(command, click.Group):
            yield from _walk(command)
        else:
            yield group.name or "", command


Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem[Any]]]


def _completion_for(group: str, param: click.Parameter) -> Completer | None:
    """Which completion a parameter gets, from its name and metavar; None for the rest."""
    name = param.name or ""
    metavar = (param.metavar or "").strip("[]").upper()
    argument = isinstance(param, click.Argument)
    if metavar == "JOB" or name in ("job_ref", "job"):
        return _from_catalog(_JOB_REFS)
    if metavar == "RESULT" or name == "result_id":
        return _from_catalog(_RESULT_IDS)
    if group == "schedules" and argument and (metavar == "NAME|ID" or name == "ref"):
        return _from_catalog(_SCHEDULE_NAMES)
    if group == "sources" and argument and name in ("name", "old", "old_name"):
        return _from_catalog(_SOURCE_NAMES)
    if name == "source" or metavar in ("SOURCE", "SOURCE|URL|PATH"):
        return _from_catalog(_SOURCE_NAMES)
    if metavar == "FILE":
        return _paths("file")
    if metavar == "DIR":
        return _paths("dir")
    return None


def _paths(kind: str) -> Completer:
    """Leave a FILE or DIR to the shell's own file-name completion."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem[Any]]:
        return [CompletionItem(incomplete, type=kind)]

    return complete


def _from_catalog(words: _Words) -> Completer:
    """A completion listing ``words`` that start with what was typed; nothing on any failure."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem[Any]]:
        try:
            rows = _query(ctx, words.sql, (incomplete, incomplete + _AFTER_ALL))
            return [
                CompletionItem(str(row[0]), help=_shown(words.help(row)))
                for row in rows
                if not CONTROLS.search(str(row[0]))  # nobody types it, and a shell would act on it
            ]
        except Exception:  # a TAB must never print an error into the shell
            return []

    return complete


def _shown(text: str | None) -> str | None:
    """A help text from the catalog (a job's name) with every control character escaped, as ``shown``:
    the shell prints it beside the word, and the completion protocols are line-framed."""
    return CONTROLS.sub(lambda found: escaped(found.group()), text) if text else None


def _query(ctx: click.Context, sql: str, params: tuple[str, str]) -> list[Sequence[Any]]:
    """Run one read-only query on the read model of the catalog the command line would open."""
    from jobsync.adapters.store import store_settings
    from jobsync.config import catalog_location, config_path, load_config

    given = ctx.find_root().params
    config = load_config(config_path(given.get("config")))
    url, _, _ = catalog_location(config, given.get("store"))  # click has read $JOBSYNC_STORE into it
    settings = store_settings(url)
    if settings["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return _query_sqlite(Path(settings["SQLITE_DBNAME"]), sql, params)
    return _query_postgres(settings, sql, params)


def _query_sqlite(db_file: Path, sql: str, params: tuple[str, str]) -> list[Sequence[Any]]:
    """``mode=ro``: a missing file stays missing, a store is never created or changed by a TAB."""
    uri = db_file.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=STORE_WAIT)) as connection:
        statement = sql.format(**_TABLES)
        return connection.execute(statement, params).fetchall()


def _query_postgres(settings: dict[str, str], sql: str, params: tuple[str, str]) -> list[Sequence[Any]]:
    """A read-only transaction on the store's schema; a server slow to answer completes nothing."""
    import psycopg

    schema = settings.get("POSTGRES_SCHEMA") or "public"
    tables = {key: f'"{schema}"."{table}"' for key, table in _TABLES.items()}
    with psycopg.connect(
        host=settings["POSTGRES_HOST"],
        port=settings["POSTGRES_PORT"],
        dbname=settings["POSTGRES_DBNAME"],
        user=settings["POSTGRES_USER"],
        password=settings["POSTGRES_PASSWORD"],
        connect_timeout=1,
        options="-c default_transaction_read_only=on -c statement_timeout=1000",
    ) as connection:
        statement = sql.format(**tables).replace("?", "%s")
        return list(connection.execute(statement, params).fetchall())


# -- the shells ---------------------------------------------------------------------------------


def _line_args() -> tuple[list[str], str]:
    """``COMP_WORDS`` as the line up to the cursor (``COMP_CWORD`` empty): the args and the word typed."""
    line = os.environ.get("COMP_WORDS", "")
    words = split_arg_string(line)
    if not line or line[-1].isspace():
        return words[1:], ""
    return words[1:-1], words[-1] if words else ""


class _JobsyncBash(BashComplete):
    """Click's bash completion, but a job ref (``source:module.Class``) stays one word.

    Bash ends words at ``:`` (``COMP_WORDBREAKS``), so Click's script would send ``netops : jo``.
    This script sends the line up to the cursor instead (``COMP_CWORD`` empty) and offers what
    follows the last ``:`` of the word, as bash-completion's ``__ltrim_colon_completions`` does.
    Click's own protocol (``COMP_WORDS`` and an index in ``COMP_CWORD``) still works.
    """

    name = "bash"
    source_template = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local line=${COMP_LINE:0:COMP_POINT}
    local word=${line##*[[:space:]]}
    local colon_prefix=""
    local response completion type value

    if [[ $word == *:* && $COMP_WORDBREAKS == *:* ]]; then
        colon_prefix=${word%%"${word##*:}"}
    fi
    response=$(env COMP_WORDS="$line" COMP_CWORD= %(complete_var)s=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("${value#"$colon_prefix"}")
        fi
    done

    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""

    def source(self) -> str:
        # Click's check of the bash version prints to stderr; `jobsync completion bash` stays quiet.
        return ShellComplete.source(self)

    def get_completion_args(self) -> tuple[list[str], str]:
        if os.environ.get("COMP_CWORD", "") == "":
            return _line_args()
        return super().get_completion_args()
