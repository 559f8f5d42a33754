"""Push webhooks over the real server: each provider's signature, what syncs, and what is only acknowledged."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from jobsync import Catalog
from jobsync.http.auth import Tokens
from jobsync.http.context import HttpContext
from jobsync.http.hooks import MAX_BODY, UNKNOWN_SOURCE, RecentDeliveries
from jobsync.http.metrics import Metrics
from jobsync.http.server import HttpServer
from jobsync.spec import SourceSpec

SECRET = "hook-secret-8c1f2e"  # in the environment variable SECRET_ENV
FILE_SECRET = "file-hook-secret-77aa"  # in the file of the ``filed`` source
SECRET_ENV = "JOBSYNC_TEST_HOOK_SECRET"
MISSING_ENV = "JOBSYNC_TEST_HOOK_SECRET_UNSET"
PROVIDERS = ("github", "gitea", "forgejo", "gitlab", "generic")
PINNED = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class RecordingTrigger:
    """Our SyncTrigger port as a daemon would offer it, recording sync requests instead of syncing."""

    specs: dict[str, SourceSpec]
    requested: list[str] = field(default_factory=list)

    def followed(self, name: str) -> SourceSpec | None:
        return self.specs.get(name)

    def request_sync(self, name: str) -> None:
        self.requested.append(name)

    def first_pass_done(self) -> bool:
        return True


@dataclass
class Hooked:
    """A running server whose daemon is ``trigger``; ``client`` carries no token (hooks need none)."""

    trigger: RecordingTrigger
    metrics: Metrics
    client: httpx.Client

    def deliveries(self, source: str, outcome: str) -> float:
        """How many deliveries the metric counted for ``source`` with ``outcome``."""
        value = self.metrics.registry.get_sample_value(
            "jobsync_webhook_deliveries_total", {"source": source, "outcome": outcome}
        )
        return value or 0.0

    def post(self, source: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(f"/hooks/{source}", content=body, headers=headers)


def sources(tmp_path: Path) -> dict[str, SourceSpec]:
    secret_file = tmp_path / "hook-secret"
    secret_file.write_text(FILE_SECRET + "\n", encoding="utf-8")
    url = "https://git.example.com/netops/jobs.git"
    specs = [
        SourceSpec("netops", url, branch="main", webhook_secret_env=SECRET_ENV),
        SourceSpec("filed", url, webhook_secret_file=str(secret_file)),
        SourceSpec("released", url, tag="v1", webhook_secret_env=SECRET_ENV),
        SourceSpec("pinned", url, commit=PINNED, webhook_secret_env=SECRET_ENV),
        SourceSpec("plain", url, branch="main"),
        SourceSpec("vanished", url, branch="main", webhook_secret_env=MISSING_ENV),
    ]
    return {spec.name: spec for spec in specs}


def start(tmp_path: Path, catalog: Catalog, daemon: RecordingTrigger | None) -> tuple[HttpServer, Metrics]:
    metrics = Metrics(catalog)
    server = HttpServer(HttpContext(catalog, Tokens(), metrics, daemon), "127.0.0.1", 0)
    server.start()
    return server, metrics


@pytest.fixture
def hooked(tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooked]:
    """A server over an empty catalog whose daemon follows the sources of ``sources``."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.delenv(MISSING_ENV, raising=False)
    trigger = RecordingTrigger(sources(tmp_path))
    with Catalog.open(state_dir=state_dir, actor="tester") as catalog:
        server, metrics = start(tmp_path, catalog, trigger)
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                yield Hooked(trigger, metrics, client)
        finally:
            server.stop()


def push(
    ref: str = "refs/heads/main", default_branch: str | None = "main", provider: str = "github"
) -> bytes:
    """A push payload as the provider sends it (only the keys jobsync reads, and a few others)."""
    payload: dict[str, Any] = {"ref": ref, "before": "0" * 40, "after": "1" * 40}
    if default_branch is not None:
        holder = "project" if provider == "gitlab" else "repository"
        payload[holder] = {"name": "jobs", "default_branch": default_branch}
    return json.dumps(payload).encode()


