"""Push webhooks: ``POST /hooks/<source>`` from GitHub, GitLab, Gitea/Forgejo or any HMAC signer.

A signed push to the ref a source follows asks the daemon to sync that source now and is answered
202 at once: the sync runs on the daemon's loop, never in the request, and requests that pile up
meanwhile make one more sync, not one each. Everything else is answered without syncing: a ping or
another event (200, ignored), another branch (200, ignored, with the reason), a delivery already
accepted (200), an unsigned or mis-signed body (401), a source this daemon does not follow or
that takes no webhooks (404), a body over 1 MiB (413).

The secret is read when a delivery arrives, from the variable or file the source's
``webhook_secret_env`` / ``webhook_secret_file`` names, so a rotated secret needs no restart. It is
never logged, echoed or stored, and every comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jobsync.http.context import HttpContext
from jobsync.spec import SourceSpec

log = structlog.get_logger("jobsync.http")

#: The largest body read; GitHub caps its own payloads at 25 MB, a push of a jobs repository is far smaller.
MAX_BODY = 1 << 20
#: How many accepted delivery ids are remembered to spot a redelivery (the oldest are forgotten).
REMEMBERED_DELIVERIES = 1000
#: The metric label of a name this daemon does not follow: anyone can make up names, so they are not labels.
UNKNOWN_SOURCE = "(unknown)"

#: Signature headers in the order they are checked: Gitea and Forgejo also send GitHub's header,
#: so theirs come first and the delivery is read as theirs.
_SIGNATURES = (
    ("x-gitea-signature", "gitea"),
    ("x-forgejo-signature", "gitea"),
    ("x-hub-signature-256", "github"),
    ("x-gitlab-token", "gitlab"),
    ("x-jobsync-signature", "generic"),
)
#: Where each provider names the event and the delivery (Gitea also sends GitHub's names).
_EVENT_HEADERS = {
    "github": ("x-github-event",),
    "gitea": ("x-gitea-event", "x-forgejo-event", "x-github-event"),
    "gitlab": ("x-gitlab-event",),
    "generic": (),
}
_DELIVERY_HEADERS = {
    "github": ("x-github-delivery",),
    "gitea": ("x-gitea-delivery", "x-forgejo-delivery", "x-github-delivery"),
    "gitlab": ("x-gitlab-event-uuid",),
    "generic": ("x-jobsync-delivery",),
}
#: The events that report a push; a generic signer's deliveries are all pushes.
_PUSH_EVENTS = {
    "github": ("push",),
    "gitea": ("push",),
    "gitlab": ("Push Hook", "Tag Push Hook"),
}
_SIGNING_HELP = (
    "sign the body with X-Hub-Signature-256, X-Gitea-Signature or X-Jobsync-Signature "
    "(HMAC-SHA256 with the source's webhook secret), or send it as X-Gitlab-Token"
)


class _Refusal(Exception):
    """A delivery answered with an error: its status, its message and the metric outcome."""

    def __init__(self, status: int, message: str, outcome: str) -> None:
        super().__init__(message)
        self.status = status
        self.outcome = outcome


@dataclass(frozen=True)
class Delivery:
    """One authenticated webhook call, as far as its headers tell."""

    provider: str  # github, gitea, gitlab or generic: whose signature it carried
    event: str | None
    ident: str | None  # the provider's delivery id, when it sends one
    content_type: str | None = None


class RecentDeliveries:
    """The last accepted delivery ids per source, so a redelivered push is not synced twice.

    Ids are kept as digests: however long the ids a sender makes up, memory stays bounded.
    """

    def __init__(self, size: int = REMEMBERED_DELIVERIES) -> None:
        self.size = size
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def seen(self, source: str, ident: str) -> bool:
        return _key(source, ident) in self._seen

    def add(self, source: str, ident: str) -> None:
        key = _key(source, ident)
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def _key(source: str, ident: str) -> bytes:
    return hashlib.sha256(json.dumps([source, ident]).encode()).digest()


def routes(context: HttpContext) -> list[BaseRoute]:
    recent = RecentDeliveries()

    async def hook(request: Request) -> Response:
        name = request.path_params["source"]
        label = UNKNOWN_SOURCE
        try:
            spec = _followed(context, name)
            label = name
            body = await _body(request)
            delivery = _authenticate(request, spec, body)
            answer = _answer(context, recent, spec, delivery, body)
        except _Refusal as refusal:
            context.metrics.webhooks.labels(label, refusal.outcome).inc()
            return JSONResponse({"error": str(refusal)}, status_code=refusal.status)
        context.metrics.webhooks.labels(name, answer.outcome).inc()
        return answer.response

    return [Route("/hooks/{source:path}", hook, methods=["POST"])]


def _followed(context: HttpContext, name: str) -> SourceSpec:
    """The spec of ``name`` when this server syncs it and it takes webhooks; else a 404."""
    if context.daemon is None:
        raise _Refusal(
            404, "this server does not sync (jobsync serve): point webhooks at jobsync daemon", "unknown"
        )
    spec = context.daemon.followed(name)
    if spec is None:
        raise _Refusal(404, f"no source named {name!r} is synced here", "unknown")
    if not (spec.webhook_secret_env or spec.webhook_secret_file):
        raise _Refusal(
            404,
            f"source {name!r} takes no webhooks: give it webhook_secret_env or webhook_secret_file",
            "unknown",
        )
    return spec


async def _body(request: Request) -> bytes:
    """The body, refused (413) past MAX_BODY whether or not Content-Length says so beforehand."""
    length = request.headers.get("content-length")
    if length is not None and length.isdecimal() and int(length) > MAX_BODY:
        raise _Refusal(413, f"the body is over {MAX_BODY} bytes", "refused")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refusal(413, f"the body is over {MAX_BODY} bytes", "refused")
    return bytes(body)


def _secret(spec: SourceSpec) -> bytes:
    """The source's webhook secret, read now; a 503 when it is not there (the log says where it was looked for)."""
    problem = "is empty"
    if spec.webhook_secret_env:
        origin = f"environment variable {spec.webhook_secret_env}"
        text = os.environ.get(spec.webhook_secret_env, "")
        if spec.webhook_secret_env not in os.environ:
            problem = "is not set"
    else:
        assert spec.webhook_secret_file is not None
        path = Path(spec.webhook_secret_file)
        directory = os.environ.get("CREDENTIALS_DIRECTORY")
        if not path.is_absolute() and directory:  # a name given to systemd's LoadCredential=
            path = Path(directory) / path
        origin = f"file {path}"
        try:
            text = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot be read: {exc.strerror}" if isinstance(exc, OSError) else "is not UTF-8 text"
            text = ""
    if not text:
        log.error(
            "webhook refused: no secret to check it with", source=spec.name, origin=origin, problem=problem
        )
        raise _Refusal(503, f"the webhook secret of {spec.name!r} is not available", "refused")
    return text.encode("utf-8", "surrogateescape")  # the variable's bytes, whatever their encoding


