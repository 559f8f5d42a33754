"""The pages for people, over the real server: login, the catalog, a job's history and diff, results, sources."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from jobsync.domain.errors import JobSyncError
from jobsync.http.auth import COOKIE
from tests.helpers import job_module
from tests.http.conftest import TOKEN, Served

BACKUP = "netops:jobs.backup.Backup"
HOSTILE = "<script>alert(1)</script>\x1b[31m"


@pytest.fixture
def history(served: Served) -> Served:
    """The served store with a second commit (a new description), an override, a hostile job and a run with logs."""
    served.repo.write("jobs/backup.py", job_module("Backup", "Restore", description="configs, nightly"))
    served.repo.write("jobs/evil.py", job_module("Evil", description=HOSTILE))
    served.repo.commit("describe the backups better")
    served.catalog.resync("netops")
    served.catalog.override(BACKUP, "name", "Pinned backup")
    served.catalog.enable(BACKUP)
    ident = served.catalog.record_result(BACKUP)
    served.catalog.start_result(ident)
    served.catalog.log(ident, "first step done")
    served.catalog.log(ident, "disk almost full", level="warning", url="javascript:alert(1)")
    return served


def text_of(page: httpx.Response) -> str:
    """The page's visible text, roughly: tags dropped, entities read, white space squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def result_id(served: Served) -> str:
    [run] = [result for result in served.catalog.results() if result["task"] == "job"]
    return str(run["id"])


