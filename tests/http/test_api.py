"""The JSON API through the real server: every answer equals ``jobsync --utc ... --json`` on the same store."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Route

from jobsync.http import openapi
from jobsync.http.auth import Tokens
from jobsync.http.context import HttpContext
from jobsync.http.metrics import Metrics
from jobsync.http.server import build_app
from tests.helpers import GitRepo, job_module
from tests.http.conftest import Served

BACKUP = "netops:jobs.backup.Backup"
RESTORE = "netops:jobs.backup.Restore"
AUDIT = "netops:jobs.audit.Audit"
#: A job whose ref is not ASCII: it reaches the API percent-encoded, the endpoint decoded.
UNICODE = "netops:jobs.backup.Sauvegardé"


@dataclass
class Story:
    """A served store with some history: two commits, an override, a finished run with logs, a schedule."""

    served: Served
    first: str
    second: str
    result: str

    def get(self, path: str) -> httpx.Response:
        return self.served.client.get(path)

    def api(self, path: str) -> Any:
        """The API's answer, which must be a 200."""
        answer = self.get(path)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        return answer.json()

    def same(self, *pairs: tuple[str, list[str]]) -> list[Any]:
        """Each API path's answer equals what its CLI command prints (run side by side); the answers."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            printed = list(pool.map(lambda args: cli_json(self.served, *args), [args for _, args in pairs]))
        answers = [self.api(path) for path, _ in pairs]
        for (path, args), answer, expected in zip(pairs, answers, printed, strict=True):
            assert answer == expected, (path, args)
        return answers


def run_cli(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """``jobsync --utc ARGS --json`` on the served store, as a separate process."""
    catalog = served.catalog
    config = catalog.state_dir.parent / "cli.toml"  # the same state folder: explain reads its mirror
    config.write_text(f'state_dir = "{catalog.state_dir}"\n', encoding="utf-8")
    command = [sys.executable, "-m", "jobsync", "--config", str(config), "--store", catalog._store_url]
    return subprocess.run([*command, "--utc", *args, "--json"], capture_output=True, text=True, timeout=120)


def cli_json(served: Served, *args: str) -> Any:
    done = run_cli(served, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def path_of(ref: str) -> str:
    return quote(ref, safe=":")


@pytest.fixture
def story(served: Served) -> Story:
    catalog, repo = served.catalog, served.repo
    first = repo.git("rev-parse", "HEAD")
    catalog.override(BACKUP, "has_sensitive_variables", False, actor="alice")
    repo.write("jobs/backup.py", job_module("Backup", "Restore", "Sauvegardé", description="configs, daily"))
    repo.remove("jobs/audit.py")
    second = repo.commit("describe the backups better, drop the audit", author="Eve Writer <eve@x.org>")
    catalog.resync("netops")
    catalog.enable(BACKUP, actor="alice")
    result = str(catalog.record_result(BACKUP, args={"site": "ams"}, actor="alice"))
    catalog.start_result(result)
    catalog.log(result, "starting")
    catalog.log(result, "disk almost full", level="warning", object="r1", url="/dcim/devices/1/")
    catalog.finish_result(result, "completed", data={"saved": 3})
    catalog.add_schedule(BACKUP, "nightly", cron="0 2 * * *", tz="Europe/Berlin", args={"site": "ams"})
    return Story(served, first, second, result)


#: /api/jobs queries and the ``jobs list`` options that mean the same.
JOB_LISTS = [
    ("", []),
    ("?state=all", ["--all"]),
    ("?state=uninstalled", ["--uninstalled"]),
    ("?source=netops&sort=name", ["--source", "netops", "--sort", "name"]),
    ("?enabled=true", ["--enabled"]),
    ("?enabled=false&state=all", ["--disabled", "--all"]),
    ("?overridden=true", ["--overridden"]),
    ("?search=DAILY&sort=updated", ["--search", "DAILY", "--sort", "updated"]),
    ("?grouping=nothing", ["--grouping", "nothing"]),
]


class TestJobs:
    def test_the_list_is_the_cli_list(self, story: Story) -> None:
        """/api/jobs with each filter answers exactly what ``jobs list`` prints with the same options."""
        story.same(*[(f"/api/jobs{query}", ["jobs", "list", *options]) for query, options in JOB_LISTS])

    def test_filters_filter(self, story: Story) -> None:
        """The filters narrow the list as their names say (so the equality above is not of empty lists)."""
        refs = [job["ref"] for job in story.api("/api/jobs")]
        assert refs == [BACKUP, RESTORE, UNICODE]
        assert [job["ref"] for job in story.api("/api/jobs?state=uninstalled")] == [AUDIT]
        assert [job["ref"] for job in story.api("/api/jobs?enabled=true")] == [BACKUP]
        assert [job["ref"] for job in story.api("/api/jobs?overridden=true")] == [BACKUP]


class TestOneJob:
    def test_a_job_now_and_at_points(self, story: Story) -> None:
        """/api/jobs/REF (?at= a version, a commit, a time) is ``jobs show REF [--at POINT]``."""
        story.same(
            *[(f"/api/jobs/{path_of(ref)}", ["jobs", "show", ref]) for ref in (BACKUP, UNICODE, AUDIT)],
            *[
                (f"/api/jobs/{BACKUP}?at={quote(point)}", ["jobs", "show", BACKUP, "--at", point])
                for point in ("v1", story.first[:10], "2099-01-01")
            ],
        )
        assert story.api(f"/api/jobs/{BACKUP}?at=v1")["description"] == "configs"
        assert story.api(f"/api/jobs/{path_of(UNICODE)}")["job_class_name"] == "Sauvegardé"

    def test_history_diff_and_explain(self, story: Story) -> None:
        """History (with its window), diff (FROM, TO) and explain answer what their commands print."""
        history, _, diff, _, explained = story.same(
            (f"/api/jobs/{BACKUP}/history", ["jobs", "history", BACKUP]),
            (
                f"/api/jobs/{BACKUP}/history?since=2000-01-01&until=2099-12-31",
                ["jobs", "history", BACKUP, "--since", "2000-01-01", "--until", "2099-12-31"],
            ),
            (f"/api/jobs/{BACKUP}/diff?from=v1", ["jobs", "diff", BACKUP, "v1"]),
            (
                f"/api/jobs/{BACKUP}/diff?from={story.first}&to={story.second}",
                ["jobs", "diff", BACKUP, story.first, story.second],
            ),
            ("/api/explain/netops/jobs/backup.py", ["explain", "netops", "jobs/backup.py"]),
        )
        assert any(entry.get("author") == "Eve Writer <eve@x.org>" for entry in history)
        assert story.api(f"/api/jobs/{BACKUP}/history?since=2099-01-01") == []
        assert diff["changes"]["description"] == ["configs", "configs, daily"]
        assert [entry["class"] for entry in explained] == ["Backup", "Restore", "Sauvegardé"]


class TestTheRest:
    def test_sources_results_schedules_and_logs(self, story: Story) -> None:
        """Sources, results (filtered), a result, its logs and schedules answer what their commands print."""
        _, _, results, _, _, logs, schedules, _, _ = story.same(
            ("/api/sources", ["sources", "list"]),
            ("/api/sources/netops", ["sources", "show", "netops"]),
            ("/api/results", ["results", "list"]),
            (
                f"/api/results?job={BACKUP}&status=completed",
                ["results", "list", "--job", BACKUP, "--status", "completed"],
            ),
            (f"/api/results/{story.result}", ["results", "show", story.result]),
            (f"/api/results/{story.result}/logs", ["logs", story.result]),
            ("/api/schedules", ["schedules", "list"]),
            (f"/api/schedules?job={BACKUP}", ["schedules", "list", "--job", BACKUP]),
            ("/api/schedules/nightly", ["schedules", "show", "nightly"]),
        )
        assert len(results) == 3  # the two syncs and the run
        completed = story.api(f"/api/results?status=completed&job={BACKUP}")
        assert [result["id"] for result in completed] == [story.result]
        assert [entry["message"] for entry in logs] == ["starting", "disk almost full"]
        assert [schedule["name"] for schedule in schedules] == ["nightly"]

    def test_audit(self, story: Story) -> None:
        """/api/audit with each filter answers what ``audit`` prints with the same options."""
        found = story.same(
            ("/api/audit", ["audit"]),
            ("/api/audit?actor=alice", ["audit", "--actor", "alice"]),
            ("/api/audit?author=EVE", ["audit", "--author", "EVE"]),
            (
                "/api/audit?source=netops&since=2000-01-01&until=2099-12-31",
                ["audit", "--source", "netops", "--since", "2000-01-01", "--until", "2099-12-31"],
            ),
        )
        assert all(found)
        assert {entry["actor"] for entry in found[1]} == {"alice"}


#: Requests the API cannot read, and words of the one-line error each gets (400).
BAD_REQUESTS = [
    ("/api/jobs?state=gone", "state must be one of installed, uninstalled, all, not 'gone'"),
    ("/api/jobs?enabled=yes", "enabled must be true or false"),
    ("/api/jobs?sort=colour", "sort must be one of"),
    ("/api/jobs?limit=0", "limit must be a whole number"),
    ("/api/jobs?cursor=abc", "cursor 'abc' is not one this server gave"),
    ("/api/jobs?colour=red", "unknown query parameter 'colour'"),
    (f"/api/jobs/{BACKUP}?at=someday%20maybe", "is not a time, a commit"),
    (f"/api/jobs/{BACKUP}/history?since=whenever", "whenever"),
    (f"/api/jobs/{BACKUP}/diff", "from is required"),
    (f"/api/jobs/{BACKUP}/diff?from=v0", "versions start at v1"),
    ("/api/results?status=bored", "status must be one of"),
    ("/api/audit?until=later%20on", "later on"),
]
#: Requests for what does not exist, and words of the error each gets (404).
MISSING = [
    ("/api/jobs?source=elsewhere", "no source named 'elsewhere' (known: netops)"),
    ("/api/audit?source=elsewhere", "no source named 'elsewhere'"),
    ("/api/jobs/netops:jobs.none.Nobody", "no job matches 'netops:jobs.none.Nobody'"),
    ("/api/jobs/netops:jobs.none.Nobody/history", "no job matches"),
    (f"/api/jobs/{BACKUP}?at=v99", "v99"),
    ("/api/sources/elsewhere", "no source named 'elsewhere'"),
    ("/api/results/00000000-0000-0000-0000-000000000000", "00000000"),
    ("/api/schedules/never-made", "never-made"),
    ("/api/explain/netops/jobs/none.py", "no file 'jobs/none.py'"),
    ("/api/no/such/thing", "no such API path: /api/no/such/thing"),
]


class TestRefusals:
    def test_bad_parameters_are_400_with_one_line(self, served: Served) -> None:
        """A parameter the API cannot read is the client's error: 400 and one line saying which and why."""
        for path, words in BAD_REQUESTS:
            answer = served.client.get(path)
            assert answer.status_code == 400, path
            error = answer.json()["error"]
            assert words in error and "\n" not in error, path

    def test_what_does_not_exist_is_404(self, served: Served) -> None:
        """An unknown source, job, point, result, schedule, file or API path is 404 with a JSON error."""
        for path, words in MISSING:
            answer = served.client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"] == "application/json"
            assert words in answer.json()["error"], path

    def test_nothing_changes_the_catalog(self, served: Served) -> None:
        """Every method but GET is refused with 405 and a JSON error: the API is read-only."""
        before = served.catalog.event_count()
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            answer = served.client.request(method, f"/api/jobs/{BACKUP}")
            assert answer.status_code == 405
            assert answer.json() == {"error": "the API is read-only: use GET"}
        assert served.catalog.event_count() == before