def _authenticate(request: Request, spec: SourceSpec, body: bytes) -> Delivery:
    """Check the first signature header present against the secret; a 401 when none is right."""
    for header, provider in _SIGNATURES:
        given = request.headers.get(header)
        if given is None:
            continue
        if not _signed(provider, given.strip().encode("latin-1"), _secret(spec), body):
            break
        return Delivery(
            provider,
            _first(request, _EVENT_HEADERS[provider]),
            _first(request, _DELIVERY_HEADERS[provider]),
            request.headers.get("content-type"),
        )
    log.warning(
        "webhook unauthorized", source=spec.name, signed=any(h in request.headers for h, _ in _SIGNATURES)
    )
    raise _Refusal(401, f"missing or wrong signature: {_SIGNING_HELP}", "unauthorized")


def _signed(provider: str, given: bytes, secret: bytes, body: bytes) -> bool:
    if provider == "gitlab":  # GitLab sends the secret itself
        return hmac.compare_digest(given, secret)
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest().encode("ascii")
    if provider in ("github", "generic"):
        prefix, _, given = given.partition(b"=")
        if prefix != b"sha256":
            return False
    return hmac.compare_digest(given.lower(), expected)


def _first(request: Request, headers: tuple[str, ...]) -> str | None:
    for header in headers:
        value = request.headers.get(header)
        if value:
            return value.strip()
    return None


