"""What every part of the HTTP face shares: the catalog, the tokens, the daemon (when there is one)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from jobsync.http.auth import Tokens

if TYPE_CHECKING:
    from jobsync.catalog import Catalog
    from jobsync.http.metrics import Metrics
    from jobsync.spec import SourceSpec


class SyncTrigger(Protocol):
    """The daemon as the HTTP face sees it: what it follows, and a way to make it sync one source now."""

    def followed(self, name: str) -> SourceSpec | None:
        """The spec of a source this daemon syncs, or None."""

    def request_sync(self, name: str) -> None:
        """Sync ``name`` as soon as the loop is free; requests that pile up meanwhile make one more sync."""

    def first_pass_done(self) -> bool:
        """Whether every source has been tried once since start-up (readiness)."""


@dataclass
class HttpContext:
    """One server's shared state. ``daemon`` is None for ``jobsync serve`` (read-only, no hooks)."""

    catalog: Catalog
    tokens: Tokens
    metrics: Metrics
    daemon: SyncTrigger | None = None
    #: Set when the server begins to stop: long responses (log followers) end instead of holding it up.
    stopping: threading.Event = field(default_factory=threading.Event)