class TestLogin:
    def test_a_page_without_a_token_sends_the_browser_to_the_login_form(self, served: Served) -> None:
        """The token gate redirects a page (not the API) to /login, keeping where it was going."""
        answer = served.anonymous.get("/jobs?search=audit")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=%2Fjobs%3Fsearch%3Daudit"
        form = served.anonymous.get(answer.headers["location"])
        assert form.status_code == 200
        assert 'name="next" value="/jobs?search=audit"' in form.text
        assert 'type="password" name="token"' in form.text

    def test_the_right_token_sets_a_strict_http_only_cookie_and_goes_on(self, served: Served) -> None:
        """A known token becomes the cookie (HttpOnly, SameSite=Strict, not Secure over http); 303 to next."""
        answer = served.anonymous.post("/login", data={"token": TOKEN, "next": "/results?status=running"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/results?status=running"
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={TOKEN};")
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags
        assert "samesite=strict" in flags
        assert "path=/" in flags
        assert "secure" not in flags
        page = served.anonymous.get("/results", headers={"Cookie": f"{COOKIE}={TOKEN}"})
        assert page.status_code == 200
        assert "<h1>Results</h1>" in page.text

    def test_a_wrong_token_gets_the_form_again_with_401(self, served: Served) -> None:
        """An unknown token is refused with the form and a message, and no cookie; the token is not echoed."""
        answer = served.anonymous.post("/login", data={"token": "guess-1234", "next": "/jobs"})
        assert answer.status_code == 401
        assert "set-cookie" not in answer.headers
        assert "That token is not known here." in answer.text
        assert "guess-1234" not in answer.text
        assert 'name="next" value="/jobs"' in answer.text

    @pytest.mark.parametrize(
        "target",
        ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "jobs", ""],
    )
    def test_a_next_that_leaves_the_site_goes_home_instead(self, served: Served, target: str) -> None:
        """Only a local path is followed after login: no open redirect to another host."""
        answer = served.anonymous.post("/login", data={"token": TOKEN, "next": target})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"

    def test_a_big_or_strange_body_is_refused(self, served: Served) -> None:
        """The login reads a few KB at most, and a body with more fields than the form's is no login."""
        big = served.anonymous.post("/login", data={"token": "x" * 10_000})
        assert big.status_code == 413
        crowded = served.anonymous.post("/login", data={f"field{n}": "x" for n in range(20)})
        assert crowded.status_code == 400
        assert "set-cookie" not in big.headers and "set-cookie" not in crowded.headers

    def test_logout_clears_the_cookie(self, served: Served) -> None:
        """Logging out sends an expired cookie, and the browser back to the form."""
        answer = served.anonymous.post("/logout", headers={"Cookie": f"{COOKIE}={TOKEN}"})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login"
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith(f'{COOKIE}="";') or cookie.startswith(f"{COOKIE}=;")
        assert "max-age=0" in cookie


class TestCatalog:
    def test_the_home_page_is_the_catalog(self, served: Served) -> None:
        """/ leads to /jobs."""
        answer = served.client.get("/")
        assert (answer.status_code, answer.headers["location"]) == (303, "/jobs")

    def test_the_catalog_lists_jobs_with_links_and_overrides(self, history: Served) -> None:
        """Each installed job is a row linking to its page; an overridden field is named."""
        page = history.client.get("/jobs")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        for ref in (BACKUP, "netops:jobs.backup.Restore", "netops:jobs.audit.Audit"):
            assert f'href="/jobs/{ref.replace(":", "%3A")}"' in page.text
        text = text_of(page)
        assert "Pinned backup" in text
        assert "4 jobs." in text

    def test_filters_and_search_narrow_the_catalog(self, history: Served) -> None:
        """Search by name, overridden only, source and grouping each narrow the rows; uninstalled ones show on request."""
        searched = text_of(history.client.get("/jobs", params={"search": "audit"}))
        assert "Audit" in searched and "Restore" not in searched
        assert 'value="audit"' in history.client.get("/jobs", params={"search": "audit"}).text
        pinned = text_of(history.client.get("/jobs", params={"overridden": "1"}))
        assert "Pinned backup" in pinned and "Restore" not in pinned and "1 job." in pinned
        grouped = text_of(history.client.get("/jobs", params={"grouping": "jobs.audit"}))
        assert "1 job." in grouped and "Audit" in grouped
        assert "No job matches." in text_of(history.client.get("/jobs", params={"source": "elsewhere"}))
        history.repo.remove("jobs/audit.py")
        history.repo.commit("drop the audit")
        history.catalog.resync("netops")
        assert "Audit" not in text_of(history.client.get("/jobs"))
        gone = text_of(history.client.get("/jobs", params={"state": "uninstalled"}))
        assert "Audit" in gone and "uninstalled" in gone and "1 job." in gone

    def test_a_search_the_catalog_refuses_is_said_in_one_line(self, served: Served) -> None:
        """A control character in the search is the visitor's error, shown on a page, not a traceback."""
        answer = served.client.get("/jobs", params={"search": "a\x1bb"})
        assert answer.status_code == 400
        assert "search may not hold the control character \\x1b" in text_of(answer)


class TestJob:
    def test_a_job_shows_values_overrides_and_history_with_commits(self, history: Served) -> None:
        """Effective and source values (the override marked), and every event with actor and commit."""
        page = history.client.get(f"/jobs/{BACKUP}")
        assert page.status_code == 200
        text = text_of(page)
        assert "name is pinned to “Pinned backup”; the source says “Backup”." in text
        assert re.search(r'<tr class="overridden">\s*<td>name', page.text)
        assert "configs, nightly" in text
        commit = history.repo.git("rev-parse", "HEAD")
        assert commit[:10] in text
        assert "describe the backups better" in text
        assert "Test Author <author@example.com>" in text
        for event in ("JobDiscovered", "JobChanged", "FieldOverridden", "JobEnabled"):
            assert event in text
        assert "description : configs → configs, nightly" in text
        assert '<option value="v1">' in page.text
        assert f'<option value="{commit[:12]}">' in page.text

    def test_a_job_at_an_earlier_point(self, history: Served) -> None:
        """?at=v1 shows the job as its discovery left it."""
        text = text_of(history.client.get(f"/jobs/{BACKUP}", params={"at": "v1"}))
        assert "Shown as it was at v1" in text
        assert "name is pinned" not in text
        assert "configs, nightly" not in text.split("History")[0]

    def test_a_diff_shows_changed_fields_and_the_events_between(self, history: Served) -> None:
        """From v1 to now: the new description and the pinned name, old → new, and the events after v1."""
        page = history.client.get(f"/jobs/{BACKUP}/diff", params={"from": "v1", "to": ""})
        assert page.status_code == 200
        text = text_of(page)
        assert "description configs configs, nightly" in text
        assert "name Backup Pinned backup" in text
        events = text.split("Events between")[1]
        assert "JobChanged" in events and "FieldOverridden" in events and "JobDiscovered" not in events
        between = text_of(history.client.get(f"/jobs/{BACKUP}/diff", params={"from": "v1", "to": "v2"}))
        assert "description configs configs, nightly" in between and "name Backup" not in between

    def test_a_diff_without_a_start_or_with_a_bad_point_is_explained(self, history: Served) -> None:
        """A missing FROM, or a version the job never had, is a one-line error on a page."""
        missing = history.client.get(f"/jobs/{BACKUP}/diff")
        assert missing.status_code == 400
        assert "choose where the diff starts" in text_of(missing)
        never = history.client.get(f"/jobs/{BACKUP}/diff", params={"from": "v99"})
        assert never.status_code == 404
        assert "has no v99" in text_of(never)

    def test_hostile_text_is_escaped(self, history: Served) -> None:
        """A description holding a script tag and an ESC character is shown as text, never as markup."""
        for path in ("/jobs", "/jobs/netops:jobs.evil.Evil"):
            page = history.client.get(path)
            assert "<script>alert(1)" not in page.text
            assert "\x1b" not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m" in page.text

    def test_an_unknown_job_is_a_404_page(self, served: Served) -> None:
        """No such job: an HTML page saying so, with 404."""
        answer = served.client.get("/jobs/netops:jobs.nope.Nope")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in answer.text
        assert served.client.get("/jobs/netops:jobs.nope.Nope/diff?from=v1").status_code == 404


class TestResults:
    def test_results_list_and_filter_by_status_and_job(self, history: Served) -> None:
        """The run shows under its job and status; the sync results are listed too, and filtered out."""
        ident = result_id(history)
        everything = history.client.get("/results").text
        assert f'href="/results/{ident}"' in everything
        assert "Sync netops" in everything
        running = history.client.get("/results", params={"status": "running"}).text
        assert f'href="/results/{ident}"' in running and "Sync netops" not in running
        by_job = history.client.get("/results", params={"job": "netops:jobs.audit.Audit"})
        assert "No result matches." in text_of(by_job)
        assert history.client.get("/results", params={"job": "netops:jobs.nope.X"}).status_code == 404

    def test_a_running_result_shows_its_log_and_follows_it(self, history: Served) -> None:
        """Status, times, the log entries, a note that args were not stored, and the live script's stream."""
        ident = result_id(history)
        page = history.client.get(f"/results/{ident}")
        assert page.status_code == 200
        text = text_of(page)
        assert "running" in text
        assert "first step done" in text and "disk almost full" in text
        assert "Not stored: the job has sensitive variables" in text
        assert 'href="javascript:' not in page.text
        last = history.catalog.logs(ident)[-1]["seq"]
        assert f'data-follow="/api/results/{ident}/logs?follow=1&amp;cursor={last}"' in page.text
        assert '<script src="/static/live.js" defer></script>' in page.text
        assert "<script>" not in page.text
        script = history.client.get("/static/live.js")
        assert script.status_code == 200
        assert "EventSource" in script.text

    def test_a_finished_result_shows_args_and_data_without_following(self, history: Served) -> None:
        """A finished run of a job without sensitive variables: its args and data, and no live script."""
        history.catalog.override("netops:jobs.audit.Audit", "has_sensitive_variables", False)
        history.catalog.enable("netops:jobs.audit.Audit")
        ident = history.catalog.record_result("netops:jobs.audit.Audit", args={"device": "sw<1>"})
        history.catalog.finish_result(ident, "completed", data={"checked": 12})
        page = history.client.get(f"/results/{ident}")
        text = text_of(page)
        assert '"device": "sw<1>"' in text
        assert '"checked": 12' in text
        assert "completed" in text
        assert "live.js" not in page.text and "data-follow" not in page.text

    def test_an_unknown_result_is_a_404_page(self, served: Served) -> None:
        """No such result: an HTML 404."""
        answer = served.client.get("/results/00000000-0000-0000-0000-000000000000")
        assert answer.status_code == 404
        assert "<h1>Not found</h1>" in answer.text


class TestSourcesAndSchedules:
    def test_sources_show_the_last_sync_and_its_problems(self, history: Served) -> None:
        """Kind, location, commit, who synced, status and the problem counts by kind."""
        commit = history.repo.git("rev-parse", "HEAD")
        text = text_of(history.client.get("/sources"))
        assert "netops git" in text
        assert history.repo.url in text
        assert commit[:12] in text
        assert "by tester" in text
        assert "0 errors 0 warnings 0 notes" in text
        assert "ok" in text

    def test_a_failing_source_says_why(self, history: Served) -> None:
        """A sync that cannot read the source shows as failing, with its reason."""
        history.repo.git("commit", "--allow-empty", "-q", "-m", "empty")
        history.repo.path.joinpath(".git").rename(history.repo.path / "moved-away")
        with pytest.raises(JobSyncError):
            history.catalog.resync("netops")
        failing = history.catalog.source("netops")
        assert failing["status"] == "failing" and failing["last_reason"]
        text = text_of(history.client.get("/sources"))
        assert f"failing {failing['last_reason']}" in text

    def test_schedules_say_when_and_why_not(self, history: Served) -> None:
        """A schedule's job and interval, whether it fires, and why not once its job is disabled."""
        history.catalog.override("netops:jobs.audit.Audit", "has_sensitive_variables", False)
        history.catalog.enable("netops:jobs.audit.Audit")
        history.catalog.add_schedule("netops:jobs.audit.Audit", "nightly audit", every="daily")
        page = history.client.get("/schedules")
        text = text_of(page)
        assert "nightly audit" in text and "daily" in text
        assert 'href="/jobs/netops%3Ajobs.audit.Audit"' in page.text
        assert "yes, when due" in text
        job_page = history.client.get("/jobs/netops:jobs.audit.Audit").text
        assert "ScheduleCreated" in job_page and "schedule nightly audit" in job_page
        assert job_page.count('<option value="v1">') == 1  # a schedule's v1 is no point of the job
        history.catalog.disable("netops:jobs.audit.Audit")
        [schedule] = history.catalog.schedules()
        assert schedule["blocked"]
        assert str(schedule["blocked"]) in text_of(history.client.get("/schedules"))
