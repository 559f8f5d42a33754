"""The OpenAPI 3.1 document of /api/, written as data (placeholder until its own commit)."""

from __future__ import annotations

from typing import Any

DOCUMENT: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "jobsync", "version": "1"}, "paths": {}}
