"""The ``jobsync`` command: thin click commands that call one use case each and format the answer."""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
import sys
import time
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from eventsourcing.persistence import PersistenceError

from jobsync.app import SyncSummary
from jobsync.catalog import RESYNC_WAIT, Catalog
from jobsync.completion import SHELLS as COMPLETION_SHELLS
from jobsync.completion import attach_completions, completion_script
from jobsync.config import LOG_LEVELS as DAEMON_LOG_LEVELS
from jobsync.config import Config, config_path, config_path_rule, effective, load_config
from jobsync.domain.errors import JobSyncError, SourceBusyError, SourceNotFoundError
from jobsync.domain.fields import parse_field_value
from jobsync.domain.result import FINISHED_STATUSES, LOG_LEVELS, STATUSES
from jobsync.domain.text import CONTROLS, escaped
from jobsync.output import (
    FORMATS,
    Output,
    paged,
    paint,
    print_document,
    print_table,
    stop_paging,
    yaml_text,
)
from jobsync.points import Point, parse_point
from jobsync.projections import JOB_SORTS
from jobsync.records import (
    ClassExplanationRecord,
    HistoryEntry,
    LogRecord,
    Record,
    overridden_fields,
    synced_by,
    to_json,
)
from jobsync.times import BadTimeError, DayBound, Zone, parse_time, stored_times_shown_as_is, time_text

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    #: ``results claim`` found no pending run for its queue: nothing printed, nothing wrong.
    NOTHING_TO_CLAIM = 3


class Settings:
    """What the global options say; the catalog is opened on first use, so ``--help`` needs no store."""

    def __init__(
        self,
        config: str | None,
        store: str | None,
        actor: str | None,
        utc: bool = False,
        no_pager: bool = False,
    ) -> None:
        self.config_file = config
        self.store = store
        self.actor = actor
        self.zone: Zone = "utc" if utc else "local"
        self.no_pager = no_pager
        self._catalog: Catalog | None = None

    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.from_config(self.config_file, store=self.store, actor=self.actor)
        return self._catalog

    def close(self) -> None:
        if self._catalog is not None:
            self._catalog.close()


class JobSyncGroup(click.Group):
    """Turns every JobSyncError into one ``error:`` line and exit code 1, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobSyncError as exc:
            _fail(str(exc))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            raise SystemExit(130) from None
        except BrokenPipeError:
            _reader_went_away()
        except (PersistenceError, sqlite3.Error) as exc:
            # The store refused a read or write (read-only file, full disk, lost server). Whether an
            # earlier write of the same command committed is not known here, so nothing is claimed.
            _fail(f"the store refused the operation: {exc}")
        except Exception as exc:
            if os.environ.get("JOBSYNC_DEBUG"):
                raise
            _fail(f"unexpected {type(exc).__name__}: {exc} (set JOBSYNC_DEBUG=1 for details)")
        finally:
            settings = ctx.find_object(Settings)
            if settings is not None:
                settings.close()


def _fail(message: str) -> None:
    click.echo(f"{_error_prefix()} {shown(' '.join(message.split()))}", err=True)
    raise SystemExit(ExitCode.FAILED)


def _warn(message: Warning | str, *_: object, **__: object) -> None:
    """Python warnings (the read models are behind, ...) as one ``warning:`` line on stderr."""
    click.echo(f"{paint('warning:', stream=sys.stderr)} {shown(' '.join(str(message).split()))}", err=True)


def _error_prefix() -> str:
    """``error:``, in red when stderr is a terminal that wants colour."""
    return paint("error:", stream=sys.stderr)


pass_settings = click.make_pass_decorator(Settings)


def pass_catalog(f: F) -> F:
    """Hand the command an open Catalog built from the global options."""

    @pass_settings
    def wrapper(settings: Settings, *args: Any, **kwargs: Any) -> Any:
        return f(settings.catalog(), *args, **kwargs)

    wrapper.__name__ = f.__name__
    wrapper.__doc__ = f.__doc__
    return wrapper  # type: ignore[return-value]


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def read_options(listing: bool = False) -> Callable[[F], F]:
    """A read command's output options: ``-o json|yaml|table|wide`` and ``--json`` (its synonym), and
    for a list ``-q`` and ``--no-headers``. The command gets them as ``out: Output``; what it prints
    goes through the pager when stdout is a terminal and the output is taller than it."""

    def decorate(f: F) -> F:
        def command(
            *args: Any,
            output_format: str | None,
            as_json: bool,
            quiet: bool = False,
            no_headers: bool = False,
            **kwargs: Any,
        ) -> Any:
            if as_json and output_format not in (None, "json"):
                raise click.UsageError(f"--json and -o {output_format} exclude each other")
            chosen = "json" if as_json else output_format or "table"
            if quiet and chosen in ("json", "yaml"):
                raise click.UsageError(f"-q prints names only; it excludes -o {chosen}")
            settings = click.get_current_context().find_object(Settings)
            with paged(enabled=settings is None or not settings.no_pager):
                return f(*args, out=Output(chosen, quiet=quiet, headers=not no_headers), **kwargs)

        command.__name__ = f.__name__
        command.__doc__ = f.__doc__
        options = [
            click.option(
                "-o",
                "--output",
                "output_format",
                type=click.Choice(FORMATS),
                help="How to print: a table (default), a wide table with more columns, JSON or YAML.",
            ),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON document (-o json)."),
        ]
        if listing:
            options += [
                click.option(
                    "-q", "--quiet", is_flag=True, help="Print only the names (refs, ids), one a line."
                ),
                click.option("--no-headers", is_flag=True, help="Print the table without its header line."),
            ]
        for option in reversed(options):
            command = option(command)
        return command  # type: ignore[return-value]

    return decorate


@click.group(cls=JobSyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    metavar="FILE",
    help="Config file (default: $JOBSYNC_CONFIG, else /etc/jobsync/config.toml when it exists).",
)
@click.option(
    "--store",
    metavar="URL",
    envvar="JOBSYNC_STORE",
    show_envvar=True,
    help="Event store, e.g. sqlite:///path/jobsync.db (default: the config's, else the state folder's).",
)
@click.option(
    "--actor",
    metavar="NAME",
    envvar="JOBSYNC_ACTOR",
    show_envvar=True,
    help="Who is acting, recorded on every event (default: login name).",
)
@click.option("--utc", is_flag=True, help="Show times in UTC (default: the local zone, $TZ).")
@click.option(
    "--no-pager",
    is_flag=True,
    help="Never page (default: long output at a terminal goes through $JOBSYNC_PAGER, $PAGER or less -FRX).",
)
@click.version_option(package_name="jobsync")
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, store: str | None, actor: str | None, utc: bool, no_pager: bool
) -> None:
    """jobsync: the catalog of automation jobs in Git repositories, and of everything that happened to them.

    \b
    Example:
      jobsync resync https://github.com/acme/netops-jobs.git --name netops
      jobsync jobs list -o wide
    """
    ctx.obj = Settings(config, store, actor, utc, no_pager)


def _zone() -> Zone:
    """Where this command shows times: local, or UTC with ``jobsync --utc``."""
    ctx = click.get_current_context(silent=True)  # None when a formatter is called as a function
    settings = ctx.find_object(Settings) if ctx is not None else None
    return settings.zone if settings is not None else "local"


class TimeParam(click.ParamType[datetime]):
    """A TIME option (docs/design.md §6): text it cannot read is a usage error, exit 2, in one line."""

    name = "time"

    def __init__(self, day: DayBound) -> None:
        self.day = day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(value, day=self.day)
        except BadTimeError as exc:
            raise click.UsageError(str(exc), ctx) from None


# -- resync -------------------------------------------------------------------------------------


@cli.command()
@click.argument("target", metavar="SOURCE|URL|PATH")
@click.option("--branch", help="Branch to follow (default: the remote's HEAD).")
@click.option("--name", help="Name to remember a new URL/PATH under (default: from the URL).")
@click.option("-v", "--verbose", is_flag=True, help="Also list notes (files skipped on purpose).")
@click.option(
    "--allow-mass-uninstall",
    is_flag=True,
    help="Apply even a sync that uninstalls more than the source's limit (default: over half, if 5 or more).",
)
@click.option("--dry-run", is_flag=True, help="Fetch and plan, print what would change, save nothing.")
@click.option("--force", is_flag=True, help="Sync even a suspended source (once; it stays suspended).")
@json_option
@pass_catalog
def resync(
    catalog: Catalog,
    target: str,
    branch: str | None,
    name: str | None,
    verbose: bool,
    allow_mass_uninstall: bool,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Sync one source now and print what changed.

    Waits for another process's sync of the same source first. A sync that would uninstall more
    than half of the source's installed jobs (and at least 5), or more than its ``max_uninstall``,
    is refused and applies nothing, unless --allow-mass-uninstall. With --dry-run nothing is
    saved; a sync that would be refused exits 1 after its plan.

    \b
    Example:
      jobsync resync https://github.com/acme/netops-jobs.git --name netops
      jobsync resync netops --dry-run
    """
    allow = allow_mass_uninstall
    if dry_run:
        preview = catalog.resync(target, branch=branch, name=name, allow_mass_uninstall=allow, dry_run=True)
        if as_json:
            _print_json(preview.as_dict())
        else:
            click.echo(format_summary(preview, verbose=verbose))
        if preview.refused is not None:
            raise click.ClickException(f"the sync would be refused: {preview.refused}")
        return
    try:
        summary = catalog.resync(
            target, branch=branch, name=name, wait=0.0, allow_mass_uninstall=allow, force=force
        )
    except SourceBusyError as busy:
        click.echo(
            f"waiting up to {RESYNC_WAIT:g} s: another process is syncing {shown(busy.name)}", err=True
        )
        summary = catalog.resync(target, branch=branch, name=name, allow_mass_uninstall=allow, force=force)
    if as_json:
        _print_json(summary.as_dict())
        return
    click.echo(format_summary(summary, verbose=verbose))


