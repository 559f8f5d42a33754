"""Bearer tokens from ``[http] tokens_file``, checked in constant time, for the API and the pages.

The file holds one token per line, ``LABEL TOKEN`` (``#`` starts a comment). The label names who
holds the token in logs; the token itself is never logged, shown or stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jobsync.domain.errors import ConfigError

#: The cookie the login form sets: the token itself, ``HttpOnly`` and ``SameSite=Strict``.
COOKIE = "jobsync_token"
#: Paths anyone may reach: probes, Prometheus, the Git host's webhooks, the login form, static files.
PUBLIC_PATHS = ("/healthz", "/readyz", "/metrics")
PUBLIC_PREFIXES = ("/hooks/", "/login", "/static/")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Tokens:
    """The known tokens, kept only as SHA-256 digests, each with its holder's label."""

    digests: tuple[tuple[bytes, str], ...] = ()

    @classmethod
    def load(cls, path: Path | None) -> Tokens:
        """Read the tokens file; no file configured means no token is accepted."""
        if path is None:
            return cls()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"http.tokens_file: cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"http.tokens_file: {path} is not UTF-8 text") from None
        digests = []
        for number, line in enumerate(text.splitlines(), start=1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            if len(words) != 2:
                raise ConfigError(f"http.tokens_file: {path} line {number}: write 'LABEL TOKEN'")
            label, token = words
            digests.append((_digest(token), label))
        return cls(tuple(digests))

    def holder(self, token: str | None) -> str | None:
        """The label of ``token``, or None; every known token is compared, in constant time each."""
        if not token:
            return None
        given = _digest(token)
        found = None
        for digest, label in self.digests:
            if hmac.compare_digest(given, digest):
                found = label
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def presented_token(scope: Scope) -> str | None:
    """``Authorization: Bearer TOKEN``, else the login cookie."""
    cookie_header = None
    name: bytes
    value: bytes
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
        elif name == b"cookie":
            cookie_header = value.decode("latin-1")
    if cookie_header:
        cookies: SimpleCookie = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except Exception:  # a malformed Cookie header is no token
            return None
        morsel = cookies.get(COOKIE)
        return str(morsel.value) if morsel is not None else None
    return None


class TokenGate:
    """ASGI middleware: everything but the public paths needs a known token.

    The API answers 401 with a JSON error; a page sends the browser to the login form. The
    holder's label is put in ``scope["state"]["holder"]`` for logs.
    """

    def __init__(self, app: ASGIApp, tokens: Callable[[], Tokens]) -> None:
        self.app = app
        self.tokens = tokens  # read per request: a reload (SIGHUP) replaces them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        holder = self.tokens().holder(presented_token(scope))
        if holder is not None:
            scope.setdefault("state", {})["holder"] = holder
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/api/"):
            body = b'{"error":"a bearer token is needed (Authorization: Bearer TOKEN)"}'
            headers = [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="jobsync"'),
            ]
            status = 401
        else:
            target = scope["path"] + (
                "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
            )
            body = b""
            headers = [(b"location", f"/login?next={quote(target, safe='')}".encode("latin-1"))]
            status = 303
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
