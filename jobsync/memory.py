"""Pausing Python's cyclic garbage collector around bulk work that makes many objects and few cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """A sync or a bulk read allocates many long-lived objects and few cycles: collecting during it
    scans them again and again for nothing (10-40 % of the time, measured in bench/)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