def format_summary(summary: SyncSummary, verbose: bool = False) -> str:
    """A sync summary for people: counts first, then each job and problem; notes only when verbose.

    A dry run's says so first, and under each changed job what would move (``field: old -> new``).
    """
    head = ("dry run: " if summary.plan is not None else "") + f"{summary.source} @ {summary.commit[:12]}"
    if summary.up_to_date:
        return f"{shown(head)}: already up to date" + (
            f" (result {summary.result})" if summary.result else ""
        )
    counts = summary.counts()
    shown_counts = [
        f"{n} {what}" if n != 1 or what not in _PLURAL_KINDS else f"1 {_PLURAL_KINDS[what]}"
        for what, n in counts.items()
        if what != "problems" and (what not in _PLURAL_KINDS or n) and (what != "notes" or verbose)
    ]
    lines = [shown(head) + ": " + ", ".join(shown_counts)]
    planned = {job.ref: job.changes for job in summary.plan or []}
    for what in ("added", "changed", "uninstalled", "reinstalled"):
        for ref in getattr(summary, what):
            lines.append(f"  {what:<11} {shown(ref)}")
            if what != "added":
                lines.extend(
                    f"      {shown(key)}: {_text(old)} -> {_text(new)}"
                    for key, (old, new) in planned.get(ref, {}).items()
                )
    lines.extend(
        f"  {paint(f'{p.kind:<11}', p.kind)} {shown(p.file)}:{p.line}: {shown(p.reason)}"
        for p in summary.problems
        if verbose or p.kind != "note"
    )
    if summary.result is not None:
        lines.append(f"  result      {summary.result} (jobsync logs {str(summary.result)[:8]})")
    return "\n".join(lines)


#: Problem counts are shown only when there are any, in the singular for one.
_PLURAL_KINDS = {"errors": "error", "warnings": "warning", "notes": "note"}


# -- explain ------------------------------------------------------------------------------------


@cli.command()
@click.argument("source")
@click.argument("path")
@read_options()
@pass_catalog
def explain(catalog: Catalog, source: str, path: str, out: Output) -> None:
    """Why each class in a file is or is not a job.

    For each class of the file PATH of SOURCE, and where each job's values come from. A git source is read at its last synced commit, a folder as it is now. A file the source's rules
    skip, or one that does not parse, gets one entry saying so; a path that is no file of the
    source is an error.

    \b
    Example:
      jobsync explain netops jobs/backup.py
      jobsync explain netops jobs/backup.py -o yaml
    """
    records = catalog.explain(source, path)
    if out.structured:
        _print_data(records, out)
        return
    click.echo(format_explanation(path, records))


