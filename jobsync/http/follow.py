"""A result's log entries over HTTP: a page of them, or (``?follow=1``) a Server-Sent Events stream.

Followers of one run share one poller: however many browsers watch a run, the store is read
once per tick for it. A stream sends each entry as ``event: entry`` with the entry's position as
its ``id`` (so a reconnecting ``EventSource`` resumes with ``Last-Event-ID``), and ends with
``event: end`` carrying the run's final status once the run has finished and every entry is out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from jobsync.catalog import Catalog
from jobsync.domain.errors import JobSyncError
from jobsync.domain.result import LOG_LEVELS
from jobsync.http.context import HttpContext
from jobsync.http.paging import page_size, paged
from jobsync.records import LogRecord, to_json

#: How often a followed run's new entries are looked for (as ``jobsync logs --follow`` does).
POLL_SECONDS = 0.2
#: A comment line this often keeps proxies from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
#: A quiet follower looks this often whether the server is stopping, so SIGTERM is not held up.
STOP_CHECK_SECONDS = 0.5


def routes(context: HttpContext) -> list[BaseRoute]:
    followers = Followers(context)

    async def logs(request: Request) -> Response:
        result = request.path_params["result"]
        level = request.query_params.get("level")
        if level is not None and level not in LOG_LEVELS:
            raise JobSyncError(f"level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
        since = _position(request.headers.get("last-event-id") or request.query_params.get("cursor") or "0")
        if request.query_params.get("follow") in ("1", "true", "yes"):
            ident = str(await to_thread.run_sync(context.catalog.resolve_result, result))
            return StreamingResponse(
                followers.stream(ident, since, level),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        limit = page_size(request)
        entries = await to_thread.run_sync(lambda: context.catalog.logs(result, since=since, level=level))
        page = entries[:limit]
        more = str(page[-1]["seq"]) if len(entries) > limit else None
        return paged(request, [public_entry(entry) for entry in page], more)

    return [Route("/api/results/{result}/logs", logs)]


def public_entry(entry: LogRecord) -> dict[str, Any]:
    """An entry as ``jobsync --utc logs --json`` prints it (``seq`` is only for following)."""
    return {key: value for key, value in to_json(entry, "utc").items() if key != "seq"}


def _position(text: str) -> int:
    if not text.isdecimal():
        raise JobSyncError(f"a log position is a whole number, not {text!r}")
    return int(text)


@dataclass
class _Feed:
    """One followed run: the subscribers' queues and how far the shared poller has read."""

    queues: list[asyncio.Queue[LogRecord | str]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


class Followers:
    """The shared pollers, one per followed run, living on the server's event loop."""

    def __init__(self, context: HttpContext) -> None:
        self.catalog: Catalog = context.catalog
        self.stopping = context.stopping
        self.feeds: dict[str, _Feed] = {}

    async def stream(self, result: str, since: int, level: str | None) -> AsyncIterator[str]:
        """The SSE text for one follower: the entries after ``since``, then each new one, then the end."""
        wanted = LOG_LEVELS[LOG_LEVELS.index(level) :] if level else LOG_LEVELS
        queue: asyncio.Queue[LogRecord | str] = asyncio.Queue()
        feed = self._join(result, queue)
        try:
            sent = since
            backlog = await to_thread.run_sync(lambda: self.catalog.logs(result, since=since))
            for entry in backlog:
                sent = entry["seq"]
                if entry["level"] in wanted:
                    yield _event("entry", public_entry(entry), entry["seq"])
            quiet = 0.0
            while not self.stopping.is_set():  # a stopping server ends the stream; EventSource resumes
                try:
                    item = await asyncio.wait_for(queue.get(), STOP_CHECK_SECONDS)
                except TimeoutError:
                    quiet += STOP_CHECK_SECONDS
                    if quiet >= KEEPALIVE_SECONDS:
                        quiet = 0.0
                        yield ": keepalive\n\n"
                    continue
                quiet = 0.0
                if isinstance(item, str):  # the run ended: its final status
                    yield _event("end", {"status": item})
                    return
                if item["seq"] > sent:
                    sent = item["seq"]
                    if item["level"] in wanted:
                        yield _event("entry", public_entry(item), item["seq"])
        finally:
            feed.queues.remove(queue)

    def _join(self, result: str, queue: asyncio.Queue[LogRecord | str]) -> _Feed:
        feed = self.feeds.get(result)
        if feed is None:
            feed = self.feeds[result] = _Feed()
        feed.queues.append(queue)
        if feed.task is None or feed.task.done():
            feed.task = asyncio.get_running_loop().create_task(self._poll(result, feed))
        return feed

    async def _poll(self, result: str, feed: _Feed) -> None:
        """Read the run's new entries each tick and hand them to every follower; stop when none is left."""
        position = await to_thread.run_sync(lambda: _last_position(self.catalog, result))
        try:
            while feed.queues and not self.stopping.is_set():
                record = await to_thread.run_sync(self.catalog.result, result)
                entries = await to_thread.run_sync(self._after, result, position)
                for entry in entries:
                    position = entry["seq"]
                    for queue in feed.queues:
                        queue.put_nowait(entry)
                if record["completed"] is not None:  # read before the entries: none can follow them
                    for queue in feed.queues:
                        queue.put_nowait(record["status"])
                    return
                await asyncio.sleep(POLL_SECONDS)
        finally:
            if self.feeds.get(result) is feed:
                del self.feeds[result]

    def _after(self, result: str, position: int) -> list[LogRecord]:
        return self.catalog.logs(result, since=position)


def _last_position(catalog: Catalog, result: str) -> int:
    """Where a new poller starts: the newest entry now (followers read what came before themselves)."""
    entries = catalog.logs(result)
    return entries[-1]["seq"] if entries else 0


def _event(kind: str, data: object, ident: int | None = None) -> str:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
