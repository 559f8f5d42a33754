"""Real git servers for tests: smart HTTP (dulwich's WSGI app behind a gate) and a throwaway sshd."""

from __future__ import annotations

import base64
import getpass
import os
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from dulwich.errors import NotGitRepository
from dulwich.repo import Repo
from dulwich.server import Backend
from dulwich.web import make_wsgi_chain

SSHD = Path("/usr/sbin/sshd")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Seen:
    """One request the gate saw: what was asked, with which Authorization, and whether through a proxy."""

    method: str
    path: str
    authorization: str | None
    proxied: bool


@dataclass
class Gate:
    """WSGI middleware in front of dulwich.web: checks Basic or Bearer credentials, or fails on purpose.

    Change the fields between fetches (a rotated token, a 500, a hang, a redirect to another
    origin, a page that is not Git, something to do when the pack is asked for); ``release`` ends hangs.
    A request in absolute form (``GET http://host/path``) is what an HTTP proxy receives: the gate
    serves it too and records it as proxied.
    """

    app: WsgiApp
    basic: tuple[str, str] | None = None
    bearer: str | None = None
    status: int | None = None
    hang: bool = False
    redirect_to: str | None = None
    garbage: bytes | None = None
    on_upload: Callable[[], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    seen: list[Seen] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        proxied = path.startswith(("http://", "https://"))
        if proxied:  # keep only the path of an absolute-form request
            path = "/" + path.split("://", 1)[1].partition("/")[2]
            environ["PATH_INFO"] = path
        authorization = environ.get("HTTP_AUTHORIZATION")
        self.seen.append(Seen(environ["REQUEST_METHOD"], path, authorization, proxied))
        if self.hang:
            self.release.wait(120)
            return _answer(start_response, 503, b"hung\n")
        if self.status is not None:
            return _answer(start_response, self.status, b"failing on purpose\n")
        if self.garbage is not None:  # a 200 that is not Git: a captive portal, a misrouted proxy
            return _answer(start_response, 200, self.garbage, [("Content-Type", "text/html")])
        if self.on_upload is not None and environ["REQUEST_METHOD"] == "POST":
            self.on_upload()  # what another process does while this fetch is under way
        if self.redirect_to is not None:  # the same path and query at another origin
            query = environ.get("QUERY_STRING")
            location = self.redirect_to + path + (f"?{query}" if query else "")
            return _answer(start_response, 302, b"moved\n", [("Location", location)])
        if not self._allowed(authorization):
            scheme = "Bearer" if self.bearer is not None else 'Basic realm="git"'
            return _answer(start_response, 401, b"who are you?\n", [("WWW-Authenticate", scheme)])
        return self.app(environ, start_response)

    def _allowed(self, authorization: str | None) -> bool:
        if self.bearer is not None:
            return authorization == f"Bearer {self.bearer}"
        if self.basic is not None:
            expected = base64.b64encode(":".join(self.basic).encode()).decode()
            return authorization == f"Basic {expected}"
        return True


def _answer(
    start_response: StartResponse, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    reasons = {
        302: "Found",
        401: "Unauthorized",
        404: "Not Found",
        500: "Internal Server Error",
        503: "Unavailable",
    }
    start_response(
        f"{status} {reasons.get(status, 'Status')}",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


class _FolderBackend(Backend):
    """Repositories under one folder, by URL path (dulwich's FileSystemBackend only serves from ``/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def open_repository(self, path: str | bytes) -> Repo:
        relative = os.fsdecode(path).lstrip("/")
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root) or not target.is_dir():
            raise NotGitRepository(f"no repository at /{relative}")
        return Repo(str(target))


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung request must not keep the test process alive


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class GitHttpServer:
    """Serves every repository under ``root`` over smart HTTP(S) on 127.0.0.1 at a free port."""

    def __init__(self, root: Path, tls: ssl.SSLContext | None = None) -> None:
        self.root = root
        self.gate = Gate(make_wsgi_chain(_FolderBackend(root)))
        self._server = make_server(
            "127.0.0.1", 0, self.gate, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=lambda: self._server.serve_forever(poll_interval=0.05), daemon=True
        )
        self._thread.start()

    def url(self, repo: Path, userinfo: str = "") -> str:
        """The URL of a repository under ``root``, optionally with ``user:password@`` in it."""
        at = f"{userinfo}@" if userinfo else ""
        return f"{self.scheme}://{at}127.0.0.1:{self.port}/{repo.relative_to(self.root).as_posix()}"

    def stop(self) -> None:
        self.gate.release.set()
        self._server.shutdown()
        self._server.server_close()


def self_signed_tls(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, and that certificate's path."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def keygen(path: Path) -> str:
    """A fresh ed25519 key pair at ``path`` (private, mode 0600) and ``path.pub``; returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jobsync-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


class SshServer:
    """A throwaway sshd on 127.0.0.1 letting the current user in with one key, to run ``git-upload-pack``.

    As root it also listens on port 22 of a random 127.x.y.z address, so a ``user@host:path``
    URL (which cannot carry a port) can reach it; ``scp_host`` is None when that was not possible.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.user = getpass.getuser()
        self.host_key_line = keygen(folder / "host_key")
        self.client_key = folder / "client_key"
        (folder / "authorized_keys").write_text(keygen(self.client_key) + "\n")
        self.port = free_port()
        candidate = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        listen = [f"ListenAddress 127.0.0.1:{self.port}"]
        if os.geteuid() == 0:
            listen.append(f"ListenAddress {candidate}:22")
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
        config = folder / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    *listen,
                    f"HostKey {folder / 'host_key'}",
                    f"PidFile {folder / 'sshd.pid'}",
                    f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "AcceptEnv GIT_PROTOCOL",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        self._log = (folder / "sshd.log").open("wb")
        self._process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while not _listening("127.0.0.1", self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd did not start: {(folder / 'sshd.log').read_text()[-2000:]}")
            time.sleep(0.05)
        self.scp_host = candidate if len(listen) > 1 and _listening(candidate, 22) else None

    def known_hosts(self, path: Path, key_line: str | None = None) -> Path:
        """A known_hosts file naming this server with its key (or with another ``key_line``)."""
        key = " ".join((key_line or self.host_key_line).split()[:2])
        hosts = [f"[127.0.0.1]:{self.port}", *([self.scp_host] if self.scp_host else [])]
        path.write_text("".join(f"{host} {key}\n" for host in hosts))
        return path

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo.resolve()}"

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def sshd_available() -> bool:
    """Whether this machine can run the SSH tests (Debian's openssh-server and openssh-client)."""
    return SSHD.exists() and shutil.which("ssh") is not None and shutil.which("ssh-keygen") is not None