class TestPages:
    def test_every_job_once_across_pages_in_the_cli_order(self, served: Served) -> None:
        """Over 500 jobs come in pages linked by ``Link``; together they are ``jobs list``, each job once."""
        repo = served.repo
        for module in range(11):
            names = [f"Job{module:02d}x{number:03d}" for number in range(100)]
            repo.write(f"jobs/many{module:02d}.py", job_module(*names))
        repo.commit("eleven hundred jobs")
        served.catalog.resync("netops")
        for query, options in (("", []), ("?sort=name", ["--sort", "name"])):
            pages, path = [], f"/api/jobs{query}"
            while path:
                answer = served.client.get(path)
                assert answer.status_code == 200
                pages.append(answer.json())
                link = answer.headers.get("link")
                path = link[1 : link.index(">")] if link else ""
            assert [len(page) for page in pages] == [500, 500, 103]
            together = [job for page in pages for job in page]
            assert together == cli_json(served, "jobs", "list", *options)
        whole = served.client.get("/api/jobs?limit=10000")
        assert "link" not in whole.headers and len(whole.json()) == 1103
        audit, path = [], "/api/audit?limit=400"
        while path:
            answer = served.client.get(path)
            audit += answer.json()
            link = answer.headers.get("link")
            path = link[1 : link.index(">")] if link else ""
        assert len(audit) > 1100 and audit == cli_json(served, "audit")

    def test_results_come_newest_first_in_pages(self, served: Served) -> None:
        """Results page by ``?limit`` in the CLI's order (newest first), the last page without a link."""
        served.catalog.enable(BACKUP)
        for _ in range(4):
            served.catalog.record_result(BACKUP)
        first = served.client.get(f"/api/results?job={BACKUP}&limit=3")
        link = first.headers["link"]
        assert link.startswith(f"</api/results?job={quote(BACKUP)}&limit=3&cursor=")
        second = served.client.get(link[1 : link.index(">")])
        assert "link" not in second.headers
        assert first.json() + second.json() == cli_json(served, "results", "list", "--job", BACKUP)


