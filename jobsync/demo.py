"""``jobsync demo``: a guided tour on a sample repository, made with the git CLI in a temp folder."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from textwrap import dedent

from jobsync.domain.errors import JobSyncError

Echo = Callable[[str], None]

_NETOPS_INIT = '''\
"""Nautobot 2 style: jobs are registered explicitly."""
from nautobot.apps.jobs import register_jobs

from .backup import BackupConfigs
from .interfaces import AuditInterfaces, BounceInterface

register_jobs(BackupConfigs, AuditInterfaces, BounceInterface)
'''

_NETOPS_BACKUP = '''\
from nautobot.apps.jobs import Job

name = "Backups"


class BackupConfigs(Job):
    """Back up running configurations."""

    class Meta:
        name = "Backup configs"
        description = "Save every device's running config to Git"
        soft_time_limit = 300
        time_limit = 600
        has_sensitive_variables = False  # its runs' args (device names) may be stored
'''

_NETOPS_INTERFACES = """\
from nautobot.apps import jobs

name = "Interfaces"


class AuditInterfaces(jobs.Job):
    class Meta:
        description = "Report interfaces that are down but enabled"
        has_sensitive_variables = False


class BounceInterface(jobs.Job):
    class Meta:
        description = "Shut and re-enable one interface"
        approval_required = True
