"""Text every store can keep: no NUL and no lone surrogate (PostgreSQL's text and UTF-8 refuse them)."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What an unstorable character becomes where jobsync must keep the text (discovered values, logs).
REPLACEMENT = "\ufffd"


def unstorable(text: str) -> str | None:
    """What in ``text`` no store can keep (a NUL, a lone surrogate), said for a message; None if nothing."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate (\\u{ord(char):04x})"


def storable(text: str) -> tuple[str, int]:
    """``text`` with every unstorable character replaced by U+FFFD, and how many were."""
    return _UNSTORABLE.subn(REPLACEMENT, text)