def format_explanation(path: str, records: Sequence[ClassExplanationRecord]) -> str:
    """An explanation for people: each class, job or not and why; a job's fields with their origins."""
    if not records:
        return f"{shown(path)} defines no class at module level"
    blocks = []
    for record in records:
        if record["class"] is None:
            blocks.append(f"{shown(path)}: {shown(record['reason'])}")
            continue
        verdict = "job" if record["job"] else "not a job"
        lines = [
            f"{shown(record['class'])} (line {record['line']}): {verdict}",
            f"  {shown(record['reason'])}",
        ]
        for key, found in record["metadata"].items():
            where = f"  at {shown(found['file'])}:{found['line']}" if found["file"] is not None else ""
            lines.append(f"    {key:<24} {_short(_text(found['value'])):<32} {shown(found['origin'])}{where}")
        lines.extend(
            f"  {paint(p['kind'])}: {shown(p['file'])}:{p['line']}: {shown(p['reason'])}"
            for p in record["problems"]
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


# -- sources ------------------------------------------------------------------------------------


@cli.group()
def sources() -> None:
    """Sources synced so far."""


@sources.command("list")
@read_options(listing=True)
@pass_catalog
def sources_list(catalog: Catalog, out: Output) -> None:
    """List sources with their last synced commit.

    \b
    Example:
      jobsync sources list
      jobsync sources list -q          # names only, one a line
    """
    records = catalog.sources()
    if out.structured:
        _print_data([to_json(record, _zone()) for record in records], out)
        return
    wide = ["PYTHON", "CREATED", "COUNTS"] if out.wide else []
    _print_table(
        ["NAME", "KIND", "LOCATION", "BRANCH", "COMMIT", "LAST SYNC", "SYNCED BY", "STATUS", *wide],
        [
            [
                r["name"],
                r["kind"],
                r["url"],
                r["last_branch"] or r["branch"] or "",
                (r["last_commit"] or "")[: 40 if out.wide else 12],
                time_text(r["last_synced"], _zone()) if r["last_synced"] else "never",
                synced_by(r),
                f"failing ({r['last_reason']})" if r["status"] == "failing" else r["status"],
                *(
                    [
                        r["last_synced_python"] or "",
                        time_text(r["created"], _zone()),
                        ", ".join(f"{n} {what}" for what, n in r["last_counts"].items() if n),
                    ]
                    if out.wide
                    else []
                ),
            ]
            for r in records
        ],
        out,
        names=[r["name"] for r in records],
    )


@sources.command("show")
@click.argument("name")
@read_options()
@pass_catalog
def sources_show(catalog: Catalog, name: str, out: Output) -> None:
    """Show one source.

    \b
    Example:
      jobsync sources show netops
    """
    _print_fields(catalog.source(name), out)


def _config_note(catalog: Catalog, name: str, what: str) -> None:
    """Say on stderr when the config file still names a source the command changed (like kubectl
    on a resource a manifest declares): its word comes back at the daemon's next start or reload."""
    if catalog.is_configured(name):
        click.echo(f"note: the config file still names source {shown(name)}: {what}", err=True)


@sources.command("suspend")
@click.argument("name")
@pass_catalog
def sources_suspend(catalog: Catalog, name: str) -> None:
    """Stop syncing a source until it is resumed.

    The daemon and webhooks skip it; `resync` refuses it unless --force.

    \b
    Example:
      jobsync sources suspend netops
    """
    if catalog.suspend_source(name):
        click.echo(f"suspended {shown(name)}")
    else:
        click.echo(f"{shown(name)} was already suspended")


@sources.command("resume")
@click.argument("name")
@pass_catalog
def sources_resume(catalog: Catalog, name: str) -> None:
    """Let a suspended source sync again.

    The daemon notices within seconds and syncs it on its interval.

    \b
    Example:
      jobsync sources resume netops
    """
    if catalog.resume_source(name):
        click.echo(f"resumed {shown(name)}")
    else:
        click.echo(f"{shown(name)} was not suspended")


@sources.command("remove")
@click.argument("name")
@click.option(
    "--uninstall-jobs", is_flag=True, help="Uninstall its installed jobs first (jobs and history stay)."
)
@pass_catalog
def sources_remove(catalog: Catalog, name: str, uninstall_jobs: bool) -> None:
    """Remove a source that has no installed jobs (or --uninstall-jobs).

    Its jobs (uninstalled) and all history stay; `resync` of its URL adds it back afresh.

    \b
    Example:
      jobsync sources remove legacy --uninstall-jobs
    """
    uninstalled = catalog.remove_source(name, uninstall_jobs=uninstall_jobs)
    for ref in uninstalled:
        click.echo(f"uninstalled {shown(ref)}")
    click.echo(f"removed {shown(name)}")
    _config_note(
        catalog, name, "the daemon adds it back at its next start or reload; delete its [[sources]] entry"
    )


@sources.command("rename")
@click.argument("old")
@click.argument("new")
@pass_catalog
def sources_rename(catalog: Catalog, old: str, new: str) -> None:
    """Rename a source; its jobs' refs follow, old refs still find them.

    The jobs become NEW:module.Class; `jobs show OLD:module.Class` and its history still work.

    \b
    Example:
      jobsync sources rename netops network
    """
    moved = catalog.rename_source(old, new)
    click.echo(f"renamed {shown(old)} to {shown(new)} ({len(moved)} job{'s' if len(moved) != 1 else ''})")
    _config_note(catalog, old, f"the daemon follows it as {shown(new)} from that entry; rename it there too")


# -- jobs ---------------------------------------------------------------------------------------


@cli.group()
def jobs() -> None:
    """Jobs in the catalog: list, inspect, override, enable, delete."""


@jobs.command("list")
@click.option("--source", help="Only jobs of this source.")
@click.option("--grouping", help="Only jobs of this grouping.")
@click.option("--installed", "state", flag_value="installed", default=True, help="Installed jobs (default).")
@click.option("--uninstalled", "state", flag_value="uninstalled", help="Only jobs gone from their source.")
@click.option("--all", "state", flag_value="all", help="Installed and uninstalled jobs.")
@click.option("--enabled/--disabled", default=None, help="Only enabled (or disabled) jobs.")
@click.option("--overridden", is_flag=True, default=None, help="Only jobs with at least one override.")
@click.option("--search", metavar="TEXT", help="Name or description contains TEXT (any case).")
@click.option("--sort", type=click.Choice(JOB_SORTS), default="source", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@read_options(listing=True)
@pass_catalog
def jobs_list(
    catalog: Catalog,
    source: str | None,
    grouping: str | None,
    state: str,
    enabled: bool | None,
    overridden: bool | None,
    search: str | None,
    sort: str,
    limit: int | None,
    out: Output,
) -> None:
    """List jobs (installed ones unless told otherwise).

    \b
    Example:
      jobsync jobs list --source netops --enabled -o wide
      jobsync jobs list --uninstalled -q | xargs -n1 jobsync jobs delete
    """
    installed = {"installed": True, "uninstalled": False, "all": None}[state]
    _require_source(catalog, source)
    raw = out.format == "json" and not sys.stdout.isatty() and stored_times_shown_as_is(_zone())
    lister = catalog.jobs_json if raw else catalog.jobs
    found = lister(
        source,
        installed,
        grouping=grouping,
        enabled=enabled,
        overridden=overridden,
        search=search,
        sort=sort,
        limit=limit,
    )
    if isinstance(found, str):  # the stored records as they are: no decode and re-encode
        click.echo(found)
        return
    records = found
    if out.structured:
        _print_data([to_json(record, _zone()) for record in records], out)
        return
    wide = ["SOURCE", "MODULE", "LAST UPDATED", "DESCRIPTION"] if out.wide else []
    _print_table(
        ["REF", "NAME", "GROUPING", "INSTALLED", "ENABLED", "OVERRIDES", *wide],
        [
            [
                r["ref"],
                r["name"],
                r["grouping"],
                _yes(r["installed"]),
                _yes(r["enabled"]),
                ",".join(overridden_fields(r)) or "-",
                *(
                    [
                        r["source"],
                        r["module_name"],
                        time_text(r["last_updated"], _zone()),
                        r["description"].split("\n", 1)[0],
                    ]
                    if out.wide
                    else []
                ),
            ]
            for r in records
        ],
        out,
        names=[r["ref"] for r in records],
    )


class PointParam(click.ParamType):  # type: ignore[type-arg]  # generic only in later click 8 releases
    """A point in a job's history: a time, a commit (7+ hex digits) or vN; anything else is a usage error."""

    name = "point"

    def __init__(self, day_start: bool = False) -> None:
        self.day_start = day_start

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Point:
        if not isinstance(value, str):
            return value  # type: ignore[no-any-return]  # already a point (click converts defaults too)
        try:
            return parse_point(value, day_start=self.day_start)
        except JobSyncError as exc:
            self.fail(str(exc), param, ctx)


@jobs.command("show")
@click.argument("job_ref", metavar="JOB")
@click.option(
    "--at",
    "at",
    metavar="POINT",
    type=PointParam(),
    help="Show the job as it was then: a time (ISO-8601, a date (its end), '3 days ago'), a commit, or vN.",
)
@read_options()
@pass_catalog
def jobs_show(catalog: Catalog, job_ref: str, at: Point | None, out: Output) -> None:
    """Show one job, its overrides beside the source's values.

    \b
    Example:
      jobsync jobs show netops:jobs.backup.BackupConfigs
      jobsync jobs show BackupConfigs --at "3 days ago" -o yaml
    """
    record = catalog.job(job_ref, at=at)
    if out.structured:
        _print_data(to_json(record, _zone()), out)
        return
    fields: Mapping[str, Any] = record  # ``<field>_override`` keys are built, not literal
    source_values: Mapping[str, Any] = record["source_values"]
    for key, value in fields.items():
        if key.endswith("_override") or key == "source_values":
            continue
        mark = ""
        if fields.get(f"{key}_override"):
            mark = f"  (overridden; source: {_quoted(source_values[key])})"
        click.echo(f"{key:<24} {_text(value)}{mark}")


since_option = click.option(
    "--since",
    type=TimeParam(day="start"),
    metavar="TIME",
    help="From this moment (ISO-8601, a date (its start), '3 days ago', 'yesterday', 'last tuesday 14:00').",
)
until_option = click.option(
    "--until", type=TimeParam(day="end"), metavar="TIME", help="Up to this moment (a date: its end)."
)


@jobs.command("history")
@click.argument("job_ref", metavar="JOB")
@since_option
@until_option
@read_options()
@pass_catalog
def jobs_history(
    catalog: Catalog, job_ref: str, since: datetime | None, until: datetime | None, out: Output
) -> None:
    """Every event of a job: when, who, what, and which fields changed.

    \b
    Example:
      jobsync jobs history BackupConfigs --since "last week"
    """
    entries = catalog.history(job_ref, since=since, until=until)
    _print_changes(entries, out, with_ref=False)


@cli.command()
@since_option
@until_option
@click.option("--actor", "who", metavar="NAME", help="Only changes made by NAME.")
@click.option(
    "--author", metavar="TEXT", help="Only changes from commits whose author contains TEXT (any case)."
)
@click.option("--source", help="Only changes to this source and its jobs.")
@read_options()
@pass_catalog
def audit(
    catalog: Catalog,
    since: datetime | None,
    until: datetime | None,
    who: str | None,
    author: str | None,
    source: str | None,
    out: Output,
) -> None:
    """Every change to jobs and sources in a window.

    Across the whole catalog, oldest first; on a terminal a long audit goes through the pager.

    \b
    Example:
      jobsync audit --since yesterday --actor alice
      jobsync audit --author eve@example.com --source netops -o json
    """
    _require_source(catalog, source)
    entries = catalog.audit(since=since, until=until, actor=who, source=source, author=author)
    _print_changes(entries, out, with_ref=True)


def _require_source(catalog: Catalog, name: str | None) -> None:
    """A ``--source`` names a thing, so one that does not exist is an error (exit 1), as kubectl and
    gh treat a named object; a filter that matches nothing (``--actor nobody``) just prints nothing."""
    if name is not None and name not in (known := catalog.source_names()):
        raise SourceNotFoundError(name, known)


def _made_by(entry: HistoryEntry) -> str:
    """`` (Eve Writer <eve@x.org>, "Purge after 90 days", 1a2b3c4)`` for an entry a commit caused."""
    if entry.get("author") is None:
        return ""
    return f' ({shown(entry.get("author") or "")}, "{shown(entry.get("subject") or "")}", {entry.get("commit", "")[:7]})'


def _print_changes(entries: list[HistoryEntry], out: Output, with_ref: bool) -> None:
    if out.structured:
        _print_data([to_json(entry, _zone()) for entry in entries], out)
        return
    for entry in entries:
        ref = f" {entry['ref']}" if with_ref else ""
        who = f"{shown(entry['actor'])}{_made_by(entry)}"
        click.echo(f"{time_text(entry['time'], _zone())}  {who:<16} {entry['event']}{shown(ref)}")
        for key, (old, new) in entry["changes"].items():
            click.echo(f"    {key}: {_text(old)} -> {_text(new)}")


@jobs.command("diff")
@click.argument("job_ref", metavar="JOB")
@click.argument("start", metavar="FROM", type=PointParam(day_start=True))
@click.argument("end", metavar="[TO]", type=PointParam(), required=False)
@read_options()
@pass_catalog
def jobs_diff(catalog: Catalog, job_ref: str, start: Point, end: Point | None, out: Output) -> None:
    """Compare JOB between two points: a time, a commit or vN each.

    TO defaults to now. Prints each field that differs, old -> new, then the events after FROM up
    to TO.

    \b
    Example:
      jobsync jobs diff BackupConfigs v1
      jobsync jobs diff BackupConfigs "last monday" yesterday
    """
    diff = catalog.diff(job_ref, start, end)
    if out.structured:
        _print_data(to_json(diff, _zone()), out)
        return
    for label in ("from", "to"):
        end_of = diff[label]
        click.echo(
            f"{label} v{end_of['version']}  {time_text(end_of['time'], _zone())}"
            f"  commit {shown(end_of['commit'][:12])}"
        )
    if not diff["changes"]:
        click.echo(f"no differences between v{diff['from']['version']} and v{diff['to']['version']}")
    for key, (old, new) in diff["changes"].items():
        click.echo(f"  {key}: {_text(old)} -> {_text(new)}")
    if diff["events"]:
        click.echo("events:")
        _print_changes(diff["events"], Output(), with_ref=False)


@jobs.command("override")
@click.argument("job_ref", metavar="JOB")
@click.argument("field")
@click.argument("value")
@pass_catalog
def jobs_override(catalog: Catalog, job_ref: str, field: str, value: str) -> None:
    """Pin FIELD of JOB to VALUE; sync keeps the source value under it.

    \b
    Example:
      jobsync jobs override BackupConfigs time_limit 900
      jobsync jobs override BackupConfigs task_queues '["backups"]'
    """
    changed = catalog.override(job_ref, field, parse_field_value(field, value))
    click.echo(f"{'overrode' if changed else 'already overridden:'} {field} of {job_ref}")


@jobs.command("clear")
@click.argument("job_ref", metavar="JOB")
@click.argument("field", metavar="FIELD")
@pass_catalog
def jobs_clear(catalog: Catalog, job_ref: str, field: str) -> None:
    """Clear an override: FIELD follows the source value again.

    \b
    Example:
      jobsync jobs clear BackupConfigs time_limit
    """
    changed = catalog.clear_override(job_ref, field)
    click.echo(f"{'cleared' if changed else 'not overridden:'} {field} of {job_ref}")


@jobs.command("enable")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_enable(catalog: Catalog, job_ref: str) -> None:
    """Allow JOB to run.

    \b
    Example:
      jobsync jobs enable netops:jobs.backup.BackupConfigs
    """
    changed = catalog.enable(job_ref)
    click.echo(f"{'enabled' if changed else 'already enabled:'} {job_ref}")


@jobs.command("disable")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_disable(catalog: Catalog, job_ref: str) -> None:
    """Stop JOB from running.

    \b
    Example:
      jobsync jobs disable BackupConfigs
    """
    changed = catalog.disable(job_ref)
    click.echo(f"{'disabled' if changed else 'already disabled:'} {job_ref}")


@jobs.command("delete")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_delete(catalog: Catalog, job_ref: str) -> None:
    """Delete uninstalled JOB (its history stays, for audit).

    \b
    Example:
      jobsync jobs delete netops:jobs.legacy.OldJob
    """
    catalog.delete_job(job_ref)
    click.echo(f"deleted {job_ref}")


# -- results ------------------------------------------------------------------------------------


@cli.group()
def results() -> None:
    """Runs of jobs and of syncs: record, claim, log, finish, list."""


@results.command("record")
@click.argument("job_ref", metavar="JOB")
@click.option("--args", "args_json", metavar="JSON", help="The run's arguments as a JSON document.")
@click.option("--queue", metavar="Q", help="Only a worker of this queue (one of the job's) may claim it.")
@click.option("--ignore-singleton", is_flag=True, help="May run beside another run of a singleton job.")
@pass_catalog
def results_record(
    catalog: Catalog, job_ref: str, args_json: str | None, queue: str | None, ignore_singleton: bool
) -> None:
    """Queue a run of JOB; prints the result id.

    JOB must be installed and enabled. A job with sensitive variables (the default) never has its
    args stored: they are dropped, with a warning, and the worker must get them from you.

    \b
    Example:
      jobsync results record BackupConfigs --args '{"devices": ["r1"]}'
    """
    args = _parse_json("--args", args_json) if args_json is not None else None
    click.echo(catalog.record_result(job_ref, args, queue=queue, ignore_singleton=ignore_singleton))


@results.command("start")
@click.argument("result_id", metavar="RESULT")
@pass_catalog
def results_start(catalog: Catalog, result_id: str) -> None:
    """Mark RESULT as running.

    \b
    Example:
      jobsync results start 3f2a9c1e
    """
    catalog.start_result(result_id)
    click.echo(f"started {result_id}")


@results.command("claim")
@click.option("--queue", required=True, metavar="Q", help="Claim a run this queue serves.")
@click.option("--worker", required=True, metavar="W", help="The claiming worker's name, kept on the run.")
@json_option
@pass_catalog
def results_claim(catalog: Catalog, queue: str, worker: str, as_json: bool) -> None:
    """Take the oldest pending run of a queue; prints its id.

    The run is now running as W's; with --json its whole record is printed. Exits 3, printing
    nothing, when no run waits: a worker's loop can sleep and ask again.

    \b
    Example:
      jobsync results claim --queue default --worker worker-1
    """
    record = catalog.claim(queue, worker)
    if record is None:
        raise SystemExit(ExitCode.NOTHING_TO_CLAIM)
    if as_json:
        _print_json(to_json(record, _zone()))
    else:
        click.echo(record["id"])


@results.command("heartbeat")
@click.argument("result_id", metavar="RESULT")
@pass_catalog
def results_heartbeat(catalog: Catalog, result_id: str) -> None:
    """Say RESULT's worker is alive, so it is not ended as stale.

    \b
    Example:
      jobsync results heartbeat 3f2a9c1e
    """
    catalog.heartbeat(result_id)


@results.command("log")
@click.argument("result_id", metavar="RESULT")
@click.argument("message")
@click.option(
    "--level", type=click.Choice(LOG_LEVELS), default="info", show_default=True, help="The entry's level."
)
@click.option(
    "--grouping", default="main", show_default=True, help="Section of the run the entry belongs to."
)
@click.option("--object", "obj", default="", metavar="TEXT", help="What the entry is about (its repr).")
@click.option("--url", default="", help="Absolute URL of that object.")
@pass_catalog
def results_log(
    catalog: Catalog, result_id: str, message: str, level: str, grouping: str, obj: str, url: str
) -> None:
    """Append a log entry to RESULT; a follower sees it at once.

    \b
    Example:
      jobsync results log 3f2a9c1e "saved r1" --level success --object r1
    """
    catalog.log(result_id, message, level=level, grouping=grouping, object=obj, url=url)


@results.command("finish")
@click.argument("result_id", metavar="RESULT")
@click.option("--status", type=click.Choice(FINISHED_STATUSES), required=True, help="How the run ended.")
@click.option("--data", "data_json", metavar="JSON", help="The run's output as a JSON document.")
@pass_catalog
def results_finish(catalog: Catalog, result_id: str, status: str, data_json: str | None) -> None:
    """End RESULT with a terminal status.

    \b
    Example:
      jobsync results finish 3f2a9c1e --status completed --data '{"saved": 1}'
    """
    data = _parse_json("--data", data_json) if data_json is not None else None
    catalog.finish_result(result_id, status, data)
    click.echo(f"{status} {result_id}")


@results.command("list")
@click.option("--job", "job_ref", metavar="JOB", help="Only runs of this job.")
@click.option("--status", type=click.Choice(STATUSES), help="Only results with this status.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (newest first).")
@read_options(listing=True)
@pass_catalog
def results_list(
    catalog: Catalog, job_ref: str | None, status: str | None, limit: int | None, out: Output
) -> None:
    """List results, newest first.

    \b
    Example:
      jobsync results list --status failed --limit 20
      jobsync results list --job BackupConfigs -q    # ids only
    """
    records = catalog.results(job=job_ref, status=status, limit=limit)
    if out.structured:
        _print_data([to_json(record, _zone()) for record in records], out)
        return
    wide = ["QUEUES", "STARTED", "COMPLETED", "SCHEDULE"] if out.wide else []
    _print_table(
        ["ID", "TASK", "JOB", "STATUS", "CREATED", "ACTOR", "WORKER", *wide],
        [
            [
                str(r["id"]) if out.wide else str(r["id"])[:8],
                r["task"],
                r["job"] or f"({r['job_name']})",
                r["status"],
                time_text(r["created"], _zone()),
                r["actor"],
                r["worker"] or "",
                *(
                    [
                        ",".join(r["queues"]),
                        _when(r["started"], ""),
                        _when(r["completed"], ""),
                        r["scheduled_job"] or "",
                    ]
                    if out.wide
                    else []
                ),
            ]
            for r in records
        ],
        out,
        names=[str(r["id"]) for r in records],
    )


@results.command("show")
@click.argument("result_id", metavar="RESULT")
@read_options()
@pass_catalog
def results_show(catalog: Catalog, result_id: str, out: Output) -> None:
    """Show one result with its args and data.

    \b
    Example:
      jobsync results show 3f2a9c1e
    """
    _print_fields(catalog.result(result_id), out)


@cli.command()
@click.argument("result_id", metavar="RESULT")
@click.option("--level", type=click.Choice(LOG_LEVELS), help="Only entries at this level or more severe.")
@click.option("--follow", is_flag=True, help="Keep printing new entries until the result finishes.")
@read_options()
@pass_catalog
def logs(catalog: Catalog, result_id: str, level: str | None, follow: bool, out: Output) -> None:
    """Print the log entries of RESULT (with --follow, as written).

    With --follow the command ends with the run, printing its final status on stderr, and exits
    0 when the run completed, 1 when it failed or errored. Followed with -o json, each entry is
    one line of JSON; with -o yaml, one YAML document.

    \b
    Example:
      jobsync logs 3f2a9c1e --follow --level warning
    """
    if not follow:
        entries = catalog.logs(result_id, level=level)
        if out.structured:
            _print_data([_public_entry(e) for e in entries], out)
        else:
            for entry in entries:
                click.echo(_format_entry(entry))
        return
    stop_paging()  # someone watches the entries come
    since = 0
    try:
        while True:
            record = catalog.result(result_id)
            for entry in catalog.logs(result_id, since=since, level=level):
                since = entry["seq"]
                click.echo(_followed_entry(entry, out))
            if record["completed"] is not None:
                break
            time.sleep(FOLLOW_POLL_SECONDS)
    except KeyboardInterrupt:
        return
    # Like `kubectl wait` or `gh run watch --exit-status`: the run's outcome is the command's.
    click.echo(f"{record['status']} {record['id']}", err=True)
    if record["status"] != "completed":
        raise SystemExit(ExitCode.FAILED)


FOLLOW_POLL_SECONDS = 0.2


def _public_entry(entry: LogRecord) -> dict[str, Any]:
    """The entry as printed: ``seq`` is only for following, so it stays out of the JSON."""
    return {k: v for k, v in to_json(entry, _zone()).items() if k != "seq"}


def _format_entry(entry: LogRecord) -> str:
    where = f" [{shown(entry['object'])}]" if entry["object"] else ""
    message = shown(entry["message"])
    level = paint(f"{entry['level']:<8}", entry["level"])
    return f"{time_text(entry['time'], _zone(), millis=True)}  {level} {shown(entry['grouping'])}: {message}{where}"


def _followed_entry(entry: LogRecord, out: Output) -> str:
    """One followed entry: a line of JSON, a YAML document, or a line for people."""
    if out.format == "json":
        return json.dumps(_public_entry(entry))
    if out.format == "yaml":
        return "---\n" + yaml_text(_public_entry(entry)).rstrip("\n")
    return _format_entry(entry)


def _parse_json(option: str, text: str) -> Any:
    """An option's JSON document; text that is not one is a usage error (exit 2), as any bad option value."""
    ctx = click.get_current_context(silent=True)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.UsageError(f"{option} is not valid JSON: {exc}", ctx) from None
    except RecursionError:
        raise click.UsageError(f"{option} is nested too deeply to read", ctx) from None


# -- schedules ----------------------------------------------------------------------------------


class CrontabParam(click.ParamType[str]):
    """A crontab (five fields) cronsim reads; anything else is a usage error, exit 2."""

    name = "crontab"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from jobsync.schedule_times import check_crontab

        try:
            return check_crontab(str(value))
        except JobSyncError as exc:
            raise click.UsageError(str(exc), ctx) from None


class ZoneParam(click.ParamType[str]):
    """An IANA time zone name; an unknown one is a usage error, exit 2."""

    name = "zone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from jobsync.schedule_times import zone_of

        try:
            zone_of(str(value))
        except JobSyncError as exc:
            raise click.UsageError(str(exc), ctx) from None
        return str(value)


@cli.group()
def schedules() -> None:
    """Scheduled runs of jobs, each due run recorded once.

    The daemon records each due run once, as a pending result a worker claims.
    """


@schedules.command("add")
@click.argument("job_ref", metavar="JOB")
@click.option("--name", required=True, help="The schedule's unique name.")
@click.option(
    "--at",
    "at",
    type=TimeParam(day="start"),
    metavar="TIME",
    help="Once at TIME; with --every or --cron, the start.",
)
@click.option(
    "--every",
    type=click.Choice(["hourly", "daily", "weekly"]),
    help="Every hour, day or week from the start.",
)
@click.option(
    "--cron", type=CrontabParam(), metavar="EXPR", help='On a crontab, e.g. "0 2 * * *", read in --tz.'
)
@click.option("--args", "args_json", metavar="JSON", help="The runs' arguments as a JSON document.")
@click.option("--queue", help="The queue the runs go to (default: the job's first, else 'default').")
@click.option(
    "--tz", type=ZoneParam(), metavar="ZONE", help="IANA time zone of the schedule (default: $TZ, else UTC)."
)
@json_option
@pass_catalog
def schedules_add(
    catalog: Catalog,
    job_ref: str,
    name: str,
    at: datetime | None,
    every: str | None,
    cron: str | None,
    args_json: str | None,
    queue: str | None,
    tz: str | None,
    as_json: bool,
) -> None:
    """Schedule runs of JOB.

    JOB must be installed, enabled and without sensitive variables.

    \b
    Example:
      jobsync schedules add BackupConfigs --name nightly-backup --cron "0 2 * * *" --tz Europe/Paris
      jobsync schedules add BackupConfigs --name once --at "tomorrow 06:00"
    """
    if at is None and every is None and cron is None:
        raise click.UsageError("say when: --at TIME, --every hourly|daily|weekly, or --cron EXPR")
    if every is not None and cron is not None:
        raise click.UsageError("--every and --cron exclude each other")
    args = _parse_json("--args", args_json) if args_json is not None else None
    record = catalog.add_schedule(job_ref, name, at=at, every=every, cron=cron, args=args, queue=queue, tz=tz)
    if as_json:
        _print_json(to_json(record, _zone()))
        return
    click.echo(f"scheduled {shown(record['name'])} ({record['id']}): next run {_when(record['next_run'])}")


def _when(moment: datetime | None, missing: str = "never") -> str:
    return time_text(moment, _zone()) if moment is not None else missing


@schedules.command("list")
@click.option("--job", "job_ref", metavar="JOB", help="Only schedules of this job.")
@read_options(listing=True)
@pass_catalog
def schedules_list(catalog: Catalog, job_ref: str | None, out: Output) -> None:
    """List schedules with their next run and whether they fire.

    \b
    Example:
      jobsync schedules list --job BackupConfigs
    """
    records = catalog.schedules(job=job_ref)
    if out.structured:
        _print_data([to_json(r, _zone()) for r in records], out)
        return
    wide = ["ID", "QUEUE", "TIME ZONE", "APPROVED BY", "ACTOR"] if out.wide else []
    _print_table(
        ["NAME", "JOB", "WHEN", "NEXT RUN", "LAST RUN", "RUNS", "STATUS", *wide],
        [
            [
                r["name"],
                r["job"] or f"({r['job_name']}, deleted)",
                r["crontab"] or r["interval"],
                _when(r["next_run"]),
                _when(r["last_run"]),
                str(r["total_run_count"]),
                "ok" if not r.get("blocked") else f"will not fire: {r.get('blocked')}",
                *(
                    [str(r["id"]), r["queue"], r["time_zone"], r["approved_by"] or "", r["actor"]]
                    if out.wide
                    else []
                ),
            ]
            for r in records
        ],
        out,
        names=[str(r["id"]) for r in records],
    )


@schedules.command("show")
@click.argument("ref", metavar="NAME|ID")
@read_options()
@pass_catalog
def schedules_show(catalog: Catalog, ref: str, out: Output) -> None:
    """Show one schedule; when it will not fire, say why.

    \b
    Example:
      jobsync schedules show nightly-backup
    """
    record = catalog.schedule(ref)
    _print_fields(record, out, skip=("blocked",), never=("next_run", "last_run"))
    if record.get("blocked") and not out.structured:
        click.echo(f"{'will not fire':<19} {shown(record.get('blocked') or '')}")


def _schedule_switch(verb: str, state: str, help_text: str, change: Callable[[Catalog, str], bool]) -> None:
    """One of ``schedules approve|enable|disable``: change, and say so (or that it already was)."""

    @schedules.command(verb, help=f"{help_text}\n\n\b\nExample:\n  jobsync schedules {verb} nightly-backup")
    @click.argument("ref", metavar="NAME|ID")
    @pass_catalog
    def command(catalog: Catalog, ref: str) -> None:
        changed = change(catalog, ref)
        click.echo(f"{state} {shown(ref)}" if changed else f"{shown(ref)} was already {state}")


_schedule_switch(
    "approve",
    "approved",
    "Approve a schedule someone else made.\n\nNeeded before it fires when its job requires approval.",
    Catalog.approve_schedule,
)
_schedule_switch(
    "enable",
    "enabled",
    "Let a schedule fire again (a run missed meanwhile fires once).",
    Catalog.enable_schedule,
)
_schedule_switch("disable", "disabled", "Stop a schedule from firing.", Catalog.disable_schedule)


@schedules.command("delete")
@click.argument("ref", metavar="NAME|ID")
@pass_catalog
def schedules_delete(catalog: Catalog, ref: str) -> None:
    """Delete a schedule (its results and history stay).

    \b
    Example:
      jobsync schedules delete nightly-backup
    """
    catalog.delete_schedule(ref)
    click.echo(f"deleted {shown(ref)}")


# -- daemon -------------------------------------------------------------------------------------


log_level_option = click.option(
    "--log-level",
    type=click.Choice(DAEMON_LOG_LEVELS),
    help="Log this level and more severe (default: the config's log_level, else info).",
)


@cli.command()
@log_level_option
@pass_settings
def daemon(settings: Settings, log_level: str | None) -> None:
    """Run the service: sync, fire schedules, reap, serve HTTP.

    Syncs every configured source on its schedule (systemd Type=notify). Logs one JSON line per event on stdout under systemd (with journald priorities), a readable
    console on a terminal. Polls that find nothing new are logged at debug.

    \b
    Example:
      jobsync daemon --log-level debug
    """
    from jobsync.adapters.logs import choose_format, configure_logging
    from jobsync.daemon import daemon_actor, run_daemon

    path = config_path(settings.config_file)

    def read_config() -> Config:
        config = load_config(path)
        configure_logging(choose_format(config.log_format), level=log_level or config.log_level)
        return config

    def open_catalog(config: Config) -> Catalog:
        return Catalog.open(
            store=settings.store or config.store,
            state_dir=config.state_dir,
            actor=settings.actor or daemon_actor(),
            sources=list(config.sources),
        )

    raise SystemExit(run_daemon(read_config, open_catalog))


@cli.command()
@click.option(
    "--listen",
    metavar="HOST:PORT",
    help="Where to listen (default: [http] listen from the config, else 127.0.0.1:8642).",
)
@log_level_option
@pass_settings
def serve(settings: Settings, listen: str | None, log_level: str | None) -> None:
    """Serve the read-only API, pages and /metrics; sync nothing.

    For a second host reading a shared PostgreSQL store, or to look at a catalog the daemon is
    not running for. Webhooks need the daemon. Stops on SIGTERM or Ctrl-C.

    \b
    Example:
      jobsync serve --listen 127.0.0.1:8642
    """
    from jobsync.adapters.logs import choose_format, configure_logging
    from jobsync.config import DEFAULT_LISTEN, parse_listen
    from jobsync.http.server import serve_until_stopped

    config = load_config(config_path(settings.config_file))
    configure_logging(
        choose_format(config.log_format, sys.stderr), sys.stderr, level=log_level or config.log_level
    )
    try:
        host, port = parse_listen(
            listen or (config.http.listen if config.http else DEFAULT_LISTEN), "--listen"
        )
    except JobSyncError as exc:
        raise click.UsageError(str(exc)) from None
    serve_until_stopped(settings.catalog(), host, port, config.http.tokens_file if config.http else None)


# -- store --------------------------------------------------------------------------------------


@cli.group()
def store() -> None:
    """The event store itself."""


@store.command("migrate")
@click.argument("source_url", metavar="SOURCE_URL")
@click.argument("target_url", metavar="TARGET_URL")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Events copied per transaction (default 2000); a killed copy resumes after the last whole batch.",
)
def store_migrate(source_url: str, target_url: str, batch_size: int | None) -> None:
    """Copy the whole log into an empty store, then verify it.

    From SOURCE_URL into the empty store TARGET_URL. Typically sqlite:///var/lib/jobsync/jobsync.db to postgresql://user@host/db, once, with the
    daemons stopped; point the config's store at the target afterwards. Until the copy is
    verified the target is marked incomplete and refused by every other command; running the
    same migration again resumes it.

    \b
    Example:
      jobsync store migrate sqlite:///var/lib/jobsync/jobsync.db postgresql://jobsync@db/jobsync
    """
    from jobsync.migrate import COPY_BATCH, copy_store

    with _copy_progress() as show:
        report = copy_store(source_url, target_url, show, batch_size or COPY_BATCH)
    resumed = (
        f", resuming an interrupted copy after event {report.resumed_after}" if report.resumed_after else ""
    )
    click.echo(
        f"copied {report.events} events ({report.jobs} jobs, {report.snapshots} snapshots) "
        f"in {report.seconds:.1f}s{resumed}; counts, read models and catalogs verified"
    )


store.add_command(store_migrate, "copy")


@contextmanager
def _copy_progress() -> Iterator[Callable[[int, int], None]]:
    """A bar at a terminal; elsewhere (a log, a script) a line a batch, so a long copy shows how far it is."""
    if not sys.stderr.isatty():
        yield lambda copied, total: click.echo(f"copied {copied} of {total} events", err=True)
        return
    with click.progressbar(length=0, label="copying", file=sys.stderr) as bar:

        def show(copied: int, total: int) -> None:
            bar.length = total
            bar.update(copied - bar.pos)

        yield show


# -- config -------------------------------------------------------------------------------------


@cli.group("config")
def config_group() -> None:
    """The configuration file."""


@config_group.command("check")
@click.argument("file", required=False, metavar="[FILE]")
@json_option
@pass_settings
def config_check(settings: Settings, file: str | None, as_json: bool) -> None:
    """Validate a config file and print the effective config.

    FILE defaults to the one jobsync would use; secrets are redacted. Also says where the catalog
    is, and which rule chose it.

    \b
    Example:
      jobsync config check
      jobsync config check /etc/jobsync/config.toml --json
    """
    path, why_file = config_path_rule(file or settings.config_file)
    config = load_config(path)
    data = {**effective(config, settings.store), "config_rule": why_file}
    if as_json:
        _print_json(data)
        return
    click.echo(f"config ok: {data['config_file'] or '(no file: every default)'}  ({why_file})")
    click.echo(f"{'catalog':<11} {data['store']}  ({data['catalog_rule']})")
    for key in ("state_dir", "log_format"):
        click.echo(f"{key:<11} {data[key]}")
    if data["http"] is not None:
        tokens = data["http"]["tokens_file"] or "(none: only /healthz, /readyz, /metrics and /hooks/ answer)"
        click.echo(f"{'http':<11} listen {data['http']['listen']}, tokens {tokens}")
    for source in data["sources"]:
        details = ", ".join(f"{k}={_text(v)}" for k, v in source.items() if k not in ("name", "kind") and v)
        click.echo(f"source      {source['name']} ({source['kind']}): {details}")


# -- audit --------------------------------------------------------------------------------------


@cli.command("replay")
@click.option("--verify", is_flag=True, help="Rebuild into scratch tables and compare; change nothing.")
@json_option
@pass_catalog
def replay_command(catalog: Catalog, verify: bool, as_json: bool) -> None:
    """Rebuild every read model from the event log.

    With --verify, rebuild into scratch tables and compare, changing nothing.

    \b
    Example:
      jobsync replay --verify
    """
    total = catalog.event_count()
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(length=total, label="replaying", file=sys.stderr) as bar:
            report = catalog.replay(verify=verify, progress=bar.update)
    else:
        report = catalog.replay(verify=verify)
    if as_json:
        _print_json({**asdict(report), "ok": report.ok})
    else:
        rate = report.events / report.seconds if report.seconds else 0.0
        what = "verified" if verify else "rebuilt"
        click.echo(f"{what} read models from {report.events} events in {report.seconds:.2f}s ({rate:,.0f}/s)")
        for difference in report.differences:
            click.echo(f"  {difference}")
    if not report.ok:
        _fail(f"{len(report.differences)} differences between the read models and the log")


# -- demo ---------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir", "folder", metavar="DIR", help="Where to make the sample repo and store (default: a temp dir)."
)
@click.option("--keep", is_flag=True, help="Keep the temporary folder afterwards, to look around.")
@pass_settings
def demo(settings: Settings, folder: str | None, keep: bool) -> None:
    """Try jobsync on a sample repository, in a minute.

    Makes a sample repo, syncs it, changes it, syncs again, overrides a field and shows history.
    Without --dir the demo works in a temporary folder, removed at the end unless --keep.

    \b
    Example:
      jobsync demo --keep
    """
    from jobsync.demo import run_demo

    def command(args: list[str]) -> None:
        # One story on one screen: a pager stopping it halfway would wait for a key.
        cli.main(args=["--no-pager", *args], prog_name="jobsync", standalone_mode=False)

    run_demo(folder, settings.actor, click.echo, command, keep=keep, program=_program())


