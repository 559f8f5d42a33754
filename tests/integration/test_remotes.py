"""Real remotes: a served smart-HTTP(S) remote with Basic and Bearer auth, a real sshd, tags and pinned commits.

No mocks: dulwich fetches from dulwich.web under wsgiref (behind a gate that checks credentials
or fails on purpose) and from git-upload-pack behind a throwaway sshd started by these tests.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from jobsync import Catalog
from jobsync.adapters.git import Mirror, RemoteOptions, ssh_command
from jobsync.config import effective, load_config
from jobsync.domain.errors import ConfigError, GitError, SourceReadError
from jobsync.domain.source import source_id
from jobsync.ports import Snapshot
from jobsync.spec import SourceSpec
from jobsync.sync import open_reader
from tests.gitserver import (
    GitHttpServer,
    SshServer,
    StartResponse,
    WsgiApp,
    keygen,
    self_signed_tls,
    sshd_available,
)
from tests.helpers import GitRepo

JOB = """\
from nautobot.apps.jobs import Job, register_jobs


class Backup(Job):
    class Meta:
        description = "{description}"


register_jobs(Backup)
"""
SECRET = "s3cret-Token-42"
PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "no_proxy",
)


@pytest.fixture(autouse=True)
def _no_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reach the local servers directly, whatever proxy the machine running the tests has."""
    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    """A repository with one job on ``main``, under the folder the servers serve."""
    repo = GitRepo(tmp_path / "srv" / "team" / "jobs")
    repo.write("jobs/__init__.py", "")
    repo.write("jobs/backup.py", JOB.format(description="first"))
    repo.commit("first")
    return repo


@pytest.fixture
def server(tmp_path: Path, remote: GitRepo) -> Iterator[GitHttpServer]:
    """dulwich's smart-HTTP app on 127.0.0.1, open to everyone until a test sets the gate."""
    served = GitHttpServer(tmp_path / "srv")
    try:
        yield served
    finally:
        served.stop()


def spec_for(url: str, **keys: object) -> SourceSpec:
    """A git source named ``netops`` at ``url``; ``keys`` are further SourceSpec fields."""
    return SourceSpec(name="netops", url=url, **keys)  # type: ignore[arg-type]


def snapshot(spec: SourceSpec, state_dir: Path) -> Snapshot:
    """Fetch ``spec`` as a sync does (credentials read now), without a store."""
    return open_reader(spec, state_dir).snapshot(spec.branch)


def fetch_error(spec: SourceSpec, state_dir: Path) -> SourceReadError:
    """The error a fetch of ``spec`` raises; it must be one line."""
    with pytest.raises(SourceReadError) as caught:
        snapshot(spec, state_dir)
    assert "\n" not in str(caught.value)
    return caught.value


def synced_then_moved(
    server: GitHttpServer, remote: GitRepo, state_dir: Path
) -> tuple[SourceSpec, str, str, Path]:
    """Fetch ``remote`` over HTTP, then commit to it: (spec, the fetched commit, the new tip, the mirror)."""
    spec = spec_for(server.url(remote.path))
    synced = snapshot(spec, state_dir).commit
    remote.write("jobs/later.py", "x = 1\n")
    return spec, synced, remote.commit("later"), state_dir / "mirrors" / f"{source_id('netops')}.git"


