"""The read-only JSON API under ``/api/``: each answer is what ``jobsync --utc COMMAND --json`` prints.

Endpoints are plain functions, so Starlette runs them (and the catalog calls in them) in its
thread pool: a slow query never holds up the event loop. A JobSyncError raised here becomes
``{"error": ...}`` in server.py (404 for what does not exist, else 400). Query parameters are
checked by name: a misspelt one is an error, not a filter silently dropped. Lists that can grow
without bound (jobs, results, audit) come in pages; the cursor is the position of the next item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jobsync.catalog import Catalog
from jobsync.domain.errors import JobSyncError, SourceNotFoundError
from jobsync.http import openapi
from jobsync.http.context import HttpContext
from jobsync.http.paging import page_size, paged, paged_text
from jobsync.points import Point, parse_point
from jobsync.projections import JOB_SORTS
from jobsync.records import to_json
from jobsync.times import DayBound, parse_time

T = TypeVar("T")

#: ``?state=`` of /api/jobs, as ``jobs list --installed/--uninstalled/--all``: the catalog's ``installed``.
JOB_STATES: dict[str, bool | None] = {"installed": True, "uninstalled": False, "all": None}
#: The parameters every paged list takes besides its filters.
PAGING = ("limit", "cursor")
#: Every method but these is refused: nothing under /api/ changes the catalog.
READ_METHODS = ("GET", "HEAD")


class Query:
    """An endpoint's query parameters, read by name; a name the endpoint does not know is a 400."""

    def __init__(self, request: Request, *known: str) -> None:
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise JobSyncError(f"unknown query parameter {unknown[0]!r} (this path takes: {allowed})")
        self._params = request.query_params

    def text(self, name: str) -> str | None:
        return self._params.get(name)

    def flag(self, name: str) -> bool | None:
        """``true`` or ``false``, or None when absent (filters nothing)."""
        value = self._params.get(name)
        if value is None:
            return None
        if value not in ("true", "false"):
            raise JobSyncError(f"{name} must be true or false, not {value!r}")
        return value == "true"

    def choice(self, name: str, choices: Sequence[str], default: str) -> str:
        value = self._params.get(name, default)
        if value not in choices:
            raise JobSyncError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def time(self, name: str, day: DayBound) -> datetime | None:
        """A TIME as the CLI's ``--since``/``--until`` read it (a bare date: its start or its end)."""
        value = self._params.get(name)
        return None if value is None else parse_time(value, day=day)

    def point(self, name: str, *, day_start: bool = False) -> Point | None:
        """A POINT of a job's history as ``jobs show --at`` and ``jobs diff`` read it: time, commit or vN."""
        value = self._params.get(name)
        return None if value is None else parse_point(value, day_start=day_start)


