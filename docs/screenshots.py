"""Screenshots of the pages for the README: a small demo store, served, photographed in headless Chromium.

Run from the repository's root: ``.venv/bin/python docs/screenshots.py``. It writes docs/catalog.png,
docs/job.png, docs/diff.png, docs/result.png and docs/catalog-phone.png (Debian's chromium is needed:
``make test-tools`` installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, without installing

from jobsync import Catalog
from jobsync.http.auth import COOKIE, Tokens
from jobsync.http.context import HttpContext
from jobsync.http.metrics import Metrics
from jobsync.http.server import HttpServer

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "screenshot-token"
BACKUP = "netops:jobs.backup.BackupConfigs"

BACKUP_JOB = '''\
from nautobot.apps.jobs import Job

name = "Backups"


class BackupConfigs(Job):
    """Back up running configurations."""

    class Meta:
        name = "Backup configs"
        description = "{description}"
        soft_time_limit = 300
        time_limit = 600
        has_sensitive_variables = False
'''
INTERFACE_JOBS = """\
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
CLEANUP_JOB = """\
from nautobot.apps.jobs import Job

name = "Housekeeping"


class PurgeOldChanges(Job):
    class Meta:
        name = "Purge old changes"
        description = "Delete change records older than 90 days"


class Ping(Job):
    class Meta:
        description = "Check reachability"
        task_queues = ["fast"]
"""


def git(repo: Path, *args: str, author: str = "Ada Lovelace <ada@example.com>") -> None:
    name, email = author[: author.index(" <")], author[author.index("<") + 1 : -1]
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


def commit(repo: Path, files: dict[str, str], message: str, author: str) -> None:
    for relpath, text in files.items():
        target = repo / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(repo, "add", "-A", author=author)
    git(repo, "commit", "-qm", message, author=author)


def demo_store(base: Path, catalog: Catalog) -> str:
    """Two syncs, an override, a schedule and a run with log entries; the running result's id."""
    repo = base / "netops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        {
            "jobs/backup.py": BACKUP_JOB.format(description="Save every device's running config"),
            "jobs/interfaces.py": INTERFACE_JOBS,
            "jobs/cleanup.py": CLEANUP_JOB,
        },
        "Initial jobs",
        "Ada Lovelace <ada@example.com>",
    )
    catalog.resync(str(repo), name="netops")
    commit(
        repo,
        {"jobs/backup.py": BACKUP_JOB.format(description="Save every device's running config to Git")},
        "backup: say where the configs go",
        "Grace Hopper <grace@example.com>",
    )
    catalog.resync("netops")
    catalog.override(BACKUP, "grouping", "Nightly", actor="alice")
    catalog.enable(BACKUP, actor="alice")
    catalog.enable("netops:jobs.interfaces.AuditInterfaces", actor="alice")
    catalog.add_schedule(BACKUP, "nightly backup", every="daily", actor="alice")
    done = catalog.record_result("netops:jobs.interfaces.AuditInterfaces", args={"site": "ams1"})
    catalog.start_result(done, actor="worker-1")
    catalog.log(done, "checked 48 interfaces", level="success")
    catalog.finish_result(done, "completed", data={"down_but_enabled": []}, actor="worker-1")
    running = catalog.record_result(BACKUP, args={"devices": ["core-1", "core-2", "edge-7"]})
    catalog.start_result(running, actor="worker-2")
    catalog.log(running, "connected to core-1", object="core-1")
    catalog.log(running, "saved core-1 (12 KB)", level="success", object="core-1")
    return str(running)


def shoot(page: Page, url: str, name: str, full_page: bool = True) -> None:
    page.goto(url)
    expect(page.locator("h1")).to_be_visible()
    page.screenshot(path=str(DOCS / name), full_page=full_page)
    print(f"wrote docs/{name} ({(DOCS / name).stat().st_size // 1024} KB)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jobsync-shots-") as folder:
        base = Path(folder)
        tokens = base / "tokens"
        tokens.write_text(f"docs {TOKEN}\n", encoding="utf-8")
        with Catalog.open(state_dir=base / "state", actor="alice") as catalog:
            running = demo_store(base, catalog)
            server = HttpServer(HttpContext(catalog, Tokens.load(tokens), Metrics(catalog)), "127.0.0.1", 0)
            server.start()
            playwright = sync_playwright().start()
            try:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                cookie = {"name": COOKIE, "value": TOKEN, "url": server.url}
                wide = browser.new_context(viewport={"width": 1200, "height": 760})
                wide.add_cookies([cookie])  # type: ignore[list-item]
                page = wide.new_page()
                shoot(page, f"{server.url}/jobs", "catalog.png")
                shoot(page, f"{server.url}/jobs/{BACKUP}", "job.png")
                shoot(page, f"{server.url}/jobs/{BACKUP}/diff?from=v1&to=", "diff.png")

                def worker() -> None:  # entries that arrive while the page is open
                    time.sleep(1.0)
                    catalog.log(running, "connected to core-2", object="core-2")
                    catalog.log(running, "edge-7 answered slowly (4.2 s)", level="warning", object="edge-7")

                page.goto(f"{server.url}/results/{running}")
                thread = threading.Thread(target=worker)
                thread.start()
                expect(page.locator("#entries tr")).to_have_count(4, timeout=15_000)
                thread.join()
                page.screenshot(path=str(DOCS / "result.png"), full_page=True)
                print(f"wrote docs/result.png ({(DOCS / 'result.png').stat().st_size // 1024} KB)")

                phone = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
                phone.add_cookies([cookie])  # type: ignore[list-item]
                shoot(phone.new_page(), f"{server.url}/jobs", "catalog-phone.png", full_page=False)
                browser.close()
            finally:
                playwright.stop()
                server.stop()


if __name__ == "__main__":
    main()