def _program() -> str:
    """How the person ran jobsync, to repeat in hints: ``jobsync`` when that is on PATH, else as typed."""
    script = sys.argv[0]
    if Path(script).name != "jobsync":
        return "python -m jobsync"
    found = shutil.which("jobsync")
    if found is not None and Path(found).resolve() == Path(script).resolve():
        return "jobsync"
    return script


# -- completion ---------------------------------------------------------------------------------


@cli.command()
@click.argument("shell", metavar="SHELL", type=click.Choice(COMPLETION_SHELLS))
def completion(shell: str) -> None:
    """Print a shell completion script (bash, zsh or fish).

    TAB then completes jobsync's commands, options and choices, and the catalog's sources, job
    refs, result ids and schedule names.

    \b
    Example:
      jobsync completion bash > ~/.local/share/bash-completion/completions/jobsync
      jobsync completion zsh > "${fpath[1]}/_jobsync"    # then: compinit
      jobsync completion fish > ~/.config/fish/completions/jobsync.fish
    """
    click.echo(completion_script(cli, shell), nl=False)


attach_completions(cli)


# -- helpers ------------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact (and several times faster) for a program."""
    print_document(data, "json")


def _print_data(data: Any, out: Output) -> None:
    """A read command's answer as the JSON or YAML document ``-o`` asked for."""
    print_document(data, out.format)


