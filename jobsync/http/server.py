"""The ASGI app and the uvicorn server that runs it beside the daemon's loop (or alone: ``jobsync serve``).

Starlette, for the smallest dependency set that still routes, streams (Server-Sent Events) and
tests well: it needs only anyio. The server runs in its own thread with its own event loop; the
catalog calls of each request run in Starlette's thread pool, so a slow query never holds up
another request, and the daemon's loop (and systemd's watchdog) never waits for HTTP.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from jobsync.adapters.notify import Notifier
from jobsync.domain.errors import JobSyncError
from jobsync.http import api, follow, hooks, pages
from jobsync.http.auth import TokenGate, Tokens
from jobsync.http.context import HttpContext
from jobsync.http.metrics import CONTENT_TYPE, Metrics
from jobsync.http.refusals import status_of

if TYPE_CHECKING:
    from jobsync.catalog import Catalog

log = structlog.get_logger("jobsync.http")

#: After SIGTERM, open responses (log followers) get this long to finish before they are cut.
GRACEFUL_SECONDS = 5


def build_app(context: HttpContext) -> Starlette:
    """The whole HTTP face: probes and metrics, webhooks, the JSON API, the pages."""
    routes: list[BaseRoute] = [
        Route("/healthz", _healthz),
        Route("/readyz", lambda request: _readyz(context)),
        Route("/metrics", lambda request: _metrics(context)),
        *hooks.routes(context),
        *follow.routes(context),
        *api.routes(context),
        *pages.routes(context),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(TokenGate, tokens=lambda: context.tokens)],
        exception_handlers={JobSyncError: _refused},
    )


def _healthz(request: Request) -> Response:
    """The process is up and answering (a liveness probe: nothing else is checked)."""
    return PlainTextResponse("ok\n")


def _readyz(context: HttpContext) -> Response:
    """Ready when the store answers and, in the daemon, every source was tried once since start-up."""
    try:
        context.catalog.event_count()
    except JobSyncError as exc:
        return PlainTextResponse(f"store unreachable: {exc}\n", status_code=503)
    if context.daemon is not None and not context.daemon.first_pass_done():
        return PlainTextResponse("first pass over the sources not finished\n", status_code=503)
    return PlainTextResponse("ready\n")


def _metrics(context: HttpContext) -> Response:
    return Response(context.metrics.exposition(), media_type=CONTENT_TYPE)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JobSyncError)
    status = status_of(exc)
    message = " ".join(str(exc).split())
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    return PlainTextResponse(f"error: {message}\n", status_code=status)


class HttpServer:
    """uvicorn on a socket bound at construction (so a taken port fails at start, in one line)."""

    def __init__(self, context: HttpContext, host: str, port: int) -> None:
        self.context = context
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise JobSyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._socket.listen(128)
        self._socket.setblocking(False)
        config = uvicorn.Config(
            build_app(context),
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="jobsync-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self, wait: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(wait / 0.01)):
            if self._server.started or not self._thread.is_alive():
                break
            deadline.wait(0.01)
        if not self._server.started:
            raise JobSyncError(f"the HTTP server on {self.url} did not start")
        log.info("http listening", url=self.url)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except Exception:  # the loop is the daemon's; a dead server is logged, not fatal
            log.exception("http server stopped with an error")

    def stop(self) -> None:
        """Stop accepting, let open responses finish (followers end at once), then close."""
        self.context.stopping.set()
        self._server.should_exit = True
        self._thread.join(GRACEFUL_SECONDS + 5.0)
        self._socket.close()


def serve_until_stopped(catalog: Catalog, host: str, port: int, tokens_file: Path | None) -> None:
    """``jobsync serve``: the HTTP face alone, until SIGTERM or SIGINT (systemd Type=notify too)."""
    context = HttpContext(catalog, Tokens.load(tokens_file), Metrics(catalog))
    server = HttpServer(context, host, port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    notifier = Notifier.from_environ()
    notifier.ready()
    while not stop.wait(1.0):  # a timed wait, so the signal handler runs promptly
        pass
    notifier.stopping()
    server.stop()
    log.info("http stopped")