@dataclass(frozen=True)
class _Answer:
    response: Response
    outcome: str


def _answer(
    context: HttpContext, recent: RecentDeliveries, spec: SourceSpec, delivery: Delivery, body: bytes
) -> _Answer:
    """What an authentic delivery leads to: a sync request (202), or an acknowledgement of why not (200)."""
    name = spec.name

    def ignored(reason: str, outcome: str = "ignored") -> _Answer:
        log.info(
            "webhook ignored", source=name, provider=delivery.provider, delivery=delivery.ident, reason=reason
        )
        payload = {"accepted": False, "source": name, "delivery": delivery.ident, "ignored": reason}
        return _Answer(JSONResponse(payload), outcome)

    if delivery.provider == "github" and delivery.event == "ping":
        return ignored("ping: the webhook reaches jobsync")
    if context.catalog.source_state(name) == "suspended":  # an operator's word: nothing syncs it
        return ignored("suspended")
    pushes = _PUSH_EVENTS.get(delivery.provider)
    if pushes is not None and delivery.event not in pushes:
        return ignored(f"{delivery.event or 'an unnamed'} event: only pushes make a sync")
    if delivery.ident is not None and recent.seen(name, delivery.ident):
        return ignored("already received", "replayed")
    payload = _payload(body, form="x-www-form-urlencoded" in (delivery.content_type or ""))
    ref = payload.get("ref") if isinstance(payload.get("ref"), str) else None
    reason = _not_followed(spec, ref, _default_branch(payload))
    if reason is not None:
        return ignored(reason)
    assert context.daemon is not None  # _followed checked it
    context.daemon.request_sync(name)
    if delivery.ident is not None:
        recent.add(name, delivery.ident)
    log.info("webhook accepted", source=name, provider=delivery.provider, ref=ref, delivery=delivery.ident)
    answer = {"accepted": True, "source": name, "delivery": delivery.ident}
    return _Answer(JSONResponse(answer, status_code=202), "accepted")


def _payload(body: bytes, form: bool) -> dict[str, Any]:
    """The push's JSON, also when GitHub sends it form-encoded (``payload=...``); a 400 otherwise."""
    text = body
    if form:
        fields = parse_qs(body.decode("latin-1"))
        text = fields.get("payload", [""])[0].encode("utf-8")
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise _Refusal(400, "the body is not JSON", "refused") from None
    if not isinstance(payload, dict):
        raise _Refusal(400, "the body is not a JSON object", "refused")
    return payload


def _default_branch(payload: dict[str, Any]) -> str | None:
    """The repository's default branch, where the payload says (GitHub/Gitea ``repository``, GitLab ``project``)."""
    for key in ("repository", "project"):
        holder = payload.get(key)
        if isinstance(holder, dict) and isinstance(holder.get("default_branch"), str):
            return str(holder["default_branch"])
    return None


def _not_followed(spec: SourceSpec, ref: str | None, default_branch: str | None) -> str | None:
    """Why a push to ``ref`` does not move what the source follows, or None when it may."""
    if spec.commit:
        return f"{spec.name} is pinned to commit {spec.commit}: pushes do not move it"
    if spec.tag:
        wanted = f"refs/tags/{spec.tag}"
    elif spec.branch or default_branch:
        wanted = f"refs/heads/{spec.branch or default_branch}"
    else:
        return None  # neither the config nor the payload says which branch: any push may move HEAD
    if ref is None or ref == wanted:
        return None
    return f"a push to {ref}: {spec.name} follows {wanted}"
