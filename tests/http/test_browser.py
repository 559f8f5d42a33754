"""The pages in a real headless Chromium (Debian's, driven by Playwright): log in, search, a job's history and
diff, a log entry appearing live while another process writes it; at a phone's width; with JavaScript off."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from jobsync.http.auth import COOKIE
from tests.helpers import job_module
from tests.http.conftest import TOKEN, Served

CHROMIUM = "/usr/bin/chromium"
#: Without the background-networking flags this machine refuses Chromium's connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BACKUP = "netops:jobs.backup.Backup"
#: A phone's viewport (an iPhone SE's CSS pixels).
PHONE = {"width": 375, "height": 667}
#: Writes a log entry into the run, waits, then ends it: the worker, as a separate process on the same store.
WRITER = """\
import sys, time
from jobsync import Catalog
with Catalog.open(store=sys.argv[1], state_dir=sys.argv[2], actor="worker") as catalog:
    catalog.log(sys.argv[3], "written by another process", level="warning")
    time.sleep(1.0)
    catalog.finish_result(sys.argv[3], "completed", data={"ok": True})
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module's tests."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package", pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def changed(served: Served) -> Served:
    """The served store after a second commit (a new description) and an override."""
    served.repo.write("jobs/backup.py", job_module("Backup", "Restore", description="configs, nightly"))
    served.repo.commit("describe the backups better")
    served.catalog.resync("netops")
    served.catalog.override(BACKUP, "name", "Pinned backup")
    return served


def logged_in(browser: Browser, served: Served, **options: object) -> BrowserContext:
    """A browser context holding the login cookie, as the form would have set it."""
    context = browser.new_context(**options)  # type: ignore[arg-type]  # Playwright's keywords, passed on
    context.add_cookies([{"name": COOKIE, "value": TOKEN, "url": served.url}])
    return context


def log_in_through_the_form(page: Page, served: Served, path: str) -> None:
    page.goto(served.url + path)
    expect(page).to_have_url(f"{served.url}/login?next={path.replace('/', '%2F')}")
    page.fill("input[name=token]", TOKEN)
    page.click("button[type=submit]")
    expect(page).to_have_url(served.url + path)


def page_width(page: Page) -> int:
    """How wide the page's content is; a phone browser widens its layout to it (zooming out), so compare
    with the phone's own width, not with ``innerWidth``."""
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, window.innerWidth)"))


def test_log_in_search_open_a_job_its_history_and_a_diff(browser: Browser, changed: Served) -> None:
    """The whole reading flow in a browser, with no script or style refused by the page's policy."""
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)
    log_in_through_the_form(page, changed, "/jobs")
    expect(page.locator("table.jobs tbody tr")).to_have_count(3)

    page.fill("input[name=search]", "backup")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(f"{changed.url}/jobs?search=backup&source=&grouping=&state=installed")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    page.click("text=Pinned backup")

    expect(page.locator("h1")).to_have_text("Pinned backup")
    timeline = page.locator("table.timeline")
    expect(timeline).to_contain_text("FieldOverridden")
    expect(timeline).to_contain_text("describe the backups better")
    expect(timeline).to_contain_text("Test Author <author@example.com>")

    page.fill("input[name=from]", "v1")
    page.click("button:has-text('Compare')")
    expect(page).to_have_url(f"{changed.url}/jobs/netops%3Ajobs.backup.Backup/diff?from=v1&to=")
    changes = page.locator("table.changes")
    expect(changes.get_by_role("row", name="description configs configs, nightly")).to_be_visible()
    expect(changes.get_by_role("row", name="name Backup Pinned backup", exact=True)).to_be_visible()
    assert refused == []
    context.close()


def test_a_log_entry_written_by_another_process_appears_live(browser: Browser, served: Served) -> None:
    """While a worker process logs and ends the run, the open result page shows the entry, then the end."""
    served.catalog.enable(BACKUP)
    ident = str(served.catalog.record_result(BACKUP))
    served.catalog.start_result(ident)
    served.catalog.log(ident, "started on the page's first read")
    context = logged_in(browser, served)
    page = context.new_page()
    page.goto(f"{served.url}/results/{ident}")
    entries = page.locator("#entries tr")
    expect(entries).to_have_count(1)
    expect(page.locator("#status")).to_have_text("running")
    store = served.catalog._store_url  # the same SQLite file, written by a separate process
    worker = subprocess.Popen([sys.executable, "-c", WRITER, store, str(served.catalog.state_dir), ident])
    try:
        expect(entries).to_have_count(2, timeout=15_000)
        expect(entries.nth(1)).to_contain_text("written by another process")
        expect(entries.nth(1)).to_have_class("level-warning")
        expect(page.locator("#status")).to_have_text("completed", timeout=15_000)
        expect(page.locator("#live")).to_have_text("(finished)")
    finally:
        assert worker.wait(timeout=60) == 0
    context.close()


def test_the_pages_fit_a_phone(browser: Browser, changed: Served) -> None:
    """At a phone's width no page scrolls sideways: wide tables scroll inside their own box."""
    changed.catalog.enable(BACKUP)
    ident = changed.catalog.record_result(BACKUP)
    changed.catalog.log(ident, "a long message " * 20)
    context = logged_in(browser, changed, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    for path in ("/jobs", f"/jobs/{BACKUP}", f"/jobs/{BACKUP}/diff?from=v1", f"/results/{ident}", "/sources"):
        page.goto(changed.url + path)
        expect(page.locator("h1")).to_be_visible()
        assert page_width(page) <= PHONE["width"], path
    wide = page.locator(".scroll").first  # the sources table is wider than a phone: it scrolls in its box
    assert wide.evaluate("box => box.scrollWidth > box.clientWidth")
    context.close()


def test_the_catalog_and_a_job_work_with_javascript_off(browser: Browser, changed: Served) -> None:
    """Without JavaScript the login form, the catalog's filters and a job's page all still work."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in_through_the_form(page, changed, "/jobs")
    page.select_option("select[name=state]", "all")
    page.check("input[name=overridden]")
    page.click("form.filters button[type=submit]")
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    page.click("text=Pinned backup")
    expect(page.locator("table.fields tr.overridden")).to_contain_text("name")
    expect(page.locator("table.timeline")).to_contain_text("JobChanged")
    context.close()
