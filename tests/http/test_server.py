"""The server itself: probes, metrics, token checks and shutdown, over a real loopback socket."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from jobsync.domain.errors import ConfigError, JobSyncError
from jobsync.http.auth import Tokens
from jobsync.http.context import HttpContext
from jobsync.http.metrics import Metrics
from jobsync.http.server import HttpServer
from tests.http.conftest import LABEL, TOKEN, Served, write_tokens


def test_health_and_readiness_need_no_token(served: Served) -> None:
    assert served.anonymous.get("/healthz").text == "ok\n"
    ready = served.anonymous.get("/readyz")
    assert (ready.status_code, ready.text) == (200, "ready\n")


def test_metrics_read_the_store(served: Served) -> None:
    text = served.anonymous.get("/metrics").text
    assert 'jobsync_source_failing{source="netops"} 0.0' in text
    commit = served.repo.git("rev-parse", "HEAD")
    assert f'jobsync_source_last_commit_info{{commit="{commit}",source="netops"}} 1.0' in text
    events = served.catalog.event_count()
    assert f"jobsync_events {float(events)}" in text
    assert "jobsync_projection_lag_events 0.0" in text


def test_metrics_move_when_the_store_does(served: Served) -> None:
    before = served.anonymous.get("/metrics").text
    assert 'jobsync_results{status="pending"} 0.0' in before
    served.catalog.enable("netops:jobs.backup.Backup")
    served.catalog.record_result("netops:jobs.backup.Backup")
    after = served.anonymous.get("/metrics").text
    assert 'jobsync_results{status="pending"} 1.0' in after
    assert f"jobsync_events {float(served.catalog.event_count())}" in after


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Cookie": "jobsync_token=wrong"},
    ],
)
def test_the_api_refuses_a_missing_or_wrong_token(served: Served, headers: dict[str, str]) -> None:
    answer = served.anonymous.get("/api/jobs", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "token" in answer.json()["error"]


def test_a_page_without_a_token_leads_to_the_login_form(served: Served) -> None:
    answer = served.anonymous.get("/jobs?source=netops")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fjobs%3Fsource%3Dnetops"


def test_a_known_token_passes_by_header_or_cookie(served: Served) -> None:
    assert served.client.get("/api/no-such-thing").status_code == 404
    cookie = served.anonymous.get("/api/no-such-thing", headers={"Cookie": f"jobsync_token={TOKEN}"})
    assert cookie.status_code == 404


def test_tokens_file_lines_are_label_and_token(tmp_path: Path) -> None:
    tokens = Tokens.load(write_tokens(tmp_path / "t", f"{LABEL} {TOKEN}", "ci  other-token  # the CI job"))
    assert tokens.holder(TOKEN) == LABEL
    assert tokens.holder("other-token") == "ci"
    assert tokens.holder("other") is None
    assert tokens.holder("") is None
    assert Tokens().holder(TOKEN) is None


def test_a_bad_tokens_file_names_the_line_never_the_token(tmp_path: Path) -> None:
    path = write_tokens(tmp_path / "t", "ci one-token", "only-a-token-here")
    with pytest.raises(ConfigError) as refused:
        Tokens.load(path)
    assert "line 3" in str(refused.value)
    assert "only-a-token-here" not in str(refused.value)
    with pytest.raises(ConfigError, match="cannot read"):
        Tokens.load(tmp_path / "missing")


def test_a_taken_port_fails_in_one_line(served: Served) -> None:
    host, port = served.server.address
    context = HttpContext(served.catalog, Tokens(), Metrics(served.catalog))
    with pytest.raises(JobSyncError, match=f"cannot listen on {host}:{port}"):
        HttpServer(context, host, port)


def test_stop_closes_the_port(served: Served) -> None:
    url = served.url
    served.server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/healthz", timeout=2)
