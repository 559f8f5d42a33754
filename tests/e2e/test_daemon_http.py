"""The daemon's HTTP face from outside: a real ``jobsync daemon`` (and ``jobsync serve``), a real port, real git."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_daemon import DaemonProcess, Harness, harness, wait_until
from tests.helpers import GitRepo, job_module

__all__ = ["harness"]  # the fixture, imported for these tests

SECRET = "e2e-hook-secret-5d0c"
TOKEN = "e2e-api-token-91b7"
JOB = "netops:jobs.ops.Backup"


def configure(harness: Harness, repo: GitRepo) -> None:
    """One git source polled only every 5 minutes (so only a webhook syncs it soon), signed hooks, HTTP on port 0."""
    secret = harness.tmp_path / "hook-secret"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    tokens = harness.tmp_path / "tokens"
    tokens.write_text(f"tester {TOKEN}\n", encoding="utf-8")
    harness.configure(
        {
            "name": "netops",
            "kind": "git",
            "url": repo.url,
            "branch": "main",
            "interval": "5m",
            "webhook_secret_file": str(secret),
        }
    )
    with harness.config.open("a", encoding="utf-8") as config:
        config.write(f'\n[http]\nlisten = "127.0.0.1:0"\ntokens_file = {json.dumps(str(tokens))}\n')


def netops(tmp_path: Path, description: str = "first") -> GitRepo:
    repo = GitRepo(tmp_path / "netops")
    repo.write("jobs/ops.py", job_module("Backup", description=description))
    repo.commit("jobs")
    return repo


def listening(daemon: DaemonProcess) -> str:
    """The URL the daemon's ``http listening`` log line names."""
    return str(daemon.wait_log("http listening")[0]["url"])


def hook(
    url: str, delivery: str, ref: str = "refs/heads/main", client: httpx.Client | None = None
) -> httpx.Response:
    """A push webhook signed as GitHub signs it (over ``client``'s connection, when given)."""
    body = json.dumps({"ref": ref, "repository": {"default_branch": "main"}}).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": f"sha256={digest}",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
    }
    if client is not None:
        return client.post(f"{url}/hooks/netops", content=body, headers=headers)
    return httpx.post(f"{url}/hooks/netops", content=body, headers=headers, timeout=10)


def description(url: str) -> str:
    """The job's description as the daemon's own API answers it."""
    answer = httpx.get(f"{url}/api/jobs/{JOB}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["description"])


def sample(metrics: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, 0 when absent."""
    wanted = name + "{" + ",".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"
    for line in metrics.splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def daemon(harness: Harness, tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, GitRepo]]:
    """A ready daemon serving HTTP, its URL, and the repository of its source."""
    repo = netops(tmp_path)
    configure(harness, repo)
    started = harness.start_ready()
    yield started, listening(started), repo


class TestDaemon:
    def test_probes_answer_once_ready(self, daemon: tuple[DaemonProcess, str, GitRepo]) -> None:
        """After READY=1, /healthz and /readyz answer 200 without a token; the API wants one."""
        _, url, _ = daemon
        assert httpx.get(f"{url}/healthz").text == "ok\n"
        ready = httpx.get(f"{url}/readyz")
        assert (ready.status_code, ready.text) == (200, "ready\n")
        assert httpx.get(f"{url}/api/jobs").status_code == 401

    def test_a_signed_push_makes_the_change_readable_within_two_seconds(
        self, daemon: tuple[DaemonProcess, str, GitRepo], harness: Harness
    ) -> None:
        """Commit, signed POST: 202 at once, and the job's new description is in the API within 2 s."""
        process, url, repo = daemon
        assert description(url) == "first"
        repo.write("jobs/ops.py", job_module("Backup", description="pushed"))
        repo.commit("describe the backup")
        answer = hook(url, "delivery-1")
        assert answer.status_code == 202, answer.text
        wait_until(lambda: description(url) == "pushed", timeout=2.0, what="the pushed description")
        accepted = process.wait_log("webhook accepted")
        assert accepted[0]["delivery"] == "delivery-1"
        assert accepted[0]["provider"] == "github"
        ignored = hook(url, "delivery-2", ref="refs/heads/feature")
        assert ignored.json()["ignored"].startswith("a push to refs/heads/feature")

    def test_a_burst_of_twenty_pushes_gives_one_or_two_syncs(
        self, daemon: tuple[DaemonProcess, str, GitRepo]
    ) -> None:
        """Twenty signed pushes in a row are merged into one or two syncs; the metrics count both sides."""
        process, url, repo = daemon
        before = httpx.get(f"{url}/metrics").text
        synced = process.count()
        repo.write("jobs/ops.py", job_module("Backup", description="burst"))
        repo.commit("a burst of pushes")
        with httpx.Client(timeout=10) as client:
            for number in range(20):
                assert hook(url, f"burst-{number}", client=client).status_code == 202
        process.wait_log("sync finished", after=synced, source="netops")
        time.sleep(1.5)  # time enough for any further sync the burst would cause
        syncs = process.lines("sync finished", after=synced, source="netops")
        assert 1 <= len(syncs) <= 2, syncs
        after = httpx.get(f"{url}/metrics").text
        accepted = {"source": "netops", "outcome": "accepted"}
        assert sample(after, "jobsync_webhook_deliveries_total", **accepted) == 20
        assert sample(before, "jobsync_webhook_deliveries_total", **accepted) == 0
        ran = sum(
            sample(after, "jobsync_syncs_total", source="netops", outcome=outcome)
            for outcome in ("ok", "unchanged")
        )
        ran_before = sum(
            sample(before, "jobsync_syncs_total", source="netops", outcome=outcome)
            for outcome in ("ok", "unchanged")
        )
        assert ran - ran_before == len(syncs)
        assert sample(after, "jobsync_syncs_total", source="netops", outcome="ok") >= 1

    def test_sigterm_exits_0_and_closes_the_port(self, daemon: tuple[DaemonProcess, str, GitRepo]) -> None:
        """SIGTERM stops the server with the daemon: exit code 0, and nothing listens any more."""
        process, url, _ = daemon
        assert httpx.get(f"{url}/healthz").status_code == 200
        process.signal(signal.SIGTERM)
        assert process.wait() == 0, process.diagnostics()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)


def test_serve_answers_probes_but_takes_no_webhooks(harness: Harness, tmp_path: Path) -> None:
    """``jobsync serve`` serves /healthz, answers a hook 404 (it does not sync) and exits 0 on SIGTERM."""
    configure(harness, netops(tmp_path))
    serve = DaemonProcess(harness.config, harness.notify, command=("serve", "--listen", "127.0.0.1:0"))
    try:
        url = listening(serve)
        assert httpx.get(f"{url}/healthz").text == "ok\n"
        answer = hook(url, "to-serve")
        assert answer.status_code == 404
        assert "does not sync" in answer.json()["error"]
        serve.process.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=20) == 0, serve.diagnostics()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)
    finally:
        serve.kill()
