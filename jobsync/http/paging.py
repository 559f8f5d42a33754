"""Lists over HTTP: at most a page of items per answer, the next page named by a ``Link`` header.

The body stays exactly what the CLI's ``--json`` prints (a JSON array), as GitHub's API does:
``Link: </api/jobs?cursor=...>; rel="next"`` when more items follow. A cursor is opaque to the
client; each list chooses what it holds (an offset, a log position).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

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
    headers = {}
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return JSONResponse(list(items), headers=headers)