class TestHttpCredentials:
    def test_basic_auth_from_environment(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``user:password`` in the variable named by credentials_env is sent as Basic auth."""
        server.gate.basic = ("alice", SECRET)
        monkeypatch.setenv("NETOPS_TOKEN", f"alice:{SECRET}")

        fetched = snapshot(spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN"), state_dir)

        assert (fetched.commit, fetched.branch) == (remote.git("rev-parse", "HEAD"), "main")

    def test_basic_auth_from_file(self, server: GitHttpServer, remote: GitRepo, tmp_path: Path) -> None:
        """``user:password`` in credentials_file (trailing newline and all) is sent as Basic auth."""
        server.gate.basic = ("alice", SECRET)
        secret_file = tmp_path / "token"
        secret_file.write_text(f"alice:{SECRET}\n")

        fetched = snapshot(
            spec_for(server.url(remote.path), credentials_file=str(secret_file)), tmp_path / "s"
        )

        assert fetched.commit == remote.git("rev-parse", "HEAD")

    def test_bare_token_is_the_password_of_user_git(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bare token with basic auth goes out as the password, with user ``git`` when the URL names none."""
        server.gate.basic = ("git", SECRET)
        monkeypatch.setenv("NETOPS_TOKEN", SECRET)

        snapshot(spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN"), state_dir)

    def test_url_user_goes_with_bare_token(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A user name in the URL (``https://x-token-auth@host/…``) is sent with a bare token."""
        server.gate.basic = ("x-token-auth", SECRET)
        monkeypatch.setenv("NETOPS_TOKEN", SECRET)

        snapshot(spec_for(server.url(remote.path, "x-token-auth"), credentials_env="NETOPS_TOKEN"), state_dir)

    def test_name_under_credentials_directory(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A relative credentials_file is a name under systemd's $CREDENTIALS_DIRECTORY."""
        server.gate.basic = ("alice", SECRET)
        (tmp_path / "creds").mkdir()
        (tmp_path / "creds" / "netops-token").write_text(f"alice:{SECRET}")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))

        snapshot(spec_for(server.url(remote.path), credentials_file="netops-token"), tmp_path / "s")

    def test_bearer_token(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With ``auth = "bearer"`` the secret goes out as ``Authorization: Bearer`` and never as Basic."""
        server.gate.bearer = SECRET
        monkeypatch.setenv("NETOPS_TOKEN", SECRET)

        snapshot(spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN", auth="bearer"), state_dir)

        assert {seen.authorization for seen in server.gate.seen} == {f"Bearer {SECRET}"}

    def test_password_in_url_is_used(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """Userinfo in the URL is accepted as Basic credentials when no credentials key is given."""
        server.gate.basic = ("alice", SECRET)

        fetched = snapshot(spec_for(server.url(remote.path, f"alice:{SECRET}")), state_dir)

        assert fetched.commit == remote.git("rev-parse", "HEAD")

    @pytest.mark.parametrize("auth", ["basic", "bearer"])
    def test_wrong_secret_is_authentication_failed_without_secret(
        self,
        server: GitHttpServer,
        remote: GitRepo,
        state_dir: Path,
        monkeypatch: pytest.MonkeyPatch,
        auth: str,
    ) -> None:
        """A refused secret raises AuthenticationFailed naming the redacted URL and quoting no secret."""
        if auth == "basic":
            server.gate.basic = ("alice", "right")
        else:
            server.gate.bearer = "right"
        monkeypatch.setenv("NETOPS_TOKEN", f"alice:{SECRET}" if auth == "basic" else SECRET)
        url = server.url(remote.path, "alice:url-Password-7")

        error = fetch_error(spec_for(url, credentials_env="NETOPS_TOKEN", auth=auth), state_dir)

        assert error.reason == "AuthenticationFailed"
        assert str(error) == f"cannot fetch {server.url(remote.path)}: authentication failed"
        assert SECRET not in str(error) and "url-Password-7" not in str(error)

    def test_missing_credentials_are_authentication_failed(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A server asking for credentials that the source does not configure raises AuthenticationFailed."""
        server.gate.basic = ("alice", SECRET)

        assert fetch_error(spec_for(server.url(remote.path)), state_dir).reason == "AuthenticationFailed"

    def test_unset_variable_is_authentication_failed_before_fetching(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unset credentials_env variable is named in the error, and nothing is sent to the server."""
        monkeypatch.delenv("NETOPS_TOKEN", raising=False)

        error = fetch_error(spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN"), state_dir)

        assert error.reason == "AuthenticationFailed"
        assert str(error) == "credentials of netops: environment variable NETOPS_TOKEN is not set"
        assert server.gate.seen == []

    def test_multi_line_secret_is_refused_without_quoting_it(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path
    ) -> None:
        """A secret with a line break (it would end the HTTP header) is refused, and not quoted."""
        secret_file = tmp_path / "token"
        secret_file.write_text(f"{SECRET}\nX-Injected: yes\n")

        error = fetch_error(
            spec_for(server.url(remote.path), credentials_file=str(secret_file)), tmp_path / "s"
        )

        assert error.reason == "AuthenticationFailed"
        assert SECRET not in str(error) and "more than one line" in str(error)

    def test_rotated_token_is_read_on_the_next_fetch(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path
    ) -> None:
        """The same reader re-reads credentials_file on every fetch, so a rotated token works without a restart."""
        secret_file = tmp_path / "token"
        secret_file.write_text("old-token")
        server.gate.bearer = "old-token"
        reader = open_reader(
            spec_for(server.url(remote.path), credentials_file=str(secret_file), auth="bearer"),
            tmp_path / "s",
        )
        assert reader.snapshot().commit == remote.git("rev-parse", "HEAD")

        server.gate.bearer = "new-token"  # the server rotated the token; the file still holds the old one
        with pytest.raises(GitError) as caught:
            reader.snapshot()
        assert caught.value.reason == "AuthenticationFailed"

        secret_file.write_text("new-token")
        remote.write("jobs/backup.py", JOB.format(description="second"))
        tip = remote.commit("second")
        assert reader.snapshot().commit == tip


class TestRedirects:
    def test_same_origin_redirect_is_followed_with_bearer(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A redirect within the same host and port (a renamed repository) is followed, token and all."""
        renamed = GitRepo(tmp_path / "srv" / "team" / "renamed")
        tip = renamed.commit("in the new place")
        server.gate.bearer = SECRET
        monkeypatch.setenv("NETOPS_TOKEN", SECRET)
        server.gate.app = _redirect_old_path(server.gate.app, old="/team/jobs", new="/team/renamed")

        fetched = snapshot(
            spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN", auth="bearer"), tmp_path / "s"
        )

        assert fetched.commit == tip

    def test_bearer_token_never_follows_a_redirect_to_another_host(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A redirect to another origin is refused with a bearer token, so the token never reaches that host."""
        elsewhere = GitHttpServer(tmp_path / "srv")
        try:
            server.gate.bearer = SECRET
            server.gate.redirect_to = f"http://127.0.0.1:{elsewhere.port}"
            monkeypatch.setenv("NETOPS_TOKEN", SECRET)

            error = fetch_error(
                spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN", auth="bearer"),
                tmp_path / "s",
            )
        finally:
            elsewhere.stop()

        assert error.reason == "Unreachable" and "another host" in str(error)
        assert all(SECRET not in (seen.authorization or "") for seen in elsewhere.gate.seen)

    def test_basic_credentials_are_not_sent_to_another_host(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With basic auth a redirect elsewhere is followed (as git does), without the credentials."""
        elsewhere = GitHttpServer(tmp_path / "srv")
        try:
            server.gate.basic = ("alice", SECRET)
            server.gate.redirect_to = f"http://127.0.0.1:{elsewhere.port}"
            monkeypatch.setenv("NETOPS_TOKEN", f"alice:{SECRET}")

            fetched = snapshot(
                spec_for(server.url(remote.path), credentials_env="NETOPS_TOKEN"), tmp_path / "s"
            )
        finally:
            elsewhere.stop()

        assert fetched.commit == remote.git("rev-parse", "HEAD")
        assert elsewhere.gate.seen and all(seen.authorization is None for seen in elsewhere.gate.seen)


def _redirect_old_path(app: WsgiApp, old: str, new: str) -> WsgiApp:
    """WSGI app answering requests under ``old`` with a redirect to the same request under ``new``."""

    def redirecting(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if not path.startswith(old + "/"):
            return app(environ, start_response)
        query = environ.get("QUERY_STRING")
        location = new + path[len(old) :] + (f"?{query}" if query else "")
        start_response("301 Moved Permanently", [("Location", location), ("Content-Length", "0")])
        return [b""]

    return redirecting


class TestHttpFailures:
    def test_http_404_is_not_found(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """A 404 answer raises NotFound."""
        server.gate.status = 404

        error = fetch_error(spec_for(server.url(remote.path)), state_dir)

        assert (error.reason, str(error)) == (
            "NotFound",
            f"cannot fetch {server.url(remote.path)}: repository not found",
        )

    def test_unknown_repository_is_not_found(self, server: GitHttpServer, tmp_path: Path) -> None:
        """A path the server has no repository at raises NotFound."""
        (tmp_path / "srv" / "empty-folder").mkdir()

        error = fetch_error(spec_for(server.url(tmp_path / "srv" / "empty-folder")), tmp_path / "s")

        assert error.reason == "NotFound"

    def test_http_500_is_unreachable(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """A server error (500) raises Unreachable, a failure of the server rather than of the request."""
        server.gate.status = 500

        error = fetch_error(spec_for(server.url(remote.path, f"alice:{SECRET}")), state_dir)

        assert error.reason == "Unreachable"
        assert "500" in str(error) and SECRET not in str(error)

    def test_an_answer_that_is_not_git_is_unreachable_and_keeps_the_mirror(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A 200 page that is not Git (a captive portal) is the server's fault: the mirror is kept, not re-cloned."""
        spec, synced, _, mirror = synced_then_moved(server, remote, state_dir)
        server.gate.garbage = b"<html><body>Please log in to the guest Wi-Fi</body></html>"
        server.gate.seen.clear()

        error = fetch_error(spec, state_dir)

        assert error.reason == "Unreachable"
        assert str(error).startswith(f"cannot fetch {server.url(remote.path)}: the answer is not Git's (")
        assert len(server.gate.seen) == 1  # asked once: no wipe and re-clone
        assert Mirror(mirror, spec.url).has_commit(synced)

    def test_a_ref_locked_by_another_process_is_busy(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A branch lock taken by another process mid-fetch is Busy, named, and the mirror is kept."""
        spec, synced, tip, mirror = synced_then_moved(server, remote, state_dir)
        lock = mirror / "refs" / "heads" / "main.lock"
        server.gate.on_upload = lock.touch  # as `git update-ref` would hold it

        error = fetch_error(spec, state_dir)

        assert error.reason == "Busy"
        assert str(error) == (
            f"cannot update the mirror of {server.url(remote.path)}: {lock} is held by another process;"
            " the next sync tries again"
        )
        assert Mirror(mirror, spec.url).has_commit(synced)
        server.gate.on_upload = None
        assert snapshot(spec, state_dir).commit == tip  # the lock of a process that is gone is cleared

    def test_hanging_server_times_out_within_the_timeout(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A server that accepts and never answers raises Timeout after the configured timeout, once."""
        server.gate.hang = True
        started = time.monotonic()

        error = fetch_error(spec_for(server.url(remote.path), timeout=1.0), state_dir)

        elapsed = time.monotonic() - started
        assert error.reason == "Timeout"
        assert 0.9 < elapsed < 2.5, elapsed
        assert len(server.gate.seen) == 1  # not retried


class TestHttpTransport:
    def test_proxy_carries_the_fetch(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """With ``proxy``, requests go to the proxy (here the gate, which also answers absolute-form requests)."""
        url = f"http://git.invalid/{remote.path.relative_to(server.root).as_posix()}"
        proxy = f"http://127.0.0.1:{server.port}"

        fetched = snapshot(spec_for(url, proxy=proxy), state_dir)

        assert fetched.commit == remote.git("rev-parse", "HEAD")
        assert server.gate.seen and all(seen.proxied for seen in server.gate.seen)

    def test_ca_bundle_trusts_a_private_certificate(self, tmp_path: Path, remote: GitRepo) -> None:
        """An https remote with a self-signed certificate is fetched with ``ca_bundle`` and refused without it."""
        context, certificate = self_signed_tls(tmp_path)
        served = GitHttpServer(tmp_path / "srv", tls=context)
        try:
            url = served.url(remote.path)
            refused = fetch_error(spec_for(url), tmp_path / "s1")
            fetched = snapshot(spec_for(url, ca_bundle=str(certificate)), tmp_path / "s2")
        finally:
            served.stop()

        assert refused.reason == "Unreachable" and "CERTIFICATE_VERIFY_FAILED" in str(refused)
        assert fetched.commit == remote.git("rev-parse", "HEAD")

    def test_unreadable_ca_bundle_is_named(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path
    ) -> None:
        """A ca_bundle that cannot be read is reported by path before anything is sent."""
        error = fetch_error(
            spec_for(server.url(remote.path), ca_bundle=str(tmp_path / "nope.pem")), tmp_path / "s"
        )

        assert error.reason == "Unreachable" and str(tmp_path / "nope.pem") in str(error)
        assert server.gate.seen == []


class TestRedactionThroughCatalog:
    def test_userinfo_never_reaches_store_sources_logs_or_results(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A URL password and a bearer token are absent from sources(), result logs, structlog output and the store file."""
        server.gate.basic = ("alice", SECRET)
        url_with_password = server.url(remote.path, f"alice:{SECRET}")
        store = tmp_path / "jobsync.db"
        with (
            capture_logs() as logs,
            Catalog.open(store=f"sqlite:///{store}", state_dir=tmp_path / "s", actor="t") as catalog,
        ):
            summary = catalog.resync_spec(spec_for(url_with_password))
            server.gate.basic, server.gate.bearer = None, "other-" + SECRET
            monkeypatch.setenv("NETOPS_TOKEN", SECRET)
            with pytest.raises(GitError):
                catalog.resync_spec(
                    spec_for(url_with_password, credentials_env="NETOPS_TOKEN", auth="bearer")
                )
            [source] = catalog.sources()
            results = catalog.results()
            entries = [entry for result in results for entry in catalog.logs(result["id"])]

        assert summary.added == ["netops:jobs.backup.Backup"]
        assert source["url"] == server.url(remote.path)
        assert source["last_reason"] == "AuthenticationFailed"
        assert any(server.url(remote.path) in entry["message"] for entry in entries)
        for text in (json.dumps([source, results, entries], default=str), repr(logs)):
            assert SECRET not in text
        assert SECRET.encode() not in store.read_bytes()
        for extra in store.parent.glob("jobsync.db-*"):  # WAL and journal files, when any are left
            assert SECRET.encode() not in extra.read_bytes()


class TestTagsAndPinnedCommits:
    def test_annotated_tag_is_peeled_to_its_commit(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A source following an annotated tag gets the tagged commit, shown as ``tag v1.2``."""
        tagged = remote.git("rev-parse", "HEAD")
        remote.git("tag", "-a", "v1.2", "-m", "release 1.2")
        remote.commit("after the tag")

        fetched = snapshot(spec_for(server.url(remote.path), tag="v1.2"), state_dir)

        assert (fetched.commit, fetched.branch) == (tagged, "tag v1.2")
        assert {entry.path for entry in fetched.files()} == {"jobs/__init__.py", "jobs/backup.py"}

    def test_lightweight_tag_and_tag_moved_upstream(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A lightweight tag is followed, and when it is moved upstream the next fetch follows it too."""
        remote.git("tag", "stable")
        first = remote.git("rev-parse", "HEAD")
        reader = open_reader(spec_for(server.url(remote.path), tag="stable"), state_dir)
        assert reader.snapshot().commit == first

        second = remote.commit("next release")
        remote.git("tag", "-f", "stable")

        assert reader.snapshot().commit == second

    def test_unknown_tag_is_bad_ref_listing_tags(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """A tag the remote lacks raises BadRef naming the tags it has."""
        remote.git("tag", "v1")
        remote.git("tag", "-a", "v2", "-m", "two")

        error = fetch_error(spec_for(server.url(remote.path), tag="v3"), state_dir)

        assert (error.reason, str(error)) == (
            "BadRef",
            f"tag 'v3' not found in {server.url(remote.path)} (tags: v1, v2)",
        )

    def test_tag_of_a_tree_is_bad_ref(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """A tag pointing at a tree, not a commit, raises BadRef."""
        remote.git("tag", "just-a-tree", "HEAD^{tree}")

        error = fetch_error(spec_for(server.url(remote.path), tag="just-a-tree"), state_dir)

        assert error.reason == "BadRef" and "does not point to a commit" in str(error)

    def test_pinned_commit_behind_the_tip_and_on_another_branch(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path
    ) -> None:
        """A pinned commit is fetched whether it is an ancestor of a branch tip or only on another branch."""
        old = remote.git("rev-parse", "HEAD")
        remote.commit("main moves on")
        remote.git("checkout", "-q", "-b", "feature")
        side = remote.commit("only on feature")
        remote.git("checkout", "-q", "main")
        url = server.url(remote.path)

        behind = snapshot(spec_for(url, commit=old), tmp_path / "a")
        elsewhere = snapshot(spec_for(url, commit=side.upper()), tmp_path / "b")

        assert (behind.commit, behind.branch) == (old, f"commit {old[:12]}")
        assert elsewhere.commit == side

    def test_pinned_commit_is_not_fetched_again(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """Once the mirror holds the pinned commit, a fetch only lists refs and asks for no pack."""
        pinned = remote.git("rev-parse", "HEAD")
        reader = open_reader(spec_for(server.url(remote.path), commit=pinned), state_dir)
        reader.snapshot()
        remote.commit("upstream moves on")
        server.gate.seen.clear()

        assert reader.snapshot().commit == pinned
        assert [seen.method for seen in server.gate.seen] == ["GET"]

    def test_unknown_commit_is_bad_ref(self, server: GitHttpServer, remote: GitRepo, state_dir: Path) -> None:
        """A pinned commit that no branch or tag of the remote contains raises BadRef."""
        error = fetch_error(spec_for(server.url(remote.path), commit="ab" * 20), state_dir)

        assert error.reason == "BadRef"
        assert str(error).startswith(f"commit {'ab' * 20} not found in {server.url(remote.path)}")

    def test_explicit_branch_wins_over_tag(
        self, server: GitHttpServer, remote: GitRepo, state_dir: Path
    ) -> None:
        """``resync --branch`` on a tag source (the branch passed to the reader) fetches the branch."""
        remote.git("tag", "v1")
        tip = remote.commit("main moves on")

        fetched = open_reader(spec_for(server.url(remote.path), tag="v1"), state_dir).snapshot("main")

        assert (fetched.commit, fetched.branch) == (tip, "main")

    def test_catalog_records_tag_as_the_synced_branch(
        self, server: GitHttpServer, remote: GitRepo, tmp_path: Path
    ) -> None:
        """Syncing a tag source records ``tag v1`` as the source's last branch."""
        remote.git("tag", "v1")
        with Catalog.open(
            store=f"sqlite:///{tmp_path / 'j.db'}", state_dir=tmp_path / "s", actor="t"
        ) as catalog:
            catalog.resync_spec(spec_for(server.url(remote.path), tag="v1"))
            [source] = catalog.sources()

        assert (source["last_branch"], source["last_commit"]) == ("tag v1", remote.git("rev-parse", "v1"))


def write_config(tmp_path: Path, source_lines: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[[sources]]\nname = "netops"\n{source_lines}', encoding="utf-8")
    return path


def refusal(tmp_path: Path, source_lines: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, source_lines))
    assert "\n" not in str(caught.value)
    return str(caught.value)


HTTPS = 'url = "https://git.example.com/netops.git"\n'
SSH = 'url = "git@git.example.com:netops.git"\n'


class TestRemoteConfig:
    def test_every_remote_key_is_read(self, tmp_path: Path) -> None:
        """Tag, auth, proxy, ca_bundle and timeout reach the SourceSpec; timeout takes '30s' like interval."""
        text = HTTPS + (
            'tag = "v1.2"\nauth = "bearer"\ncredentials_env = "T"\nproxy = "http://proxy:3128"\n'
            'ca_bundle = "/etc/ssl/private-ca.pem"\ntimeout = "30s"\n'
        )
        (spec,) = load_config(write_config(tmp_path, text)).sources

        assert (spec.tag, spec.commit, spec.branch, spec.auth, spec.timeout) == (
            "v1.2",
            None,
            None,
            "bearer",
            30.0,
        )
        assert (spec.proxy, spec.ca_bundle) == ("http://proxy:3128", "/etc/ssl/private-ca.pem")

    def test_defaults(self, tmp_path: Path) -> None:
        """A git source uses basic auth and a 60-second timeout unless told otherwise."""
        (spec,) = load_config(write_config(tmp_path, HTTPS)).sources

        assert (spec.auth, spec.timeout, spec.tag, spec.commit) == ("basic", 60.0, None, None)

    def test_ssh_keys_are_read(self, tmp_path: Path) -> None:
        """An ssh source takes ssh_key_file and known_hosts_file."""
        text = (
            SSH + 'ssh_key_file = "/etc/jobsync/id_ed25519"\nknown_hosts_file = "/etc/jobsync/known_hosts"\n'
        )
        (spec,) = load_config(write_config(tmp_path, text)).sources

        assert (spec.ssh_key_file, spec.known_hosts_file) == (
            "/etc/jobsync/id_ed25519",
            "/etc/jobsync/known_hosts",
        )

    @pytest.mark.parametrize(
        ("lines", "message"),
        [
            (
                HTTPS + 'branch = "main"\ntag = "v1"\n',
                "sources[0].tag: give one of branch, tag and commit, not branch and tag",
            ),
            (
                HTTPS + f'tag = "v1"\ncommit = "{"a" * 40}"\n',
                "sources[0].commit: give one of branch, tag and commit, not tag and commit",
            ),
            (
                HTTPS + 'commit = "abc123"\n',
                "sources[0].commit: must be a full commit sha (40 hex digits), not 'abc123'",
            ),
            (HTTPS + 'auth = "digest"\n', "sources[0].auth: must be 'basic' or 'bearer', not 'digest'"),
            (
                HTTPS + 'auth = "bearer"\n',
                "sources[0].auth: a bearer token needs credentials_env or credentials_file",
            ),
            (
                HTTPS + 'proxy = "socks5://p:1080"\n',
                "sources[0].proxy: must be an http:// or https:// URL, not 'socks5://p:1080'",
            ),
            (
                HTTPS + 'timeout = "soon"\n',
                "sources[0].timeout: cannot read 'soon'; use seconds or '30s', '5m', '1h'",
            ),
            (HTTPS + "timeout = 0\n", "sources[0].timeout: must be at least 1 second, not 0"),
            (HTTPS + 'tag = ""\n', "sources[0].tag: must not be empty"),
            (
                HTTPS + 'ssh_key_file = "/k"\n',
                "sources[0].ssh_key_file: only ssh:// and user@host:path URLs take 'ssh_key_file'",
            ),
            (
                SSH + 'credentials_env = "T"\n',
                "sources[0].credentials_env: only http(s):// URLs take 'credentials_env'",
            ),
            (SSH + 'proxy = "http://p:3128"\n', "sources[0].proxy: only http(s):// URLs take 'proxy'"),
            ('kind = "local"\npath = "/srv"\ntag = "v1"\n', "sources[0].tag: only git sources take 'tag'"),
        ],
    )
    def test_refusals_name_the_key(self, tmp_path: Path, lines: str, message: str) -> None:
        """Conflicting refs, malformed values and keys the URL's transport cannot use are refused by key path."""
        assert refusal(tmp_path, lines) == message

    def test_effective_shows_remote_settings_without_proxy_password(self, tmp_path: Path) -> None:
        """The effective config lists ref, auth, timeout and proxy, the proxy's password removed."""
        text = HTTPS + f'commit = "{"b" * 40}"\nproxy = "http://me:{SECRET}@proxy:3128"\n'

        [source] = effective(load_config(write_config(tmp_path, text)))["sources"]

        assert source["commit"] == "b" * 40 and source["proxy"] == "http://proxy:3128"
        assert (source["auth"], source["timeout"]) == ("basic", 60.0)
        assert SECRET not in json.dumps(source)


class TestSshCommand:
    def test_command_is_strict_and_batch(self) -> None:
        """The ssh command never prompts, checks host keys strictly, and uses only the configured key and hosts."""
        options = RemoteOptions(
            timeout=7, ssh_key_file="/keys/id ed25519", known_hosts_file="/etc/known hosts"
        )

        command = ssh_command(options)

        assert command == (
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=7 -o ServerAliveInterval=3"
            " -o ServerAliveCountMax=3 -o 'UserKnownHostsFile=\"/etc/known hosts\"' -o GlobalKnownHostsFile=/dev/null"
            " -i '/keys/id ed25519' -o IdentitiesOnly=yes"
        )

    def test_defaults_still_batch_and_strict(self) -> None:
        """Without key or known_hosts settings, ssh still never prompts and refuses unknown hosts."""
        assert ssh_command(RemoteOptions()) == (
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=60"
            " -o ServerAliveInterval=20 -o ServerAliveCountMax=3"
        )

    def test_silent_server_times_out(self, tmp_path: Path) -> None:
        """An ssh server that accepts but never speaks raises Timeout after the connect timeout."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            accepted: list[socket.socket] = []
            thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
            thread.start()
            started = time.monotonic()
            with pytest.raises(GitError) as caught:
                Mirror(
                    tmp_path / "m.git", f"ssh://git@127.0.0.1:{port}/x.git", RemoteOptions(timeout=1)
                ).fetch()
            elapsed = time.monotonic() - started
            for connection in accepted:
                connection.close()

        assert caught.value.reason == "Timeout", str(caught.value)
        assert elapsed < 5, elapsed


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One throwaway sshd for this module's SSH tests (per test process)."""
    if not sshd_available():
        pytest.skip("needs Debian's openssh-server (/usr/sbin/sshd) and openssh-client")
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ssh_spec(sshd: SshServer, remote: GitRepo, tmp_path: Path) -> SourceSpec:
    """A source reaching ``remote`` through the sshd with the right user key and host key."""
    return spec_for(
        sshd.url(remote.path),
        ssh_key_file=str(sshd.client_key),
        known_hosts_file=str(sshd.known_hosts(tmp_path / "known_hosts")),
        timeout=10.0,
    )


class TestSsh:
    def test_fetch_over_ssh_url(self, ssh_spec: SourceSpec, remote: GitRepo, state_dir: Path) -> None:
        """An ``ssh://user@host:port/path`` source is fetched through the system ssh with the configured key."""
        fetched = snapshot(ssh_spec, state_dir)

        assert (fetched.commit, fetched.branch) == (remote.git("rev-parse", "HEAD"), "main")

    def test_fetch_scp_style_url(
        self, sshd: SshServer, ssh_spec: SourceSpec, remote: GitRepo, state_dir: Path
    ) -> None:
        """A ``user@host:path`` source is fetched too (port 22 of a private loopback address)."""
        if sshd.scp_host is None:
            pytest.skip("user@host:path has no port: needs root to listen on port 22 of a loopback address")
        spec = replace(ssh_spec, url=f"{sshd.user}@{sshd.scp_host}:{remote.path.resolve()}")

        assert snapshot(spec, state_dir).commit == remote.git("rev-parse", "HEAD")

    def test_tag_and_pinned_commit_over_ssh(
        self, ssh_spec: SourceSpec, remote: GitRepo, tmp_path: Path
    ) -> None:
        """Tags are peeled and pinned commits found over ssh as over HTTP."""
        first = remote.git("rev-parse", "HEAD")
        remote.git("tag", "-a", "v1", "-m", "one")
        remote.commit("later")

        tagged = snapshot(replace(ssh_spec, tag="v1"), tmp_path / "a")
        pinned = snapshot(replace(ssh_spec, commit=first), tmp_path / "b")

        assert (tagged.commit, tagged.branch, pinned.commit) == (first, "tag v1", first)

    def test_host_key_mismatch(self, sshd: SshServer, ssh_spec: SourceSpec, tmp_path: Path) -> None:
        """A server whose host key differs from known_hosts_file is refused with "host key mismatch"."""
        impostor = keygen(tmp_path / "impostor")
        spec = replace(ssh_spec, known_hosts_file=str(sshd.known_hosts(tmp_path / "stale_hosts", impostor)))

        error = fetch_error(spec, tmp_path / "s")

        assert error.reason == "AuthenticationFailed"
        assert "host key mismatch" in str(error)
        assert str(error).startswith(f"cannot fetch ssh://127.0.0.1:{sshd.port}/")

    def test_unknown_host_key(self, ssh_spec: SourceSpec, tmp_path: Path) -> None:
        """A server missing from known_hosts_file is refused (never trusted on first use), saying how to fix it."""
        (tmp_path / "empty_hosts").write_text("")

        error = fetch_error(replace(ssh_spec, known_hosts_file=str(tmp_path / "empty_hosts")), tmp_path / "s")

        assert error.reason == "AuthenticationFailed" and "host key unknown" in str(error)

    def test_wrong_user_key_is_authentication_failed(self, ssh_spec: SourceSpec, tmp_path: Path) -> None:
        """A user key the server does not accept raises AuthenticationFailed."""
        keygen(tmp_path / "stranger")

        error = fetch_error(replace(ssh_spec, ssh_key_file=str(tmp_path / "stranger")), tmp_path / "s")

        assert error.reason == "AuthenticationFailed" and "Permission denied" in str(error)

    def test_missing_repository_is_not_found(
        self, sshd: SshServer, ssh_spec: SourceSpec, tmp_path: Path
    ) -> None:
        """A path with no repository behind a working login raises NotFound."""
        error = fetch_error(replace(ssh_spec, url=sshd.url(tmp_path / "nothing-here")), tmp_path / "s")

        assert error.reason == "NotFound"