def routes(context: HttpContext) -> list[BaseRoute]:
    """The API's routes, the catch-all for any other /api/ path last."""
    catalog = context.catalog

    def jobs(request: Request) -> Response:
        query = Query(
            request, "source", "grouping", "state", "enabled", "overridden", "search", "sort", *PAGING
        )
        source = query.text("source")
        _require_source(catalog, source)
        state = query.choice("state", tuple(JOB_STATES), "installed")
        sort = query.choice("sort", JOB_SORTS, "source")
        start, size = _cursor(request), page_size(request)
        texts = catalog.job_texts(
            source,
            JOB_STATES[state],
            grouping=query.text("grouping"),
            enabled=query.flag("enabled"),
            overridden=query.flag("overridden"),
            search=query.text("search"),
            sort=sort,
            limit=start + size + 1,  # one past the page says whether another follows
        )
        page, more = _page(texts, start, size)
        return paged_text(request, page, more)

    def job(request: Request) -> Response:
        at = Query(request, "at").point("at")
        return JSONResponse(to_json(catalog.job(request.path_params["ref"], at=at), "utc"))

    def history(request: Request) -> Response:
        query = Query(request, "since", "until")
        since, until = query.time("since", "start"), query.time("until", "end")
        entries = catalog.history(request.path_params["ref"], since=since, until=until)
        return JSONResponse([to_json(entry, "utc") for entry in entries])

    def diff(request: Request) -> Response:
        query = Query(request, "from", "to")
        start = query.point("from", day_start=True)
        if start is None:
            raise JobSyncError("from is required: a time, a commit (7+ hex digits) or vN")
        found = catalog.diff(request.path_params["ref"], start, query.point("to"))
        return JSONResponse(to_json(found, "utc"))

    def explain(request: Request) -> Response:
        Query(request)
        source, path = _source_and_path(catalog, request.path_params["source"], request.path_params["path"])
        return JSONResponse(catalog.explain(source, path))

    def sources(request: Request) -> Response:
        Query(request)
        return JSONResponse([to_json(record, "utc") for record in catalog.sources()])

    def source(request: Request) -> Response:
        Query(request)
        return JSONResponse(to_json(catalog.source(request.path_params["name"]), "utc"))

    def results(request: Request) -> Response:
        query = Query(request, "job", "status", *PAGING)
        start, size = _cursor(request), page_size(request)
        found = catalog.results(job=query.text("job"), status=query.text("status"), limit=start + size + 1)
        page, more = _page(found, start, size)
        return paged(request, [to_json(record, "utc") for record in page], more)

    def result(request: Request) -> Response:
        Query(request)
        return JSONResponse(to_json(catalog.result(request.path_params["result"]), "utc"))

    def schedules(request: Request) -> Response:
        job_ref = Query(request, "job").text("job")
        return JSONResponse([to_json(record, "utc") for record in catalog.schedules(job=job_ref)])

    def schedule(request: Request) -> Response:
        Query(request)
        return JSONResponse(to_json(catalog.schedule(request.path_params["ref"]), "utc"))

    def audit(request: Request) -> Response:
        query = Query(request, "since", "until", "actor", "author", "source", *PAGING)
        source = query.text("source")
        _require_source(catalog, source)
        start, size = _cursor(request), page_size(request)
        entries = catalog.audit(
            since=query.time("since", "start"),
            until=query.time("until", "end"),
            actor=query.text("actor"),
            source=source,
            author=query.text("author"),
        )
        page, more = _page(entries, start, size)
        return paged(request, [to_json(entry, "utc") for entry in page], more)

    def document(request: Request) -> Response:
        Query(request)
        return JSONResponse(openapi.DOCUMENT)

    def elsewhere(request: Request) -> Response:
        """Any other /api/ path, or a method that would change something: a JSON error, never plain text."""
        if request.method not in READ_METHODS:
            return _error(405, "the API is read-only: use GET", {"Allow": ", ".join(READ_METHODS)})
        return _error(404, f"no such API path: {request.url.path}")

    endpoints: list[tuple[str, Callable[[Request], Response]]] = [
        ("/api/jobs", jobs),
        # A job's name may hold '/', so a ref is the rest of the path; the longer paths come first.
        ("/api/jobs/{ref:path}/history", history),
        ("/api/jobs/{ref:path}/diff", diff),
        ("/api/jobs/{ref:path}", job),
        ("/api/explain/{source}/{path:path}", explain),
        ("/api/sources", sources),
        ("/api/sources/{name:path}", source),  # a source's name may hold '/'
        ("/api/results", results),
        ("/api/results/{result}", result),
        ("/api/schedules", schedules),
        ("/api/schedules/{ref:path}", schedule),
        ("/api/audit", audit),
        ("/api/openapi.json", document),
    ]
    found: list[BaseRoute] = [Route(path, endpoint, methods=["GET"]) for path, endpoint in endpoints]
    everything = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return [*found, Route("/api/{rest:path}", elsewhere, methods=everything)]


def _require_source(catalog: Catalog, name: str | None) -> None:
    """A ``source`` filter names a thing, so an unknown one is 404, as the CLI's ``--source`` is an error."""
    if name is not None and name not in (known := catalog.source_names()):
        raise SourceNotFoundError(name, known)


def _source_and_path(catalog: Catalog, first: str, rest: str) -> tuple[str, str]:
    """The source and the file of ``/api/explain/SOURCE/PATH``: a source's name may hold '/' itself,
    so the longest known name the path starts with wins; else the first segment names the source."""
    whole = f"{first}/{rest}"
    for name in sorted(catalog.source_names(), key=len, reverse=True):
        if whole.startswith(f"{name}/"):
            return name, whole[len(name) + 1 :]
    return first, rest


def _cursor(request: Request) -> int:
    """Where a page starts: ``?cursor=`` as a ``Link`` header gave it (0 without one)."""
    text = request.query_params.get("cursor", "0")
    if not text.isdecimal() or len(text) > 12:
        raise JobSyncError(f"cursor {text!r} is not one this server gave (follow the Link header)")
    return int(text)


def _page(items: Sequence[T], start: int, size: int) -> tuple[Sequence[T], str | None]:
    """The items of one page, and the cursor of the next page (None when this one is the last)."""
    end = start + size
    return items[start:end], str(end) if len(items) > end else None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": message}
    return JSONResponse(body, status_code=status, headers=headers)
