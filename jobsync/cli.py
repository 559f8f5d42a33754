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

    def __init__(self, config: str | None, store: str | None, actor: str | None, utc: bool = False) -> None:
        self.config_file = config
        self.store = store
        self.actor = actor
        self.zone: Zone = "utc" if utc else "local"
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
    click.echo(f"error: {shown(' '.join(message.split()))}", err=True)
    raise SystemExit(ExitCode.FAILED)


def _warn(message: Warning | str, *_: object, **__: object) -> None:
    """Python warnings (the read models are behind, ...) as one ``warning:`` line on stderr."""
    click.echo(f"warning: {shown(' '.join(str(message).split()))}", err=True)


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


@click.group(cls=JobSyncGroup)
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
@click.version_option(package_name="jobsync")
@click.pass_context
def cli(ctx: click.Context, config: str | None, store: str | None, actor: str | None, utc: bool) -> None:
    """jobsync: the catalog of automation jobs in Git repositories, and of everything that happened to them."""
    ctx.obj = Settings(config, store, actor, utc)


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
    """Sync one source now and print what changed (waiting for another process's sync of it first).

    A sync that would uninstall more than half of the source's installed jobs (and at least 5), or
    more than its ``max_uninstall``, is refused and applies nothing, unless --allow-mass-uninstall.
    With --dry-run nothing is saved; a sync that would be refused exits 1 after its plan.
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
        f"  {p.kind:<11} {shown(p.file)}:{p.line}: {shown(p.reason)}"
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
@json_option
@pass_catalog
def explain(catalog: Catalog, source: str, path: str, as_json: bool) -> None:
    """Why each class of the file PATH of SOURCE is or is not a job, and where each job's values come from.

    A git source is read at its last synced commit, a folder as it is now. A file the source's rules
    skip, or one that does not parse, gets one entry saying so; a path that is no file of the
    source is an error.

    \b
    Example:
      jobsync explain netops jobs/backup.py
      jobsync explain netops jobs/backup.py --json
    """
    records = catalog.explain(source, path)
    if as_json:
        _print_json(records)
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
            f"  {p['kind']}: {shown(p['file'])}:{p['line']}: {shown(p['reason'])}" for p in record["problems"]
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
@json_option
@pass_catalog
def sources_list(catalog: Catalog, as_json: bool) -> None:
    """List sources with their last synced commit."""
    records = catalog.sources()
    if as_json:
        _print_json([to_json(record, _zone()) for record in records])
        return
    _print_table(
        ["NAME", "KIND", "LOCATION", "BRANCH", "COMMIT", "LAST SYNC", "SYNCED BY", "STATUS"],
        [
            [
                r["name"],
                r["kind"],
                r["url"],
                r["last_branch"] or r["branch"] or "",
                (r["last_commit"] or "")[:12],
                time_text(r["last_synced"], _zone()) if r["last_synced"] else "never",
                synced_by(r),
                f"failing ({r['last_reason']})" if r["status"] == "failing" else r["status"],
            ]
            for r in records
        ],
    )


@sources.command("show")
@click.argument("name")
@json_option
@pass_catalog
def sources_show(catalog: Catalog, name: str, as_json: bool) -> None:
    """Show one source."""
    _print_fields(catalog.source(name), as_json)


def _config_note(catalog: Catalog, name: str, what: str) -> None:
    """Say on stderr when the config file still names a source the command changed (like kubectl
    on a resource a manifest declares): its word comes back at the daemon's next start or reload."""
    if catalog.is_configured(name):
        click.echo(f"note: the config file still names source {shown(name)}: {what}", err=True)


@sources.command("suspend")
@click.argument("name")
@pass_catalog
def sources_suspend(catalog: Catalog, name: str) -> None:
    """Stop syncing source NAME: the daemon and webhooks skip it, resync refuses it unless --force."""
    if catalog.suspend_source(name):
        click.echo(f"suspended {shown(name)}")
    else:
        click.echo(f"{shown(name)} was already suspended")


