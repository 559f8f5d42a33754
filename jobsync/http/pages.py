"""The web pages for people: the catalog, a job's history and diffs, results with live logs, sources, schedules.

Server-rendered HTML that works with JavaScript off; one small static script follows a running
result's log. The pages read the catalog directly (not through the API), in Starlette's thread
pool, as plain ``def`` endpoints. Everything that came from a repository or a worker is hostile
text: Jinja escapes it as HTML, and every value shown passes through ``_shown`` first, which writes
control and bidirectional characters as escapes (``\\x1b``) instead of letting them act.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from jobsync.domain.errors import (
    JobSyncError,
)
from jobsync.domain.fields import OVERRIDABLE_FIELDS
from jobsync.domain.result import STATUSES
from jobsync.domain.text import CONTROLS, CONTROLS_BUT_LAYOUT, escaped
from jobsync.http.auth import COOKIE
from jobsync.http.context import HttpContext
from jobsync.http.refusals import status_of
from jobsync.records import HistoryEntry, JobRecord, overridden_fields, synced_by
from jobsync.times import time_text

_HERE = Path(__file__).parent
#: Sent with every page: no script, style or image from anywhere but this server, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
#: The login form's body is one token and a path: anything bigger is not a login.
MAX_LOGIN_BODY = 4096
#: Rows a list page shows at most; the filters narrow it.
MAX_ROWS = 500
#: Results scanned for a source's last sync (its problems are in that result).
_SYNC_SCAN = 500
_INSTALLED = {"installed": True, "uninstalled": False, "all": None}


def routes(context: HttpContext) -> list[BaseRoute]:
    pages = _Pages(context)
    return [
        Route("/", lambda request: RedirectResponse("/jobs", status_code=303)),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/jobs", pages.jobs),
        Route("/jobs/{ref}", pages.job),
        Route("/jobs/{ref}/diff", pages.diff),
        Route("/results", pages.results),
        Route("/results/{result}", pages.result),
        Route("/sources", pages.sources),
        Route("/schedules", pages.schedules),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]


def _shown(value: object) -> object:
    """Every value a template prints: strings with their control characters written as escapes."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return "" if value is None else value
    return CONTROLS.sub(lambda found: escaped(found.group()), value)


def _block(text: str) -> Markup:
    """Multi-line text (a log message, a JSON document): its layout kept, every other control escaped."""
    return Markup(escape(CONTROLS_BUT_LAYOUT.sub(lambda found: escaped(found.group()), text)))


def _value(value: object) -> str:
    """A field's value for people: yes/no, a list joined, an empty text said."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "(none)"
    if value == "":
        return "(empty)"
    return str(value)


def _when(moment: datetime | None, empty: str = "never") -> str:
    return time_text(moment, "utc") if moment is not None else empty


def _as_json(value: Any) -> Markup:
    return _block(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def _path(text: str) -> str:
    """``text`` as one segment of a URL path (a job ref holds ``:``; nothing in it may end the segment)."""
    return quote(text, safe="")


def _web_link(url: str) -> str | None:
    """A log entry's URL as a link only if it is http(s): a ``javascript:`` URL from a worker is text."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        block=_block, value=_value, when=_when, as_json=_as_json, path=_path, web_link=_web_link
    )
    env.globals["synced_by"] = synced_by
    return env


def is_local_path(target: str) -> bool:
    """Whether ``target`` stays on this server: a path, not ``//host`` nor anything a browser reads so.

    Browsers treat ``\\`` as ``/`` and drop tabs and newlines, so ``/\\evil`` and ``/\\t/evil`` are
    other hosts too: a target holding either is refused.
    """
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and CONTROLS.search(target) is None
    )


