"""Lists over HTTP: at most a page of items per answer, the next page named by a ``Link`` header.

The body stays exactly what the CLI's ``--json`` prints (a JSON array), as GitHub's API does:
``Link: </api/jobs?cursor=...>; rel="next"`` when more items follow. A cursor is opaque to the
client; each list chooses what it holds (an offset, a log position).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jobsync.domain.errors import JobSyncError

#: Items per page unless ``?limit=`` says otherwise (the most a page may hold: MAX_PAGE).
PAGE_SIZE = 500
MAX_PAGE = 10_000


def page_size(request: Request) -> int:
    """``?limit=N`` (1 to MAX_PAGE), else PAGE_SIZE; anything else is the client's error (400)."""
    text = request.query_params.get("limit")
    if text is None:
        return PAGE_SIZE
    if not text.isdecimal() or not 1 <= int(text) <= MAX_PAGE:
        raise JobSyncError(f"limit must be a whole number from 1 to {MAX_PAGE}, not {text!r}")
    return int(text)


def paged(request: Request, items: Sequence[Any], next_cursor: str | None) -> JSONResponse:
    """The page as a JSON array, with a ``Link: <...>; rel="next"`` header when ``next_cursor`` is set."""
    return JSONResponse(list(items), headers=_next_link(request, next_cursor))


def paged_text(request: Request, items: Sequence[str], next_cursor: str | None) -> Response:
    """``paged`` for items that are JSON text already (stored records): spliced, never decoded."""
    body = "[" + ",".join(items) + "]"
    return Response(body, media_type="application/json", headers=_next_link(request, next_cursor))


def _next_link(request: Request, next_cursor: str | None) -> dict[str, str]:
    if next_cursor is None:
        return {}
    url = request.url.include_query_params(cursor=next_cursor)
    return {"Link": f'<{url.path}?{url.query}>; rel="next"'}