@sources.command("resume")
@click.argument("name")
@pass_catalog
def sources_resume(catalog: Catalog, name: str) -> None:
    """Let suspended source NAME sync again (the daemon syncs it within its interval)."""
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
    """Remove source NAME; only one without installed jobs, unless --uninstall-jobs.

    Its jobs (uninstalled) and all history stay; `resync` of its URL adds it back afresh.
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
    """Rename source OLD to NEW; its jobs' refs follow (NEW:module.Class), old refs still find them."""
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
@json_option
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
    as_json: bool,
) -> None:
    """List jobs (installed ones unless told otherwise)."""
    installed = {"installed": True, "uninstalled": False, "all": None}[state]
    _require_source(catalog, source)
    raw = as_json and not sys.stdout.isatty() and stored_times_shown_as_is(_zone())
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
    if as_json:
        _print_json([to_json(record, _zone()) for record in records])
        return
    _print_table(
        ["REF", "NAME", "GROUPING", "INSTALLED", "ENABLED", "OVERRIDES"],
        [
            [
                r["ref"],
                r["name"],
                r["grouping"],
                _yes(r["installed"]),
                _yes(r["enabled"]),
                ",".join(overridden_fields(r)) or "-",
            ]
            for r in records
        ],
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
@json_option
@pass_catalog
def jobs_show(catalog: Catalog, job_ref: str, at: Point | None, as_json: bool) -> None:
    """Show one job; an overridden field is marked, with the source's value beside it."""
    record = catalog.job(job_ref, at=at)
    if as_json:
        _print_json(to_json(record, _zone()))
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
@json_option
@pass_catalog
def jobs_history(
    catalog: Catalog, job_ref: str, since: datetime | None, until: datetime | None, as_json: bool
) -> None:
    """Every event of a job: when, who, what, and which fields changed."""
    entries = catalog.history(job_ref, since=since, until=until)
    _print_changes(entries, as_json, with_ref=False)


@cli.command()
@since_option
@until_option
@click.option("--actor", "who", metavar="NAME", help="Only changes made by NAME.")
@click.option(
    "--author", metavar="TEXT", help="Only changes from commits whose author contains TEXT (any case)."
)
@click.option("--source", help="Only changes to this source and its jobs.")
@json_option
@pass_catalog
def audit(
    catalog: Catalog,
    since: datetime | None,
    until: datetime | None,
    who: str | None,
    author: str | None,
    source: str | None,
    as_json: bool,
) -> None:
    """Every change to jobs and sources in a window, across the catalog."""
    _require_source(catalog, source)
    entries = catalog.audit(since=since, until=until, actor=who, source=source, author=author)
    _print_changes(entries, as_json, with_ref=True)


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


def _print_changes(entries: list[HistoryEntry], as_json: bool, with_ref: bool) -> None:
    if as_json:
        _print_json([to_json(entry, _zone()) for entry in entries])
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
@json_option
@pass_catalog
def jobs_diff(catalog: Catalog, job_ref: str, start: Point, end: Point | None, as_json: bool) -> None:
    """Compare JOB between two points (each a time, a commit or vN; TO defaults to now).

    Prints each field that differs, old -> new, then the events after FROM up to TO.
    """
    diff = catalog.diff(job_ref, start, end)
    if as_json:
        _print_json(to_json(diff, _zone()))
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
        _print_changes(diff["events"], as_json=False, with_ref=False)


@jobs.command("override")
@click.argument("job_ref", metavar="JOB")
@click.argument("field")
@click.argument("value")
@pass_catalog
def jobs_override(catalog: Catalog, job_ref: str, field: str, value: str) -> None:
    """Pin FIELD of JOB to VALUE; sync keeps the source value underneath."""
    changed = catalog.override(job_ref, field, parse_field_value(field, value))
    click.echo(f"{'overrode' if changed else 'already overridden:'} {field} of {job_ref}")


@jobs.command("clear")
@click.argument("job_ref", metavar="JOB")
@click.argument("field", metavar="FIELD")
@pass_catalog
def jobs_clear(catalog: Catalog, job_ref: str, field: str) -> None:
    """Clear the override of FIELD: it follows the current source value again."""
    changed = catalog.clear_override(job_ref, field)
    click.echo(f"{'cleared' if changed else 'not overridden:'} {field} of {job_ref}")


@jobs.command("enable")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_enable(catalog: Catalog, job_ref: str) -> None:
    """Allow JOB to run."""
    changed = catalog.enable(job_ref)
    click.echo(f"{'enabled' if changed else 'already enabled:'} {job_ref}")


@jobs.command("disable")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_disable(catalog: Catalog, job_ref: str) -> None:
    """Stop JOB from running."""
    changed = catalog.disable(job_ref)
    click.echo(f"{'disabled' if changed else 'already disabled:'} {job_ref}")


@jobs.command("delete")
@click.argument("job_ref", metavar="JOB")
@pass_catalog
def jobs_delete(catalog: Catalog, job_ref: str) -> None:
    """Delete uninstalled JOB (its history stays, for audit)."""
    catalog.delete_job(job_ref)
    click.echo(f"deleted {job_ref}")


# -- results ------------------------------------------------------------------------------------


@cli.group()
def results() -> None:
    """Runs of jobs (and of syncs): record, claim, start, heartbeat, log, finish, inspect."""


@results.command("record")
@click.argument("job_ref", metavar="JOB")
@click.option("--args", "args_json", metavar="JSON", help="The run's arguments as a JSON document.")
@click.option("--queue", metavar="Q", help="Only a worker of this queue (one of the job's) may claim it.")
@click.option("--ignore-singleton", is_flag=True, help="May run beside another run of a singleton job.")
@pass_catalog
def results_record(
    catalog: Catalog, job_ref: str, args_json: str | None, queue: str | None, ignore_singleton: bool
) -> None:
    """Queue a run of JOB (installed and enabled); prints the result id.

    A job with sensitive variables (the default) never has its args stored: they are dropped,
    with a warning, and the worker must get them from you.
    """
    args = _parse_json("--args", args_json) if args_json is not None else None
    click.echo(catalog.record_result(job_ref, args, queue=queue, ignore_singleton=ignore_singleton))


@results.command("start")
@click.argument("result_id", metavar="RESULT")
@pass_catalog
def results_start(catalog: Catalog, result_id: str) -> None:
    """Mark RESULT as running."""
    catalog.start_result(result_id)
    click.echo(f"started {result_id}")


@results.command("claim")
@click.option("--queue", required=True, metavar="Q", help="Claim a run this queue serves.")
@click.option("--worker", required=True, metavar="W", help="The claiming worker's name, kept on the run.")
@json_option
@pass_catalog
def results_claim(catalog: Catalog, queue: str, worker: str, as_json: bool) -> None:
    """Take the oldest pending run for queue Q (now running as W's); prints its id, or its record.

    Exits 3, printing nothing, when no run waits: a worker's loop can sleep and ask again.
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
    """Say running RESULT's worker is alive, so the daemon does not end it as stale."""
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
    """Append a log entry to RESULT; a follower sees it at once."""
    catalog.log(result_id, message, level=level, grouping=grouping, object=obj, url=url)


@results.command("finish")
@click.argument("result_id", metavar="RESULT")
@click.option("--status", type=click.Choice(FINISHED_STATUSES), required=True, help="How the run ended.")
@click.option("--data", "data_json", metavar="JSON", help="The run's output as a JSON document.")
@pass_catalog
def results_finish(catalog: Catalog, result_id: str, status: str, data_json: str | None) -> None:
    """End RESULT with a terminal status."""
    data = _parse_json("--data", data_json) if data_json is not None else None
    catalog.finish_result(result_id, status, data)
    click.echo(f"{status} {result_id}")


@results.command("list")
@click.option("--job", "job_ref", metavar="JOB", help="Only runs of this job.")
@click.option("--status", type=click.Choice(STATUSES), help="Only results with this status.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (newest first).")
@json_option
@pass_catalog
def results_list(
    catalog: Catalog, job_ref: str | None, status: str | None, limit: int | None, as_json: bool
) -> None:
    """List results, newest first."""
    records = catalog.results(job=job_ref, status=status, limit=limit)
    if as_json:
        _print_json([to_json(record, _zone()) for record in records])
        return
    _print_table(
        ["ID", "TASK", "JOB", "STATUS", "CREATED", "ACTOR", "WORKER"],
        [
            [
                str(r["id"])[:8],
                r["task"],
                r["job"] or f"({r['job_name']})",
                r["status"],
                time_text(r["created"], _zone()),
                r["actor"],
                r["worker"] or "",
            ]
            for r in records
        ],
    )


@results.command("show")
@click.argument("result_id", metavar="RESULT")
@json_option
@pass_catalog
def results_show(catalog: Catalog, result_id: str, as_json: bool) -> None:
    """Show one result with its args and data."""
    _print_fields(catalog.result(result_id), as_json)


@cli.command()
@click.argument("result_id", metavar="RESULT")
@click.option("--level", type=click.Choice(LOG_LEVELS), help="Only entries at this level or more severe.")
@click.option("--follow", is_flag=True, help="Keep printing new entries until the result finishes.")
@json_option
@pass_catalog
def logs(catalog: Catalog, result_id: str, level: str | None, follow: bool, as_json: bool) -> None:
    """Print the log entries of RESULT (with --follow, as they are written).

    With --follow the command ends with the run, printing its final status on stderr, and exits
    0 when the run completed, 1 when it failed or errored.

    \b
    Example:
      jobsync logs 3f2a9c1e --follow --level warning
    """
    if not follow:
        entries = catalog.logs(result_id, level=level)
        if as_json:
            _print_json([_public_entry(e) for e in entries])
        else:
            for entry in entries:
                click.echo(_format_entry(entry))
        return
    since = 0
    try:
        while True:
            record = catalog.result(result_id)
            for entry in catalog.logs(result_id, since=since, level=level):
                since = entry["seq"]
                click.echo(json.dumps(_public_entry(entry)) if as_json else _format_entry(entry))
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
    return f"{time_text(entry['time'], _zone(), millis=True)}  {entry['level']:<8} {shown(entry['grouping'])}: {message}{where}"


def _parse_json(option: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JobSyncError(f"{option} is not valid JSON: {exc}") from None
    except RecursionError:
        raise JobSyncError(f"{option} is nested too deeply to read") from None


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
    """Scheduled runs of jobs: the daemon records each due run once, as a pending result."""


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
    """Schedule runs of JOB (installed, enabled, without sensitive variables)."""
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


def _when(moment: datetime | None) -> str:
    return time_text(moment, _zone()) if moment is not None else "never"


@schedules.command("list")
@click.option("--job", "job_ref", metavar="JOB", help="Only schedules of this job.")
@json_option
@pass_catalog
def schedules_list(catalog: Catalog, job_ref: str | None, as_json: bool) -> None:
    """List schedules by name, with their next run and whether they will fire."""
    records = catalog.schedules(job=job_ref)
    if as_json:
        _print_json([to_json(r, _zone()) for r in records])
        return
    _print_table(
        ["NAME", "JOB", "WHEN", "NEXT RUN", "LAST RUN", "RUNS", "STATUS"],
        [
            [
                r["name"],
                r["job"] or f"({r['job_name']}, deleted)",
                r["crontab"] or r["interval"],
                _when(r["next_run"]),
                _when(r["last_run"]),
                str(r["total_run_count"]),
                "ok" if not r.get("blocked") else f"will not fire: {r.get('blocked')}",
            ]
            for r in records
        ],
    )


@schedules.command("show")
@click.argument("ref", metavar="NAME|ID")
@json_option
@pass_catalog
def schedules_show(catalog: Catalog, ref: str, as_json: bool) -> None:
    """Show one schedule; when it will not fire, say why."""
    record = catalog.schedule(ref)
    _print_fields(record, as_json, skip=("blocked",), never=("next_run", "last_run"))
    if record.get("blocked") and not as_json:
        click.echo(f"{'will not fire':<19} {shown(record.get('blocked') or '')}")


def _schedule_switch(verb: str, state: str, help_text: str, change: Callable[[Catalog, str], bool]) -> None:
    """One of ``schedules approve|enable|disable``: change, and say so (or that it already was)."""

    @schedules.command(verb, help=help_text)
    @click.argument("ref", metavar="NAME|ID")
    @pass_catalog
    def command(catalog: Catalog, ref: str) -> None:
        changed = change(catalog, ref)
        click.echo(f"{state} {shown(ref)}" if changed else f"{shown(ref)} was already {state}")


_schedule_switch(
    "approve",
    "approved",
    "Approve a schedule someone else made (needed when its job requires approval).",
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
    """Delete a schedule (its results and history stay)."""
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
    """Run the service: sync every configured source on its schedule (systemd Type=notify).

    Logs one JSON line per event on stdout under systemd (with journald priorities), a readable
    console on a terminal. Polls that find nothing new are logged at debug.
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
    """Serve the read-only API, the pages and /metrics without syncing anything.

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
    """Copy the whole log from SOURCE_URL into the empty store TARGET_URL, then verify the copy.

    Typically sqlite:///var/lib/jobsync/jobsync.db to postgresql://user@host/db, once, with the
    daemons stopped; point the config's store at the target afterwards. Until the copy is
    verified the target is marked incomplete and refused by every other command; running the
    same migration again resumes it.
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
    """Validate FILE (default: the one jobsync would use) and print the effective config, secrets redacted."""
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
    """Rebuild every read model from the event log (with --verify: check them against it)."""
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
    """Make a sample repo, sync it, change it, sync again, override a field and show history.

    Without --dir the demo works in a temporary folder, removed at the end unless --keep.
    """
    from jobsync.demo import run_demo

    def command(args: list[str]) -> None:
        cli.main(args=args, prog_name="jobsync", standalone_mode=False)

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
    """Print the script that makes SHELL complete jobsync's commands, options, sources, jobs and results.

    \b
    Example:
      eval "$(jobsync completion bash)"                  # add to ~/.bashrc
      jobsync completion zsh > "${fpath[1]}/_jobsync"    # then: compinit
      jobsync completion fish > ~/.config/fish/completions/jobsync.fish
    """
    click.echo(completion_script(cli, shell), nl=False)


attach_completions(cli)


# -- helpers ------------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact (and several times faster) for a program."""
    if sys.stdout.isatty():
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(json.dumps(data, separators=(",", ":")))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        click.echo("(none)")
        return
    rows = [[shown(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _print_fields(
    record: Record, as_json: bool, skip: Collection[str] = (), never: Collection[str] = ()
) -> None:
    """What a ``show`` command prints: the JSON record, or a ``key  value`` line per field (the
    ``skip`` keys left out; a missing time among ``never`` reads "never")."""
    if as_json:
        _print_json(to_json(record, _zone()))
        return
    fields: Mapping[str, Any] = record
    for key, value in fields.items():
        if key not in skip:
            click.echo(f"{key:<19} {'never' if value is None and key in never else _text(value)}")


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
        click.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
        raise SystemExit(ExitCode.USAGE) from None
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        raise SystemExit(exc.exit_code) from None
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
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
