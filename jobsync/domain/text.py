"""Text every store can keep: no NUL and no lone surrogate (PostgreSQL's text and UTF-8 refuse them)."""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
#: What an unstorable character becomes where jobsync must keep the text (discovered values, logs).
REPLACEMENT = "\ufffd"


#: What a terminal would act on rather than show: C0 and C1 controls (newline included), DEL, the
#: line and paragraph separators, the bidirectional marks and overrides that reorder what is shown
#: (the Arabic letter mark U+061C too), and lone surrogates, which no terminal can even be sent.
CONTROLS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: The same, but for text with a layout of its own: tabs, newlines and Unicode's separators are allowed.
CONTROLS_BUT_LAYOUT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: Where str.splitlines() would cut: a message holding one of these is not one line.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def escaped(char: str) -> str:
    """A character as Python would escape it: ``\\x1b``, ``\\u202e``."""
    return char.encode("unicode_escape").decode("ascii")


def one_line(text: str) -> str:
    """``text`` with every line break escaped (``\\n``), so a message quoting input stays one line."""
    return _LINE_BREAKS.sub(lambda found: escaped(found.group()), text)


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