def _print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    out: Output | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Rows under their headers, fitted to the terminal; with ``-q`` only ``names`` (refs, ids),
    one a line; with ``--no-headers`` the rows alone."""
    if out is not None and out.quiet:
        for name in names or []:
            click.echo(shown(name))
        return
    cells = [[shown(str(cell)) for cell in row] for row in rows]
    print_table(headers, cells, headers_shown=out is None or out.headers)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _print_fields(
    record: Record, out: Output, skip: Collection[str] = (), never: Collection[str] = ()
) -> None:
    """What a ``show`` command prints: the JSON (or YAML) record, or a ``key  value`` line per field
    (the ``skip`` keys left out; a missing time among ``never`` reads "never"; a status coloured)."""
    if out.structured:
        _print_data(to_json(record, _zone()), out)
        return
    fields: Mapping[str, Any] = record
    for key, value in fields.items():
        if key not in skip:
            text = "never" if value is None and key in never else _text(value)
            click.echo(f"{key:<19} {paint(text) if key == 'status' else text}")


def _text(value: Any) -> str:
    if isinstance(value, (list, dict)) or value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, datetime):
        return time_text(value, _zone())
    return shown(str(value))


def _quoted(value: Any) -> str:
    """A value as ``_text`` shows it, text in quotes: an empty source value still shows."""
    return f'"{shown(value)}"' if isinstance(value, str) else _text(value)


def shown(text: str) -> str:
    """Catalog text as plain output shows it: every control or bidi character escaped (``\\x1b``).

    A name, a description or a log message comes from repositories and workers: on a terminal it
    must not clear the screen, retitle the window, forge a line or read backwards. JSON output
    keeps the true text.
    """
    return CONTROLS.sub(lambda found: escaped(found.group()), text)


#: jobsync's one garbage-collector policy, set here at the entry point (CLI and daemon): a sync or
#: a bulk read makes many long-lived objects and few cycles, and with Python's default first
#: threshold (700) the collector rescans them again and again. bench/resync.py measures it (cold
#: sync about 25 % faster); a library caller chooses its own policy. The same policy freezes what
#: exists when a command process ends, so the interpreter's shutdown does not walk every object
#: once more (about 16 ms of each CLI call).
GC_THRESHOLDS = (50_000, 20, 100)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: usage errors become one ``error:`` line and exit code 2."""
    gc.set_threshold(*GC_THRESHOLDS)
    warnings.showwarning = _warn
    try:
        _main(argv)
    finally:
        if argv is None:  # the console script, whose process ends now (not a caller of main())
            gc.freeze()


def _main(argv: Sequence[str] | None) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="jobsync", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"{_error_prefix()} {' '.join(exc.format_message().split())}{hint}", err=True)
        raise SystemExit(ExitCode.USAGE) from None
    except click.ClickException as exc:
        click.echo(f"{_error_prefix()} {' '.join(exc.format_message().split())}", err=True)
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        click.echo(f"{_error_prefix()} aborted", err=True)
        raise SystemExit(ExitCode.FAILED) from None
    except BrokenPipeError:
        _reader_went_away()


def _reader_went_away() -> NoReturn:
    """The reader of stdout left (``jobsync audit | head -1``): no failure, as for git and gh: exit 0.

    Caught inside the command, before Click's own handling (which exits 1). stdout is pointed at
    /dev/null so the interpreter's final flush does not complain again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise SystemExit(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    main()
