"""Placeholder: filled in by its own commit."""

from __future__ import annotations

from starlette.routing import BaseRoute

from jobsync.http.context import HttpContext


def routes(context: HttpContext) -> list[BaseRoute]:
    return []