def documented(path: str) -> dict[str, Any]:
    operation: dict[str, Any] = openapi.DOCUMENT["paths"][path]["get"]
    return operation


def schema_of(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = openapi.DOCUMENT["components"]["schemas"][name]
    return schema


class TestOpenApi:
    def test_the_document_names_every_api_route(self, served: Served) -> None:
        """The document's paths are exactly the app's /api routes (the catch-all aside), so neither drifts."""
        app = build_app(HttpContext(served.catalog, Tokens(), Metrics(served.catalog)))
        routes = {
            route.path.replace(":path}", "}")
            for route in app.routes
            if isinstance(route, Route)
            and route.path.startswith("/api/")
            and route.path != "/api/{rest:path}"
        }
        assert routes == set(openapi.DOCUMENT["paths"])
        served_document = served.client.get("/api/openapi.json").json()
        assert served_document == json.loads(json.dumps(openapi.DOCUMENT))
        assert served_document["openapi"] == "3.1.0"
        assert served_document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert served.anonymous.get("/api/openapi.json").status_code == 401

    def test_each_path_documents_the_parameters_it_takes(self, story: Story) -> None:
        """Each endpoint's query parameters (as its refusal of an unknown one lists them) are the documented ones."""
        values = {
            "ref": BACKUP,
            "name": "netops",
            "result": story.result,
            "source": "netops",
            "path": "jobs/a.py",
        }
        for path in openapi.DOCUMENT["paths"]:
            if path.endswith("/logs"):
                continue  # follow.py's endpoint reads what it knows and ignores the rest
            parameters = documented(path)["parameters"]
            concrete = path.format(**{p["name"]: values[p["name"]] for p in parameters if p["in"] == "path"})
            answer = story.get(f"{concrete}?unheard-of=1")
            assert answer.status_code == 400, path
            takes = answer.json()["error"].partition("(this path takes: ")[2].rstrip(")")
            expected = [p["name"] for p in parameters if p["in"] == "query"]
            assert takes == (", ".join(expected) or "none"), path

    def test_objects_have_the_documented_keys(self, story: Story) -> None:
        """Every object the API answers has each required key of its schema and no key the schema lacks."""
        answers = {
            "Job": [*story.api("/api/jobs?state=all"), story.api(f"/api/jobs/{BACKUP}")],
            "HistoryEntry": story.api(f"/api/jobs/{BACKUP}/history") + story.api("/api/audit"),
            "Diff": [story.api(f"/api/jobs/{BACKUP}/diff?from=v1")],
            "ClassExplanation": story.api("/api/explain/netops/jobs/backup.py"),
            "Source": story.api("/api/sources"),
            "Result": story.api("/api/results"),
            "LogEntry": story.api(f"/api/results/{story.result}/logs"),
            "Schedule": story.api("/api/schedules"),
        }
        answers["SourceValues"] = [job["source_values"] for job in answers["Job"]]
        answers["DiffEnd"] = [end for diff in answers["Diff"] for end in (diff["from"], diff["to"])]
        answers["FieldOrigin"] = [
            origin for entry in answers["ClassExplanation"] for origin in entry["metadata"].values()
        ]
        for name, objects in answers.items():
            schema = schema_of(name)
            assert objects, name
            for found in objects:
                assert set(schema["required"]) <= set(found) <= set(schema["properties"]), name
        assert {key for job in answers["Job"] for key in job} == set(schema_of("Job")["properties"])

    def test_the_log_stream_is_documented(self) -> None:
        """The logs path documents both answers: a JSON page and the Server-Sent Events of ?follow=1."""
        logs = documented("/api/results/{result}/logs")
        content = logs["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}
        assert "event: entry" in logs["description"] and "event: end" in logs["description"]
        assert {p["name"] for p in logs["parameters"]} == {"result", "level", "follow", "limit", "cursor"}


def test_a_source_name_with_a_slash(served: Served, tmp_path: Path) -> None:
    """A source named ``lab/ops`` is reachable: its page and its jobs; explain splits on the known name."""
    lab = GitRepo(tmp_path / "lab")
    lab.write("jobs/probe.py", job_module("Probe"))
    lab.commit("a probe")
    served.catalog.resync(lab.url, name="lab/ops")
    source = served.client.get("/api/sources/lab/ops")
    assert source.status_code == 200 and source.json() == cli_json(served, "sources", "show", "lab/ops")
    jobs = served.client.get("/api/jobs?source=lab/ops").json()
    assert [job["ref"] for job in jobs] == ["lab/ops:jobs.probe.Probe"]
    assert (
        served.client.get("/api/explain/lab/jobs/probe.py")
        .json()["error"]
        .startswith("no source named 'lab'")
    )