class _Pages:
    """The page endpoints over one server's context."""

    def __init__(self, context: HttpContext) -> None:
        self.context = context
        self.catalog = context.catalog
        self.env = _environment()

    def render(self, request: Request, template: str, code: int = 200, **values: Any) -> HTMLResponse:
        """``template`` filled with ``values``, sent with ``code`` and the pages' security headers."""
        holder = request.scope.get("state", {}).get("holder")
        page = self.env.get_template(template).render(holder=holder, path=request.url.path, **values)
        return HTMLResponse(page, status_code=code, headers=SECURITY_HEADERS)

    def refused(self, request: Request, exc: JobSyncError) -> HTMLResponse:
        status = status_of(exc)
        title = "Not found" if status == 404 else "Cannot show this"
        message = " ".join(str(exc).split())
        return self.render(request, "error.html", status, title=title, message=message)

    def guarded(self, request: Request, build: Callable[[], HTMLResponse]) -> HTMLResponse:
        """The page ``build`` makes, or an error page saying in one line why there is none."""
        try:
            return build()
        except JobSyncError as exc:
            return self.refused(request, exc)

    # -- login -----------------------------------------------------------------------------------

    def login_form(self, request: Request) -> HTMLResponse:
        target = request.query_params.get("next", "/")
        return self.render(request, "login.html", next=target if is_local_path(target) else "/", error=None)

    async def login(self, request: Request) -> Response:
        """Check the form's token; a known one becomes the cookie and the browser goes where it was going."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BODY:
                return HTMLResponse("the login form is too big\n", 413, headers=SECURITY_HEADERS)
        try:
            fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        except ValueError:  # more fields than a login form has
            return HTMLResponse("the login form has too many fields\n", 400, headers=SECURITY_HEADERS)
        token = fields.get("token", [""])[0].strip()
        target = fields.get("next", ["/"])[0]
        target = target if is_local_path(target) else "/"
        if self.context.tokens.holder(token) is None:
            return self.render(request, "login.html", 401, next=target, error="That token is not known here.")
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            path="/",
            secure=request.url.scheme == "https",
        )
        return answer

    def logout(self, request: Request) -> Response:
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return answer

    # -- jobs --------------------------------------------------------------------------------------

    def jobs(self, request: Request) -> HTMLResponse:
        query = request.query_params
        source = query.get("source") or None
        grouping = query.get("grouping") or None
        state = query.get("state", "installed")
        state = state if state in _INSTALLED else "installed"
        overridden = True if query.get("overridden") else None
        search = query.get("search") or None

        def build() -> HTMLResponse:
            found = self.catalog.jobs(
                source,
                _INSTALLED[state],
                grouping=grouping,
                overridden=overridden,
                search=search,
                sort="name",
                limit=MAX_ROWS + 1,
            )
            groupings = sorted({job["grouping"] for job in self.catalog.jobs(source, installed=None)})
            return self.render(
                request,
                "jobs.html",
                jobs=[(job, overridden_fields(job)) for job in found[:MAX_ROWS]],
                more=len(found) > MAX_ROWS,
                sources=self.catalog.source_names(),
                groupings=groupings,
                source=source or "",
                grouping=grouping or "",
                state=state,
                overridden=bool(overridden),
                search=search or "",
            )

        return self.guarded(request, build)

    def job(self, request: Request) -> HTMLResponse:
        ref = request.path_params["ref"]
        at = request.query_params.get("at") or None

        def build() -> HTMLResponse:
            record = self.catalog.job(ref, at=at)
            history = self.catalog.history(ref)
            return self.render(
                request,
                "job.html",
                job=record,
                at=at,
                fields=_field_rows(record),
                overrides=overridden_fields(record),
                history=list(reversed(history)),
                points=_points(record["ref"], history),
                diff_from=_previous_version(record["ref"], history),
            )

        return self.guarded(request, build)

    def diff(self, request: Request) -> HTMLResponse:
        ref = request.path_params["ref"]
        start = request.query_params.get("from", "").strip()
        end = request.query_params.get("to", "").strip() or None

        def build() -> HTMLResponse:
            record = self.catalog.job(ref)
            history = self.catalog.history(ref)
            if not start:
                raise JobSyncError("choose where the diff starts (FROM): a time, a commit or vN")
            found = self.catalog.diff(ref, start, end)
            return self.render(
                request,
                "diff.html",
                job=record,
                diff=found,
                start=start,
                end=end or "",
                events=list(reversed(found["events"])),
                points=_points(record["ref"], history),
            )

        return self.guarded(request, build)

    # -- results -----------------------------------------------------------------------------------

    def results(self, request: Request) -> HTMLResponse:
        status = request.query_params.get("status") or None
        job = request.query_params.get("job", "").strip() or None

        def build() -> HTMLResponse:
            found = self.catalog.results(job, status if status in STATUSES else None, limit=MAX_ROWS + 1)
            return self.render(
                request,
                "results.html",
                results=found[:MAX_ROWS],
                more=len(found) > MAX_ROWS,
                statuses=STATUSES,
                status=status or "",
                job=job or "",
            )

        return self.guarded(request, build)

    def result(self, request: Request) -> HTMLResponse:
        ident = request.path_params["result"]

        def build() -> HTMLResponse:
            record = self.catalog.result(ident)
            entries = self.catalog.logs(record["id"])
            return self.render(
                request,
                "result.html",
                result=record,
                entries=entries,
                cursor=entries[-1]["seq"] if entries else 0,
                live=record["completed"] is None,
            )

        return self.guarded(request, build)

    # -- sources and schedules -----------------------------------------------------------------

    def sources(self, request: Request) -> HTMLResponse:
        def build() -> HTMLResponse:
            records = self.catalog.sources()
            last_syncs: dict[str, str] = {}
            for result in self.catalog.results(limit=_SYNC_SCAN):
                if result["task"] == "sync":
                    last_syncs.setdefault(result["job_ref"], str(result["id"]))
            return self.render(request, "sources.html", sources=records, last_syncs=last_syncs)

        return self.guarded(request, build)

    def schedules(self, request: Request) -> HTMLResponse:
        return self.guarded(
            request, lambda: self.render(request, "schedules.html", schedules=self.catalog.schedules())
        )


def _field_rows(record: JobRecord) -> list[tuple[str, object, object, bool]]:
    """Each overridable field: its name, effective value, the source's value, and whether it is pinned."""
    values: Mapping[str, object] = record
    sources: Mapping[str, object] = record["source_values"]
    return [
        (name, values[name], sources[name], bool(values[f"{name}_override"])) for name in OVERRIDABLE_FIELDS
    ]


def _previous_version(ref: str, history: list[HistoryEntry]) -> str:
    """Where the job page's diff starts unless told: the job's version before its latest."""
    versions = [entry["version"] for entry in history if entry["ref"] == ref]
    return f"v{versions[-2]}" if len(versions) > 1 else "v1"


def _points(ref: str, history: list[HistoryEntry]) -> list[tuple[str, str]]:
    """The points a diff may start or end at, newest first: each version, and each synced commit once.

    The history also holds the events of the job's schedules (their ``ref`` names the schedule);
    their versions are the schedule's, no point of the job.
    """
    points: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in reversed([entry for entry in history if entry["ref"] == ref]):
        label = f"{_when(entry['time'])} · {entry['event']} by {entry['actor']}"
        points.append((f"v{entry['version']}", label))
        commit = entry.get("commit")
        if commit and commit not in seen:
            seen.add(commit)
            points.append((commit[:12], f"commit {commit[:12]}: {entry.get('subject') or ''}".strip()))
    return points