def signed(
    provider: str, body: bytes, secret: str = SECRET, event: str | None = None, delivery: str | None = None
) -> dict[str, str]:
    """The headers ``provider`` sends with ``body`` signed by ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    ident = delivery or str(uuid.uuid4())
    if provider == "github":
        return {
            "X-Hub-Signature-256": f"sha256={digest}",
            "X-GitHub-Event": event or "push",
            "X-GitHub-Delivery": ident,
        }
    if provider == "gitea":  # Gitea also sends GitHub's headers
        return {
            "X-Gitea-Signature": digest,
            "X-Gitea-Event": event or "push",
            "X-Gitea-Delivery": ident,
            "X-Hub-Signature-256": f"sha256={digest}",
            "X-GitHub-Event": event or "push",
            "X-GitHub-Delivery": ident,
        }
    if provider == "forgejo":
        return {
            "X-Forgejo-Signature": digest,
            "X-Forgejo-Event": event or "push",
            "X-Forgejo-Delivery": ident,
        }
    if provider == "gitlab":
        return {
            "X-Gitlab-Token": secret,
            "X-Gitlab-Event": event or "Push Hook",
            "X-Gitlab-Event-UUID": ident,
        }
    assert provider == "generic"
    return {"X-Jobsync-Signature": f"sha256={digest}", "X-Jobsync-Delivery": ident}


class TestSignatures:
    @pytest.mark.parametrize("provider", PROVIDERS)
    def test_a_signed_push_is_accepted_and_syncs_the_source(self, hooked: Hooked, provider: str) -> None:
        """A push signed the provider's way gets 202 with its delivery id and one sync request."""
        body = push(provider=provider)
        answer = hooked.post("netops", body, signed(provider, body, delivery="d-1"))
        assert answer.status_code == 202
        assert answer.json() == {"accepted": True, "source": "netops", "delivery": "d-1"}
        assert hooked.trigger.requested == ["netops"]
        assert hooked.deliveries("netops", "accepted") == 1

    @pytest.mark.parametrize("provider", PROVIDERS)
    def test_a_wrong_secret_is_unauthorized(self, hooked: Hooked, provider: str) -> None:
        """A delivery signed (or, for GitLab, sent) with another secret gets 401 and syncs nothing."""
        body = push(provider=provider)
        answer = hooked.post("netops", body, signed(provider, body, secret="not-the-secret"))
        assert answer.status_code == 401
        assert "signature" in answer.json()["error"]
        assert hooked.trigger.requested == []
        assert hooked.deliveries("netops", "unauthorized") == 1

    @pytest.mark.parametrize("provider", ["github", "gitea", "forgejo", "generic"])
    def test_a_signature_of_another_body_is_unauthorized(self, hooked: Hooked, provider: str) -> None:
        """The HMAC covers the body: a signature copied onto a changed body is refused."""
        headers = signed(provider, push())
        answer = hooked.post("netops", push(ref="refs/heads/main", default_branch="other"), headers)
        assert answer.status_code == 401
        assert hooked.trigger.requested == []

    def test_an_unsigned_push_is_unauthorized(self, hooked: Hooked) -> None:
        """Event and delivery headers without any signature get 401."""
        answer = hooked.post("netops", push(), {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d"})
        assert answer.status_code == 401
        assert hooked.trigger.requested == []

    def test_a_signature_needs_its_sha256_prefix(self, hooked: Hooked) -> None:
        """GitHub's and the generic header say ``sha256=``; a bare or other-algorithm digest is refused."""
        body = push()
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        for headers in (
            {"X-Hub-Signature-256": digest},
            {"X-Hub-Signature-256": f"sha1={digest}"},
            {"X-Jobsync-Signature": digest},
        ):
            assert hooked.post("netops", body, {**headers, "X-GitHub-Event": "push"}).status_code == 401
        assert hooked.trigger.requested == []

    def test_hooks_need_no_token_and_only_post(self, hooked: Hooked) -> None:
        """The hook path passes the token gate (the signature is its auth); GET is not a delivery."""
        assert hooked.client.get("/hooks/netops").status_code == 405
        body = push()
        assert hooked.post("netops", body, signed("github", body)).status_code == 202


class TestSecrets:
    def test_the_secret_may_come_from_a_file(self, hooked: Hooked) -> None:
        """The file's text without its trailing newline is the secret."""
        body = push()
        assert hooked.post("filed", body, signed("github", body, secret=FILE_SECRET)).status_code == 202
        assert (
            hooked.post("filed", body, signed("github", body, secret=FILE_SECRET + "\n")).status_code == 401
        )
        assert hooked.trigger.requested == ["filed"]

    def test_a_relative_secret_file_is_a_systemd_credential(
        self, hooked: Hooked, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relative ``webhook_secret_file`` is looked up in ``$CREDENTIALS_DIRECTORY`` (LoadCredential=)."""
        credentials = tmp_path / "credentials"
        credentials.mkdir()
        (credentials / "hook").write_text("credential-secret", encoding="utf-8")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
        spec = SourceSpec("credential", "https://git.example.com/x.git", webhook_secret_file="hook")
        hooked.trigger.specs["credential"] = spec
        body = push()
        assert hooked.post("credential", body, signed("github", body, "credential-secret")).status_code == 202

    def test_an_unreadable_secret_file_is_503(self, hooked: Hooked, tmp_path: Path) -> None:
        """A secret file gone at delivery time refuses it (503); the log names the file and why."""
        (tmp_path / "hook-secret").unlink()
        body = push()
        with capture_logs() as logs:
            answer = hooked.post("filed", body, signed("github", body, FILE_SECRET))
        assert answer.status_code == 503
        assert [line["problem"] for line in logs if line["log_level"] == "error"] == [
            "cannot be read: No such file or directory"
        ]
        assert hooked.trigger.requested == []

    def test_the_secret_is_read_at_each_delivery(
        self, hooked: Hooked, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A rotated secret counts at the next delivery, without a restart."""
        monkeypatch.setenv(SECRET_ENV, "rotated-secret")
        body = push()
        assert hooked.post("netops", body, signed("generic", body)).status_code == 401
        assert (
            hooked.post("netops", body, signed("generic", body, secret="rotated-secret")).status_code == 202
        )

    def test_a_missing_secret_is_503_and_names_only_where_it_was_looked_for(self, hooked: Hooked) -> None:
        """An unset variable refuses the delivery (503) and the log says which variable."""
        body = push()
        with capture_logs() as logs:
            answer = hooked.post("vanished", body, signed("github", body))
        assert answer.status_code == 503
        assert "secret" in answer.json()["error"]
        assert MISSING_ENV not in answer.text
        assert [(line["origin"], line["problem"]) for line in logs if line["log_level"] == "error"] == [
            (f"environment variable {MISSING_ENV}", "is not set")
        ]
        assert hooked.trigger.requested == []
        assert hooked.deliveries("vanished", "refused") == 1

    def test_the_secret_never_appears_in_answers_or_logs(self, hooked: Hooked) -> None:
        """Whatever is sent, no answer and no log line holds a secret, even one a caller sent wrongly."""
        body = push()
        answers = []
        with capture_logs() as logs:
            for provider in PROVIDERS:
                answers.append(hooked.post("netops", body, signed(provider, body)))
                answers.append(hooked.post("netops", body, signed(provider, body, secret=SECRET + "x")))
                answers.append(hooked.post("netops", body, signed(provider, body, event="other")))
            answers.append(hooked.post("filed", body, signed("gitlab", body, secret=FILE_SECRET)))
            answers.append(
                hooked.post("filed", b"not json", signed("gitlab", b"not json", secret=FILE_SECRET))
            )
            answers.append(hooked.post("vanished", body, signed("gitlab", body)))
        assert {answer.status_code for answer in answers} == {200, 202, 400, 401, 503}
        seen = repr(logs) + "".join(answer.text + repr(answer.headers) for answer in answers)
        assert logs
        for secret in (SECRET, FILE_SECRET):
            assert secret not in seen


class TestWhatSyncs:
    def test_a_push_to_another_branch_is_acknowledged_and_ignored(self, hooked: Hooked) -> None:
        """200 with the reason; the source follows main."""
        body = push(ref="refs/heads/feature")
        answer = hooked.post("netops", body, signed("github", body, delivery="d-9"))
        assert answer.status_code == 200
        assert answer.json() == {
            "accepted": False,
            "source": "netops",
            "delivery": "d-9",
            "ignored": "a push to refs/heads/feature: netops follows refs/heads/main",
        }
        assert hooked.trigger.requested == []
        assert hooked.deliveries("netops", "ignored") == 1

    def test_without_a_branch_the_payloads_default_branch_counts(self, hooked: Hooked) -> None:
        """A source following the remote HEAD takes pushes to the default branch the payload names."""
        for provider in ("github", "gitlab"):
            main = push(ref="refs/heads/trunk", default_branch="trunk", provider=provider)
            other = push(ref="refs/heads/main", default_branch="trunk", provider=provider)
            assert hooked.post("filed", main, signed(provider, main, FILE_SECRET)).status_code == 202
            ignored = hooked.post("filed", other, signed(provider, other, FILE_SECRET))
            assert ignored.json()["ignored"] == "a push to refs/heads/main: filed follows refs/heads/trunk"
        assert hooked.trigger.requested == ["filed", "filed"]

    def test_without_a_branch_anywhere_any_push_counts(self, hooked: Hooked) -> None:
        """When neither the config nor the payload names a branch, any ref (or none) may move HEAD."""
        for body in (push(ref="refs/heads/anything", default_branch=None), b"{}"):
            assert hooked.post("filed", body, signed("generic", body, FILE_SECRET)).status_code == 202
        assert hooked.trigger.requested == ["filed", "filed"]

    def test_a_tag_source_takes_pushes_of_its_tag_only(self, hooked: Hooked) -> None:
        """``tag = "v1"`` syncs on refs/tags/v1 (GitLab's Tag Push Hook too), not on branches or other tags."""
        tag = push(ref="refs/tags/v1")
        assert hooked.post("released", tag, signed("gitlab", tag, event="Tag Push Hook")).status_code == 202
        for ref in ("refs/heads/main", "refs/tags/v2"):
            body = push(ref=ref)
            answer = hooked.post("released", body, signed("github", body))
            assert answer.json()["ignored"] == f"a push to {ref}: released follows refs/tags/v1"
        assert hooked.trigger.requested == ["released"]

    def test_a_pinned_source_ignores_pushes(self, hooked: Hooked) -> None:
        """A source pinned to a commit has nothing a push could move."""
        body = push()
        answer = hooked.post("pinned", body, signed("github", body))
        assert answer.status_code == 200
        assert answer.json()["ignored"] == f"pinned is pinned to commit {PINNED}: pushes do not move it"
        assert hooked.trigger.requested == []

    def test_a_github_ping_is_answered_and_syncs_nothing(self, hooked: Hooked) -> None:
        """GitHub's ping (sent when the hook is created) gets 200."""
        body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
        answer = hooked.post("netops", body, signed("github", body, event="ping"))
        assert answer.status_code == 200
        assert answer.json()["ignored"] == "ping: the webhook reaches jobsync"
        assert hooked.trigger.requested == []

    @pytest.mark.parametrize(
        ("provider", "event"),
        [("github", "issues"), ("gitea", "pull_request"), ("gitlab", "Merge Request Hook")],
    )
    def test_other_events_are_acknowledged_and_ignored(
        self, hooked: Hooked, provider: str, event: str
    ) -> None:
        """Only pushes make a sync; anything else a hook is subscribed to gets 200, ignored."""
        body = push()
        answer = hooked.post("netops", body, signed(provider, body, event=event))
        assert answer.status_code == 200
        assert answer.json()["ignored"] == f"{event} event: only pushes make a sync"
        assert hooked.trigger.requested == []
        assert hooked.deliveries("netops", "ignored") == 1

    def test_a_redelivery_is_received_once(self, hooked: Hooked) -> None:
        """The same delivery id again is acknowledged as already received and syncs nothing."""
        body = push()
        assert hooked.post("netops", body, signed("github", body, delivery="same")).status_code == 202
        again = hooked.post("netops", body, signed("github", body, delivery="same"))
        assert again.status_code == 200
        assert again.json()["ignored"] == "already received"
        assert hooked.post("netops", body, signed("github", body, delivery="next")).status_code == 202
        assert hooked.trigger.requested == ["netops", "netops"]
        assert hooked.deliveries("netops", "replayed") == 1

    def test_a_forged_redelivery_is_unauthorized_not_replayed(self, hooked: Hooked) -> None:
        """A known delivery id does not excuse a wrong signature."""
        body = push()
        hooked.post("netops", body, signed("github", body, delivery="same"))
        assert (
            hooked.post("netops", body, signed("github", body, "wrong", delivery="same")).status_code == 401
        )

    def test_recent_deliveries_are_bounded(self) -> None:
        """Only the newest ids are remembered: memory stays bounded however many hooks arrive."""
        recent = RecentDeliveries(size=3)
        for number in range(5):
            recent.add("netops", str(number))
        assert [recent.seen("netops", str(n)) for n in range(5)] == [False, False, True, True, True]
        assert not recent.seen("other", "4")

    def test_a_form_encoded_github_push_is_read(self, hooked: Hooked) -> None:
        """GitHub's ``application/x-www-form-urlencoded`` content type wraps the JSON in ``payload=``."""
        body = str(httpx.QueryParams({"payload": push(ref="refs/heads/feature").decode()})).encode()
        headers = {**signed("github", body), "Content-Type": "application/x-www-form-urlencoded"}
        answer = hooked.post("netops", body, headers)
        assert answer.json()["ignored"] == "a push to refs/heads/feature: netops follows refs/heads/main"

    def test_an_accepted_push_is_logged_with_its_delivery(self, hooked: Hooked) -> None:
        """The log line names the source, provider, ref and delivery id."""
        body = push(provider="gitlab")
        with capture_logs() as logs:
            hooked.post("netops", body, signed("gitlab", body, delivery="gl-42"))
        accepted = [line for line in logs if line["event"] == "webhook accepted"]
        assert accepted == [
            {
                "event": "webhook accepted",
                "log_level": "info",
                "source": "netops",
                "provider": "gitlab",
                "ref": "refs/heads/main",
                "delivery": "gl-42",
            }
        ]


class TestRefused:
    def test_an_unknown_source_is_404_and_no_new_metric_label(self, hooked: Hooked) -> None:
        """A made-up name gets 404 and is counted under one shared label, never its own."""
        body = push()
        answer = hooked.post("made-up-name", body, signed("github", body))
        assert answer.status_code == 404
        assert "made-up-name" in answer.json()["error"]
        assert hooked.deliveries(UNKNOWN_SOURCE, "unknown") == 1
        metrics = hooked.client.get("/metrics").text
        assert 'source="made-up-name"' not in metrics
        assert hooked.trigger.requested == []

    def test_a_source_without_a_secret_takes_no_webhooks(self, hooked: Hooked) -> None:
        """404 naming the two keys that would give it one."""
        body = push()
        answer = hooked.post("plain", body, signed("github", body))
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert "webhook_secret_env" in error
        assert "webhook_secret_file" in error
        assert hooked.trigger.requested == []

    def test_a_body_over_a_mebibyte_is_refused(self, hooked: Hooked) -> None:
        """1 MiB + 1 byte gets 413, announced by Content-Length or streamed without one; 1 MiB is read."""
        padding = MAX_BODY - len(push()) - len(',"pad":""')
        exact = push()[:-1] + b',"pad":"' + b"x" * padding + b'"}'
        assert len(exact) == MAX_BODY
        assert hooked.post("netops", exact, signed("github", exact)).status_code == 202
        over = exact[:-2] + b'x"}'
        answer = hooked.post("netops", over, signed("github", over))
        assert answer.status_code == 413
        assert hooked.deliveries("netops", "refused") == 1

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(over), 65536):
                yield over[start : start + 65536]

        streamed = hooked.client.post("/hooks/netops", content=chunks(), headers=signed("github", over))
        assert streamed.status_code == 413
        assert hooked.trigger.requested == ["netops"]

    @pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
    def test_a_body_that_is_not_a_json_object_is_400(self, hooked: Hooked, body: bytes) -> None:
        """A signed push whose body cannot be read gets 400 and syncs nothing."""
        answer = hooked.post("netops", body, signed("generic", body))
        assert answer.status_code == 400
        assert "JSON" in answer.json()["error"]
        assert hooked.trigger.requested == []

    def test_a_server_that_does_not_sync_takes_no_webhooks(self, tmp_path: Path, state_dir: Path) -> None:
        """``jobsync serve`` (no daemon) answers 404 saying it does not sync."""
        with Catalog.open(state_dir=state_dir, actor="tester") as catalog:
            server, metrics = start(tmp_path, catalog, None)
            try:
                body = push()
                answer = httpx.post(
                    f"{server.url}/hooks/netops", content=body, headers=signed("github", body)
                )
            finally:
                server.stop()
        assert answer.status_code == 404
        assert "does not sync" in answer.json()["error"]
        counted = metrics.registry.get_sample_value(
            "jobsync_webhook_deliveries_total", {"source": UNKNOWN_SOURCE, "outcome": "unknown"}
        )
        assert counted == 1