"""

_LEGACY_CLEANUP = '''\
"""Nautobot 1 style: a module-level ``jobs`` list."""
import os

from nautobot.extras.jobs import Job

os.system("echo this line never runs under jobsync")  # discovery never imports or runs code

name = "Housekeeping"


class _Base(Job):
    class Meta:
        abstract = True


class PurgeOldChanges(_Base):
    class Meta:
        abstract = False
        name = "Purge old changes"
        commit_default = False


class Ping(Job):
    class Meta:
        description = "Check reachability"
        task_queues = ["fast"]


jobs = [PurgeOldChanges, Ping]
'''


def run_demo(
    folder: str | None,
    actor: str | None,
    echo: Echo,
    command: Callable[[list[str]], None],
    keep: bool = False,
    program: str = "jobsync",
) -> None:
    """Run the tour in ``folder``, or in a temporary folder removed afterwards unless ``keep``.

    ``program`` is how the person runs jobsync (``.venv/bin/jobsync`` after ``make demo``), for
    the closing hint.
    """
    if shutil.which("git") is None:
        raise JobSyncError("the demo makes its sample repository with git, which is not installed")
    base = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="jobsync-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        _tour(base, actor, echo, command)
    finally:
        if folder is None and not keep:
            shutil.rmtree(base, ignore_errors=True)
    config = base / "config.toml"
    if folder is None and not keep:
        echo(f"\nThe demo's folder is removed; '{program} demo --keep' keeps it to look around.")
    else:
        echo(
            f"\nEverything above is in {base / 'state' / 'jobsync.db'}; try:\n"
            f"  {program} --config {config} jobs show 'Backup configs' --json"
        )
    echo(f"Next, your own repository: {program} resync https://git.example.com/you/jobs.git --name mine")


def _tour(base: Path, actor: str | None, echo: Echo, command: Callable[[list[str]], None]) -> None:
    """Each step prints the command a person would type, then runs it with ``command``."""
    netops, legacy = base / "netops", base / "legacy"
    config = base / "config.toml"
    config.write_text(f'state_dir = "{base / "state"}"\n', encoding="utf-8")

    def step(title: str, *args: str) -> None:
        shown = shlex.join(args).replace(str(base), "$DEMO")
        echo(f"\n## {title}\n$ jobsync {shown}")
        command(["--config", str(config), "--actor", actor or "demo", *args])

    echo(f"jobsync demo in {base} (shown as $DEMO)")
    echo("Two sample Git repositories: 'netops' (Nautobot 2, register_jobs) and 'legacy' (Nautobot 1).")
    _make_repo(
        netops,
        {
            "jobs/__init__.py": _NETOPS_INIT,
            "jobs/backup.py": _NETOPS_BACKUP,
            "jobs/interfaces.py": _NETOPS_INTERFACES,
        },
    )
    _make_repo(legacy, {"jobs/cleanup.py": _LEGACY_CLEANUP})

    step(
        "Discover the jobs of both repositories (parsed with ast, never imported)",
        "resync",
        str(netops),
        "--name",
        "netops",
    )
    step("The legacy repository runs os.system at import: jobsync never runs it", "resync", str(legacy))
    step("The catalog: every job, rebuilt from the event log", "jobs", "list")
    step(
        "An operator pins a description; the source value stays underneath",
        "jobs",
        "override",
        "netops:jobs.backup.BackupConfigs",
        "description",
        "Nightly backup (owned by NetOps)",
    )
    step("Enable a job so it may run", "jobs", "enable", "Backup configs")

    echo("\n## Someone edits the repository: a new time limit, a new description, one job removed")
    _write(
        netops / "jobs/backup.py",
        _NETOPS_BACKUP.replace("600", "900").replace(
            "Save every device's running config to Git", "Save running configs to the backup repo"
        ),
    )
    _write(netops / "jobs/interfaces.py", _NETOPS_INTERFACES.split("\n\nclass BounceInterface")[0] + "\n")
    _write(netops / "jobs/__init__.py", _NETOPS_INIT.replace(", BounceInterface", ""))
    _git(
        netops,
        "commit",
        "-qam",
        "Longer backups; retire BounceInterface",
        "--author=Eve Writer <eve@example.com>",
    )

    step(
        "Preview the sync: what would change, field by field, saving nothing", "resync", "netops", "--dry-run"
    )
    step("Sync again: one job changed, one uninstalled (kept, never deleted by sync)", "resync", "netops")
    step("Nothing new upstream: a resync appends nothing", "resync", "netops")
    step(
        "The override won: the new source description waits underneath",
        "jobs",
        "show",
        "netops:jobs.backup.BackupConfigs",
    )
    step(
        "Clear the override: the field shows the *current* source value",
        "jobs",
        "clear",
        "netops:jobs.backup.BackupConfigs",
        "description",
    )
    step("Uninstalled jobs keep their history; list them with --all", "jobs", "list", "--all")
    step(
        "Who changed what, when, and in whose commit: the job's full history",
        "jobs",
        "history",
        "Backup configs",
    )
    step("Every change that came from Eve's commits, across the catalog", "audit", "--author", "eve")
    step("The job now against its first version, field by field", "jobs", "diff", "Backup configs", "v1")

    echo("\n## An executor (a Celery task, a script) records a run of the enabled job")
    from jobsync.catalog import Catalog
    from jobsync.config import load_config

    settings = load_config(config)
    with Catalog.open(state_dir=settings.state_dir, actor="celery@worker1") as catalog:
        run = catalog.record_result("Backup configs", args={"devices": ["rtr1", "rtr2"]})
        echo(f'$ jobsync results record \'Backup configs\' --args \'{{"devices": ["rtr1", "rtr2"]}}\'\n{run}')
        catalog.start_result(run)
        catalog.log(run, "saved rtr1", level="success", object="rtr1")
        catalog.log(run, "rtr2 did not answer", level="warning", object="rtr2")
        catalog.finish_result(run, "failed", data={"saved": 1, "failed": 1})
        echo("$ jobsync results start / results log / results finish ... (as the run goes)")
    step("Its log entries (readable while it runs; `logs --follow` streams them)", "logs", str(run)[:8])

    echo("\n## A schedule: the daemon fires it when due, and a worker claims the run and completes it")
    first_run = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    step(
        "Back up daily, starting in two seconds",
        "schedules",
        "add",
        "Backup configs",
        "--name",
        "daily-backup",
        "--every",
        "daily",
        "--at",
        first_run.isoformat(),
        "--args",
        '{"devices": ["rtr1"]}',
    )
    time.sleep(max(0.0, (first_run - datetime.now(UTC)).total_seconds()) + 0.1)
    with Catalog.open(state_dir=settings.state_dir, actor="daemon@demo") as catalog:
        fired = catalog.fire_due_schedules()
        echo(f"$ jobsync daemon   # each tick fires the due schedules, each due time once\nfired: {fired[0]}")
    with Catalog.open(state_dir=settings.state_dir, actor="worker-1") as catalog:
        claimed = catalog.claim("default", worker="worker-1")
        assert claimed is not None  # the run just fired is the only one pending
        echo(f"$ jobsync results claim --queue default --worker worker-1\n{claimed['id']}")
        catalog.log(claimed["id"], f"backing up {claimed['args']['devices']}")
        catalog.finish_result(claimed["id"], "completed", data={"saved": 1})
        echo(f"$ jobsync results finish {str(claimed['id'])[:8]} --status completed")
    step("The schedule ran once; its next run is tomorrow", "schedules", "show", "daily-backup")
    step("Every run, and every sync, is a result", "results", "list")
    step("The catalog checked against its own log", "replay", "--verify")


def _make_repo(path: Path, files: dict[str, str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    for relpath, text in files.items():
        _write(path / relpath, text)
    _git(path, "add", "-A")
    _git(path, "commit", "-qm", "Initial jobs")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")


def _git(path: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
    }
    result = subprocess.run(["git", "-C", str(path), *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise JobSyncError(f"git {args[0]} failed in {path}: {result.stderr.strip()}")
